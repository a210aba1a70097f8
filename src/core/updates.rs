//! The shapes of live updates, the same on every adapter: socket.io sends
//! them as the events `update-full` and `update-partial`, the HTTP event
//! stream as events of those names.

use serde::Serialize;

use crate::judging::model::DataStore;

pub const UPDATE_FULL: &str = "update-full";
pub const UPDATE_PARTIAL: &str = "update-partial";

/// `update-full`: everything the subscriber may see.
#[derive(Serialize)]
pub struct UpdateFull<'a> {
    pub database: &'a DataStore,
}

/// `update-partial`: the rows that changed, scoped like the full update.
#[derive(Serialize)]
pub struct UpdatePartial<'a> {
    pub diff: &'a DataStore,
}
