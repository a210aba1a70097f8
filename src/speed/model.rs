//! Speed events as values: entries, heats and the sheets results are made
//! from, as storage keeps them and the HTTP API shows them.

use serde::Serialize;

use super::Judges;
use crate::scoring::DeviceId;

/// An entry's id: one skipper (or team) in one heat at one station.
pub type EntryId = i64;

/// Where a heat is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HeatState {
    /// Never started.
    Pending,
    Running,
    /// Stopped: results locked.
    Stopped,
    /// Stopped, then unlocked by the admin: editable, and may run again.
    Unlocked,
}

/// A heat as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeatRecord {
    pub heat: u32,
    pub state: HeatState,
    /// Server time, ms since the Unix epoch.
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
}

/// An entry to create.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub event: String,
    pub heat: u32,
    pub station: u32,
    pub name: String,
    pub club: Option<String>,
    pub judges: Option<Judges>,
}

/// Who skips where: an entry as the heat list names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub id: EntryId,
    pub event: String,
    pub heat: u32,
    pub station: u32,
    pub name: String,
    pub club: Option<String>,
}

/// An entry with everything its result needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySheet {
    pub entry: Entry,
    pub head_judge: Option<DeviceId>,
    pub false_starts: u32,
    pub false_switches: u32,
    pub heat_state: HeatState,
    /// Each judge's clicker and tally; the tally is `None` until the heat starts.
    pub tallies: Vec<(DeviceId, Option<i64>)>,
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub event: Option<String>,
    pub heat: Option<u32>,
}
