//! The withdrawals table on PostgreSQL: the facts withdrawing reads and the
//! writes it applies (the rule: `judging/ops/withdraw.rs`). The batch locks
//! the hack's row, which stands for its withdrawal row (that may not exist
//! yet); a row another node added since is updated in place.

use super::judging_rows::{exists, Table};
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::PgFuture;
use crate::judging::error::JudgingError;
use crate::judging::model::Withdrawal;
use crate::judging::ops::withdraw::{Facts, Plan, Withdraw};
use crate::store::runner::{self, Storage};
use crate::store::StoreError;

impl Storage<Withdraw> for PgTx {
    async fn load(&mut self, op: &Withdraw) -> Result<Facts, StoreError> {
        let select = self
            .prepare_cached("SELECT id, withdrawn FROM withdrawals WHERE hack_id = $1 FOR UPDATE")
            .await?;
        let before = self
            .query_opt(&select, &[&op.hack])
            .await?
            .map(|r| (r.get(0), r.get(1)));
        Ok(Facts {
            hack_exists: exists(self, Table::Hacks, op.hack).await?,
            before,
        })
    }

    async fn apply(&mut self, op: &Withdraw, plan: &Plan) -> Result<i64, StoreError> {
        Ok(match *plan {
            Plan::Unchanged { id } => id,
            Plan::Update { id } => {
                let update = self
                    .prepare_cached("UPDATE withdrawals SET withdrawn = $1 WHERE id = $2")
                    .await?;
                self.execute(&update, &[&op.withdrawn, &id]).await?;
                id
            }
            Plan::Insert => {
                let insert = self
                    .prepare_cached(
                        "INSERT INTO withdrawals (hack_id, withdrawn) VALUES ($1, $2)
                         ON CONFLICT (hack_id) DO UPDATE SET withdrawn = excluded.withdrawn
                         RETURNING id",
                    )
                    .await?;
                self.query_one(&insert, &[&op.hack, &op.withdrawn])
                    .await?
                    .get(0)
            }
        })
    }
}

/// Withdrawing locks the floor shared and the hack's row.
impl PgOperation for Withdraw {
    fn locks(&self) -> Locks {
        Locks::shared(Advisory::Floor).hack(self.hack)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Withdrawal, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}
