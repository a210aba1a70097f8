//! The judging status row on PostgreSQL: pausing and resuming (the rule:
//! `judging/ops/pause.rs`), under the floor lock held exclusively, so every
//! write that checks the pause (holding it shared) sees it before or after.

use super::floor::is_paused;
use super::locks::{Advisory, Locks};
use super::perform::PgOperation;
use super::writer::PgTx;
use super::PgFuture;
use crate::judging::error::JudgingError;
use crate::judging::model::JudgingStatus;
use crate::judging::ops::pause::SetPaused;
use crate::store::runner::{self, Storage};
use crate::store::{now_ms, StoreError};

impl Storage<SetPaused> for PgTx {
    async fn load(&mut self, _: &SetPaused) -> Result<bool, StoreError> {
        is_paused(self).await
    }

    async fn apply(&mut self, op: &SetPaused, &changes: &bool) -> Result<(), StoreError> {
        if changes {
            let update = self
                .prepare_cached(
                    "UPDATE judging_status SET paused = $1, changed_at = $2 WHERE id = 1",
                )
                .await?;
            self.execute(&update, &[&op.paused, &now_ms()]).await?;
        }
        Ok(())
    }
}

impl PgOperation for SetPaused {
    fn locks(&self) -> Locks {
        Locks::exclusive(Advisory::Floor)
    }

    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<JudgingStatus, JudgingError>> {
        Box::pin(runner::run(tx, self))
    }
}
