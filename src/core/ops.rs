//! The judging operations that are not a [`command`](super::commands) (a
//! payload a client names): imports, assignment and reading the state, each
//! with its permission rule, the one implementation behind socket.io events
//! and HTTP endpoints alike, so a rule (what an import checks) has one home.
//!
//! Each takes the caller's [`Identity`] and checks it first, so a caller
//! that may not do something learns nothing else (not even whether its CSV
//! would parse). Reads come from the live-update mirror, so they show what
//! an `update-full` sent at the same moment would show.

use std::io::Read;

use thiserror::Error;

use super::auth::{self, Action, Denied, Identity, Op};
use super::sync::{EventId, SubscribeError, Subscription};
use super::Core;
use crate::judging::assign::DEFAULT_JUDGES_PER_HACK;
use crate::judging::error::JudgingError;
use crate::judging::inputs::MAX_JUDGES_PER_HACK;
use crate::judging::model::DataStore;
use crate::judging::ops::assign::Assign;
use crate::judging::ops::import_devpost::ImportDevpost;
use crate::judging::ops::import_judges::ImportJudges;
use crate::judging::outcomes::{Assigned, DevpostImported, JudgesImported};
use crate::judging::{devpost, judges_csv, ImportError};
use crate::store::{KeyReused, StoreError, WriteError};

/// Runs a parser that reads as the upload arrives, on a blocking thread.
async fn blocking<T: Send + 'static>(parse: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(parse).await {
        Ok(parsed) => parsed,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Why an operation did not happen (nothing was changed).
#[derive(Debug, Error)]
pub enum OpError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Refused by a rule of the data (validation, unknown id, duplicate).
    #[error(transparent)]
    Judging(#[from] JudgingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An idempotency key sent again with another request.
    #[error(transparent)]
    KeyReused(#[from] KeyReused),
    /// A CSV import's first bad row.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The live-update task is gone: the server is shutting down.
    #[error(transparent)]
    Unavailable(#[from] SubscribeError),
}

impl From<WriteError> for OpError {
    fn from(e: WriteError) -> OpError {
        match e {
            WriteError::Refused(e) => OpError::Judging(e),
            WriteError::Store(e) => OpError::Store(e),
            WriteError::KeyReused(e) => OpError::KeyReused(e),
        }
    }
}

impl Core {
    /// Imports a Devpost project export (admin): all of it, or nothing.
    /// `csv` is read as it arrives (it may block), off the async threads.
    pub async fn import_devpost(
        &self,
        who: Identity,
        csv: impl Read + Send + 'static,
    ) -> Result<DevpostImported, OpError> {
        auth::authorize(who, Action::Administer(Op::IMPORT_DEVPOST))?;
        let projects = blocking(move || devpost::read(csv)).await?;
        Ok(self.store.perform(ImportDevpost::new(projects)).await?)
    }

    /// Imports a `name,email` judges CSV (admin): all of it, or nothing.
    pub async fn import_judges(
        &self,
        who: Identity,
        csv: impl Read + Send + 'static,
    ) -> Result<JudgesImported, OpError> {
        auth::authorize(who, Action::Administer(Op::IMPORT_JUDGES))?;
        let judges = blocking(move || judges_csv::read_numbered(csv)).await?;
        Ok(self.store.perform(ImportJudges::new(judges)).await?)
    }

    /// Runs assignment (admin) with `judges_per_hack`, by default the value
    /// of the previous run, or [`DEFAULT_JUDGES_PER_HACK`] the first time.
    pub async fn assign(
        &self,
        who: Identity,
        judges_per_hack: Option<i64>,
    ) -> Result<Assigned, OpError> {
        auth::authorize(who, Action::Administer(Op::ASSIGN))?;
        let k = self.judges_per_hack(judges_per_hack).await?;
        let assign = Assign { judges_per_hack: k };
        Ok(self.store.perform(assign).await?)
    }

    /// The whole state as `who` sees it (what its `update-full` holds).
    pub async fn state(&self, who: Identity) -> Result<DataStore, OpError> {
        auth::authorize(who, Action::Subscribe)?;
        let viewer = who
            .viewer()
            .ok_or(Denied::NotAuthenticated { op: Op::SUBSCRIBE })?;
        Ok(self.sync.snapshot(viewer).await?)
    }

    /// Live updates for `who`, on a channel holding up to `capacity` of them:
    /// `update-full` first (or, with `resume`, the changes after it when the
    /// log still holds them), then every `update-partial` it may see; with
    /// `preview`, hack descriptions cut to that many characters.
    pub async fn subscribe_channel(
        &self,
        who: Identity,
        capacity: usize,
        preview: Option<usize>,
        resume: Option<EventId>,
    ) -> Result<Subscription, OpError> {
        auth::authorize(who, Action::Subscribe)?;
        let viewer = who
            .viewer()
            .ok_or(Denied::NotAuthenticated { op: Op::SUBSCRIBE })?;
        Ok(self
            .sync
            .subscribe_channel(viewer, capacity, preview, resume)
            .await?)
    }

    /// `chosen`, else the judges per hack of the latest assignment, else
    /// the default.
    /// The judges per hack asked for (refused outside 1 to
    /// [`MAX_JUDGES_PER_HACK`]), else that of the latest assignment, else
    /// [`DEFAULT_JUDGES_PER_HACK`].
    pub(super) async fn judges_per_hack(&self, chosen: Option<i64>) -> Result<i64, OpError> {
        if let Some(k) = chosen {
            if !(1..=MAX_JUDGES_PER_HACK).contains(&k) {
                return Err(JudgingError::JudgesPerHack(k).into());
            }
            return Ok(k);
        }
        let stored = self.store.judges_per_hack().await?;
        Ok(stored.unwrap_or(DEFAULT_JUDGES_PER_HACK as i64))
    }
}
