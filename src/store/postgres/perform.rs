//! Judging and speed operations (`judging/ops/`, `speed/ops/`) on
//! PostgreSQL: one [`Perform`] for all of them. What differs per operation
//! is written beside its SQL (in `ratings.rs`, `speed.rs`, ...): the row
//! and advisory locks its batch takes
//! before any job runs, so that what `load` reads stays true until the
//! commit, and the boxed run of the shared runner (boxed there, where the
//! operation's types are known, because the engine's futures must be
//! `Send` and a generic bound cannot say so).

use super::locks::Locks;
use super::writer::PgTx;
use super::{PgFuture, PgStore};
use crate::judging::ops::Operation;
use crate::store::idempotency::{self, Refusal, Replay};
use crate::store::traits::{Perform, StoreFuture};
use crate::store::WriteError;

/// An operation's PostgreSQL half beyond its facts and writes.
pub(super) trait PgOperation: Operation + Send + Sync + Sized + 'static {
    /// What the batch locks before any job runs.
    fn locks(&self) -> Locks;
    /// `runner::run(tx, self)`, boxed.
    #[allow(clippy::type_complexity)]
    fn run<'a>(&'a self, tx: &'a mut PgTx) -> PgFuture<'a, Result<Self::Reply, Self::Refusal>>;
}

impl<Op> Perform<Op> for PgStore
where
    Op: PgOperation<Refusal: Refusal + Send>,
    Op::Reply: Replay + Send + 'static,
{
    fn perform(&self, mut op: Op) -> StoreFuture<'_, Result<Op::Reply, WriteError<Op::Refusal>>> {
        if Op::REPLY_IS_SECRET {
            idempotency::decline();
        }
        op.receive(&self.receive_clock);
        let locks = op.locks();
        Box::pin(self.keyed_write(locks, move |tx| Box::pin(async move { op.run(tx).await })))
    }
}
