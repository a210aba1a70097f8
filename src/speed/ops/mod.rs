//! Speed writes as decisions, as judging's are (`judging/ops/`): each
//! operation is a pure function from the facts a store reads in the write's
//! transaction to the writes it makes, or to a refusal (`guards.rs` says
//! which writes a heat's state allows); and from what those writes stored
//! to the reply and the heat changes every node's live results follow.
//! Each engine only loads facts and applies writes (`store/runner.rs`).
//!
//! One file per operation, with its facts, its plan and its unit tests.

pub mod add_entries;
pub mod set_deductions;
pub mod set_event;
pub mod set_judges;
pub mod set_station_judges;
pub mod start_heat;
pub mod stop_heat;
pub mod unlock_heat;

use std::collections::BTreeSet;

use crate::store::HeatChange;

/// Tells every node's live speed results that these heats changed: each
/// once, in heat order, whatever the order given.
fn heats_edited(heats: impl IntoIterator<Item = u32>) -> Vec<HeatChange> {
    let heats: BTreeSet<u32> = heats.into_iter().collect();
    heats.into_iter().map(HeatChange::Edited).collect()
}
