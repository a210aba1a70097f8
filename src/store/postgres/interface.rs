//! The storage interface (`store/traits.rs`) on PostgreSQL: each method is the
//! engine's own of the same name, boxed so the core can hold the store as
//! a trait object.

use std::collections::HashMap;

use super::PgStore;
use crate::judging::model::DataStore;
use crate::scoring::{DeviceId, DeviceRecord, Holder, Registration, ScoreOutcome, ScoreRecord};
use crate::speed::model::{EntrySheet, Filter, HeatRecord};
use crate::store::traits::{ClickerStore, CurrentHeat, JudgingStore, SpeedStore, StoreFuture};
use crate::store::{LinkLookup, RegisterError, StoreError};

impl JudgingStore for PgStore {
    fn judge_for_secret(&self, secret: String) -> StoreFuture<'_, Result<Option<i64>, StoreError>> {
        Box::pin(PgStore::judge_for_secret(self, secret))
    }

    fn judge_exists(&self, id: i64) -> StoreFuture<'_, Result<bool, StoreError>> {
        Box::pin(PgStore::judge_exists(self, id))
    }

    fn load_all(&self) -> StoreFuture<'_, Result<DataStore, StoreError>> {
        Box::pin(PgStore::load_all(self))
    }

    fn judges_per_hack(&self) -> StoreFuture<'_, Result<Option<i64>, StoreError>> {
        Box::pin(PgStore::judges_per_hack(self))
    }

    fn judge_activity(&self) -> StoreFuture<'_, Result<HashMap<i64, i64>, StoreError>> {
        Box::pin(PgStore::judge_activity(self))
    }

    fn judge_for_link(&self, token: String) -> StoreFuture<'_, Result<LinkLookup, StoreError>> {
        Box::pin(PgStore::judge_for_link(self, token))
    }
}

impl ClickerStore for PgStore {
    fn register_device(
        &self,
        secret: Option<String>,
        holder: Holder,
    ) -> StoreFuture<'_, Result<Registration, RegisterError>> {
        Box::pin(PgStore::register_device(self, secret, holder))
    }

    fn device_disconnected(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(PgStore::device_disconnected(self, device, holder))
    }

    fn reclaim_device(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> StoreFuture<'_, Result<bool, StoreError>> {
        Box::pin(PgStore::reclaim_device(self, device, holder))
    }

    fn record_score(
        &self,
        device: DeviceId,
        timestamp: i64,
        score: i64,
        msg_id: Option<i64>,
    ) -> StoreFuture<'_, Result<ScoreOutcome, StoreError>> {
        Box::pin(PgStore::record_score(
            self, device, timestamp, score, msg_id,
        ))
    }

    fn devices(&self) -> StoreFuture<'_, Result<Vec<DeviceRecord>, StoreError>> {
        Box::pin(PgStore::devices(self))
    }

    fn device_scores(
        &self,
        device: DeviceId,
    ) -> StoreFuture<'_, Result<Option<Vec<ScoreRecord>>, StoreError>> {
        Box::pin(PgStore::device_scores(self, device))
    }
}

impl SpeedStore for PgStore {
    fn speed_heats(&self) -> StoreFuture<'_, Result<Vec<HeatRecord>, StoreError>> {
        Box::pin(PgStore::speed_heats(self))
    }

    fn speed_heat(&self, heat: u32) -> StoreFuture<'_, Result<Option<HeatRecord>, StoreError>> {
        Box::pin(PgStore::speed_heat(self, heat))
    }

    fn speed_current_heat(&self) -> StoreFuture<'_, Result<Option<CurrentHeat>, StoreError>> {
        Box::pin(PgStore::speed_current_heat(self))
    }

    fn speed_sheets(&self, filter: Filter) -> StoreFuture<'_, Result<Vec<EntrySheet>, StoreError>> {
        Box::pin(PgStore::speed_sheets(self, filter))
    }
}
