//! The absences table on SQLite, for marking a team absent: the facts the
//! rule reads and the writes it applies (the rule: `judging/ops/absent.rs`).

use rusqlite::OptionalExtension;

use super::floor::{is_paused, touch};
use super::judging_rows::{exists, Table};
use super::writer::Tx;
use crate::judging::model::JudgeHack;
use crate::judging::ops::absent::{Facts, MarkAbsent, Plan};
use crate::store::runner::Storage;
use crate::store::{now_ms, StoreError};

impl Storage<MarkAbsent> for Tx<'_> {
    async fn load(&mut self, op: &MarkAbsent) -> Result<Facts, StoreError> {
        let route = self
            .prepare_cached(
                "SELECT id, judge_id, hack_id, priority FROM judge_hacks WHERE judge_id = ?1",
            )?
            .query_map([op.judge], |r| {
                Ok(JudgeHack {
                    id: r.get(0)?,
                    judge_id: r.get(1)?,
                    hack_id: r.get(2)?,
                    priority: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Facts {
            judge_exists: exists(self, Table::Judges, op.judge)?,
            hack_exists: exists(self, Table::Hacks, op.hack)?,
            paused: is_paused(self)?,
            before: self
                .prepare_cached(
                    "SELECT id, active FROM absences WHERE judge_id = ?1 AND hack_id = ?2",
                )?
                .query_row([op.judge, op.hack], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?,
            route,
        })
    }

    async fn apply(&mut self, op: &MarkAbsent, plan: &Plan) -> Result<i64, StoreError> {
        touch(self, op.judge)?;
        let (id, moved) = match plan {
            Plan::Unchanged { id } => return Ok(*id),
            Plan::Reactivate { id, moved } => {
                self.prepare_cached(
                    "UPDATE absences SET active = 1, marked_at = ?1 WHERE id = ?2",
                )?
                .execute([now_ms(), *id])?;
                (*id, moved)
            }
            Plan::Insert { moved } => {
                self.prepare_cached(
                    "INSERT INTO absences (judge_id, hack_id, active, marked_at)
                     VALUES (?1, ?2, 1, ?3)",
                )?
                .execute([op.judge, op.hack, now_ms()])?;
                (self.last_insert_rowid(), moved)
            }
        };
        if let Some(row) = moved {
            self.prepare_cached("UPDATE judge_hacks SET priority = ?1 WHERE id = ?2")?
                .execute([row.priority, row.id])?;
        }
        Ok(id)
    }
}
