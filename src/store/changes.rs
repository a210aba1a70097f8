//! What a committed change is, as every follower of the change log sees
//! it: numbered changes in commit batches, and the [`Log`] trait, what a
//! follower needs of storage to start from a snapshot and catch up after a
//! gap. `log.rs` stores them; `snapshots.rs` reads the views' starting
//! points.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use thiserror::Error;
use tokio::sync::mpsc;

use super::StoreError;
use crate::judging::model::DataStore;
use crate::scoring::{DeviceId, Holder, LatestScore};

/// A change's place in the log: 1 for the first change of a database.
pub type Seq = u64;
/// A committed change that followers must hear about.
#[derive(Debug, Clone)]
pub enum Change {
    /// Rows of the judging tables added or changed by one job.
    Judging(Box<DataStore>),
    /// A stored clicker score (newest of its device or not).
    Score(Score),
    /// A device's connection took hold of its id, or let go of it.
    Presence(Presence),
    /// A speed heat's entries, panels, deductions or run changed: every
    /// node's live results work it out again.
    Heat(HeatChange),
}

/// What changed of a speed heat, as the log carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeatChange {
    /// Its entries, judges or deductions changed, or it was unlocked.
    Edited(u32),
    /// It started: these clickers count for it now.
    Started { heat: u32, devices: Vec<DeviceId> },
    /// It stopped, or was locked again: its clickers no longer count.
    Stopped(u32),
}

/// A device connected (its id now held by `holder`) or disconnected (the
/// holder let go, or its node died), as the log carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    pub device: DeviceId,
    pub holder: Holder,
    pub connected: bool,
}

impl Change {
    /// `holder` took hold of `device`'s id (`connected`) or let go of it.
    pub fn presence(device: DeviceId, holder: Holder, connected: bool) -> Change {
        Change::Presence(Presence {
            device,
            holder,
            connected,
        })
    }
}

/// A stored clicker score, as the log carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    pub device: DeviceId,
    pub timestamp: i64,
    pub score: i64,
}

/// One change with its number.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: Seq,
    pub change: Change,
}

/// What one commit logged, in order: shared by every follower.
pub type Batch = Arc<[Entry]>;

/// Committed changes, in commit order, one batch per commit.
pub type Changes = mpsc::UnboundedReceiver<Batch>;

/// Why the log cannot answer "changes after N".
#[derive(Debug, Error)]
pub enum LogError {
    #[error(
        "the change log no longer holds the changes after {after} (it keeps those after {floor})"
    )]
    NotRetained { after: Seq, floor: Seq },
    #[error("position {after} is beyond the end of the change log ({last})")]
    Ahead { after: Seq, last: Seq },
    #[error("the change log has a gap: expected change {expected}, found {found}")]
    Gap { expected: Seq, found: Seq },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for LogError {
    fn from(e: rusqlite::Error) -> LogError {
        LogError::Store(e.into())
    }
}

/// What the clicker hub starts from: every device's newest score and the
/// holder of every connected device, as of one position.
#[derive(Debug, Default)]
pub struct ClickerSnapshot {
    pub position: Seq,
    pub latest: Vec<(DeviceId, LatestScore)>,
    pub holders: Vec<(DeviceId, Holder)>,
}

/// What the core needs of the log to follow it: a snapshot of the judging
/// tables with its position, and the changes after a position. A trait so
/// the followers' catch-up can be tested without a database, and so another
/// storage engine can stand in.
pub trait Log: Send + Sync + 'static {
    /// The epoch the positions belong to.
    fn epoch(&self) -> Arc<str>;
    /// The judging tables as of a position, read in one transaction.
    fn judging_snapshot(&self) -> BoxFuture<'static, Result<(Seq, DataStore), StoreError>>;
    /// Every device's newest score and every connected device's holder as
    /// of a position, read in one transaction.
    fn clicker_snapshot(&self) -> BoxFuture<'static, Result<ClickerSnapshot, StoreError>>;
    /// The number of the last change any node committed, as the database
    /// says now: a read that must show every write acknowledged before it
    /// began waits until its follower has reached it. A single node's
    /// followers have each commit queued before it is acknowledged, so its
    /// store may answer 0 (nothing to wait for).
    fn head(&self) -> BoxFuture<'static, Result<Seq, StoreError>>;
    /// Every change after `after`, up to and including `upto` (or the end).
    fn changes_after(
        &self,
        after: Seq,
        upto: Option<Seq>,
    ) -> BoxFuture<'static, Result<Vec<Entry>, LogError>>;
}

/// The followers the writer hands each committed batch to.
#[derive(Default)]
pub(super) struct Followers(Mutex<Vec<mpsc::UnboundedSender<Batch>>>);

impl Followers {
    pub fn add(&self) -> Changes {
        let (tx, rx) = mpsc::unbounded_channel();
        self.0.lock().expect("followers poisoned").push(tx);
        rx
    }

    pub fn send(&self, batch: Vec<Entry>) {
        if batch.is_empty() {
            return;
        }
        let batch: Batch = batch.into();
        self.0
            .lock()
            .expect("followers poisoned")
            .retain(|follower| follower.send(batch.clone()).is_ok());
    }
}
