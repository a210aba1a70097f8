//! The clicker tables in PostgreSQL: devices, their holders and their score
//! series; the rules of each write are in `scoring/ops/`. Device ids are
//! unique across the cluster: a new id is taken under a transaction-scoped
//! advisory lock, so two nodes registering at once cannot pick the same one.
//! Presence is written under the presence lock, and a score under its
//! device's lock (see [`super::locks`]).

use tokio_postgres::GenericClient;

use super::locks::{Advisory, Locks, Mode};
use super::{unreachable, PgStore, PgTx};
use crate::scoring::clock;
use crate::scoring::ops::reclaim::Reclaim;
use crate::scoring::ops::record_score::{Insert, RecordScore, Stored};
use crate::scoring::ops::register::{self, Register};
use crate::scoring::ops::release::Release;
use crate::scoring::{
    DeviceId, DeviceRecord, Holder, LatestScore, Registration, ScoreOutcome, ScoreRecord,
};
use crate::store::runner::{self, Storage};
use crate::store::{now_ms, RegisterError, StoreError};

impl Storage<Register> for PgTx {
    async fn load(&mut self, op: &Register) -> Result<register::Facts, StoreError> {
        if let Some(hash) = op.sent_hash() {
            let known = self
                .query_opt(
                    "SELECT id FROM clicker_devices WHERE secret_hash = $1",
                    &[&&hash[..]],
                )
                .await?;
            if let Some(row) = known {
                let id = row.get::<_, i64>(0) as DeviceId;
                let latest = latest_score(&**self, id).await?;
                return Ok(register::Facts::Known { id, latest });
            }
        }
        let next = self
            .query_one("SELECT COALESCE(MAX(id), 0) + 1 FROM clicker_devices", &[])
            .await?
            .get(0);
        Ok(register::Facts::Unknown { next })
    }

    async fn apply(&mut self, op: &Register, plan: &register::Plan) -> Result<(), StoreError> {
        let id = i64::from(plan.id());
        if let register::Plan::Create { .. } = plan {
            self.execute(
                "INSERT INTO clicker_devices (id, secret_hash, created_at) VALUES ($1, $2, $3)",
                &[&id, &&op.fresh_hash()[..], &now_ms()],
            )
            .await?;
        }
        self.execute(
            "INSERT INTO device_presence (device_id, node, session) VALUES ($1, $2, $3)
             ON CONFLICT (device_id) DO UPDATE SET node = excluded.node, session = excluded.session",
            &[&id, &(op.holder.node as i64), &(op.holder.session as i64)],
        )
        .await?;
        Ok(())
    }
}

impl Storage<Release> for PgTx {
    async fn load(&mut self, _: &Release) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, op: &Release, (): &()) -> Result<bool, StoreError> {
        let released = self
            .execute(
                "DELETE FROM device_presence WHERE device_id = $1 AND node = $2 AND session = $3",
                &[
                    &i64::from(op.device),
                    &(op.holder.node as i64),
                    &(op.holder.session as i64),
                ],
            )
            .await?;
        Ok(released > 0)
    }
}

impl Storage<Reclaim> for PgTx {
    async fn load(&mut self, _: &Reclaim) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, op: &Reclaim, (): &()) -> Result<bool, StoreError> {
        // The node's lease first, or the next reaping would release the id
        // again at once.
        super::leases::renew(&**self, op.holder.node).await?;
        let taken = self
            .execute(
                "INSERT INTO device_presence (device_id, node, session) VALUES ($1, $2, $3)
                 ON CONFLICT (device_id) DO NOTHING",
                &[
                    &i64::from(op.device),
                    &(op.holder.node as i64),
                    &(op.holder.session as i64),
                ],
            )
            .await?;
        Ok(taken > 0)
    }
}

impl Storage<RecordScore> for PgTx {
    async fn load(&mut self, _: &RecordScore) -> Result<(), StoreError> {
        Ok(())
    }

