//! The judging floor's tables in PostgreSQL: the pause, absent teams,
//! judges' notes, withdrawn hacks and each judge's last action, with the
//! same rules as SQLite's (`crate::store::floor`). `judging` calls the
//! helpers here inside its own write jobs.
//!
//! Across nodes: the pause is written under the floor lock held
//! exclusively, and absences and withdrawals under it shared (see
//! [`super::judging_rows`]), each batch taking its locks first (see
//! [`super::locks`]); a row a write replaces is read `FOR UPDATE`,
//! and a row it may have to create is inserted with `ON CONFLICT` on its
//! unique key, so two nodes writing the same row at once take turns and
//! keep one row id.

use std::collections::HashMap;

use tokio_postgres::GenericClient;

use super::judging_rows::{exists, Table};
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::{unreachable, PgFuture, PgStore};
use crate::judging::error::JudgingError;
use crate::judging::model::{Absence, DataStore, JudgingStatus, Note, Withdrawal};
use crate::judging::ops::clear_absences::ClearAbsences;
use crate::store::runner::{self, Storage};
use crate::store::{now_ms, StoreError};

/// Clearing a hack's absences: under the floor lock shared and the hack's
/// absences lock, whether it exists, then one update.
impl Storage<ClearAbsences> for PgTx {
    async fn load(&mut self, op: &ClearAbsences) -> Result<bool, StoreError> {
        exists(self, Table::Hacks, op.hack).await
    }

    async fn apply(&mut self, op: &ClearAbsences, (): &()) -> Result<Vec<Absence>, StoreError> {
        clear_hack_absences(self, op.hack).await
    }
}

