//! The storage interfaces, named for what their users need. The core and
//! the adapters hold these as trait objects (`Arc<dyn JudgingStore>`), so a
//! second engine (PostgreSQL for cluster mode) can stand beside SQLite
//! without touching them. [`Store`] (SQLite) implements each by calling its
//! own methods, which keep the SQL in one module per table group.
//!
//! Futures are boxed so the traits can be used as trait objects; one
//! allocation per call is small beside a durable write.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use super::changes::{Changes, Log};
use super::postgres::PgStore;
use super::{Store, StoreError, WriteError};

use crate::judging::inputs::{NewHack, NewJudge, NewSuperlative, Ranking};
use crate::judging::model::DataStore;
use crate::judging::ops::absent::MarkAbsent;
use crate::judging::ops::assign::Assign;
use crate::judging::ops::clear_absences::ClearAbsences;
use crate::judging::ops::import_devpost::ImportDevpost;
use crate::judging::ops::import_judges::ImportJudges;
use crate::judging::ops::issue_secret::IssueSecret;
pub use crate::judging::ops::list_links::CurrentLink;
use crate::judging::ops::list_links::ListLinks;
use crate::judging::ops::note::WriteNote;
use crate::judging::ops::pause::SetPaused;
use crate::judging::ops::rate::Rate;
use crate::judging::ops::reissue_link::ReissueLink;
use crate::judging::ops::unrate::Unrate;
use crate::judging::ops::withdraw::Withdraw;
use crate::judging::ops::Operation;
use crate::scoring::{DeviceId, DeviceRecord, Holder, Registration, ScoreOutcome, ScoreRecord};
use crate::speed::model::{EntrySheet, Filter, HeatRecord};
use crate::speed::ops::add_entries::AddEntries;
use crate::speed::ops::set_deductions::SetDeductions;
use crate::speed::ops::set_event::SetEvent;
use crate::speed::ops::set_judges::SetJudges;
use crate::speed::ops::set_station_judges::SetStationJudges;
use crate::speed::ops::start_heat::StartHeat;
use crate::speed::ops::stop_heat::StopHeat;
use crate::speed::ops::unlock_heat::UnlockHeat;

/// What a presented token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkLookup {
    /// The current link of this judge, still valid.
    Valid(i64),
    /// The current link of this judge, expired at this time (ms).
    Expired { judge: i64, at: i64 },
    /// No current link: never issued, or replaced by a newer one.
    Unknown,
}

/// A current link's row, as an engine found it by the token's hash.
pub struct LinkRow<'a> {
    pub judge: i64,
    pub token_hash: &'a [u8],
    pub expires_at: Option<i64>,
}

impl LinkLookup {
    /// What `token` is, given the row its hash found (if any), at `now`
    /// (ms): the index finds the row, and a constant-time comparison of the
    /// stored hash has the final say.
    pub fn of(token: &str, row: Option<LinkRow<'_>>, now: i64) -> LinkLookup {
        let Some(row) = row else {
            return LinkLookup::Unknown;
        };
        let Ok(stored) = crate::secrets::SecretHash::try_from(row.token_hash) else {
            return LinkLookup::Unknown;
        };
        if !crate::secrets::matches(token, &stored) {
            return LinkLookup::Unknown;
        }
        match row.expires_at {
            Some(at) if at <= now => LinkLookup::Expired {
                judge: row.judge,
                at,
            },
            _ => LinkLookup::Valid(row.judge),
        }
    }
}

/// Why a REGISTER could not be served.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("no device id is left: all 999999 six-digit ids are taken")]
    IdsExhausted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A storage call in progress.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// The heat that runs or ran last: its number, its clickers, and whether it runs.
pub type CurrentHeat = (u32, Vec<DeviceId>, bool);

/// Runs operation `Op` (a rule of `judging/ops/` or `speed/ops/`) as one
/// durable write, under the request's idempotency key if it has one. Each
/// engine implements it once for every operation whose facts and writes it
/// knows (`runner::Storage`), so a new operation adds no method here: only
/// its name to its store's list ([`JudgingStore`], [`SpeedStore`]).
pub trait Perform<Op: Operation> {
    fn perform(&self, op: Op) -> StoreFuture<'_, Result<Op::Reply, WriteError<Op::Refusal>>>;
}

/// What the judging core needs: the judging tables, the judging floor, judges' secrets and
/// sign-in links. Every write is durable when its future resolves; a refusal
/// (`WriteError::Refused`) wrote nothing.
pub trait JudgingStore:
    Perform<NewHack>
    + Perform<NewSuperlative>
    + Perform<Rate>
    + Perform<Unrate>
    + Perform<Ranking>
    + Perform<MarkAbsent>
    + Perform<WriteNote>
    + Perform<NewJudge>
    + Perform<ImportDevpost>
    + Perform<ImportJudges>
    + Perform<Withdraw>
    + Perform<SetPaused>
    + Perform<ClearAbsences>
    + Perform<Assign>
    + Perform<IssueSecret>
    + Perform<ListLinks>
    + Perform<ReissueLink>
    + Send
    + Sync
{
    /// The judge a secret was issued to.
    fn judge_for_secret(&self, secret: String) -> StoreFuture<'_, Result<Option<i64>, StoreError>>;
    fn judge_exists(&self, id: i64) -> StoreFuture<'_, Result<bool, StoreError>>;
    /// Every row of every judging table: what live views start from.
    fn load_all(&self) -> StoreFuture<'_, Result<DataStore, StoreError>>;
    /// The judges per hack of the latest assignment.
    fn judges_per_hack(&self) -> StoreFuture<'_, Result<Option<i64>, StoreError>>;
    /// When each judge last acted, in ms since the Unix epoch.
    fn judge_activity(&self) -> StoreFuture<'_, Result<HashMap<i64, i64>, StoreError>>;
    /// Whose sign-in link a token is, and whether it is still valid.
    fn judge_for_link(&self, token: String) -> StoreFuture<'_, Result<LinkLookup, StoreError>>;
}

