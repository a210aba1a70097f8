//! The clicker tables: devices (id and hashed secret) and every device's
//! score series. This module alone reads and writes them.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use thiserror::Error;

use super::{now_ms, Store, StoreError};
use crate::secrets;

/// A device id: 1 to 999999, shown as six zero-padded digits.
pub type DeviceId = u32;

/// The highest device id the six-digit format can carry.
pub const MAX_DEVICE_ID: DeviceId = 999_999;

/// A device's newest stored score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LatestScore {
    pub timestamp: i64,
    pub score: i64,
}

/// The answer to a REGISTER.
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: DeviceId,
    /// The secret the device keeps: newly issued, or the one it sent.
    pub secret: String,
    pub latest: Option<LatestScore>,
}

/// What storing one SCORE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreOutcome {
    /// Stored, and the newest score of the device: broadcast it.
    New,
    /// Stored, but older than a score already stored: do not broadcast.
    Late,
    /// A retry of a score already stored: acknowledge, nothing else.
    Duplicate,
}

/// One stored score, as the history API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreRecord {
    pub timestamp: i64,
    pub score: i64,
    /// Null for draft-1 SCOREs, which carry no message id.
    pub msg_id: Option<i64>,
    /// Server receive time, milliseconds since the Unix epoch.
    pub received_at: i64,
}

/// A device and its newest score, as the device list returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub id: DeviceId,
    pub latest: Option<LatestScore>,
}

/// Why a REGISTER could not be served.
#[derive(Debug, Error)]
pub enum RegisterError {
    #[error("no device id is left: all 999999 six-digit ids are taken")]
    IdsExhausted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Registers a device. A secret this server issued earlier gets that
    /// device's id back; anything else (no secret, or one never issued) gets a
    /// new device with a fresh id and secret.
    pub async fn register_device(
        &self,
        secret: Option<String>,
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
                Ok(Ok(Registration {
                    id: next as DeviceId,
                    secret,
                    latest: None,
                }))
            })
            .await?;
        outcome
    }

    /// Stores one SCORE of `device`, durably, and says what it was.
    pub async fn record_score(
        &self,
        device: DeviceId,
        timestamp: i64,
        score: i64,
        msg_id: Option<i64>,
    ) -> Result<ScoreOutcome, StoreError> {
        let received_at = now_ms();
        // One INSERT (the SELECT only reads): no savepoint needed.
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
            let newest: i64 = tx
                .prepare_cached("SELECT MAX(timestamp) FROM clicker_scores WHERE device_id = ?1")?
                .query_row([device], |r| r.get(0))?;
            Ok(if newest > timestamp {
                ScoreOutcome::Late
            } else {
                ScoreOutcome::New
            })
        })
        .await
    }

    /// Every registered device with its newest score, by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT d.id,
                        (SELECT timestamp FROM clicker_scores s WHERE s.device_id = d.id ORDER BY timestamp DESC LIMIT 1),
                        (SELECT score FROM clicker_scores s WHERE s.device_id = d.id ORDER BY timestamp DESC LIMIT 1)
                 FROM clicker_devices d ORDER BY d.id",
            )?;
            let rows = stmt.query_map([], |r| {
                let ts: Option<i64> = r.get(1)?;
                let score: Option<i64> = r.get(2)?;
                Ok(DeviceRecord {
                    id: r.get(0)?,
                    latest: ts.zip(score).map(|(timestamp, score)| LatestScore { timestamp, score }),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// A device's whole score series in timestamp order; `None` for an
    /// unknown device.
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
            Ok(Some(rows.collect::<Result<_, _>>()?))
        })
        .await
    }
}

fn latest_score(
    conn: &rusqlite::Connection,
    device: DeviceId,
) -> Result<Option<LatestScore>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT timestamp, score FROM clicker_scores WHERE device_id = ?1
             ORDER BY timestamp DESC LIMIT 1",
        )?
        .query_row([device], |r| {
            Ok(LatestScore {
                timestamp: r.get(0)?,
                score: r.get(1)?,
            })
        })
        .optional()?)
}