impl PgOperation for ClearAbsences {
    fn locks(&self) -> Locks {
        Locks::shared(Advisory::Floor).absences_of(self.hack)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Vec<Absence>, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}

impl PgStore {
    /// When each judge last rated, ranked, marked an absence or wrote a
    /// note (milliseconds since the Unix epoch), by judge id.
    pub async fn judge_activity(&self) -> Result<HashMap<i64, i64>, StoreError> {
        let client = self.pool.get().await.map_err(unreachable)?;
        let rows = client
            .query("SELECT judge_id, last_action_at FROM judge_activity", &[])
            .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

/// Whether judging is paused, as the job's transaction sees it.
pub(super) async fn is_paused(tx: &PgTx) -> Result<bool, StoreError> {
    let select = tx
        .prepare_cached("SELECT paused FROM judging_status WHERE id = 1")
        .await?;
    Ok(tx.query_opt(&select, &[]).await?.is_some_and(|r| r.get(0)))
}

/// The statement that records that a judge did something now ($1: judge,
/// $2: the time).
pub(super) const TOUCH: &str =
    "INSERT INTO judge_activity (judge_id, last_action_at) VALUES ($1, $2)
     ON CONFLICT (judge_id) DO UPDATE SET last_action_at = excluded.last_action_at";

/// Records that `judge` did something now.
pub(super) async fn touch(tx: &PgTx, judge: i64) -> Result<(), StoreError> {
    let touch = tx.prepare_cached(TOUCH).await?;
    tx.execute(&touch, &[&judge, &now_ms()]).await?;
    Ok(())
}

/// The statement that clears every active absence of a hack ($1),
/// answering the rows it cleared (id, judge).
pub(super) const CLEAR_ABSENCES: &str =
    "UPDATE absences SET active = FALSE WHERE hack_id = $1 AND active RETURNING id, judge_id";

/// The absences [`CLEAR_ABSENCES`] answered, as they are now, by id.
pub(super) fn cleared(hack: i64, rows: Vec<tokio_postgres::Row>) -> Vec<Absence> {
    let mut cleared: Vec<Absence> = rows
        .into_iter()
        .map(|r| Absence {
            id: r.get(0),
            judge_id: r.get(1),
            hack_id: hack,
            active: false,
        })
        .collect();
    cleared.sort_by_key(|a| a.id);
    cleared
}

/// Clears every active absence of `hack` (it was rated, or the organiser
/// says the team is back) and answers the rows as they are now.
pub(super) async fn clear_hack_absences(tx: &PgTx, hack: i64) -> Result<Vec<Absence>, StoreError> {
    let clear = tx.prepare_cached(CLEAR_ABSENCES).await?;
    Ok(cleared(hack, tx.query(&clear, &[&hack]).await?))
}

/// Adds the floor's tables to a full load of the judging state, read by
/// `client` (in the caller's snapshot).
pub(super) async fn load(
    client: &impl GenericClient,
    data: &mut DataStore,
) -> Result<(), StoreError> {
    data.absences = client
        .query(
            "SELECT id, judge_id, hack_id, active FROM absences ORDER BY id",
            &[],
        )
        .await?
        .into_iter()
        .map(|r| Absence {
            id: r.get(0),
            judge_id: r.get(1),
            hack_id: r.get(2),
            active: r.get(3),
        })
        .collect();
    data.notes = client
        .query(
            "SELECT id, judge_id, hack_id, text FROM notes ORDER BY id",
            &[],
        )
        .await?
        .into_iter()
        .map(|r| Note {
            id: r.get(0),
            judge_id: r.get(1),
            hack_id: r.get(2),
            text: r.get(3),
        })
        .collect();
    let paused = client
        .query_opt("SELECT paused FROM judging_status WHERE id = 1", &[])
        .await?
        .is_some_and(|r| r.get(0));
    data.judging_status = vec![JudgingStatus { id: 1, paused }];
    data.withdrawals = client
        .query(
            "SELECT id, hack_id, withdrawn FROM withdrawals ORDER BY id",
            &[],
        )
        .await?
        .into_iter()
        .map(|r| Withdrawal {
            id: r.get(0),
            hack_id: r.get(1),
            withdrawn: r.get(2),
        })
        .collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judging::inputs::{NewHack, NewJudge};
    use crate::judging::ops::absent::MarkAbsent;
    use crate::judging::ops::assign::Assign;
    use crate::judging::ops::clear_absences::ClearAbsences;
    use crate::judging::ops::note::WriteNote;
    use crate::judging::ops::pause::SetPaused;
    use crate::judging::ops::rate::Rate;
    use crate::judging::ops::withdraw::Withdraw;
    use crate::store::postgres::locks::FLOOR_LOCK;
    use crate::store::postgres::test_support::{fresh_database, node, open, other_node, Feed};
    use crate::store::{Perform, WriteError};

    /// Two judges, three hacks, and judge 1 assigned hacks 1, 2, 3 in that order.
    async fn floor(store: &PgStore, feed: &mut Feed) {
        for i in 1..=3 {
            store
                .perform(NewHack {
                    name: format!("H{i}"),
                    description: String::new(),
                    location: i,
                })
                .await
                .unwrap();
        }
        for i in 1..=2 {
            store
                .perform(NewJudge {
                    name: format!("J{i}"),
                    email: format!("j{i}@example.org"),
                })
                .await
                .unwrap();
        }
        store.perform(Assign { judges_per_hack: 1 }).await.unwrap();
        feed.diffs(store).await;
    }

    async fn route(store: &PgStore, judge: i64) -> Vec<(i64, i64)> {
        let mut rows: Vec<(i64, i64)> = store
            .load_all()
            .await
            .unwrap()
            .judge_hacks
            .iter()
            .filter(|r| r.judge_id == judge)
            .map(|r| (r.priority, r.hack_id))
            .collect();
        rows.sort();
        rows
    }

    #[tokio::test]
    async fn pausing_publishes_only_changes() {
        let Some((store, mut feed)) = open("pausing_publishes_only_changes").await else {
            return;
        };
        let paused = store.perform(SetPaused { paused: true }).await.unwrap();
        assert_eq!(
            paused,
            JudgingStatus {
                id: 1,
                paused: true
            }
        );
        assert_eq!(
            feed.one(&store).await.judging_status,
            std::slice::from_ref(&paused)
        );
        store.perform(SetPaused { paused: true }).await.unwrap();
        feed.quiet(&store).await;
        assert_eq!(store.load_all().await.unwrap().judging_status, [paused]);
        store.perform(SetPaused { paused: false }).await.unwrap();
        assert_eq!(
            feed.one(&store).await.judging_status,
            [JudgingStatus {
                id: 1,
                paused: false
            }]
        );
    }

    #[tokio::test]
    async fn an_absence_moves_the_hack_last_and_marking_again_changes_nothing() {
        let Some((store, mut feed)) =
            open("an_absence_moves_the_hack_last_and_marking_again_changes_nothing").await
        else {
            return;
        };
        floor(&store, &mut feed).await;
        let before = route(&store, 1).await;
        let first = before[0].1;
        let absence = store.perform(MarkAbsent::new(1, first)).await.unwrap();
        assert!(absence.active);
        let diff = feed.one(&store).await;
        assert_eq!(diff.absences, std::slice::from_ref(&absence));
        assert_eq!(diff.judge_hacks.len(), 1);
        assert_eq!(diff.judge_hacks[0].hack_id, first);
        let after = route(&store, 1).await;
        assert_eq!(after.last().unwrap().1, first, "{before:?} -> {after:?}");
        assert_eq!(diff.judge_hacks[0].priority, after.last().unwrap().0);

        // Active already: nothing changes.
        assert_eq!(
            store.perform(MarkAbsent::new(1, first)).await.unwrap(),
            absence
        );
        feed.quiet(&store).await;
        assert_eq!(route(&store, 1).await, after);

        // Cleared, then marked again: the same row, active again; the hack
        // is last already, so the route stays.
        let cleared = store.perform(ClearAbsences { hack: first }).await.unwrap();
        assert_eq!(
            cleared,
            [Absence {
                active: false,
                ..absence.clone()
            }]
        );
        assert_eq!(feed.one(&store).await.absences, cleared);
        assert!(store
            .perform(ClearAbsences { hack: first })
            .await
            .unwrap()
            .is_empty());
        feed.quiet(&store).await;
        let again = store.perform(MarkAbsent::new(1, first)).await.unwrap();
        assert_eq!(again, absence);
        let diff = feed.one(&store).await;
        assert_eq!((diff.absences, diff.judge_hacks), (vec![absence], vec![]));

        // A hack not on the judge's route: the absence alone.
        let elsewhere = route(&store, 2).await[0].1;
        let other = store.perform(MarkAbsent::new(1, elsewhere)).await.unwrap();
        let diff = feed.one(&store).await;
        assert_eq!((diff.absences, diff.judge_hacks), (vec![other], vec![]));
    }

    #[tokio::test]
    async fn floor_writes_refuse_what_is_not_there_and_absences_wait_for_the_pause() {
        let Some((store, mut feed)) =
            open("floor_writes_refuse_what_is_not_there_and_absences_wait_for_the_pause").await
        else {
            return;
        };
        floor(&store, &mut feed).await;
        let refused = |r: Result<(), WriteError>| match r {
            Err(WriteError::Refused(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        let e = refused(store.perform(MarkAbsent::new(9, 1)).await.map(drop));
        assert!(e.starts_with("judge 9 does not exist"), "{e}");
        let e = refused(store.perform(MarkAbsent::new(1, 9)).await.map(drop));
        assert!(e.starts_with("hack 9 does not exist"), "{e}");
        let e = refused(store.perform(ClearAbsences { hack: 9 }).await.map(drop));
        assert!(e.starts_with("hack 9 does not exist"), "{e}");
        let e = refused(store.perform(Withdraw::new(9, true)).await.map(drop));
        assert!(e.starts_with("hack 9 does not exist"), "{e}");
        let e = refused(store.perform(WriteNote::new(9, 1, "x")).await.map(drop));
        assert!(e.starts_with("judge 9 does not exist"), "{e}");
        let e = refused(store.perform(WriteNote::new(1, 9, "x")).await.map(drop));
        assert!(e.starts_with("hack 9 does not exist"), "{e}");
        store.perform(SetPaused { paused: true }).await.unwrap();
        assert!(matches!(
            store.perform(MarkAbsent::new(1, 1)).await,
            Err(WriteError::Refused(JudgingError::Paused))
        ));
        // Notes are taken while paused.
        store
            .perform(WriteNote::new(1, 1, "back at 3"))
            .await
            .unwrap();
        let diffs = feed.diffs(&store).await;
        assert_eq!(diffs.len(), 2);
        assert!(diffs[1].notes.len() == 1 && diffs[1].absences.is_empty());
        assert_eq!(
            store
                .judge_activity()
                .await
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            [&1]
        );
    }

    #[tokio::test]
    async fn notes_and_withdrawals_keep_their_rows() {
        let Some((store, mut feed)) = open("notes_and_withdrawals_keep_their_rows").await else {
            return;
        };
        floor(&store, &mut feed).await;
        let note = store
            .perform(WriteNote::new(2, 3, "loud table"))
            .await
            .unwrap();
        let edited = store
            .perform(WriteNote::new(2, 3, "quiet now"))
            .await
            .unwrap();
        assert_eq!(note.id, edited.id);
        store
            .perform(WriteNote::new(2, 3, "quiet now"))
            .await
            .unwrap();
        let diffs = feed.diffs(&store).await;
        assert_eq!(diffs.len(), 2, "an unchanged note publishes nothing");
        assert_eq!(diffs[1].notes, std::slice::from_ref(&edited));

        let out = store.perform(Withdraw::new(2, true)).await.unwrap();
        store.perform(Withdraw::new(2, true)).await.unwrap();
        let back = store.perform(Withdraw::new(2, false)).await.unwrap();
        assert_eq!(out.id, back.id);
        let diffs = feed.diffs(&store).await;
        assert_eq!(diffs.len(), 2, "an unchanged withdrawal publishes nothing");
        assert_eq!(diffs[0].withdrawals, [out]);
        assert_eq!(diffs[1].withdrawals, std::slice::from_ref(&back));
        let all = store.load_all().await.unwrap();
        assert_eq!((all.notes, all.withdrawals), (vec![edited], vec![back]));
        let activity = store.judge_activity().await.unwrap();
        assert!(activity[&2] > 1_700_000_000_000, "{activity:?}");
    }

    /// Whether `task` is still waiting after a moment.
    async fn waits<T>(task: &tokio::task::JoinHandle<T>) -> bool {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        !task.is_finished()
    }

    /// A rating waits for a pause another node is committing, and is then
    /// refused: it never slips in after the pause.
    #[tokio::test]
    async fn a_rating_waits_for_a_pause_being_committed_and_is_refused() {
        let Some(url) =
            fresh_database("a_rating_waits_for_a_pause_being_committed_and_is_refused").await
        else {
            return;
        };
        let (store, mut feed) = node(&url).await;
        floor(&store, &mut feed).await;
        let pausing = other_node(&url).await;
        pausing
            .execute("SELECT pg_advisory_xact_lock($1)", &[&FLOOR_LOCK])
            .await
            .unwrap();
        pausing
            .execute("UPDATE judging_status SET paused = TRUE WHERE id = 1", &[])
            .await
            .unwrap();
        let rating = tokio::spawn({
            let store = store.clone();
            async move { store.perform(Rate::new(1, 1, 5)).await }
        });
        let marking = tokio::spawn({
            let store = store.clone();
            async move { store.perform(MarkAbsent::new(1, 2)).await }
        });
        assert!(waits(&rating).await && waits(&marking).await);
        pausing.batch_execute("COMMIT").await.unwrap();
        for outcome in [
            rating.await.unwrap().map(drop),
            marking.await.unwrap().map(drop),
        ] {
            assert!(
                matches!(outcome, Err(WriteError::Refused(JudgingError::Paused))),
                "{outcome:?}"
            );
        }
    }

    /// Assignment waits while a rating is in flight on another node, so it
    /// plans with that rating; a pause waits too.
    #[tokio::test]
    async fn assignment_and_the_pause_wait_for_floor_writes_in_flight() {
        let Some(url) =
            fresh_database("assignment_and_the_pause_wait_for_floor_writes_in_flight").await
        else {
            return;
        };
        let (store, mut feed) = node(&url).await;
        floor(&store, &mut feed).await;
        let rating = other_node(&url).await;
        rating
            .execute("SELECT pg_advisory_xact_lock_shared($1)", &[&FLOOR_LOCK])
            .await
            .unwrap();
        let assigning = tokio::spawn({
            let store = store.clone();
            async move { store.perform(Assign { judges_per_hack: 2 }).await }
        });
        let pausing = tokio::spawn({
            let store = store.clone();
            async move { store.perform(SetPaused { paused: true }).await }
        });
        assert!(waits(&assigning).await && waits(&pausing).await);
        rating.batch_execute("COMMIT").await.unwrap();
        assigning.await.unwrap().unwrap();
        pausing.await.unwrap().unwrap();
    }
}
