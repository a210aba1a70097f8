//! The clicker protocol (draft-1 and draft-2) over WebSocket at `/ws`: the
//! adapter between RopeScore's tally counters and scoreboards and the core.
//!
//! * [`protocol`]: pure parsing and formatting of frames.
//! * [`upgrade`]: the `/ws` route: connection limits, then the upgrade.
//! * [`follow`]: the hub's newest scores, from the store's change log.
//! * [`connection`]: one connection's loop, from upgrade to close.
//! * [`hub`]: live fan-out of device events to listeners on this node.
//! * [`queue`]: a listener's bounded queue of frames, filled by the hub.
//!
//! The clicker model (device ids, scores, the clock, marks) is
//! `crate::scoring`; storage is `crate::store::clicker`.

pub mod connection;
pub mod follow;
pub mod hub;
pub mod protocol;
pub mod queue;
pub mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::LimitsConfig;
use crate::limits::{ConnectionLimits, RegistrationLimits};
use crate::metrics::Metrics;
use crate::store::ClickerStore;

/// What every clicker connection shares.
pub struct Clicker {
    pub settings: Settings,
    pub store: Arc<dyn ClickerStore>,
    pub hub: Arc<hub::Hub>,
    pub metrics: Arc<Metrics>,
    /// Places for open connections, shared with socket.io.
    pub connection_limits: Arc<ConnectionLimits>,
    /// REGISTERs per client address.
    pub registration_limits: RegistrationLimits,
    /// Cancelled when the server stops at once: every connection closes
    /// with 1001 (going away), without waiting for its SCOREs' commits.
    pub shutdown: CancellationToken,
    /// Cancelled when a graceful stop closes connections
    /// ([`crate::drain`]): each answers the SCOREs it took, then closes
    /// with 1012 (service restart).
    pub closing: CancellationToken,
    /// Upgraded connections, so shutdown can wait for their close handshakes.
    pub connections: TaskTracker,
}

/// The configuration clicker connections read.
pub struct Settings {
    /// Rates and the first-command time bound.
    pub limits: LimitsConfig,
    /// How often a listener is pinged (and how long it may stay silent).
    pub heartbeat: Duration,
    /// How long a peer may take to accept one outgoing frame.
    pub send_timeout: Duration,
    /// Largest command accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Frames a listener may have waiting.
    pub listener_queue: usize,
}
