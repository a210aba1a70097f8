//! The judging tables: hacks, judges, assignments, superlatives, placements,
//! ratings, superlative eligibility and the judges' login secrets. This module
//! alone reads and writes them.
//!
//! Every check that needs the database (does the judge exist, is the email
//! taken) runs inside the write job, so checking and writing are one atomic
//! step; a refusal writes nothing. Each write publishes exactly the rows it
//! added or changed, which reach live subscribers after the commit.

use rusqlite::{params, Connection, OptionalExtension};

use super::floor;
use super::judging_rows::{exists, Table};
use super::writer::Tx;
use super::{now_ms, Store, StoreError};
pub use crate::judging::inputs::{NewHack, NewSuperlative};
use crate::judging::model::{
    DataStore, Hack, Judge, JudgeHack, Rating, Superlative, SuperlativeHack, SuperlativePlacement,
};
use crate::judging::ops::issue_secret::IssueSecret;
use crate::secrets;
use crate::store::runner::Storage;

/// A new hack: one insert.
impl Storage<NewHack> for Tx<'_> {
    async fn load(&mut self, _: &NewHack) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, hack: &NewHack, (): &()) -> Result<i64, StoreError> {
        self.prepare_cached("INSERT INTO hacks (name, description, location) VALUES (?1, ?2, ?3)")?
            .execute(params![hack.name, hack.description, hack.location])?;
        Ok(self.last_insert_rowid())
    }
}

/// A new superlative: one insert.
impl Storage<NewSuperlative> for Tx<'_> {
    async fn load(&mut self, _: &NewSuperlative) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, prize: &NewSuperlative, (): &()) -> Result<i64, StoreError> {
        self.prepare_cached("INSERT INTO superlatives (name) VALUES (?1)")?
            .execute([&prize.name])?;
        Ok(self.last_insert_rowid())
    }
}

/// A new secret: the judge must exist; its hash is stored.
impl Storage<IssueSecret> for Tx<'_> {
    async fn load(&mut self, op: &IssueSecret) -> Result<bool, StoreError> {
        exists(self, Table::Judges, op.judge)
    }

    async fn apply(&mut self, op: &IssueSecret, (): &()) -> Result<(), StoreError> {
        self.prepare_cached(
            "INSERT INTO judge_secrets (secret_hash, judge_id, created_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![&op.hash()[..], op.judge, now_ms()])?;
        Ok(())
    }
}