    /// One statement, so it is pipelined with the other scores of its
    /// batch. `newer` reads the table as of the statement's start, so it
    /// never sees the row `inserted` adds.
    async fn apply(&mut self, op: &RecordScore, plan: &Insert) -> Result<Stored, StoreError> {
        let statement = self
            .prepare_cached(
                "WITH inserted AS (
                     INSERT INTO clicker_scores (device_id, timestamp, score, msg_id, received_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT DO NOTHING
                     RETURNING 1
                 )
                 SELECT EXISTS (SELECT 1 FROM inserted),
                        EXISTS (SELECT 1 FROM clicker_scores
                                WHERE device_id = $1
                                  AND (timestamp BETWEEN $6 AND $7
                                       OR timestamp BETWEEN $8 AND $9))",
            )
            .await?;
        let [(from_a, to_a), (from_b, to_b)] = two_ranges(&plan.newer);
        let row = self
            .query_one(
                &statement,
                &[
                    &i64::from(op.device),
                    &op.timestamp,
                    &op.score,
                    &op.msg_id,
                    &op.received_at,
                    &from_a,
                    &to_a,
                    &from_b,
                    &to_b,
                ],
            )
            .await?;
        Ok(Stored {
            inserted: row.get(0),
            newer_exists: row.get(1),
        })
    }
}

impl PgStore {
    /// Registers a device (`scoring/ops/register.rs`); `holder` takes hold
    /// of its id. The device-id lock keeps two nodes from picking the same
    /// new id; it is taken always, as whether the secret is known is found
    /// out in the job.
    pub async fn register_device(
        &self,
        secret: Option<String>,
        holder: Holder,
    ) -> Result<Registration, RegisterError> {
        let op = Register::new(secret, holder);
        let locks = Locks::exclusive(Advisory::DeviceIds).and(Advisory::Presence, Mode::Exclusive);
        self.try_write(locks, move |tx| {
            Box::pin(async move { runner::run(tx, &op).await })
        })
        .await?
    }

    /// `holder`'s connection ended: the device is disconnected on every
    /// node, unless another connection took its id over already.
    pub async fn device_disconnected(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> Result<(), StoreError> {
        let op = Release { device, holder };
        let Ok(()) = self
            .try_write(Locks::exclusive(Advisory::Presence), move |tx| {
                Box::pin(async move { runner::run(tx, &op).await })
            })
            .await?;
        Ok(())
    }

    /// `holder` takes `device`'s id back after the cluster released it under
    /// an open connection (true), unless another connection holds it now (false).
    pub async fn reclaim_device(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> Result<bool, StoreError> {
        let op = Reclaim { device, holder };
        let Ok(taken) = self
            .try_write(Locks::exclusive(Advisory::Presence), move |tx| {
                Box::pin(async move { runner::run(tx, &op).await })
            })
            .await?;
        Ok(taken)
    }

    /// Stores one SCORE of `device`, durably, and says what it was.
    pub async fn record_score(
        &self,
        device: DeviceId,
        timestamp: i64,
        score: i64,
        msg_id: Option<i64>,
    ) -> Result<ScoreOutcome, StoreError> {
        let op = RecordScore {
            device,
            timestamp,
            score,
            msg_id,
            received_at: self.receive_clock.stamp(),
        };
        // Its device's lock stands for the (device, timestamp) key another
        // node may be inserting too (a SCORE sent again after a reconnect).
        let Ok(outcome) = self
            .write_one(Locks::none().device(i64::from(device)), move |tx| {
                Box::pin(async move { runner::run(tx, &op).await })
            })
            .await?;
        Ok(outcome)
    }

    /// Every registered device with its newest score, by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.read(|client| {
            Box::pin(async move {
                let client: &tokio_postgres::Client = client;
                let ids = client
                    .query("SELECT id FROM clicker_devices ORDER BY id", &[])
                    .await?;
                let mut devices = Vec::with_capacity(ids.len());
                for row in ids {
                    let id = row.get::<_, i64>(0) as DeviceId;
                    devices.push(DeviceRecord {
                        id,
                        latest: latest_score(client, id).await?,
                    });
                }
                Ok(devices)
            })
        })
        .await
    }

    /// A device's whole score series in timestamp order (a 32-bit wrap
    /// included); `None` for an unknown device.
    pub async fn device_scores(
        &self,
        device: DeviceId,
    ) -> Result<Option<Vec<ScoreRecord>>, StoreError> {
        let client = self.pool.get().await.map_err(unreachable)?;
        let exists = client
            .query_opt(
                "SELECT 1 FROM clicker_devices WHERE id = $1",
                &[&i64::from(device)],
            )
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let mut rows: Vec<ScoreRecord> = client
            .query(
                "SELECT timestamp, score, msg_id, received_at FROM clicker_scores
                 WHERE device_id = $1 ORDER BY timestamp",
                &[&i64::from(device)],
            )
            .await?
            .into_iter()
            .map(|r| ScoreRecord {
                timestamp: r.get(0),
                score: r.get(1),
                msg_id: r.get(2),
                received_at: r.get(3),
            })
            .collect();
        clock::sort_series(&mut rows, |r| r.timestamp);
        Ok(Some(rows))
    }
}

