//! The clicker tables: devices (id and hashed secret) and every device's
//! score series. This module alone reads and writes them.

use crate::store::RegisterError;
use rusqlite::{params, OptionalExtension};

use super::writer::Tx;
use super::{now_ms, Store, StoreError};
use crate::scoring::clock;
pub use crate::scoring::{
    DeviceId, DeviceRecord, Holder, LatestScore, Registration, ScoreOutcome, ScoreRecord,
    MAX_DEVICE_ID,
};
use crate::secrets;
use crate::store::changes::{Change, Score};

impl Store {
    /// Registers a device. A secret this server issued earlier gets that
    /// device's id back; anything else (no secret, or one never issued) gets a
    /// new device with a fresh id and secret.
    /// `holder` takes hold of the id (see [`hold`]).
    pub async fn register_device(
        &self,
        secret: Option<String>,
        holder: Holder,
    ) -> Result<Registration, RegisterError> {
        let outcome = self
            .try_write(move |tx| {
                if let Some(secret) = secret {
                    let known: Option<DeviceId> = tx
                        .prepare_cached("SELECT id FROM clicker_devices WHERE secret_hash = ?1")?
                        .query_row([&secrets::hash(&secret)[..]], |r| r.get(0))
                        .optional()?;
                    if let Some(id) = known {
                        let latest = latest_score(tx, id)?;
                        hold(tx, id, holder)?;
                        return Ok(Ok(Registration { id, secret, latest }));
                    }
                }
                let next: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(id), 0) + 1 FROM clicker_devices",
                    [],
                    |r| r.get(0),
                )?;
                if next > i64::from(MAX_DEVICE_ID) {
                    return Ok(Err(RegisterError::IdsExhausted));
                }
                let secret = secrets::generate(16);
                tx.execute(
                    "INSERT INTO clicker_devices (id, secret_hash, created_at) VALUES (?1, ?2, ?3)",
                    params![next, &secrets::hash(&secret)[..], now_ms()],
                )?;
                hold(tx, next as DeviceId, holder)?;
                Ok(Ok(Registration {
                    id: next as DeviceId,
                    secret,
                    latest: None,
                }))
            })
            .await?;
        outcome
    }

    /// `holder`'s connection ended: the device is disconnected, unless
    /// another connection took its id over already.
    pub async fn device_disconnected(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let released = tx
                .prepare_cached(
                    "DELETE FROM device_presence WHERE device_id = ?1 AND node = ?2 AND session = ?3",
                )?
                .execute(params![device, holder.node as i64, holder.session as i64])?;
            if released > 0 {
                tx.publish(Change::presence(device, holder, false));
            }
            Ok(())
        })
        .await
    }

    /// `holder` takes `device`'s id back after it was released under it
    /// (true), unless another connection holds it now (false).
    pub async fn reclaim_device(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let taken = tx
                .prepare_cached(
                    "INSERT INTO device_presence (device_id, node, session) VALUES (?1, ?2, ?3)
                     ON CONFLICT (device_id) DO NOTHING",
                )?
                .execute(params![device, holder.node as i64, holder.session as i64])?;
            if taken > 0 {
                tx.publish(Change::presence(device, holder, true));
            }
            Ok(taken > 0)
        })
        .await
    }

    /// Stores one SCORE of `device`, durably, and says what it was.
    pub async fn record_score(
        &self,
        device: DeviceId,
        timestamp: i64,
        score: i64,
        msg_id: Option<i64>,
    ) -> Result<ScoreOutcome, StoreError> {
        let received_at = self.receive_clock.stamp();
        // One INSERT (the SELECT only reads): no savepoint needed. The
        // writer logs the score with the other scores of its commit (see
        // `super::log` for why).
        self.write_one(move |tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO clicker_scores (device_id, timestamp, score, msg_id, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![device, timestamp, score, msg_id, received_at])?;
            if inserted == 0 {
                return Ok(ScoreOutcome::Duplicate);
            }
            tx.publish(Change::Score(Score {
                device,
                timestamp,
                score,
            }));
            // At most two index range probes: see `clock::newer_than`.
            let mut any_newer = tx.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM clicker_scores
                                WHERE device_id = ?1 AND timestamp BETWEEN ?2 AND ?3)",
            )?;
            for (from, to) in clock::newer_than(timestamp) {
                if any_newer.query_row(params![device, from, to], |r| r.get::<_, bool>(0))? {
                    return Ok(ScoreOutcome::Late);
                }
            }
            Ok(ScoreOutcome::New)
        })
        .await
    }

    /// Every registered device with its newest score, by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.read(|conn| {
            let ids: Vec<DeviceId> = conn
                .prepare("SELECT id FROM clicker_devices ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            ids.into_iter()
                .map(|id| {
                    Ok(DeviceRecord {
                        id,
                        latest: latest_score(conn, id)?,
                    })
                })
                .collect()
        })
        .await
    }

    /// A device's whole score series in timestamp order (a 32-bit wrap
    /// included: see [`clock::sort_series`]); `None` for an unknown device.
    pub async fn device_scores(
        &self,
        device: DeviceId,
    ) -> Result<Option<Vec<ScoreRecord>>, StoreError> {
        self.read(move |conn| {
            let exists = conn
                .query_row(
                    "SELECT 1 FROM clicker_devices WHERE id = ?1",
                    [device],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !exists {
                return Ok(None);
            }
            let mut stmt = conn.prepare(
                "SELECT timestamp, score, msg_id, received_at FROM clicker_scores
                 WHERE device_id = ?1 ORDER BY timestamp",
            )?;
            let rows = stmt.query_map([device], |r| {
                Ok(ScoreRecord {
                    timestamp: r.get(0)?,
                    score: r.get(1)?,
                    msg_id: r.get(2)?,
                    received_at: r.get(3)?,
                })
            })?;
            let mut rows: Vec<ScoreRecord> = rows.collect::<Result<_, _>>()?;
            clock::sort_series(&mut rows, |r| r.timestamp);
            Ok(Some(rows))
        })
        .await
    }
}

