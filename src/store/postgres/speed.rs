//! Speed events in PostgreSQL: events, entries, heats, deductions and the
//! sheets results come from, with the same rules as SQLite's
//! (`crate::store::speed`).
//!
//! PLACEHOLDER: being written; every method answers an error until then.

use super::PgStore;
use crate::scoring::DeviceId;
use crate::speed::model::{EntryId, EntrySheet, Filter, HeatRecord, NewEntry};
use crate::speed::{Judges, SpeedError};
use crate::store::traits::{CurrentHeat, EntriesAdded};
use crate::store::StoreError;

fn todo_pg<T, E: From<StoreError>>(what: &str) -> Result<T, E> {
    Err(StoreError::Worker(format!("{what} is not written for PostgreSQL yet")).into())
}

impl PgStore {
    pub async fn speed_set_event(&self, _name: String, _switches: u32) -> Result<(), StoreError> {
        todo_pg("speed_set_event")
    }

    pub async fn speed_add_entries(
        &self,
        _entries: Vec<NewEntry>,
    ) -> Result<EntriesAdded, StoreError> {
        todo_pg("speed_add_entries")
    }

    pub async fn speed_set_judges(
        &self,
        _entry: EntryId,
        _judges: Judges,
    ) -> Result<Result<u32, SpeedError>, StoreError> {
        todo_pg("speed_set_judges")
    }

    pub async fn speed_set_station_judges(
        &self,
        _station: u32,
        _judges: Judges,
    ) -> Result<Result<Vec<u32>, SpeedError>, StoreError> {
        todo_pg("speed_set_station_judges")
    }

    pub async fn speed_set_deductions(
        &self,
        _entry: EntryId,
        _false_starts: u32,
        _false_switches: u32,
    ) -> Result<Result<u32, SpeedError>, StoreError> {
        todo_pg("speed_set_deductions")
    }

    pub async fn speed_start_heat(
        &self,
        _heat: u32,
    ) -> Result<Result<Vec<DeviceId>, SpeedError>, StoreError> {
        todo_pg("speed_start_heat")
    }

    pub async fn speed_stop_heat(&self, _heat: u32) -> Result<Result<(), SpeedError>, StoreError> {
        todo_pg("speed_stop_heat")
    }

    pub async fn speed_unlock_heat(
        &self,
        _heat: u32,
    ) -> Result<Result<(), SpeedError>, StoreError> {
        todo_pg("speed_unlock_heat")
    }

    pub async fn speed_heats(&self) -> Result<Vec<HeatRecord>, StoreError> {
        todo_pg("speed_heats")
    }

    pub async fn speed_heat(&self, _heat: u32) -> Result<Option<HeatRecord>, StoreError> {
        todo_pg("speed_heat")
    }

    pub async fn speed_current_heat(&self) -> Result<Option<CurrentHeat>, StoreError> {
        todo_pg("speed_current_heat")
    }

    pub async fn speed_sheets(&self, _filter: Filter) -> Result<Vec<EntrySheet>, StoreError> {
        todo_pg("speed_sheets")
    }
}