/// Every connected device's holder, read by `client` (in the caller's snapshot).
pub(super) async fn holders(
    client: &impl GenericClient,
) -> Result<Vec<(DeviceId, Holder)>, StoreError> {
    let rows = client
        .query("SELECT device_id, node, session FROM device_presence", &[])
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.get::<_, i64>(0) as DeviceId,
                Holder {
                    node: r.get::<_, i64>(1) as u64,
                    session: r.get::<_, i64>(2) as u64,
                },
            )
        })
        .collect())
}

/// `ranges` as the statement's two (at most two: see
/// [`clock::newer_than`]), an unused one empty.
fn two_ranges(ranges: &[(i64, i64)]) -> [(i64, i64); 2] {
    let mut two = [(1, 0); 2];
    for (slot, range) in two.iter_mut().zip(ranges) {
        *slot = *range;
    }
    two
}

/// Every device's newest score, read by `client` (in the caller's snapshot).
pub(super) async fn latest_scores(
    client: &impl GenericClient,
) -> Result<Vec<(DeviceId, LatestScore)>, StoreError> {
    let ids = client
        .query("SELECT id FROM clicker_devices ORDER BY id", &[])
        .await?;
    let mut latest = Vec::with_capacity(ids.len());
    for row in ids {
        let id = row.get::<_, i64>(0) as DeviceId;
        if let Some(score) = latest_score_before(client, id, i64::MAX).await? {
            latest.push((id, score));
        }
    }
    Ok(latest)
}

/// A device's newest score by [`clock::newest`].
async fn latest_score(
    client: &impl GenericClient,
    device: DeviceId,
) -> Result<Option<LatestScore>, StoreError> {
    latest_score_before(client, device, i64::MAX).await
}

/// Like [`latest_score`], among the scores received before `received_before`
/// (ms since the Unix epoch).
pub(super) async fn latest_score_before(
    client: &impl GenericClient,
    device: DeviceId,
    received_before: i64,
) -> Result<Option<LatestScore>, StoreError> {
    let largest = |from: i64, to: i64| async move {
        let row = client
            .query_opt(
                "SELECT timestamp, score FROM clicker_scores
                 WHERE device_id = $1 AND received_at < $2 AND timestamp BETWEEN $3 AND $4
                 ORDER BY timestamp DESC LIMIT 1",
                &[&i64::from(device), &received_before, &from, &to],
            )
            .await?;
        Ok::<_, StoreError>(row.map(|r| LatestScore {
            timestamp: r.get(0),
            score: r.get(1),
        }))
    };
    let Some(max) = largest(i64::MIN, i64::MAX).await? else {
        return Ok(None);
    };
    let (from, to) = clock::BOTTOM_QUARTER;
    let bottom = largest(from, to).await?;
    let newest = clock::newest(max.timestamp, bottom.map(|b| b.timestamp));
    Ok(Some(match bottom {
        Some(b) if b.timestamp == newest => b,
        _ => max,
    }))
}
