//! The judging operations, each with its permission rule: the one
//! implementation behind socket.io events and HTTP endpoints alike, so a
//! rule (who may rate as whom, what an import checks) has one home.
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
use crate::judging::inputs::{NewHack, NewJudge, NewSuperlative, Ranking, MAX_JUDGES_PER_HACK};
use crate::judging::model::{DataStore, Hack, Judge, Rating, Superlative, SuperlativePlacement};
use crate::judging::ops::assign::Assign;
use crate::judging::ops::import_devpost::ImportDevpost;
use crate::judging::ops::import_judges::ImportJudges;
use crate::judging::ops::rate::Rate;
use crate::judging::ops::unrate::Unrate;
use crate::judging::outcomes::{Assigned, DevpostImported, JudgesImported};
use crate::judging::{devpost, judges_csv, validate, ImportError};
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
    pub async fn add_hack(&self, who: Identity, hack: NewHack) -> Result<Hack, OpError> {
        auth::authorize(who, Action::Administer(Op::AddHack))?;
        validate::name("name", &hack.name).map_err(JudgingError::from)?;
        validate::description(&hack.description).map_err(JudgingError::from)?;
        validate::location(hack.location).map_err(JudgingError::from)?;
        Ok(self.store.perform(hack).await?)
    }

    pub async fn add_judge(&self, who: Identity, judge: NewJudge) -> Result<Judge, OpError> {
        auth::authorize(who, Action::Administer(Op::AddJudge))?;
        validate::name("name", &judge.name).map_err(JudgingError::from)?;
        validate::email(&judge.email).map_err(JudgingError::from)?;
        Ok(self.store.perform(judge).await?)
    }

    pub async fn add_superlative(
        &self,
        who: Identity,
        name: String,
    ) -> Result<Superlative, OpError> {
        auth::authorize(who, Action::Administer(Op::AddSuperlative))?;
        validate::name("name", &name).map_err(JudgingError::from)?;
        Ok(self.store.perform(NewSuperlative { name }).await?)
    }

    /// Judge `judge_id` rates `hack_id`: the admin, or that judge.
    pub async fn rate(
        &self,
        who: Identity,
        judge_id: i64,
        hack_id: i64,
        rating: i64,
    ) -> Result<Rating, OpError> {
        auth::authorize(who, Action::ActAsJudge(Op::RateHack, judge_id))?;
        validate::rating(rating).map_err(JudgingError::from)?;
        let rate = Rate::new(judge_id, hack_id, rating);
        Ok(self.store.perform(rate).await?)
    }

    /// Judge `judge_id` takes back its rating of `hack_id` ("undo"): the
    /// admin, or that judge. Answers the row as it now is (rating 0).
    pub async fn unrate(
        &self,
        who: Identity,
        judge_id: i64,
        hack_id: i64,
    ) -> Result<Rating, OpError> {
        auth::authorize(who, Action::ActAsJudge(Op::UnrateHack, judge_id))?;
        let unrate = Unrate {
            judge: judge_id,
            hack: hack_id,
        };
        Ok(self.store.perform(unrate).await?)
    }

    /// A judge's first and second choice for a superlative: the admin, or
    /// that judge.
    pub async fn rank(
        &self,
        who: Identity,
        ranking: Ranking,
    ) -> Result<SuperlativePlacement, OpError> {
        auth::authorize(
            who,
            Action::ActAsJudge(Op::RankSuperlative, ranking.judge_id),
        )?;
        Ok(self.store.perform(ranking).await?)
    }

    /// Imports a Devpost project export (admin): all of it, or nothing.
    /// `csv` is read as it arrives (it may block), off the async threads.
    pub async fn import_devpost(
        &self,
        who: Identity,
        csv: impl Read + Send + 'static,
    ) -> Result<DevpostImported, OpError> {
        auth::authorize(who, Action::Administer(Op::ImportDevpost))?;
        let projects = blocking(move || devpost::read(csv)).await?;
        Ok(self.store.perform(ImportDevpost::new(projects)).await?)
    }

    /// Imports a `name,email` judges CSV (admin): all of it, or nothing.
    pub async fn import_judges(
        &self,
        who: Identity,
        csv: impl Read + Send + 'static,
    ) -> Result<JudgesImported, OpError> {
        auth::authorize(who, Action::Administer(Op::ImportJudges))?;
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
        auth::authorize(who, Action::Administer(Op::Assign))?;
        let k = self.judges_per_hack(judges_per_hack).await?;
        let assign = Assign { judges_per_hack: k };
        Ok(self.store.perform(assign).await?)
    }

    /// The whole state as `who` sees it (what its `update-full` holds).
    pub async fn state(&self, who: Identity) -> Result<DataStore, OpError> {
        auth::authorize(who, Action::Subscribe)?;
        let viewer = who
            .viewer()
            .ok_or(Denied::NotAuthenticated { op: Op::Subscribe })?;
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
            .ok_or(Denied::NotAuthenticated { op: Op::Subscribe })?;
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
