//! The clicker tables on SQLite: devices (id and hashed secret), their
//! holders and every device's score series. This module alone reads and
//! writes them; the rules of each write are in `scoring/ops/`.

use crate::store::RegisterError;
use rusqlite::{params, OptionalExtension};

use super::writer::Tx;
use super::{now_ms, Store, StoreError};
use crate::scoring::clock;
use crate::scoring::ops::reclaim::Reclaim;
use crate::scoring::ops::record_score::{Insert, RecordScore, Stored};
use crate::scoring::ops::register::{self, Register};
use crate::scoring::ops::release::Release;
pub use crate::scoring::{
    DeviceId, DeviceRecord, Holder, LatestScore, Registration, ScoreOutcome, ScoreRecord,
};
use crate::store::runner::{self, Storage};

impl Storage<Register> for Tx<'_> {
    async fn load(&mut self, op: &Register) -> Result<register::Facts, StoreError> {
        if let Some(hash) = op.sent_hash() {
            let known: Option<DeviceId> = self
                .prepare_cached("SELECT id FROM clicker_devices WHERE secret_hash = ?1")?
                .query_row([&hash[..]], |r| r.get(0))
                .optional()?;
            if let Some(id) = known {
                let latest = latest_score(self, id)?;
                return Ok(register::Facts::Known { id, latest });
            }
        }
        let next = self.query_row(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM clicker_devices",
            [],
            |r| r.get(0),
        )?;
        Ok(register::Facts::Unknown { next })
    }

    async fn apply(&mut self, op: &Register, plan: &register::Plan) -> Result<(), StoreError> {
        if let register::Plan::Create { id } = *plan {
            self.execute(
                "INSERT INTO clicker_devices (id, secret_hash, created_at) VALUES (?1, ?2, ?3)",
                params![id, &op.fresh_hash()[..], now_ms()],
            )?;
        }
        self.prepare_cached(
            "INSERT INTO device_presence (device_id, node, session) VALUES (?1, ?2, ?3)
             ON CONFLICT (device_id) DO UPDATE SET node = excluded.node, session = excluded.session",
        )?
        .execute(params![plan.id(), op.holder.node as i64, op.holder.session as i64])?;
        Ok(())
    }
}

impl Storage<Release> for Tx<'_> {
    async fn load(&mut self, _: &Release) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, op: &Release, (): &()) -> Result<bool, StoreError> {
        let released = self
            .prepare_cached(
                "DELETE FROM device_presence WHERE device_id = ?1 AND node = ?2 AND session = ?3",
            )?
            .execute(params![
                op.device,
                op.holder.node as i64,
                op.holder.session as i64
            ])?;
        Ok(released > 0)
    }
}

impl Storage<Reclaim> for Tx<'_> {
    async fn load(&mut self, _: &Reclaim) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, op: &Reclaim, (): &()) -> Result<bool, StoreError> {
        let taken = self
            .prepare_cached(
                "INSERT INTO device_presence (device_id, node, session) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id) DO NOTHING",
            )?
            .execute(params![
                op.device,
                op.holder.node as i64,
                op.holder.session as i64
            ])?;
        Ok(taken > 0)
    }
}

impl Storage<RecordScore> for Tx<'_> {
    async fn load(&mut self, _: &RecordScore) -> Result<(), StoreError> {
        Ok(())
    }

    async fn apply(&mut self, op: &RecordScore, plan: &Insert) -> Result<Stored, StoreError> {
        let inserted = self
            .prepare_cached(
                "INSERT OR IGNORE INTO clicker_scores (device_id, timestamp, score, msg_id, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![op.device, op.timestamp, op.score, op.msg_id, op.received_at])?
            > 0;
        // A retry needs no answer to "is a newer one stored". Otherwise at
        // most two index range probes.
        let mut newer_exists = false;
        if inserted {
            let mut any_in = self.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM clicker_scores
                                WHERE device_id = ?1 AND timestamp BETWEEN ?2 AND ?3)",
            )?;
            for &(from, to) in &plan.newer {
                if any_in.query_row(params![op.device, from, to], |r| r.get::<_, bool>(0))? {
                    newer_exists = true;
                    break;
                }
            }
        }
        Ok(Stored {
            inserted,
            newer_exists,
        })
    }
}

impl Store {
    /// Registers a device (`scoring/ops/register.rs`); `holder` takes hold of its id.
    pub async fn register_device(
        &self,
        secret: Option<String>,
        holder: Holder,
    ) -> Result<Registration, RegisterError> {
        let op = Register::new(secret, holder);
        self.try_write(move |tx| runner::run_now(tx, &op)).await?
    }

    /// `holder`'s connection ended: the device is disconnected, unless
    /// another connection took its id over already.
    pub async fn device_disconnected(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> Result<(), StoreError> {
        let op = Release { device, holder };
        let Ok(()) = self.try_write(move |tx| runner::run_now(tx, &op)).await?;
        Ok(())
    }

    /// `holder` takes `device`'s id back after it was released under it
    /// (true), unless another connection holds it now (false).
    pub async fn reclaim_device(
        &self,
        device: DeviceId,
        holder: Holder,
    ) -> Result<bool, StoreError> {
        let op = Reclaim { device, holder };
        let Ok(taken) = self.try_write(move |tx| runner::run_now(tx, &op)).await?;
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
        // One INSERT (the probes only read): no savepoint needed. The
        // writer logs the score with the other scores of its commit (see
        // `super::log` for why).
        let Ok(outcome) = self.write_one(move |tx| runner::run_now(tx, &op)).await?;
        Ok(outcome)
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
