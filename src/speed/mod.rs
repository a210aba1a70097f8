//! Speed events: several judges' clickers count one skipper's steps, and one
//! official result comes out, live, by IJRU's rules (see `docs/speed.md`).
//!
//! ```text
//! rules.rs     pure: the IJRU average, deductions, reskip, R, ranking
//! tally.rs     pure: a judge's tally from a clicker's counts (resets, undos)
//! heatlist.rs  pure: the heat list CSV (event, heat, station, name, club)
//! results.rs   pure: entry sheets (as stored) to official results and ranks
//! guards.rs    pure: which writes a heat's state allows; the refusals both stores give
//! ops/         pure: each speed write as facts in, writes and heat changes out
//! model.rs     entries, heats and entry sheets as values
//! live.rs      which heat a clicker's score touches, and the live feed of heats
//! ```
//!
//! Storage is `crate::store::sqlite::speed` and `crate::store::postgres::speed`;
//! the HTTP routes are `crate::api::speed`.

pub mod guards;
pub mod heatlist;
pub mod model;
pub mod ops;
pub mod results;
pub mod rules;
pub mod tally;

use thiserror::Error;

/// Why a speed request was refused; each says what to do instead.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SpeedError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

use crate::scoring::{DeviceId, MAX_DEVICE_ID};

/// Most judges one entry may have (IJRU panels have three to five).
pub const MAX_JUDGES: usize = 9;

/// The clickers judging an entry, in the order given, and the head judge's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judges {
    pub devices: Vec<DeviceId>,
    pub head: DeviceId,
}

impl Judges {
    /// Checks a panel: 1 to [`MAX_JUDGES`] distinct valid ids, the head
    /// judge (the first device when not given) among them.
    pub fn new(devices: Vec<DeviceId>, head: Option<DeviceId>) -> Result<Judges, SpeedError> {
        let invalid = |m: String| SpeedError::Invalid(m);
        if devices.is_empty() || devices.len() > MAX_JUDGES {
            return Err(invalid(format!(
                "devices has {} clickers: give 1 to {MAX_JUDGES}",
                devices.len()
            )));
        }
        for (i, d) in devices.iter().enumerate() {
            if *d == 0 || *d > MAX_DEVICE_ID {
                return Err(invalid(format!(
                    "device id {d} is not valid: ids are 1 to 999999"
                )));
            }
            if devices[..i].contains(d) {
                return Err(invalid(format!("device {d:06} is listed twice")));
            }
        }
        let head = head.unwrap_or(devices[0]);
        if !devices.contains(&head) {
            return Err(invalid(format!(
                "headJudge {head:06} is not one of the entry's devices"
            )));
        }
        Ok(Judges { devices, head })
    }
}