/// Records that `holder` holds `device` now (taking it over from any other
/// connection) and logs it, so every node's listeners hear of it.
fn hold(tx: &mut Tx<'_>, device: DeviceId, holder: Holder) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO device_presence (device_id, node, session) VALUES (?1, ?2, ?3)
         ON CONFLICT (device_id) DO UPDATE SET node = excluded.node, session = excluded.session",
    )?
    .execute(params![device, holder.node as i64, holder.session as i64])?;
    tx.publish(Change::presence(device, holder, true));
    Ok(())
}

/// Every connected device's holder.
pub(super) fn holders(conn: &rusqlite::Connection) -> Result<Vec<(DeviceId, Holder)>, StoreError> {
    let mut stmt = conn.prepare("SELECT device_id, node, session FROM device_presence")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, DeviceId>(0)?,
            Holder {
                node: r.get::<_, i64>(1)? as u64,
                session: r.get::<_, i64>(2)? as u64,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A device's newest score by [`clock::newest`]: the largest timestamp,
/// unless the clock wrapped after it.
fn latest_score(
    conn: &rusqlite::Connection,
    device: DeviceId,
) -> Result<Option<LatestScore>, StoreError> {
    latest_score_before(conn, device, i64::MAX)
}

/// Like [`latest_score`], among the scores the server received before
/// `received_before` (ms since the Unix epoch).
pub(super) fn latest_score_before(
    conn: &rusqlite::Connection,
    device: DeviceId,
    received_before: i64,
) -> Result<Option<LatestScore>, StoreError> {
    let mut largest_in = conn.prepare_cached(
        "SELECT timestamp, score FROM clicker_scores
         WHERE device_id = ?1 AND received_at < ?2 AND timestamp BETWEEN ?3 AND ?4
         ORDER BY timestamp DESC LIMIT 1",
    )?;
    let mut largest = |from: i64, to: i64| {
        largest_in
            .query_row(params![device, received_before, from, to], |r| {
                Ok(LatestScore {
                    timestamp: r.get(0)?,
                    score: r.get(1)?,
                })
            })
            .optional()
    };
    let Some(max) = largest(i64::MIN, i64::MAX)? else {
        return Ok(None);
    };
    let (from, to) = clock::BOTTOM_QUARTER;
    let bottom = largest(from, to)?;
    let newest = clock::newest(max.timestamp, bottom.map(|b| b.timestamp));
    Ok(Some(match bottom {
        Some(b) if b.timestamp == newest => b,
        _ => max,
    }))
}
