//! The judging writes that touch many rows at once, in PostgreSQL: a
//! Devpost import, a judges import and assignment, with the same rules and
//! the same published diffs as SQLite's (`crate::store::judging_bulk`).
//!
//! Each is one write job: a refusal or a failure writes nothing, and all of
//! its rows are published as one change. Its inserts go out pipelined, in
//! order, so ids are handed out in the order SQLite gives them. Across
//! nodes: a Devpost import holds the import lock (which hacks, tables,
//! superlatives and eligibility exist must not change under it; adding a
//! hack or a superlative takes the lock too), a judges import claims each
//! email by `ON CONFLICT` on its unique key (under the import lock too, as
//! adding a judge does), and assignment holds the floor
//! lock exclusively (no node rates, marks an absence or withdraws a hack
//! while it plans; see [`super::judging_rows`]).

use std::collections::HashMap;

use futures_util::future::try_join_all;

use super::judging::{email_owner, load_all};
use super::judging_rows::{query_with, returned_id};
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::{unreachable, PgFuture, PgStore};
use crate::judging::error::JudgingError;
use crate::judging::model::DataStore;
use crate::judging::ops::add_judge::Claimed;
use crate::judging::ops::assign::{Assign, Plan as AssignPlan};
use crate::judging::ops::import_devpost::{ImportDevpost, Plan, Stored, Written};
use crate::judging::ops::import_judges::ImportJudges;
use crate::judging::outcomes::{Assigned, DevpostImported, JudgesImported};
use crate::store::runner::{self, Storage};
use crate::store::StoreError;

/// Where the `k` of the latest assignment is kept, for results' coverage.
const META_JUDGES_PER_HACK: &str = "judges_per_hack";

/// A Devpost import's facts: every hack, superlative and eligibility. The
/// import lock keeps them true until the commit: only imports add
/// eligibility, and adding a hack or a superlative takes the lock too.
impl Storage<ImportDevpost> for PgTx {
    async fn load(&mut self, _: &ImportDevpost) -> Result<Stored, StoreError> {
        let select = self
            .prepare_cached("SELECT id, name, location FROM hacks ORDER BY id")
            .await?;
        let hacks = self.query(&select, &[]).await?;
        let select = self
            .prepare_cached("SELECT id, name FROM superlatives ORDER BY id")
            .await?;
        let superlatives = self.query(&select, &[]).await?;
        let select = self
            .prepare_cached("SELECT superlative_id, hack_id FROM superlative_hacks")
            .await?;
        let eligible = self.query(&select, &[]).await?;
        Ok(Stored {
            hacks: hacks
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect(),
            superlatives: superlatives.iter().map(|r| (r.get(0), r.get(1))).collect(),
            eligible: eligible.iter().map(|r| (r.get(0), r.get(1))).collect(),
        })
    }

