//! The withdrawals table on SQLite: the facts withdrawing reads and the
//! writes it applies (the rule: `judging/ops/withdraw.rs`).

use rusqlite::{params, OptionalExtension};

use super::judging_rows::{exists, Table};
use super::writer::Tx;
use crate::judging::ops::withdraw::{Facts, Plan, Withdraw};
use crate::store::runner::Storage;
use crate::store::StoreError;

impl Storage<Withdraw> for Tx<'_> {
    async fn load(&mut self, op: &Withdraw) -> Result<Facts, StoreError> {
        Ok(Facts {
            hack_exists: exists(self, Table::Hacks, op.hack)?,
            before: self
                .prepare_cached("SELECT id, withdrawn FROM withdrawals WHERE hack_id = ?1")?
                .query_row([op.hack], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?,
        })
    }

    async fn apply(&mut self, op: &Withdraw, plan: &Plan) -> Result<i64, StoreError> {
        Ok(match *plan {
            Plan::Unchanged { id } => id,
            Plan::Update { id } => {
                self.prepare_cached("UPDATE withdrawals SET withdrawn = ?1 WHERE id = ?2")?
                    .execute(params![op.withdrawn, id])?;
                id
            }
            Plan::Insert => {
                self.prepare_cached(
                    "INSERT INTO withdrawals (hack_id, withdrawn) VALUES (?1, ?2)",
                )?
                .execute(params![op.hack, op.withdrawn])?;
                self.last_insert_rowid()
            }
        })
    }
}
