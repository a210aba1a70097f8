//! The storage interface (`store/traits.rs`) on SQLite: each method is the
//! engine's own of the same name, boxed so the core can hold the store as
//! a trait object.

use std::collections::HashMap;

use super::writer::Tx;
use super::Store;
use crate::judging::model::DataStore;
use crate::judging::ops::Operation;
use crate::scoring::{DeviceId, DeviceRecord, Holder, Registration, ScoreOutcome, ScoreRecord};
use crate::speed::model::{EntrySheet, Filter, HeatRecord};
use crate::store::idempotency::{self, Refusal, Replay};
use crate::store::runner::{self, Published, Storage};
use crate::store::traits::Perform;
use crate::store::traits::{ClickerStore, CurrentHeat, JudgingStore, SpeedStore, StoreFuture};
use crate::store::{LinkLookup, RegisterError, StoreError, WriteError};

/// Every judging and speed operation SQLite knows the facts and writes of,
/// in one write job on the writer thread (where the runner never waits).
impl<Op> Perform<Op> for Store
where
    Op: Operation<Refusal: Refusal + Send, Published: Published> + Send + 'static,
    Op::Reply: Replay + Send + 'static,
    for<'t> Tx<'t>: Storage<Op>,
{
    fn perform(&self, mut op: Op) -> StoreFuture<'_, Result<Op::Reply, WriteError<Op::Refusal>>> {
        if Op::REPLY_IS_SECRET {
            idempotency::decline();
        }
        op.receive(&self.receive_clock);
        Box::pin(self.keyed_write(move |tx| runner::run_now(tx, &op)))
    }
}

impl JudgingStore for Store {
    fn judge_for_secret(&self, secret: String) -> StoreFuture<'_, Result<Option<i64>, StoreError>> {
        Box::pin(Store::judge_for_secret(self, secret))
    }

    fn judge_exists(&self, id: i64) -> StoreFuture<'_, Result<bool, StoreError>> {
        Box::pin(Store::judge_exists(self, id))
    }

    fn load_all(&self) -> StoreFuture<'_, Result<DataStore, StoreError>> {
        Box::pin(Store::load_all(self))
    }

    fn judges_per_hack(&self) -> StoreFuture<'_, Result<Option<i64>, StoreError>> {
        Box::pin(Store::judges_per_hack(self))
    }

    fn judge_activity(&self) -> StoreFuture<'_, Result<HashMap<i64, i64>, StoreError>> {
        Box::pin(Store::judge_activity(self))
    }

    fn judge_for_link(&self, token: String) -> StoreFuture<'_, Result<LinkLookup, StoreError>> {
        Box::pin(Store::judge_for_link(self, token))
    }
}

impl ClickerStore for Store {
    fn register_device(
        &self,
        secret: Option<String>,
        holder: Holder,
    ) -> StoreFuture<'_, Result<Registration, RegisterError>> {
        Box::pin(Store::register_device(self, secret, holder))
    }

    fn device_disconnected(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(Store::device_disconnected(self, device, holder))
    }

    fn reclaim_device(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> StoreFuture<'_, Result<bool, StoreError>> {
        Box::pin(Store::reclaim_device(self, device, holder))
    }

    fn record_score(
        &self,
        device: DeviceId,
        timestamp: i64,
        score: i64,
        msg_id: Option<i64>,
    ) -> StoreFuture<'_, Result<ScoreOutcome, StoreError>> {
        Box::pin(Store::record_score(self, device, timestamp, score, msg_id))
    }

    fn devices(&self) -> StoreFuture<'_, Result<Vec<DeviceRecord>, StoreError>> {
        Box::pin(Store::devices(self))
    }

    fn device_scores(
        &self,
        device: DeviceId,
    ) -> StoreFuture<'_, Result<Option<Vec<ScoreRecord>>, StoreError>> {
        Box::pin(Store::device_scores(self, device))
    }
}

impl SpeedStore for Store {
    fn speed_heats(&self) -> StoreFuture<'_, Result<Vec<HeatRecord>, StoreError>> {
        Box::pin(Store::speed_heats(self))
    }

    fn speed_heat(&self, heat: u32) -> StoreFuture<'_, Result<Option<HeatRecord>, StoreError>> {
        Box::pin(Store::speed_heat(self, heat))
    }

    fn speed_current_heat(&self) -> StoreFuture<'_, Result<Option<CurrentHeat>, StoreError>> {
        Box::pin(Store::speed_current_heat(self))
    }

    fn speed_sheets(&self, filter: Filter) -> StoreFuture<'_, Result<Vec<EntrySheet>, StoreError>> {
        Box::pin(Store::speed_sheets(self, filter))
    }
}
