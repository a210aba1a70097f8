//! Durable storage behind a narrow interface, in one of two engines.
//!
//! * [`traits`]: what the rest of Podium asks of storage (`JudgingStore`,
//!   `ClickerStore`, `SpeedStore`, and `Database`, a node's whole store).
//!   Protocol code calls these and never sees SQL.
//! * [`sqlite`]: the default engine, one database file per node.
//! * [`postgres`]: the cluster engine, one database for every node.
//!
//! What both engines share lives here: [`changes`] (the committed changes
//! followers get, and the `Log` trait), [`log_codec`] (how a commit's
//! changes are packed into one change-log row), [`job_outcome`] (how a write
//! job's result and its batch's commit make its caller's answer),
//! [`idempotency`] (a keyed write's stored answer), [`receive_clock`]
//! (receive times and heat cuts) and [`budgets`] (the interface of the
//! wrong-guess budgets the nodes of a cluster share).

pub mod budgets;
mod changes;
pub mod idempotency;
mod job_outcome;
mod log_codec;
pub mod postgres;
mod receive_clock;
mod runner;
mod sqlite;
#[cfg(test)]
mod test_support;
pub mod traits;

use std::path::PathBuf;

use thiserror::Error;

pub use budgets::SharedBudgets;
pub use changes::{
    Batch, Change, Changes, ClickerSnapshot, Entry, HeatChange, Log, LogError, Presence, Score, Seq,
};
pub use idempotency::KeyReused;
pub use log_codec::DEFAULT_RETAIN;
pub use postgres::PgStore;
pub use receive_clock::ReceiveClock;
pub use sqlite::{backup, Fault, Store, DB_FILE};
pub use traits::{
    ClickerStore, CurrentLink, Database, JudgingStore, LinkLookup, Perform, RegisterError,
    SpeedStore, StoreFuture,
};

/// How hard a commit is pushed to disk before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum SyncMode {
    /// fsync the WAL on every commit: acknowledged data survives kill -9 and
    /// power loss.
    #[default]
    Full,
    /// WAL written on every commit, synced at checkpoints: acknowledged data
    /// survives kill -9 of the process, not a power cut.
    Normal,
}

/// Everything that can go wrong talking to storage.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open the database at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the database was written by a newer Podium (schema version {found}, this build knows up to {known})")]
    TooNew { found: i64, known: i64 },
    #[error("storage is shutting down")]
    Closed,
    /// The job ran, but the transaction it shared did not commit.
    #[error("the write was not stored: {reason}")]
    NotCommitted { reason: String },
    #[error("storage worker failed: {0}")]
    Worker(String),
    /// PostgreSQL answered with an error (cluster mode).
    #[error("database error: {0}")]
    Postgres(String),
    /// PostgreSQL cannot be reached (cluster mode): nothing was written.
    #[error("the database is unreachable: {0}")]
    Unreachable(String),
}

/// Why a write that domain rules check did not happen: refused by a rule
/// (`R`: a judging or a speed refusal; nothing written), or storage failed.
#[derive(Debug, Error)]
pub enum WriteError<R = crate::judging::error::JudgingError> {
    #[error(transparent)]
    Refused(R),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An idempotency key sent again with another request (nothing written).
    #[error(transparent)]
    KeyReused(#[from] idempotency::KeyReused),
}

impl From<crate::judging::error::JudgingError> for WriteError {
    fn from(refusal: crate::judging::error::JudgingError) -> WriteError {
        WriteError::Refused(refusal)
    }
}

/// Random bytes in a judge's login secret (256 bits, 64 hex characters).
pub const JUDGE_SECRET_BYTES: usize = 32;

/// Milliseconds since the Unix epoch, as stored in `received_at` columns.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
