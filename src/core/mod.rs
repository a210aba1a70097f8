//! The judging core: one service that owns the judging operations with their
//! access rules, the credentials, the live views and the feed of committed
//! changes. The adapters (`crate::sledge` for socket.io, `crate::api` for
//! HTTP) parse their wire format into the requests here, call [`Core`] and
//! turn its answers back into their wire format; none of them holds a rule
//! of its own, so the protocols cannot drift apart.
//!
//! ```text
//! operations.rs what an operation is called: event name and HTTP endpoint
//! requests.rs   the events a client sends, parsed at the edge: the session's
//!               own (authenticate, login, subscribe-database) and commands
//! commands/     the judging writes a client names, one file each: payload,
//!               permission and what it does, for socket.io and HTTP alike
//! auth.rs       identities and who may do what (pure)
//! throttle.rs   wrong-guess budgets per client address and per judge
//!               (in cluster mode, the cluster's, shared through the store)
//! access.rs     login, sign-in links, authenticate and bearer secrets, throttled
//! links.rs      judges' sign-in links for the organiser: list, re-issue
//! ops.rs        imports, assignment and reading the state, with their permission rules
//! floor.rs      the judging floor: pause, clearing absences, withdrawals, floor view
//! reports.rs    results and CSV exports for the admin
//! view.rs       the mirror of the judging tables and per-viewer scoping (pure)
//! updates.rs    the shapes of live updates (`update-full`, `update-partial`)
//! sync.rs       the live-update task: full and partial updates in commit
//!               order, to every subscriber of every adapter
//! heats.rs      live speed heats: which heat a clicker's score touches, and
//!               the feed of heat views
//! ```

pub mod access;
pub mod auth;
pub mod commands;
pub mod floor;
pub mod heats;
pub mod links;
pub mod operations;
pub mod ops;
pub mod reports;
pub mod requests;
#[cfg(test)]
mod requests_props;
pub mod sync;
pub mod throttle;
pub mod updates;
pub mod view;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::operator_secrets::OperatorSecrets;
use crate::store::{Changes, JudgingStore, Log, SharedBudgets, StoreError};

/// Updates a subscriber may have queued; while this is full, what it misses
/// is folded into one update sent when it has room (see [`sync`]). A merged
/// update holds at most [`sync::MAX_PARTIAL_BYTES`] (plus one change), which
/// makes this a bound in bytes too. The socket.io adapter uses it as each socket's send
/// buffer, the event stream as its queue.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// The judging core every adapter shares.
pub struct Core {
    pub store: Arc<dyn JudgingStore>,
    pub secrets: Arc<OperatorSecrets>,
    pub throttle: throttle::Throttle,
    pub metrics: Arc<Metrics>,
    pub sync: sync::SyncHandle,
    /// Different judges who must find a team absent before it is flagged.
    pub absent_flag_judges: usize,
}

impl Core {
    /// Loads the judging tables into the live-update mirror (a snapshot at
    /// a position of the change log) and starts its task following
    /// `changes` from there. `changes` must have been made before this is
    /// called: the task skips what the snapshot holds and misses nothing
    /// after it. `budgets`, in cluster mode, are the wrong-guess budgets
    /// every node spends from (see [`throttle`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        store: Arc<dyn JudgingStore>,
        budgets: Option<Arc<dyn SharedBudgets>>,
        log: Arc<dyn Log>,
        changes: Changes,
        secrets: Arc<OperatorSecrets>,
        metrics: Arc<Metrics>,
        absent_flag_judges: usize,
        shutdown: CancellationToken,
    ) -> Result<Core, StoreError> {
        let (seq, data) = log.judging_snapshot().await?;
        let start = sync::Start {
            epoch: log.epoch(),
            seq,
            data,
        };
        let throttle = match budgets {
            Some(shared) => throttle::Throttle::cluster(shared, shutdown.clone()),
            None => throttle::Throttle::default(),
        };
        let sync = sync::spawn(start, changes, log, metrics.clone(), shutdown);
        Ok(Core {
            store,
            secrets,
            throttle,
            metrics,
            sync,
            absent_flag_judges,
        })
    }
}
