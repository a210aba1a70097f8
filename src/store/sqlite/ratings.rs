//! The ratings table on SQLite: the facts rating and taking back read and
//! the writes they apply (the rules: `judging/ops/rate.rs`, `unrate.rs`). The single writer
//! thread keeps what `load` read true until `apply`.

use rusqlite::OptionalExtension;

use super::floor;
use super::judging_rows::{exists, Table};
use super::writer::Tx;
use crate::judging::model::Rating;
use crate::judging::ops::rate::{Facts, Plan, Rate, Written};
use crate::judging::ops::unrate::{self, Unrate};
use crate::store::runner::Storage;
use crate::store::StoreError;

/// What rating and taking back read: the judge, the hack, the pause and
/// the pair's rating row.
fn facts(tx: &Tx<'_>, judge: i64, hack: i64) -> Result<Facts, StoreError> {
    Ok(Facts {
        judge_exists: exists(tx, Table::Judges, judge)?,
        hack_exists: exists(tx, Table::Hacks, hack)?,
        paused: floor::is_paused(tx)?,
        before: tx
            .prepare_cached("SELECT id, rating FROM ratings WHERE judge_id = ?1 AND hack_id = ?2")?
            .query_row([judge, hack], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?,
    })
}

impl Storage<Rate> for Tx<'_> {
    async fn load(&mut self, op: &Rate) -> Result<Facts, StoreError> {
        facts(self, op.judge, op.hack)
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

impl Storage<Unrate> for Tx<'_> {
    async fn load(&mut self, op: &Unrate) -> Result<Facts, StoreError> {
        facts(self, op.judge, op.hack)
    }

    async fn apply(&mut self, op: &Unrate, plan: &unrate::Plan) -> Result<(), StoreError> {
        floor::touch(self, op.judge)?;
        self.prepare_cached("UPDATE ratings SET rating = ?1 WHERE id = ?2")?
            .execute([Rating::TAKEN_BACK, plan.id])?;
        Ok(())
    }
}
