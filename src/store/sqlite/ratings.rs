//! The ratings table on SQLite: the facts a rating's rule reads and the
//! writes it applies (the rule: `judging/ops/rate.rs`). The single writer
//! thread keeps what `load` read true until `apply`.

use rusqlite::OptionalExtension;

use super::floor;
use super::judging_rows::{exists, Table};
use super::writer::Tx;
use crate::judging::ops::rate::{Facts, Plan, Rate, Written};
use crate::store::runner::Storage;
use crate::store::StoreError;

impl Storage<Rate> for Tx<'_> {
    async fn load(&mut self, op: &Rate) -> Result<Facts, StoreError> {
        Ok(Facts {
            judge_exists: exists(self, Table::Judges, op.judge)?,
            hack_exists: exists(self, Table::Hacks, op.hack)?,
            paused: floor::is_paused(self)?,
            before: self
                .prepare_cached(
                    "SELECT id, rating FROM ratings WHERE judge_id = ?1 AND hack_id = ?2",
                )?
                .query_row([op.judge, op.hack], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?,
        })
    }

    async fn apply(&mut self, op: &Rate, plan: &Plan) -> Result<Written, StoreError> {
        floor::touch(self, op.judge)?;
        let id = match *plan {
            Plan::Unchanged { id } => {
                return Ok(Written {
                    id,
                    cleared: Vec::new(),
                })
            }
            Plan::Update { id } => {
                self.prepare_cached("UPDATE ratings SET rating = ?1 WHERE id = ?2")?
                    .execute([op.rating, id])?;
                id
            }
            Plan::Insert => {
                self.prepare_cached(
                    "INSERT INTO ratings (judge_id, hack_id, rating) VALUES (?1, ?2, ?3)",
                )?
                .execute([op.judge, op.hack, op.rating])?;
                self.last_insert_rowid()
            }
        };
        let cleared = floor::clear_hack_absences(self, op.hack)?;
        Ok(Written { id, cleared })
    }
}
