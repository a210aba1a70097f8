//! The judging floor's tables: the pause, absent teams, judges' notes,
//! withdrawn hacks and each judge's last action. This module alone reads and
//! writes them; `judging` calls its helpers inside its own write jobs (a
//! rating checks the pause, clears the hack's absences and records the
//! judge's activity in the same transaction as the rating itself).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::judging_rows::exists_hack;
use super::writer::Tx;
use super::{now_ms, Store, StoreError};
use crate::judging::model::{Absence, DataStore, JudgingStatus, Note, Withdrawal};
use crate::judging::ops::clear_absences::ClearAbsences;
use crate::store::runner::Storage;

/// Clearing a hack's absences: whether it exists, then one update.
impl Storage<ClearAbsences> for Tx<'_> {
    async fn load(&mut self, op: &ClearAbsences) -> Result<bool, StoreError> {
        exists_hack(self, op.hack)
    }

    async fn apply(&mut self, op: &ClearAbsences, (): &()) -> Result<Vec<Absence>, StoreError> {
        clear_hack_absences(self, op.hack)
    }
}

impl Store {
    /// When each judge last rated, ranked, marked an absence or wrote a
    /// note (milliseconds since the Unix epoch), by judge id.
    pub async fn judge_activity(&self) -> Result<HashMap<i64, i64>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT judge_id, last_action_at FROM judge_activity")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

/// Whether judging is paused, as this transaction sees it.
pub(super) fn is_paused(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT paused FROM judging_status WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// Records that `judge` did something now.
pub(super) fn touch(conn: &Connection, judge: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO judge_activity (judge_id, last_action_at) VALUES (?1, ?2)
         ON CONFLICT (judge_id) DO UPDATE SET last_action_at = excluded.last_action_at",
    )?
    .execute([judge, now_ms()])?;
    Ok(())
}

/// Clears every active absence of `hack` (it was rated, or the organiser
/// says the team is back) and answers the rows as they are now.
pub(super) fn clear_hack_absences(
    conn: &Connection,
    hack: i64,
) -> Result<Vec<Absence>, StoreError> {
    let cleared: Vec<Absence> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id, judge_id FROM absences WHERE hack_id = ?1 AND active = 1 ORDER BY id",
        )?;
        let rows = stmt.query_map([hack], |r| {
            Ok(Absence {
                id: r.get(0)?,
                judge_id: r.get(1)?,
                hack_id: hack,
                active: false,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    if !cleared.is_empty() {
        conn.prepare_cached("UPDATE absences SET active = 0 WHERE hack_id = ?1 AND active = 1")?
            .execute([hack])?;
    }
    Ok(cleared)
}

/// Adds the floor's tables to a full load of the judging state.
pub(super) fn load(conn: &Connection, data: &mut DataStore) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, judge_id, hack_id, active FROM absences ORDER BY id")?;
    data.absences = stmt
        .query_map([], |r| {
            Ok(Absence {
                id: r.get(0)?,
                judge_id: r.get(1)?,
                hack_id: r.get(2)?,
                active: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare("SELECT id, judge_id, hack_id, text FROM notes ORDER BY id")?;
    data.notes = stmt
        .query_map([], |r| {
            Ok(Note {
                id: r.get(0)?,
                judge_id: r.get(1)?,
                hack_id: r.get(2)?,
                text: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    data.judging_status = vec![JudgingStatus {
        id: 1,
        paused: is_paused(conn)?,
    }];
    let mut stmt = conn.prepare("SELECT id, hack_id, withdrawn FROM withdrawals ORDER BY id")?;
    data.withdrawals = stmt
        .query_map([], |r| {
            Ok(Withdrawal {
                id: r.get(0)?,
                hack_id: r.get(1)?,
                withdrawn: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}
