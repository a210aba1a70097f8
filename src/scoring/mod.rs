//! The clicker domain: devices, their scores and what is made of them, as
//! plain values (no sockets, no SQL). The clicker WebSocket adapter
//! (`crate::clicker`), storage, speed events and the HTTP API all speak
//! these types.
//!
//! * [`clock`]: which of two timestamps is newer, and by how much, 32-bit
//!   wrap included.
//! * [`marks`]: a score series as RopeScore-style step marks.

pub mod clock;
pub mod marks;
pub mod ops;

use std::fmt;

use serde::Serialize;

/// A device id: 1 to 999999, shown as six zero-padded digits.
pub type DeviceId = u32;

/// The highest device id the six-digit format can carry.
pub const MAX_DEVICE_ID: DeviceId = 999_999;

/// Reads a device id as the protocol writes it: decimal, 1 to 999999,
/// leading zeros allowed.
pub fn device_id(token: &str) -> Option<DeviceId> {
    if token.is_empty() || token.len() > 6 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token
        .parse::<DeviceId>()
        .ok()
        .filter(|id| (1..=MAX_DEVICE_ID).contains(id))
}

/// Writes a device id the way the protocol shows it: six digits.
pub struct Id(pub DeviceId);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// A device's newest stored score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LatestScore {
    pub timestamp: i64,
    pub score: i64,
}

/// The answer to a REGISTER.
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: DeviceId,
    /// The secret the device keeps: newly issued, or the one it sent.
    pub secret: String,
    pub latest: Option<LatestScore>,
}

/// What storing one SCORE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreOutcome {
    /// Stored, and the newest score of the device: broadcast it.
    New,
    /// Stored, but older than a score already stored (by
    /// [`clock::is_newer`], so a 32-bit wrap is no step back): do not broadcast.
    Late,
    /// A retry of a score already stored: acknowledge, nothing else.
    Duplicate,
}

/// One stored score, as the history API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScoreRecord {
    pub timestamp: i64,
    pub score: i64,
    /// Null for draft-1 SCOREs, which carry no message id.
    pub msg_id: Option<i64>,
    /// Server receive time, milliseconds since the Unix epoch.
    pub received_at: i64,
}

/// A device and its newest score, as the device list returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub id: DeviceId,
    pub latest: Option<LatestScore>,
}

/// The connection that holds a device id, cluster-wide: the node it is on
/// (a random id each node takes at start) and its session on that node.
/// A device re-registering elsewhere gets a new holder, which takes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Holder {
    pub node: u64,
    pub session: u64,
}

/// Whether a device is connected now, for readers outside the clicker
/// adapter (the HTTP API's device list). The adapter's hub answers it.
pub trait Presence: Send + Sync {
    fn is_connected(&self, id: DeviceId) -> bool;
}
