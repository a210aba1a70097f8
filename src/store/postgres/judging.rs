//! The judging tables in PostgreSQL: hacks, judges, superlatives,
//! placements, ratings, eligibility and the judges' login secrets, with the
//! same rules and the same published diffs as SQLite's
//! (`crate::store::judging`). Bulk writes are in [`super::judging_bulk`],
//! sign-in links in [`super::judge_links`], the floor in [`super::floor`].
//!
//! Every check runs inside the write job, so checking and writing are one
//! step of the node's transaction; a refusal undoes the job's writes. Where
//! SQLite's single writer made a read-then-write safe, several nodes need
//! more: a judge's email is claimed by `ON CONFLICT` on its unique key, a
//! rating or placement that is replaced is read `FOR UPDATE` (a new one is
//! inserted with `ON CONFLICT` on its unique pair), and writes that check
//! the pause hold the floor lock shared (see [`super::judging_rows`]). Ids
//! come from identity columns, which never hand one id out twice.

use futures_util::future::{try_join, try_join3};
use tokio_postgres::GenericClient;

use super::floor;
use super::judging_rows::{exists, Table};
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::{snapshot, unreachable, PgFuture, PgStore};
use crate::judging::error::JudgingError;
use crate::judging::inputs::{NewHack, NewSuperlative};
use crate::judging::model::{
    DataStore, Hack, Judge, JudgeHack, Rating, Superlative, SuperlativeHack, SuperlativePlacement,
};
use crate::judging::ops::issue_secret::IssueSecret;
use crate::secrets;
use crate::store::runner::{self, Storage};
use crate::store::{now_ms, StoreError};

/// A new hack: one insert, under the import lock (imports number tables
/// around the hacks there are).
impl Storage<NewHack> for PgTx {
    async fn load(&mut self, _: &NewHack) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, hack: &NewHack, (): &()) -> Result<i64, StoreError> {
        insert_hack(self, &hack.name, &hack.description, hack.location).await
    }
}

