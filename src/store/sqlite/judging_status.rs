//! The judging status row on SQLite: pausing and resuming (the rule:
//! `judging/ops/pause.rs`).

use rusqlite::params;

use super::floor::is_paused;
use super::writer::Tx;
use crate::judging::ops::pause::SetPaused;
use crate::store::runner::Storage;
use crate::store::{now_ms, StoreError};

impl Storage<SetPaused> for Tx<'_> {
    async fn load(&mut self, _: &SetPaused) -> Result<bool, StoreError> {
        is_paused(self)
    }

    async fn apply(&mut self, op: &SetPaused, &changes: &bool) -> Result<(), StoreError> {
        if changes {
            self.prepare_cached(
                "UPDATE judging_status SET paused = ?1, changed_at = ?2 WHERE id = 1",
            )?
            .execute(params![op.paused, now_ms()])?;
        }
        Ok(())
    }
}