    /// Each kind's inserts go out pipelined, in order, so ids are handed
    /// out in the plan's order.
    async fn apply(&mut self, op: &ImportDevpost, plan: &Plan) -> Result<Written, StoreError> {
        let tx: &PgTx = self;
        let insert = tx
            .prepare_cached(
                "INSERT INTO hacks (name, description, location) VALUES ($1, $2, $3) RETURNING id",
            )
            .await?;
        let hacks = try_join_all(plan.hacks.iter().map(|&(index, ref table)| {
            let project = &op.projects[index];
            query_with(tx, &insert, [&project.title, &project.description, table])
        }))
        .await?;
        let insert = tx
            .prepare_cached("INSERT INTO superlatives (name) VALUES ($1) RETURNING id")
            .await?;
        let superlatives = try_join_all(
            plan.superlatives
                .iter()
                .map(|name| query_with(tx, &insert, [name])),
        )
        .await?;
        let hacks = hacks
            .iter()
            .map(|r| returned_id(r))
            .collect::<Result<Vec<_>, _>>()?;
        let superlatives = superlatives
            .iter()
            .map(|r| returned_id(r))
            .collect::<Result<Vec<_>, _>>()?;
        let pairs = plan.eligibility_ids(&hacks, &superlatives);
        let insert = tx
            .prepare_cached(
                "INSERT INTO superlative_hacks (superlative_id, hack_id) VALUES ($1, $2)
                 RETURNING id",
            )
            .await?;
        let eligibility = try_join_all(
            pairs
                .iter()
                .map(|(superlative, hack)| query_with(tx, &insert, [superlative, hack])),
        )
        .await?;
        Ok(Written {
            hacks,
            superlatives,
            eligibility: eligibility
                .iter()
                .map(|r| returned_id(r))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// An import holds the import lock (see the module's notes).
impl PgOperation for ImportDevpost {
    fn locks(&self) -> Locks {
        Locks::exclusive(Advisory::Import)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<DevpostImported, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

/// A judges import's facts: who holds the file's emails.
impl Storage<ImportJudges> for PgTx {
    async fn load(&mut self, op: &ImportJudges) -> Result<HashMap<String, i64>, StoreError> {
        let keys: Vec<String> = op.keys().collect();
        let select = self
            .prepare_cached("SELECT email_key, id FROM judges WHERE email_key = ANY($1)")
            .await?;
        Ok(self
            .query(&select, &[&keys])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// The inserts go out pipelined, in the file's order; an email another
    /// node added since the read yields to it (its unique key), and the
    /// rule refuses the file.
    async fn apply(&mut self, op: &ImportJudges, (): &()) -> Result<Vec<Claimed>, StoreError> {
        let tx: &PgTx = self;
        let keys: Vec<String> = op.keys().collect();
        let insert = tx
            .prepare_cached(
                "INSERT INTO judges (name, email, email_key) VALUES ($1, $2, $3)
                 ON CONFLICT (email_key) DO NOTHING RETURNING id",
            )
            .await?;
        let inserted =
            try_join_all(op.judges.iter().zip(&keys).map(|((_, judge), key)| {
                query_with(tx, &insert, [&judge.name, &judge.email, key])
            }))
            .await?;
        let mut claimed = Vec::with_capacity(keys.len());
        for (rows, key) in inserted.iter().zip(&keys) {
            claimed.push(match rows.first() {
                Some(row) => Claimed::Added(row.get(0)),
                None => match email_owner(tx, key).await? {
                    Some(holder) => Claimed::Taken(holder),
                    None => {
                        return Err(StoreError::Postgres(format!(
                            "the email key {key:?} was contended: try again"
                        )))
                    }
                },
            });
        }
        Ok(claimed)
    }
}

/// Emails are claimed under the import lock, as by a new judge.
impl PgOperation for ImportJudges {
    fn locks(&self) -> Locks {
        Locks::exclusive(Advisory::Import)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<JudgesImported, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

/// Assignment's facts: every judging row, under the floor lock held
/// exclusively. Changed rows are deleted and written back under their own
/// ids (in this one transaction, so no client ever sees them gone):
/// updating them one at a time could give a judge the same hack twice for
/// a moment, which the UNIQUE constraint refuses. Each step's statements go
/// out pipelined.
impl Storage<Assign> for PgTx {
    async fn load(&mut self, _: &Assign) -> Result<DataStore, StoreError> {
        load_all(&**self).await
    }

    async fn apply(&mut self, op: &Assign, plan: &AssignPlan) -> Result<Vec<i64>, StoreError> {
        let tx: &PgTx = self;
        let delete = tx
            .prepare_cached("DELETE FROM judge_hacks WHERE id = $1")
            .await?;
        try_join_all(
            plan.moved
                .iter()
                .map(|row| query_with(tx, &delete, [&row.id])),
        )
        .await?;
        let put_back = tx
            .prepare_cached(
                "INSERT INTO judge_hacks (id, judge_id, hack_id, priority) VALUES ($1, $2, $3, $4)",
            )
            .await?;
        try_join_all(plan.moved.iter().map(|row| {
            query_with(
                tx,
                &put_back,
                [&row.id, &row.judge_id, &row.hack_id, &row.priority],
            )
        }))
        .await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO judge_hacks (judge_id, hack_id, priority) VALUES ($1, $2, $3)
                 RETURNING id",
            )
            .await?;
        let inserted = try_join_all(
            plan.new
                .iter()
                .map(|row| query_with(tx, &insert, [&row.judge_id, &row.hack_id, &row.priority])),
        )
        .await?;
        let remember = tx
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .await?;
        tx.execute(
            &remember,
            &[&META_JUDGES_PER_HACK, &op.judges_per_hack.to_string()],
        )
        .await?;
        inserted.iter().map(|rows| returned_id(rows)).collect()
    }
}

impl PgOperation for Assign {
    fn locks(&self) -> Locks {
        Locks::exclusive(Advisory::Floor)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Assigned, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgStore {
    /// The judges per hack of the latest assignment, if one ran.
    pub async fn judges_per_hack(&self) -> Result<Option<i64>, StoreError> {
        let client = self.pool.get().await.map_err(unreachable)?;
        let value: Option<String> = client
            .query_opt(
                "SELECT value FROM meta WHERE key = $1",
                &[&META_JUDGES_PER_HACK],
            )
            .await?
            .map(|r| r.get(0));
        Ok(value.and_then(|v| v.parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    use crate::judging::devpost::Project;
    use crate::judging::inputs::{NewHack, NewJudge, NewSuperlative};
    use crate::judging::judges_csv;
    use crate::judging::ops::rate::Rate;
    use crate::store::postgres::test_support::{fresh_database, node, open};
    use crate::store::{Perform, WriteError};

    fn project(title: &str, table: Option<i64>, prizes: &[&str]) -> Project {
        Project {
            row: 0,
            title: title.into(),
            submission_url: String::new(),
            description: format!("about {title}"),
            table,
            prizes: prizes.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn judge(row: u64, name: &str, email: &str) -> (u64, judges_csv::NewJudge) {
        (
            row,
            judges_csv::NewJudge {
                name: name.into(),
                email: email.into(),
            },
        )
    }

    #[tokio::test]
    async fn devpost_import_is_one_change_and_reuses_superlatives_and_tables() {
        let Some((store, mut feed)) =
            open("devpost_import_is_one_change_and_reuses_superlatives_and_tables").await
        else {
            return;
        };
        store
            .perform(NewHack {
                name: "Entered by hand".into(),
                description: String::new(),
                location: 1,
            })
            .await
            .unwrap();
        store
            .perform(NewSuperlative::new("best use of data"))
            .await
            .unwrap();
        feed.diffs(&store).await;

        let imported = store
            .perform(ImportDevpost::new(vec![
                project("A", None, &["Best Hardware", "Best Use of Data"]),
                project("B", Some(7), &["Best Use of Data"]),
                project("C", None, &[]),
            ]))
            .await
            .unwrap();
        assert_eq!(imported.hack_ids, [2, 3, 4]);
        assert_eq!(imported.superlative_ids, [2]);
        assert_eq!(imported.superlatives_matched, [1]);
        assert_eq!(imported.eligibility_added, 3);

        let diff = feed.one(&store).await;
        let tables: Vec<_> = diff.hacks.iter().map(|h| (h.id, h.location)).collect();
        assert_eq!(tables, [(2, 2), (3, 7), (4, 3)], "table 1 was taken");
        assert_eq!(diff.superlatives.len(), 1);
        let eligible: Vec<_> = diff
            .superlative_hacks
            .iter()
            .map(|e| (e.id, e.superlative_id, e.hack_id))
            .collect();
        assert_eq!(eligible, [(1, 2, 2), (2, 1, 2), (3, 1, 3)]);

        // Importing a newer export again adds only what is new.
        let again = store
            .perform(ImportDevpost::new(vec![
                project("a", None, &["Best Hardware", "Best UI", "best ui"]),
                project("D", None, &["best hardware"]),
            ]))
            .await
            .unwrap();
        assert_eq!(again.hacks_matched, [2]);
        assert_eq!(again.hack_ids, [5]);
        assert_eq!(again.superlative_ids, [3]);
        assert_eq!(again.superlatives_matched, [2]);
        // Hack 2 was eligible for Best Hardware already: only Best UI is new.
        assert_eq!(again.eligibility_added, 2);
        let diff = feed.one(&store).await;
        let eligible: Vec<_> = diff
            .superlative_hacks
            .iter()
            .map(|e| (e.id, e.superlative_id, e.hack_id))
            .collect();
        assert_eq!(
            eligible,
            [(4, 3, 2), (5, 2, 5)],
            "ids follow on, none spent"
        );
        let all = store.load_all().await.unwrap();
        assert_eq!(all.hacks.len(), 5);
        assert_eq!(all.superlative_hacks.len(), 5);

        // Nothing new: nothing published.
        let same = store
            .perform(ImportDevpost::new(vec![project(
                "D",
                None,
                &["Best Hardware"],
            )]))
            .await
            .unwrap();
        assert_eq!((same.hacks_added, same.eligibility_added), (0, 0));
        feed.quiet(&store).await;
    }

    #[tokio::test]
    async fn judges_import_refuses_a_taken_email_and_adds_nothing() {
        let Some((store, mut feed)) =
            open("judges_import_refuses_a_taken_email_and_adds_nothing").await
        else {
            return;
        };
        store
            .perform(NewJudge {
                name: "Ada".into(),
                email: "ada@example.org".into(),
            })
            .await
            .unwrap();
        feed.diffs(&store).await;
        let err = store
            .perform(ImportJudges::new(vec![
                judge(2, "Grace", "grace@example.org"),
                judge(3, "Ada again", "ADA@example.org"),
            ]))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            WriteError::Refused(JudgingError::EmailTakenOnRow {
                row: 3,
                judge: 1,
                ..
            })
        ));
        assert!(err.to_string().starts_with("row 3: judge 1 already has"));
        feed.quiet(&store).await;
        assert_eq!(store.load_all().await.unwrap().judges.len(), 1);

        let imported = store
            .perform(ImportJudges::new(vec![
                judge(2, "Grace", "grace@example.org"),
                judge(3, "Alan", "alan@example.org"),
            ]))
            .await
            .unwrap();
        assert_eq!(imported.judge_ids, [2, 3]);
        let diff = feed.one(&store).await;
        let names: Vec<_> = diff
            .judges
            .iter()
            .map(|j| (j.id, j.name.as_str()))
            .collect();
        assert_eq!(names, [(2, "Grace"), (3, "Alan")]);
    }

    #[tokio::test]
    async fn assignment_writes_the_plan_and_tops_up() {
        let Some((store, mut feed)) = open("assignment_writes_the_plan_and_tops_up").await else {
            return;
        };
        assert!(matches!(
            store.perform(Assign { judges_per_hack: 3 }).await,
            Err(WriteError::Refused(JudgingError::NothingToAssign("judges")))
        ));
        let judges = (1..=4)
            .map(|i| judge(i, &format!("J{i}"), &format!("j{i}@example.org")))
            .collect();
        store.perform(ImportJudges::new(judges)).await.unwrap();
        assert!(matches!(
            store.perform(Assign { judges_per_hack: 3 }).await,
            Err(WriteError::Refused(JudgingError::NothingToAssign("hacks")))
        ));
        let projects = (1..=6)
            .map(|i| project(&format!("H{i}"), None, &[]))
            .collect();
        store.perform(ImportDevpost::new(projects)).await.unwrap();
        feed.diffs(&store).await;
        assert_eq!(store.judges_per_hack().await.unwrap(), None);

        let first = store.perform(Assign { judges_per_hack: 2 }).await.unwrap();
        assert_eq!(first.created.len(), 12);
        assert!(first.updated.is_empty());
        assert_eq!(first.total, 12);
        assert_eq!(store.judges_per_hack().await.unwrap(), Some(2));
        let diff = feed.one(&store).await;
        assert_eq!(diff.judge_hacks, first.created);

        // Unchanged: nothing written, nothing published.
        let again = store.perform(Assign { judges_per_hack: 2 }).await.unwrap();
        assert!(again.created.is_empty() && again.updated.is_empty());
        feed.quiet(&store).await;

        // A rating pins its row; more judges and a larger k top up.
        let pinned = first.created[0].clone();
        store
            .perform(Rate::new(pinned.judge_id, pinned.hack_id, 10))
            .await
            .unwrap();
        store
            .perform(ImportJudges::new(vec![judge(1, "J5", "j5@example.org")]))
            .await
            .unwrap();
        feed.diffs(&store).await;
        let topped = store.perform(Assign { judges_per_hack: 3 }).await.unwrap();
        assert_eq!(topped.total, 18);
        let mut published = topped.updated.clone();
        published.extend(topped.created.iter().cloned());
        published.sort_by_key(|r| r.id);
        assert_eq!(feed.one(&store).await.judge_hacks, published);
        let all = store.load_all().await.unwrap();
        assert_eq!(all.judge_hacks.len(), 18);
        let row = all.judge_hacks.iter().find(|r| r.id == pinned.id).unwrap();
        assert_eq!(
            (row.judge_id, row.hack_id),
            (pinned.judge_id, pinned.hack_id)
        );
        let mut loads: HashMap<i64, usize> = HashMap::new();
        let mut pairs = HashSet::new();
        for row in &all.judge_hacks {
            *loads.entry(row.judge_id).or_default() += 1;
            assert!(pairs.insert((row.judge_id, row.hack_id)), "no pair twice");
        }
        assert_eq!(loads.len(), 5);
        let (min, max) = (loads.values().min(), loads.values().max());
        assert!(max.unwrap() - min.unwrap() <= 1, "{loads:?}");
    }

    /// The same export imported on two nodes at once adds each project once.
    #[tokio::test]
    async fn nodes_importing_one_export_at_once_add_it_once() {
        let Some(url) = fresh_database("nodes_importing_one_export_at_once_add_it_once").await
        else {
            return;
        };
        let ((a, mut feed), (b, _)) = (node(&url).await, node(&url).await);
        let export: Vec<Project> = (1..=30)
            .map(|i| project(&format!("H{i}"), None, &["Best Hardware"]))
            .collect();
        let (one, two) = tokio::join!(
            a.perform(ImportDevpost::new(export.clone())),
            b.perform(ImportDevpost::new(export.clone()))
        );
        let (one, two) = (one.unwrap(), two.unwrap());
        assert_eq!(one.hacks_added + two.hacks_added, 30, "{one:?} {two:?}");
        assert_eq!(one.eligibility_added + two.eligibility_added, 30);
        let all = a.load_all().await.unwrap();
        assert_eq!(all.hacks.len(), 30);
        assert_eq!(all.superlatives.len(), 1);
        let tables: BTreeSet<i64> = all.hacks.iter().map(|h| h.location).collect();
        assert_eq!(tables.len(), 30, "one team per table");
        let published: usize = feed.diffs(&a).await.iter().map(|d| d.hacks.len()).sum();
        assert_eq!(published, 30);
    }
}
