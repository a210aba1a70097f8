//! The speed rules storage enforces, whatever the engine: which writes a
//! heat's state allows, and the refusals that say what to do instead. Each
//! store (SQLite, PostgreSQL) reads the facts in its write transaction and
//! asks here, so both refuse alike, with the same words.

use super::model::{EntryId, HeatState};
use super::SpeedError;
use crate::scoring::DeviceId;

impl HeatState {
    /// A heat's state from its stored start and stop times and lock.
    pub fn of(started: Option<i64>, stopped: Option<i64>, locked: bool) -> HeatState {
        match (started, stopped, locked) {
            (None, _, _) => HeatState::Pending,
            (Some(_), None, _) => HeatState::Running,
            (Some(_), Some(_), true) => HeatState::Stopped,
            (Some(_), Some(_), false) => HeatState::Unlocked,
        }
    }
}

/// Refuses changes to a heat that is running or locked (`None`: no such
/// heat yet, which adding an entry creates).
pub fn editable(heat: u32, state: Option<HeatState>) -> Result<(), SpeedError> {
    match state {
        Some(HeatState::Running) => Err(SpeedError::Conflict(format!(
            "heat {heat} is running: stop it first (POST /api/heats/{heat}/stop)"
        ))),
        Some(HeatState::Stopped) => Err(locked(heat)),
        _ => Ok(()),
    }
}

fn locked(heat: u32) -> SpeedError {
    SpeedError::Conflict(format!(
        "heat {heat} is stopped and its results are locked: unlock it first (POST /api/heats/{heat}/unlock)"
    ))
}

/// A judge's clicker that never connected.
pub fn not_registered(device: DeviceId) -> SpeedError {
    SpeedError::Conflict(format!(
        "device {device:06} is not registered: a clicker gets its id when it first connects"
    ))
}

/// A clicker may judge one station of a heat.
pub fn judges_elsewhere(device: DeviceId, station: u32, heat: u32) -> SpeedError {
    SpeedError::Conflict(format!(
        "device {device:06} already judges station {station} in heat {heat}"
    ))
}

/// What a store knows of one of a panel's clickers, in a heat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clicker {
    pub device: DeviceId,
    /// Whether it ever connected.
    pub registered: bool,
    /// The station of another entry of the heat it judges, if any.
    pub elsewhere: Option<u32>,
}

/// Checks a panel, clicker by clicker in its order: each registered and
/// judging no other station of `heat`.
pub fn panel(heat: u32, clickers: &[Clicker]) -> Result<(), SpeedError> {
    for clicker in clickers {
        if !clicker.registered {
            return Err(not_registered(clicker.device));
        }
        if let Some(station) = clicker.elsewhere {
            return Err(judges_elsewhere(clicker.device, station, heat));
        }
    }
    Ok(())
}

/// A station of a heat holds one entry.
pub fn station_taken(heat: u32, station: u32, name: &str) -> SpeedError {
    SpeedError::Conflict(format!(
        "heat {heat} station {station} already has an entry ({name})"
    ))
}

pub fn no_entry(entry: EntryId) -> SpeedError {
    SpeedError::NotFound(format!("no entry {entry}"))
}

/// Nothing to change when setting a station's judges.
pub fn no_editable_entry_at(station: u32) -> SpeedError {
    SpeedError::NotFound(format!(
        "no entry at station {station} in a heat that is pending or unlocked"
    ))
}

/// Checks deductions against the heat's state and the event's switches.
pub fn deductions(
    heat: u32,
    state: Option<HeatState>,
    event: &str,
    switches: u32,
    false_starts: u32,
    false_switches: u32,
) -> Result<(), SpeedError> {
    if state == Some(HeatState::Stopped) {
        return Err(locked(heat));
    }
    if false_starts > 1 {
        return Err(SpeedError::Invalid(format!(
            "falseStarts is {false_starts}: it is 0 or 1"
        )));
    }
    if false_switches > switches {
        // Valid on its face; refused for what is stored (the event's switches).
        return Err(SpeedError::Conflict(format!(
            "falseSwitches is {false_switches}, but {event} has {switches} switches (set them with POST /api/speed/events)"
        )));
    }
    Ok(())
}

/// Checks that `heat` may start, given the heat running now, if any.
pub fn start(heat: u32, state: Option<HeatState>, running: Option<u32>) -> Result<(), SpeedError> {
    match state {
        None => {
            return Err(SpeedError::NotFound(format!(
                "heat {heat} has no entries: add them first"
            )))
        }
        Some(HeatState::Running) => {
            return Err(SpeedError::Conflict(format!(
                "heat {heat} is running already"
            )))
        }
        state => editable(heat, state)?,
    }
    match running {
        Some(other) => Err(SpeedError::Conflict(format!(
            "heat {other} is running: stop it before starting heat {heat}"
        ))),
        None => Ok(()),
    }
}

/// What stopping a heat does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A running heat ends now and its results lock.
    Cut,
    /// An unlocked heat is locked again as it was (its scores stay those of its run).
    Relock,
}

pub fn stop(heat: u32, state: Option<HeatState>) -> Result<Stop, SpeedError> {
    match state {
        Some(HeatState::Running) => Ok(Stop::Cut),
        Some(HeatState::Unlocked) => Ok(Stop::Relock),
        _ => Err(SpeedError::Conflict(format!(
            "heat {heat} is not running (nor unlocked), so there is nothing to stop"
        ))),
    }
}

pub fn unlock(heat: u32, state: Option<HeatState>) -> Result<(), SpeedError> {
    if state != Some(HeatState::Stopped) {
        return Err(SpeedError::Conflict(format!(
            "heat {heat} is not stopped, so there is nothing to unlock"
        )));
    }
    Ok(())
}