impl PgOperation for NewHack {
    fn locks(&self) -> Locks {
        Locks::exclusive(Advisory::Import)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Hack, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

/// A new superlative: one insert, under the import lock (imports match
/// superlatives by name).
impl Storage<NewSuperlative> for PgTx {
    async fn load(&mut self, _: &NewSuperlative) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, prize: &NewSuperlative, (): &()) -> Result<i64, StoreError> {
        insert_superlative(self, &prize.name).await
    }
}

impl PgOperation for NewSuperlative {
    fn locks(&self) -> Locks {
        Locks::exclusive(Advisory::Import)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Superlative, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

/// A new secret: the judge must exist; its hash is stored. A new row of
/// its own: it waits for no other node's batch.
impl Storage<IssueSecret> for PgTx {
    async fn load(&mut self, op: &IssueSecret) -> Result<bool, StoreError> {
        exists(self, Table::Judges, op.judge).await
    }

    async fn apply(&mut self, op: &IssueSecret, (): &()) -> Result<(), StoreError> {
        let insert = self
            .prepare_cached(
                "INSERT INTO judge_secrets (secret_hash, judge_id, created_at) VALUES ($1, $2, $3)",
            )
            .await?;
        self.execute(&insert, &[&&op.hash()[..], &op.judge, &now_ms()])
            .await?;
        Ok(())
    }
}

impl PgOperation for IssueSecret {
    fn locks(&self) -> Locks {
        Locks::none()
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<String, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgStore {
    /// The judge a login secret was issued to, if any (by any node).
    pub async fn judge_for_secret(&self, secret: String) -> Result<Option<i64>, StoreError> {
        let hash = secrets::hash(&secret);
        self.read(move |client| {
            Box::pin(async move {
                let select = client
                    .prepare_cached(
                        "SELECT judge_id, secret_hash FROM judge_secrets WHERE secret_hash = $1",
                    )
                    .await?;
                let found = client.query_opt(&select, &[&&hash[..]]).await?;
                // The index lookup finds the row; the final say is a
                // constant-time comparison of the stored hash.
                Ok(found.and_then(|row| {
                    let stored: secrets::SecretHash = row.get::<_, &[u8]>(1).try_into().ok()?;
                    secrets::matches(&secret, &stored).then_some(row.get(0))
                }))
            })
        })
        .await
    }

    /// Whether judge `id` exists.
    pub async fn judge_exists(&self, id: i64) -> Result<bool, StoreError> {
        self.read(move |client| {
            Box::pin(async move {
                let select = client
                    .prepare_cached("SELECT 1 FROM judges WHERE id = $1")
                    .await?;
                Ok(client.query_opt(&select, &[&id]).await?.is_some())
            })
        })
        .await
    }

    /// Every row of every judging table, by id, read in one snapshot: the
    /// state live updates start from.
    pub async fn load_all(&self) -> Result<DataStore, StoreError> {
        let mut client = self.pool.get().await.map_err(unreachable)?;
        let tx = snapshot(&mut client).await?;
        let all = load_all(&*tx).await?;
        tx.commit().await?;
        Ok(all)
    }
}

/// Inserts a hack; its id.
pub(super) async fn insert_hack(
    tx: &PgTx,
    name: &str,
    description: &str,
    location: i64,
) -> Result<i64, StoreError> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO hacks (name, description, location) VALUES ($1, $2, $3) RETURNING id",
        )
        .await?;
    Ok(tx
        .query_one(&insert, &[&name, &description, &location])
        .await?
        .get(0))
}

/// Inserts a superlative; its id.
pub(super) async fn insert_superlative(tx: &PgTx, name: &str) -> Result<i64, StoreError> {
    let insert = tx
        .prepare_cached("INSERT INTO superlatives (name) VALUES ($1) RETURNING id")
        .await?;
    Ok(tx.query_one(&insert, &[&name]).await?.get(0))
}

/// The judge whose email folds to `key`, as the job's transaction sees it.
pub(super) async fn email_owner(tx: &PgTx, key: &str) -> Result<Option<i64>, StoreError> {
    let select = tx
        .prepare_cached("SELECT id FROM judges WHERE email_key = $1")
        .await?;
    Ok(tx.query_opt(&select, &[&key]).await?.map(|r| r.get(0)))
}

/// Inserts a judge whose email folds to `key`: `Ok(id)`, or `Err(other)`,
/// the judge who has the email. The caller has already looked for an
/// owner (the rule's facts), so this inserts first and looks again only
/// on a conflict. The unique key decides between nodes: an insert racing
/// another node's waits for its commit and then yields.
pub(super) async fn insert_judge(
    tx: &PgTx,
    name: &str,
    email: &str,
    key: &str,
) -> Result<Result<i64, i64>, StoreError> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO judges (name, email, email_key) VALUES ($1, $2, $3)
             ON CONFLICT (email_key) DO NOTHING RETURNING id",
        )
        .await?;
    // A conflict with a transaction that then rolled back leaves the key
    // free, hence another round (a few at most).
    for _ in 0..3 {
        if let Some(row) = tx.query_opt(&insert, &[&name, &email, &key]).await? {
            return Ok(Ok(row.get(0)));
        }
        if let Some(other) = email_owner(tx, key).await? {
            return Ok(Err(other));
        }
    }
    Err(StoreError::Postgres(format!(
        "the email key {key:?} stayed contended: try again"
    )))
}

/// Every row of every judging table, read by `client` (in the caller's snapshot).
pub(super) async fn load_all(client: &impl GenericClient) -> Result<DataStore, StoreError> {
    let (hacks, judges) = try_join(
        client.query(
            "SELECT id, name, description, location FROM hacks ORDER BY id",
            &[],
        ),
        client.query("SELECT id, name, email FROM judges ORDER BY id", &[]),
    )
    .await?;
    let (judge_hacks, superlatives) = try_join(
        client.query(
            "SELECT id, judge_id, hack_id, priority FROM judge_hacks ORDER BY id",
            &[],
        ),
        client.query("SELECT id, name FROM superlatives ORDER BY id", &[]),
    )
    .await?;
    let (placements, ratings, superlative_hacks) = try_join3(
        client.query(
            "SELECT id, judge_id, superlative_id, first_choice_id, second_choice_id
             FROM superlative_placements ORDER BY id",
            &[],
        ),
        client.query(
            "SELECT id, judge_id, hack_id, rating FROM ratings ORDER BY id",
            &[],
        ),
        client.query(
            "SELECT id, superlative_id, hack_id FROM superlative_hacks ORDER BY id",
            &[],
        ),
    )
    .await?;
    let mut data = DataStore {
        hacks: hacks
            .iter()
            .map(|r| Hack {
                id: r.get(0),
                name: r.get(1),
                description: r.get(2),
                location: r.get(3),
            })
            .collect(),
        judges: judges
            .iter()
            .map(|r| Judge {
                id: r.get(0),
                name: r.get(1),
                email: r.get(2),
            })
            .collect(),
        judge_hacks: judge_hacks
            .iter()
            .map(|r| JudgeHack {
                id: r.get(0),
                judge_id: r.get(1),
                hack_id: r.get(2),
                priority: r.get(3),
            })
            .collect(),
        superlatives: superlatives
            .iter()
            .map(|r| Superlative {
                id: r.get(0),
                name: r.get(1),
            })
            .collect(),
        superlative_placements: placements
            .iter()
            .map(|r| SuperlativePlacement {
                id: r.get(0),
                judge_id: r.get(1),
                superlative_id: r.get(2),
                first_choice_id: r.get(3),
                second_choice_id: r.get(4),
            })
            .collect(),
        ratings: ratings
            .iter()
            .map(|r| Rating {
                id: r.get(0),
                judge_id: r.get(1),
                hack_id: r.get(2),
                rating: r.get(3),
            })
            .collect(),
        superlative_hacks: superlative_hacks
            .iter()
            .map(|r| SuperlativeHack {
                id: r.get(0),
                superlative_id: r.get(1),
                hack_id: r.get(2),
            })
            .collect(),
        ..DataStore::default()
    };
    floor::load(client, &mut data).await?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judging::inputs::NewJudge;
    use crate::judging::inputs::Ranking;
    use crate::judging::ops::absent::MarkAbsent;
    use crate::judging::ops::pause::SetPaused;
    use crate::judging::ops::rate::Rate;
    use crate::store::postgres::test_support::{fresh_database, node, open};
    use crate::store::test_support::seed;
    use crate::store::Perform;
    use crate::store::WriteError;

    #[tokio::test]
    async fn adds_rows_and_publishes_exactly_them() {
        let Some((store, mut feed)) = open("adds_rows_and_publishes_exactly_them").await else {
            return;
        };
        let (hack, judge, superlative) = seed(&store).await;
        assert_eq!((hack.id, judge.id, superlative.id), (1, 1, 1));
        let diffs = feed.diffs(&store).await;
        assert_eq!(diffs.len(), 3);
        assert_eq!(diffs[0].hacks, vec![hack.clone()]);
        assert_eq!(diffs[1].judges, vec![judge.clone()]);
        assert_eq!(diffs[2].superlatives, vec![superlative.clone()]);
        assert!(diffs[2].hacks.is_empty() && diffs[2].judges.is_empty());
        let all = store.load_all().await.unwrap();
        assert_eq!(all.hacks, vec![hack]);
        assert_eq!(all.judges, vec![judge]);
        assert_eq!(all.superlatives, vec![superlative]);
        assert_eq!(
            all.judging_status,
            [crate::judging::model::JudgingStatus {
                id: 1,
                paused: false
            }]
        );
        assert_eq!(store.judging_snapshot().await.unwrap(), (3, all));
    }

    #[tokio::test]
    async fn refuses_duplicate_email_ignoring_case_and_writes_nothing() {
        let Some((store, mut feed)) =
            open("refuses_duplicate_email_ignoring_case_and_writes_nothing").await
        else {
            return;
        };
        seed(&store).await;
        store
            .perform(NewJudge {
                name: "Éva".into(),
                email: "ÉVA@example.org".into(),
            })
            .await
            .unwrap();
        feed.diffs(&store).await;
        for email in ["ada@EXAMPLE.org", "éva@example.org"] {
            let err = store
                .perform(NewJudge {
                    name: "Other".into(),
                    email: email.into(),
                })
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    WriteError::Refused(JudgingError::DuplicateEmail { .. })
                ),
                "{err}"
            );
        }
        feed.quiet(&store).await;
        assert_eq!(store.load_all().await.unwrap().judges.len(), 2);
        // The refusals spent no id.
        let next = store
            .perform(NewJudge {
                name: "Grace".into(),
                email: "grace@example.org".into(),
            })
            .await
            .unwrap();
        assert_eq!(next.id, 3);
    }

    #[tokio::test]
    async fn rerating_keeps_the_row_id_and_unchanged_ratings_publish_nothing() {
        let Some((store, mut feed)) =
            open("rerating_keeps_the_row_id_and_unchanged_ratings_publish_nothing").await
        else {
            return;
        };
        seed(&store).await;
        feed.diffs(&store).await;
        let first = store.perform(Rate::new(1, 1, 7)).await.unwrap();
        let second = store.perform(Rate::new(1, 1, 19)).await.unwrap();
        assert_eq!(first.id, second.id);
        let diffs = feed.diffs(&store).await;
        assert_eq!(diffs.len(), 2);
        assert_eq!(diffs[0].ratings, vec![first]);
        assert_eq!(diffs[1].ratings, vec![second.clone()]);
        assert!(diffs[1].absences.is_empty());
        store.perform(Rate::new(1, 1, 19)).await.unwrap();
        feed.quiet(&store).await;
        assert_eq!(store.load_all().await.unwrap().ratings, vec![second]);
        assert!(store.judge_activity().await.unwrap().contains_key(&1));
    }

    #[tokio::test]
    async fn rating_checks_state_and_clears_the_hacks_absences() {
        let Some((store, mut feed)) =
            open("rating_checks_state_and_clears_the_hacks_absences").await
        else {
            return;
        };
        seed(&store).await;
        assert!(matches!(
            store.perform(Rate::new(2, 1, 5)).await,
            Err(WriteError::Refused(JudgingError::NoSuchJudge(2)))
        ));
        assert!(matches!(
            store.perform(Rate::new(1, 9, 5)).await,
            Err(WriteError::Refused(JudgingError::NoSuchHack(9)))
        ));
        assert!(matches!(
            store.perform(Rate::new(1, 1, 21)).await,
            Err(WriteError::Refused(JudgingError::Invalid(_)))
        ));
        store.perform(SetPaused { paused: true }).await.unwrap();
        assert!(matches!(
            store.perform(Rate::new(1, 1, 5)).await,
            Err(WriteError::Refused(JudgingError::Paused))
        ));
        store.perform(SetPaused { paused: false }).await.unwrap();
        feed.diffs(&store).await;
        assert!(
            store.judge_activity().await.unwrap().is_empty(),
            "refusals leave no trace"
        );

        let absence = store.perform(MarkAbsent::new(1, 1)).await.unwrap();
        feed.diffs(&store).await;
        let rating = store.perform(Rate::new(1, 1, 5)).await.unwrap();
        let diff = feed.one(&store).await;
        assert_eq!(diff.ratings, [rating]);
        assert_eq!(
            diff.absences,
            [crate::judging::model::Absence {
                active: false,
                ..absence
            }]
        );
    }

    #[tokio::test]
    async fn ranking_rules() {
        let Some((store, mut feed)) = open("ranking_rules").await else {
            return;
        };
        seed(&store).await;
        feed.diffs(&store).await;
        let rank = |first, second| Ranking {
            judge_id: 1,
            superlative_id: 1,
            first_choice_id: first,
            second_choice_id: second,
        };
        assert!(matches!(
            store.perform(rank(1, 5)).await,
            Err(WriteError::Refused(JudgingError::NoSuchChoice {
                field: "secondId",
                id: 5
            }))
        ));
        let none = store.perform(rank(0, 0)).await.unwrap();
        let chosen = store.perform(rank(1, 0)).await.unwrap();
        assert_eq!(none.id, chosen.id);
        assert_eq!(chosen.first_choice_id, 1);
        let diffs = feed.diffs(&store).await;
        assert_eq!(diffs.len(), 2);
        assert_eq!(
            diffs[1].superlative_placements,
            std::slice::from_ref(&chosen)
        );
        store.perform(rank(1, 0)).await.unwrap();
        feed.quiet(&store).await;
        let mut other = rank(1, 0);
        other.superlative_id = 2;
        assert!(matches!(
            store.perform(other).await,
            Err(WriteError::Refused(JudgingError::NoSuchSuperlative(2)))
        ));
        let mut stranger = rank(1, 0);
        stranger.judge_id = 7;
        assert!(matches!(
            store.perform(stranger).await,
            Err(WriteError::Refused(JudgingError::NoSuchJudge(7)))
        ));
        store.perform(SetPaused { paused: true }).await.unwrap();
        assert!(matches!(
            store.perform(rank(0, 1)).await,
            Err(WriteError::Refused(JudgingError::Paused))
        ));
        assert_eq!(
            store.load_all().await.unwrap().superlative_placements,
            [chosen]
        );
    }

    #[tokio::test]
    async fn judge_secrets_are_stored_hashed_and_map_back_to_their_judge() {
        let Some((store, mut feed)) =
            open("judge_secrets_are_stored_hashed_and_map_back_to_their_judge").await
        else {
            return;
        };
        seed(&store).await;
        feed.diffs(&store).await;
        let secret = store.perform(IssueSecret::new(1)).await.unwrap();
        assert_eq!(secret.len(), 64);
        feed.quiet(&store).await;
        assert_eq!(
            store.judge_for_secret(secret.clone()).await.unwrap(),
            Some(1)
        );
        assert_eq!(store.judge_for_secret("nope".into()).await.unwrap(), None);
        assert!(matches!(
            store.perform(IssueSecret::new(5)).await,
            Err(WriteError::Refused(JudgingError::NoSuchJudge(5)))
        ));
        let client = store.pool.get().await.unwrap();
        let stored: Vec<u8> = client
            .query_one("SELECT secret_hash FROM judge_secrets", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(stored, secrets::hash(&secret).to_vec());
        assert!(store.judge_exists(1).await.unwrap());
        assert!(!store.judge_exists(2).await.unwrap());
    }

    /// Two nodes adding judges with one email at once: one judge, and every
    /// other attempt refused, naming it.
    #[tokio::test]
    async fn nodes_adding_one_email_at_once_make_one_judge() {
        let Some(url) = fresh_database("nodes_adding_one_email_at_once_make_one_judge").await
        else {
            return;
        };
        let ((a, mut feed), (b, _)) = (node(&url).await, node(&url).await);
        let attempts = (0..16).map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                store
                    .perform(NewJudge {
                        name: format!("Ada {i}"),
                        email: if i % 3 == 0 {
                            "ADA@example.org"
                        } else {
                            "ada@example.org"
                        }
                        .into(),
                    })
                    .await
            })
        });
        let outcomes = futures_util::future::join_all(attempts).await;
        let added: Vec<Judge> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().unwrap().as_ref().ok().cloned())
            .collect();
        assert_eq!(added.len(), 1, "{outcomes:?}");
        for outcome in outcomes {
            match outcome.unwrap() {
                Ok(_) => {}
                Err(WriteError::Refused(JudgingError::DuplicateEmail { judge, .. })) => {
                    assert_eq!(judge, added[0].id)
                }
                Err(e) => panic!("{e}"),
            }
        }
        let diffs = feed.diffs(&a).await;
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].judges, added);
    }

    /// Two nodes rating the same pair at once keep one row; pausing on one
    /// node refuses ratings on the other.
    #[tokio::test]
    async fn nodes_rating_at_once_keep_one_row_and_share_the_pause() {
        let Some(url) =
            fresh_database("nodes_rating_at_once_keep_one_row_and_share_the_pause").await
        else {
            return;
        };
        let ((a, mut feed), (b, _)) = (node(&url).await, node(&url).await);
        seed(&a).await;
        let ratings = (1..=20).map(|rating| {
            let store = if rating % 2 == 0 {
                a.clone()
            } else {
                b.clone()
            };
            tokio::spawn(async move {
                store
                    .perform(Rate {
                        judge: 1,
                        hack: 1,
                        rating,
                    })
                    .await
                    .unwrap()
            })
        });
        let rows: Vec<Rating> = futures_util::future::try_join_all(ratings).await.unwrap();
        assert!(rows.iter().all(|r| r.id == rows[0].id), "{rows:?}");
        let all = a.load_all().await.unwrap();
        assert_eq!(all.ratings.len(), 1);
        // The stored rating is the one whose diff came last.
        let last = feed
            .diffs(&a)
            .await
            .into_iter()
            .rev()
            .find_map(|d| d.ratings.last().cloned())
            .unwrap();
        assert_eq!(all.ratings[0], last);

        a.perform(SetPaused { paused: true }).await.unwrap();
        assert!(matches!(
            b.perform(Rate::new(1, 1, 3)).await,
            Err(WriteError::Refused(JudgingError::Paused))
        ));
        b.perform(SetPaused { paused: false }).await.unwrap();
        b.perform(Rate::new(1, 1, 3)).await.unwrap();
    }
}
