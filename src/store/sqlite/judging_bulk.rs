//! The judging writes that touch many rows at once: a Devpost import and a
//! judges import (their rules: `judging/ops/import_devpost.rs` and
//! `import_judges.rs`), and assignment.
//!
//! Each runs as one write job: every check sees the database as the write
//! does, a refusal or a failure writes nothing (all-or-nothing), no other
//! write interleaves, and all of its rows are published as one change, which
//! live subscribers get as one `update-partial`.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::judging::load_all;
use super::writer::Tx;
use super::{Store, StoreError};
use crate::judging::model::DataStore;
use crate::judging::ops::add_judge::Claimed;
use crate::judging::ops::assign::{Assign, Plan as AssignPlan};
use crate::judging::ops::import_devpost::{ImportDevpost, Plan, Stored, Written};
use crate::judging::ops::import_judges::ImportJudges;
use crate::store::runner::Storage;

/// Where the `k` of the latest assignment is kept, for results' coverage.
const META_JUDGES_PER_HACK: &str = "judges_per_hack";

/// A Devpost import's facts: every hack, superlative and eligibility (the
/// single writer keeps them true until the inserts).
impl Storage<ImportDevpost> for Tx<'_> {
    async fn load(&mut self, _: &ImportDevpost) -> Result<Stored, StoreError> {
        let mut stored = Stored::default();
        let mut stmt = self.prepare_cached("SELECT id, name, location FROM hacks ORDER BY id")?;
        for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
            stored.hacks.push(row?);
        }
        let mut stmt = self.prepare_cached("SELECT id, name FROM superlatives ORDER BY id")?;
        for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            stored.superlatives.push(row?);
        }
        let mut stmt =
            self.prepare_cached("SELECT superlative_id, hack_id FROM superlative_hacks")?;
        for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            stored.eligible.insert(row?);
        }
        Ok(stored)
    }

    async fn apply(&mut self, op: &ImportDevpost, plan: &Plan) -> Result<Written, StoreError> {
        let mut written = Written::default();
        let mut insert = self.prepare_cached(
            "INSERT INTO hacks (name, description, location) VALUES (?1, ?2, ?3)",
        )?;
        for &(index, table) in &plan.hacks {
            let project = &op.projects[index];
            insert.execute(params![project.title, project.description, table])?;
            written.hacks.push(self.last_insert_rowid());
        }
        let mut insert = self.prepare_cached("INSERT INTO superlatives (name) VALUES (?1)")?;
        for name in &plan.superlatives {
            insert.execute([name])?;
            written.superlatives.push(self.last_insert_rowid());
        }
        let mut insert = self.prepare_cached(
            "INSERT INTO superlative_hacks (superlative_id, hack_id) VALUES (?1, ?2)",
        )?;
        for (superlative, hack) in plan.eligibility_ids(&written.hacks, &written.superlatives) {
            insert.execute([superlative, hack])?;
            written.eligibility.push(self.last_insert_rowid());
        }
        Ok(written)
    }
}

/// A judges import's facts: who holds the file's emails (the single writer
/// keeps that true until the inserts).
impl Storage<ImportJudges> for Tx<'_> {
    async fn load(&mut self, op: &ImportJudges) -> Result<HashMap<String, i64>, StoreError> {
        let mut holders = HashMap::new();
        let mut select = self.prepare_cached("SELECT id FROM judges WHERE email_key = ?1")?;
        for key in op.keys() {
            if let Some(id) = select.query_row([&key], |r| r.get(0)).optional()? {
                holders.insert(key, id);
            }
        }
        Ok(holders)
    }

    async fn apply(&mut self, op: &ImportJudges, (): &()) -> Result<Vec<Claimed>, StoreError> {
        let mut insert =
            self.prepare_cached("INSERT INTO judges (name, email, email_key) VALUES (?1, ?2, ?3)")?;
        let mut claimed = Vec::with_capacity(op.judges.len());
        for ((_, judge), key) in op.judges.iter().zip(op.keys()) {
            insert.execute(params![judge.name, judge.email, key])?;
            claimed.push(Claimed::Added(self.last_insert_rowid()));
        }
        Ok(claimed)
    }
}

/// Assignment's facts: every judging row. Changed rows are deleted and
/// written back under their own ids (in this one transaction, so no client
/// ever sees them gone): updating them one at a time could give a judge the
/// same hack twice for a moment, which the UNIQUE constraint refuses.
impl Storage<Assign> for Tx<'_> {
    async fn load(&mut self, _: &Assign) -> Result<DataStore, StoreError> {
        load_all(self)
    }

    async fn apply(&mut self, op: &Assign, plan: &AssignPlan) -> Result<Vec<i64>, StoreError> {
        let mut delete = self.prepare_cached("DELETE FROM judge_hacks WHERE id = ?1")?;
        for row in &plan.moved {
            delete.execute([row.id])?;
        }
        let mut put_back = self.prepare_cached(
            "INSERT INTO judge_hacks (id, judge_id, hack_id, priority) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for row in &plan.moved {
            put_back.execute([row.id, row.judge_id, row.hack_id, row.priority])?;
        }
        let mut insert = self.prepare_cached(
            "INSERT INTO judge_hacks (judge_id, hack_id, priority) VALUES (?1, ?2, ?3)",
        )?;
        let mut ids = Vec::with_capacity(plan.new.len());
        for row in &plan.new {
            insert.execute([row.judge_id, row.hack_id, row.priority])?;
            ids.push(self.last_insert_rowid());
        }
        self.prepare_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute(params![
            META_JUDGES_PER_HACK,
            op.judges_per_hack.to_string()
        ])?;
        Ok(ids)
    }
}