/// What the clicker adapter and the device history need: devices and their score series.
pub trait ClickerStore: Send + Sync {
    /// Registers a device, or finds it again by its secret; `holder` takes hold of its id.
    fn register_device(
        &self,
        secret: Option<String>,
        holder: Holder,
    ) -> StoreFuture<'_, Result<Registration, RegisterError>>;
    /// `holder`'s connection ended: the device disconnects, unless its id was taken over.
    fn device_disconnected(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> StoreFuture<'_, Result<(), StoreError>>;
    /// `holder` takes `device`'s id back after the cluster released it, unless another holds it now.
    fn reclaim_device(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> StoreFuture<'_, Result<bool, StoreError>>;
    /// Stores one SCORE durably and says whether it is new, late or a retry.
    fn record_score(
        &self,
        device: DeviceId,
        timestamp: i64,
        score: i64,
        msg_id: Option<i64>,
    ) -> StoreFuture<'_, Result<ScoreOutcome, StoreError>>;
    /// Every device with its newest score.
    fn devices(&self) -> StoreFuture<'_, Result<Vec<DeviceRecord>, StoreError>>;
    /// One device's whole score series (`None`: no such device).
    fn device_scores(
        &self,
        device: DeviceId,
    ) -> StoreFuture<'_, Result<Option<Vec<ScoreRecord>>, StoreError>>;
}

/// What speed events need: entries, heats, deductions and the sheets
/// results come from. Every write is durable when its future resolves; a
/// refusal by a speed rule wrote nothing.
pub trait SpeedStore:
    Perform<SetEvent>
    + Perform<AddEntries>
    + Perform<SetJudges>
    + Perform<SetStationJudges>
    + Perform<SetDeductions>
    + Perform<StartHeat>
    + Perform<StopHeat>
    + Perform<UnlockHeat>
    + Send
    + Sync
{
    fn speed_heats(&self) -> StoreFuture<'_, Result<Vec<HeatRecord>, StoreError>>;
    fn speed_heat(&self, heat: u32) -> StoreFuture<'_, Result<Option<HeatRecord>, StoreError>>;
    fn speed_current_heat(&self) -> StoreFuture<'_, Result<Option<CurrentHeat>, StoreError>>;
    fn speed_sheets(&self, filter: Filter) -> StoreFuture<'_, Result<Vec<EntrySheet>, StoreError>>;
}

/// A node's whole store of record, SQLite or PostgreSQL: every storage
/// interface, the change log, and what the node itself needs (health,
/// shutdown). The node holds it as `Arc<dyn Database>` and hands each part
/// only the interface it uses.
pub trait Database: JudgingStore + ClickerStore + SpeedStore + Log {
    /// A new follower of committed changes (of every node, in order).
    fn follow(&self) -> Changes;
    /// Probes that the store accepts writes (for `/healthz`).
    fn check_writable(&self) -> StoreFuture<'_, Result<(), StoreError>>;
    /// Commits what is queued and stops writing.
    fn close(&self) -> StoreFuture<'_, ()>;
}

impl Database for Store {
    fn follow(&self) -> Changes {
        Store::follow(self)
    }

    fn check_writable(&self) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(Store::check_writable(self))
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        let store = self.clone();
        // The SQLite writer is a thread: joining it blocks.
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(move || store.close()).await;
        })
    }
}

impl Database for PgStore {
    fn follow(&self) -> Changes {
        PgStore::follow(self)
    }

    fn check_writable(&self) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(PgStore::check_writable(self))
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(PgStore::close(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_a_judges_link_only_if_its_hash_matches_and_it_has_not_expired() {
        let hash = crate::secrets::hash("token-a");
        let row = |expires_at| {
            Some(LinkRow {
                judge: 3,
                token_hash: &hash[..],
                expires_at,
            })
        };
        assert_eq!(
            LinkLookup::of("token-a", row(None), 10),
            LinkLookup::Valid(3)
        );
        assert_eq!(
            LinkLookup::of("token-a", row(Some(11)), 10),
            LinkLookup::Valid(3)
        );
        assert_eq!(
            LinkLookup::of("token-a", row(Some(10)), 10),
            LinkLookup::Expired { judge: 3, at: 10 }
        );
        assert_eq!(
            LinkLookup::of("token-b", row(None), 10),
            LinkLookup::Unknown
        );
        assert_eq!(LinkLookup::of("token-a", None, 10), LinkLookup::Unknown);
        let short = LinkRow {
            judge: 3,
            token_hash: &hash[..4],
            expires_at: None,
        };
        assert_eq!(
            LinkLookup::of("token-a", Some(short), 10),
            LinkLookup::Unknown
        );
    }
}