impl Store {
    /// The judge a login secret was issued to, if any.
    pub async fn judge_for_secret(&self, secret: String) -> Result<Option<i64>, StoreError> {
        let hash = secrets::hash(&secret);
        self.read(move |conn| {
            let found: Option<(i64, Vec<u8>)> = conn
                .prepare_cached(
                    "SELECT judge_id, secret_hash FROM judge_secrets WHERE secret_hash = ?1",
                )?
                .query_row([&hash[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            // The index lookup finds the row; the final say is a constant-time
            // comparison of the stored hash.
            Ok(found.and_then(|(judge, stored)| {
                let stored: secrets::SecretHash = stored.try_into().ok()?;
                secrets::matches(&secret, &stored).then_some(judge)
            }))
        })
        .await
    }

    /// Whether judge `id` exists.
    pub async fn judge_exists(&self, id: i64) -> Result<bool, StoreError> {
        self.read(move |conn| exists(conn, Table::Judges, id)).await
    }

    /// Every row of every judging table, by id: the state live updates start from.
    pub async fn load_all(&self) -> Result<DataStore, StoreError> {
        self.read(load_all).await
    }
}

pub(super) fn load_all(conn: &Connection) -> Result<DataStore, StoreError> {
    fn rows<T>(
        conn: &Connection,
        sql: &str,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], map)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
    let mut data = DataStore {
        hacks: rows(
            conn,
            "SELECT id, name, description, location FROM hacks ORDER BY id",
            |r| {
                Ok(Hack {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    description: r.get(2)?,
                    location: r.get(3)?,
                })
            },
        )?,
        judges: rows(
            conn,
            "SELECT id, name, email FROM judges ORDER BY id",
            |r| {
                Ok(Judge {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get(2)?,
                })
            },
        )?,
        judge_hacks: rows(
            conn,
            "SELECT id, judge_id, hack_id, priority FROM judge_hacks ORDER BY id",
            |r| {
                Ok(JudgeHack {
                    id: r.get(0)?,
                    judge_id: r.get(1)?,
                    hack_id: r.get(2)?,
                    priority: r.get(3)?,
                })
            },
        )?,
        superlatives: rows(conn, "SELECT id, name FROM superlatives ORDER BY id", |r| {
            Ok(Superlative {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })?,
        superlative_placements: rows(
            conn,
            "SELECT id, judge_id, superlative_id, first_choice_id, second_choice_id
             FROM superlative_placements ORDER BY id",
            |r| {
                Ok(SuperlativePlacement {
                    id: r.get(0)?,
                    judge_id: r.get(1)?,
                    superlative_id: r.get(2)?,
                    first_choice_id: r.get(3)?,
                    second_choice_id: r.get(4)?,
                })
            },
        )?,
        ratings: rows(
            conn,
            "SELECT id, judge_id, hack_id, rating FROM ratings ORDER BY id",
            |r| {
                Ok(Rating {
                    id: r.get(0)?,
                    judge_id: r.get(1)?,
                    hack_id: r.get(2)?,
                    rating: r.get(3)?,
                })
            },
        )?,
        superlative_hacks: rows(
            conn,
            "SELECT id, superlative_id, hack_id FROM superlative_hacks ORDER BY id",
            |r| {
                Ok(SuperlativeHack {
                    id: r.get(0)?,
                    superlative_id: r.get(1)?,
                    hack_id: r.get(2)?,
                })
            },
        )?,
        ..DataStore::default()
    };
    floor::load(conn, &mut data)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use crate::judging::error::JudgingError;
    use crate::judging::inputs::NewJudge;
    use crate::judging::inputs::Ranking;
    use crate::judging::ops::rate::Rate;
    use crate::store::{Perform, WriteError};

    use super::*;
    use crate::store::sqlite::test_support::open;
    use crate::store::test_support::seed;

    use crate::store::{Change, Changes};

    fn next_diff(changes: &mut Changes) -> DataStore {
        let batch = changes.try_recv().expect("a change was published");
        match &batch[0].change {
            Change::Judging(diff) => (**diff).clone(),
            Change::Score(_) | Change::Presence(_) | Change::Heat(_) => {
                panic!("a clicker or speed change was published")
            }
        }
    }

    #[tokio::test]
    async fn adds_rows_and_publishes_exactly_them() {
        let (_dir, store, mut changes) = open();
        let (hack, judge, superlative) = seed(&store).await;
        assert_eq!((hack.id, judge.id, superlative.id), (1, 1, 1));
        assert_eq!(next_diff(&mut changes).hacks, vec![hack.clone()]);
        assert_eq!(next_diff(&mut changes).judges, vec![judge.clone()]);
        let diff = next_diff(&mut changes);
        assert_eq!(diff.superlatives, vec![superlative.clone()]);
        assert!(diff.hacks.is_empty() && diff.judges.is_empty());
        let all = store.load_all().await.unwrap();
        assert_eq!(all.hacks, vec![hack]);
        assert_eq!(all.judges, vec![judge]);
        assert_eq!(all.superlatives, vec![superlative]);
    }

    #[tokio::test]
    async fn refuses_duplicate_email_ignoring_case_and_writes_nothing() {
        let (_dir, store, mut changes) = open();
        seed(&store).await;
        while changes.try_recv().is_ok() {}
        let err = store
            .perform(NewJudge {
                name: "Other".into(),
                email: "ada@EXAMPLE.org".into(),
            })
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            WriteError::Refused(JudgingError::DuplicateEmail { judge: 1, .. })
        ));
        assert!(changes.try_recv().is_err());
        assert_eq!(store.load_all().await.unwrap().judges.len(), 1);
    }

    #[tokio::test]
    async fn rerating_keeps_the_row_id_and_unchanged_ratings_publish_nothing() {
        let (_dir, store, mut changes) = open();
        seed(&store).await;
        while changes.try_recv().is_ok() {}
        let first = store.perform(Rate::new(1, 1, 7)).await.unwrap();
        let second = store.perform(Rate::new(1, 1, 19)).await.unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(next_diff(&mut changes).ratings, vec![first]);
        assert_eq!(next_diff(&mut changes).ratings, vec![second.clone()]);
        store.perform(Rate::new(1, 1, 19)).await.unwrap();
        assert!(changes.try_recv().is_err());
        assert_eq!(store.load_all().await.unwrap().ratings, vec![second]);
    }

    #[tokio::test]
    async fn rating_checks_state_and_range() {
        let (_dir, store, _changes) = open();
        seed(&store).await;
        assert!(matches!(
            store.perform(Rate::new(2, 1, 5)).await,
            Err(WriteError::Refused(JudgingError::NoSuchJudge(2)))
        ));
        assert!(matches!(
            store.perform(Rate::new(1, 9, 5)).await,
            Err(WriteError::Refused(JudgingError::NoSuchHack(9)))
        ));
    }

    #[tokio::test]
    async fn ranking_rules() {
        let (_dir, store, _changes) = open();
        seed(&store).await;
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
        let mut other = rank(1, 0);
        other.superlative_id = 2;
        assert!(matches!(
            store.perform(other).await,
            Err(WriteError::Refused(JudgingError::NoSuchSuperlative(2)))
        ));
    }

    #[tokio::test]
    async fn judge_secrets_are_stored_hashed_and_map_back_to_their_judge() {
        let (_dir, store, mut changes) = open();
        seed(&store).await;
        while changes.try_recv().is_ok() {}
        let secret = store.perform(IssueSecret::new(1)).await.unwrap();
        assert_eq!(secret.len(), 64);
        assert!(changes.try_recv().is_err(), "secrets are never published");
        assert_eq!(
            store.judge_for_secret(secret.clone()).await.unwrap(),
            Some(1)
        );
        assert_eq!(store.judge_for_secret("nope".into()).await.unwrap(), None);
        assert!(matches!(
            store.perform(IssueSecret::new(5)).await,
            Err(WriteError::Refused(JudgingError::NoSuchJudge(5)))
        ));
        let stored: Vec<u8> = store
            .read(|c| Ok(c.query_row("SELECT secret_hash FROM judge_secrets", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(stored, secrets::hash(&secret).to_vec());
    }
}