impl Store {
    /// The judges per hack of the latest assignment, if one ran.
    pub async fn judges_per_hack(&self) -> Result<Option<i64>, StoreError> {
        self.read(|conn| {
            let value: Option<String> = conn
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([META_JUDGES_PER_HACK], |r| r.get(0))
                .optional()?;
            Ok(value.and_then(|v| v.parse().ok()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use crate::judging::ops::rate::Rate;
    use crate::store::{Perform, WriteError};

    use super::*;
    use crate::judging::devpost::Project;
    use crate::judging::error::JudgingError;
    use crate::judging::judges_csv;
    use crate::judging::model::DataStore;
    use crate::store::sqlite::test_support::{open, with_ada};

    use crate::judging::inputs::{NewHack, NewSuperlative};
    use crate::store::{Change, Changes};

    fn diffs(changes: &mut Changes) -> Vec<DataStore> {
        let mut out = Vec::new();
        while let Ok(batch) = changes.try_recv() {
            for entry in batch.iter() {
                if let Change::Judging(diff) = &entry.change {
                    out.push((**diff).clone());
                }
            }
        }
        out
    }

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
        let (_dir, store, mut changes) = open();
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
        diffs(&mut changes);

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

        let published = diffs(&mut changes);
        assert_eq!(published.len(), 1, "one change for the whole import");
        let diff = &published[0];
        let tables: Vec<_> = diff.hacks.iter().map(|h| (h.id, h.location)).collect();
        assert_eq!(tables, [(2, 2), (3, 7), (4, 3)], "table 1 was taken");
        assert_eq!(diff.superlatives.len(), 1);
        let eligible: Vec<_> = diff
            .superlative_hacks
            .iter()
            .map(|e| (e.superlative_id, e.hack_id))
            .collect();
        assert_eq!(eligible, [(2, 2), (1, 2), (1, 3)]);

        // Importing a newer export again adds only what is new.
        let again = store
            .perform(ImportDevpost::new(vec![
                project("a", None, &["Best Hardware", "Best UI"]),
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
        let all = store.load_all().await.unwrap();
        assert_eq!(all.hacks.len(), 5);
        assert_eq!(all.superlative_hacks.len(), 5);
    }

    #[tokio::test]
    async fn judges_import_refuses_a_taken_email_and_adds_nothing() {
        let (_dir, store, mut changes) = with_ada().await;
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
        assert!(diffs(&mut changes).is_empty());
        assert_eq!(store.load_all().await.unwrap().judges.len(), 1);

        let imported = store
            .perform(ImportJudges::new(vec![
                judge(2, "Grace", "grace@example.org"),
                judge(3, "Alan", "alan@example.org"),
            ]))
            .await
            .unwrap();
        assert_eq!(imported.judge_ids, [2, 3]);
        let published = diffs(&mut changes);
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].judges.len(), 2);
    }

    #[tokio::test]
    async fn assignment_writes_the_plan_and_tops_up() {
        let (_dir, store, mut changes) = open();
        assert!(matches!(
            store.perform(Assign { judges_per_hack: 3 }).await,
            Err(WriteError::Refused(JudgingError::NothingToAssign("judges")))
        ));
        let projects = (1..=6)
            .map(|i| project(&format!("H{i}"), None, &[]))
            .collect();
        store.perform(ImportDevpost::new(projects)).await.unwrap();
        let judges = (1..=4)
            .map(|i| judge(i, &format!("J{i}"), &format!("j{i}@example.org")))
            .collect();
        store.perform(ImportJudges::new(judges)).await.unwrap();
        diffs(&mut changes);
        assert_eq!(store.judges_per_hack().await.unwrap(), None);

        let first = store.perform(Assign { judges_per_hack: 2 }).await.unwrap();
        assert_eq!(first.created.len(), 12);
        assert!(first.updated.is_empty());
        assert_eq!(first.total, 12);
        assert_eq!(store.judges_per_hack().await.unwrap(), Some(2));
        let published = diffs(&mut changes);
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].judge_hacks.len(), 12);

        // Unchanged: nothing written, nothing published.
        let again = store.perform(Assign { judges_per_hack: 2 }).await.unwrap();
        assert!(again.created.is_empty() && again.updated.is_empty());
        assert!(diffs(&mut changes).is_empty());

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
        let topped = store.perform(Assign { judges_per_hack: 3 }).await.unwrap();
        assert_eq!(topped.total, 18);
        let all = store.load_all().await.unwrap();
        assert_eq!(all.judge_hacks.len(), 18);
        assert!(
            all.judge_hacks.contains(&pinned) || {
                let row = all.judge_hacks.iter().find(|r| r.id == pinned.id).unwrap();
                row.judge_id == pinned.judge_id && row.hack_id == pinned.hack_id
            }
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
}
