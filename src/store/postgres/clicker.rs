//! The clicker tables in PostgreSQL: devices and their score series, with
//! the same rules as SQLite's (`crate::store::clicker`). Device ids are
//! unique across the cluster: a new id is taken under a transaction-scoped
//! advisory lock, so two nodes registering at once cannot pick the same one.
//! Presence is written under the presence lock, and a score under its
//! device's lock (see [`super::locks`]).

use tokio_postgres::GenericClient;

use super::locks::{Advisory, Locks, Mode};
use super::{unreachable, PgStore, PgTx};
use crate::scoring::clock;
use crate::scoring::{
    DeviceId, DeviceRecord, Holder, LatestScore, Registration, ScoreOutcome, ScoreRecord,
    MAX_DEVICE_ID,
};
use crate::secrets;
use crate::store::changes::{Change, Score};
use crate::store::{now_ms, RegisterError, StoreError};

impl PgStore {
    /// Registers a device. A secret issued earlier (by any node) gets that
    /// device's id back; anything else gets a new device with a fresh id and secret.
    /// `holder` takes hold of the id (see [`hold`]).
    pub async fn register_device(
        &self,
        secret: Option<String>,
        holder: Holder,
    ) -> Result<Registration, RegisterError> {
        // The device-id lock is needed only for a new device; declared
        // always, as whether the secret is known is found out in the job.
        let locks = Locks::exclusive(Advisory::DeviceIds).and(Advisory::Presence, Mode::Exclusive);
        let outcome = self
            .try_write(locks, move |tx| {
                Box::pin(async move {
                    if let Some(secret) = secret {
                        let known = tx
                            .query_opt(
                                "SELECT id FROM clicker_devices WHERE secret_hash = $1",
                                &[&&secrets::hash(&secret)[..]],
                            )
                            .await?;
                        if let Some(row) = known {
                            let id = row.get::<_, i64>(0) as DeviceId;
                            let latest = latest_score(&**tx, id).await?;
                            hold(tx, id, holder).await?;
                            return Ok(Ok(Registration { id, secret, latest }));
                        }
                    }
                    let next: i64 = tx
                        .query_one(
                            "SELECT COALESCE(MAX(id), 0) + 1 FROM clicker_devices",
                            &[],
                        )
                        .await?
                        .get(0);
                    if next > i64::from(MAX_DEVICE_ID) {
                        return Ok(Err(RegisterError::IdsExhausted));
                    }
                    let secret = secrets::generate(16);
                    tx.execute(
                        "INSERT INTO clicker_devices (id, secret_hash, created_at) VALUES ($1, $2, $3)",
                        &[&next, &&secrets::hash(&secret)[..], &now_ms()],
                    )
                    .await?;
                    hold(tx, next as DeviceId, holder).await?;
                    Ok(Ok(Registration {
                        id: next as DeviceId,
                        secret,
                        latest: None,
                    }))
                })
            })
            .await?;
        outcome
    }

    /// `holder`'s connection ended: the device is disconnected on every
    /// node, unless another connection took its id over already.
    pub async fn device_disconnected(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> Result<(), StoreError> {
        self.write(Locks::exclusive(Advisory::Presence), move |tx| {
            Box::pin(async move {
                let released = tx
                    .execute(
                        "DELETE FROM device_presence WHERE device_id = $1 AND node = $2 AND session = $3",
                        &[&i64::from(device), &(holder.node as i64), &(holder.session as i64)],
                    )
                    .await?;
                if released > 0 {
                    tx.publish(Change::presence(device, holder, false));
                }
                Ok(())
            })
        })
        .await
    }

    /// `holder` takes `device`'s id back after the cluster released it under
    /// an open connection (true), unless another connection holds it now (false).
    pub async fn reclaim_device(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> Result<bool, StoreError> {
        self.write(Locks::exclusive(Advisory::Presence), move |tx| {
            Box::pin(async move {
                // The node's lease first, or the next reaping would release
                // the id again at once.
                super::leases::renew(&**tx, holder.node).await?;
                let taken = tx
                    .execute(
                        "INSERT INTO device_presence (device_id, node, session) VALUES ($1, $2, $3)
                         ON CONFLICT (device_id) DO NOTHING",
                        &[
                            &i64::from(device),
                            &(holder.node as i64),
                            &(holder.session as i64),
                        ],
                    )
                    .await?;
                if taken > 0 {
                    tx.publish(Change::presence(device, holder, true));
                }
                Ok(taken > 0)
            })
        })
        .await
    }

    /// Stores one SCORE of `device`, durably, and says what it was: one
    /// statement, so it is pipelined with the other scores of its batch.
    pub async fn record_score(
        &self,
        device: DeviceId,
        timestamp: i64,
        score: i64,
        msg_id: Option<i64>,
    ) -> Result<ScoreOutcome, StoreError> {
        let received_at = self.receive_clock.stamp();
        let [(from_a, to_a), (from_b, to_b)] = newer_ranges(timestamp);
        // Its device's lock stands for the (device, timestamp) key another
        // node may be inserting too (a SCORE sent again after a reconnect).
        self.write_one(Locks::none().device(i64::from(device)), move |tx| {
            Box::pin(async move {
                // `newer` reads the table as of the statement's start, so it
                // never sees the row `inserted` adds.
                let statement = tx
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
                let row = tx
                    .query_one(
                        &statement,
                        &[
                            &i64::from(device),
                            &timestamp,
                            &score,
                            &msg_id,
                            &received_at,
                            &from_a,
                            &to_a,
                            &from_b,
                            &to_b,
                        ],
                    )
                    .await?;
                let (inserted, newer): (bool, bool) = (row.get(0), row.get(1));
                if !inserted {
                    return Ok(ScoreOutcome::Duplicate);
                }
                tx.publish(Change::Score(Score {
                    device,
                    timestamp,
                    score,
                }));
                Ok(if newer {
                    ScoreOutcome::Late
                } else {
                    ScoreOutcome::New
                })
            })
        })
        .await
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

/// Records that `holder` holds `device` now (taking it over from any other
/// connection, on any node) and logs it, so every node's listeners hear of
/// it and the node of a connection taken over closes it.
async fn hold(tx: &mut PgTx, device: DeviceId, holder: Holder) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO device_presence (device_id, node, session) VALUES ($1, $2, $3)
         ON CONFLICT (device_id) DO UPDATE SET node = excluded.node, session = excluded.session",
        &[
            &i64::from(device),
            &(holder.node as i64),
            &(holder.session as i64),
        ],
    )
    .await?;
    tx.publish(Change::presence(device, holder, true));
    Ok(())
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

/// The two timestamp ranges a newer score of `timestamp` would lie in (see
/// [`clock::newer_than`]); an empty range where there is only one.
fn newer_ranges(timestamp: i64) -> [(i64, i64); 2] {
    let mut ranges = [(1, 0), (1, 0)];
    for (slot, range) in ranges.iter_mut().zip(clock::newer_than(timestamp)) {
        *slot = range;
    }
    ranges
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
