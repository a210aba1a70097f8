//! The superlative placements table on SQLite: the facts ranking reads and
//! the writes it applies (the rule: `judging/ops/rank.rs`).

use rusqlite::OptionalExtension;

use super::floor::{is_paused, touch};
use super::judging_rows::{exists, Table};
use super::writer::Tx;
use crate::judging::inputs::Ranking;
use crate::judging::ops::rank::{Facts, Plan};
use crate::store::runner::Storage;
use crate::store::StoreError;

/// Whether a choice names a hack (0, "not chosen", does).
fn choice_exists(tx: &Tx<'_>, id: i64) -> Result<bool, StoreError> {
    Ok(id == 0 || exists(tx, Table::Hacks, id)?)
}

impl Storage<Ranking> for Tx<'_> {
    async fn load(&mut self, op: &Ranking) -> Result<Facts, StoreError> {
        Ok(Facts {
            judge_exists: exists(self, Table::Judges, op.judge_id)?,
            superlative_exists: exists(self, Table::Superlatives, op.superlative_id)?,
            paused: is_paused(self)?,
            first_exists: choice_exists(self, op.first_choice_id)?,
            second_exists: choice_exists(self, op.second_choice_id)?,
            before: self
                .prepare_cached(
                    "SELECT id, first_choice_id, second_choice_id FROM superlative_placements
                     WHERE judge_id = ?1 AND superlative_id = ?2",
                )?
                .query_row([op.judge_id, op.superlative_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?,
        })
    }

    async fn apply(&mut self, op: &Ranking, plan: &Plan) -> Result<i64, StoreError> {
        touch(self, op.judge_id)?;
        let (first, second) = (op.first_choice_id, op.second_choice_id);
        Ok(match *plan {
            Plan::Unchanged { id } => id,
            Plan::Update { id } => {
                self.prepare_cached(
                    "UPDATE superlative_placements
                     SET first_choice_id = ?1, second_choice_id = ?2 WHERE id = ?3",
                )?
                .execute([first, second, id])?;
                id
            }
            Plan::Insert => {
                self.prepare_cached(
                    "INSERT INTO superlative_placements
                     (judge_id, superlative_id, first_choice_id, second_choice_id)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute([op.judge_id, op.superlative_id, first, second])?;
                self.last_insert_rowid()
            }
        })
    }
}
