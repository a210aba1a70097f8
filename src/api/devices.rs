//! `GET /api/clicker/devices` and `GET /api/clicker/devices/{id}/scores`:
//! every device with its newest score, and one device's whole series as
//! JSON rows or, with `?format=csv`, as CSV; `.../marks` gives the series as
//! RopeScore step marks.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::Api;
use crate::http_error::ApiError;
use crate::scoring::{self, Id};
use crate::scoring::{DeviceId, ScoreRecord};

/// One device in the list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    /// Six digits, as the protocol writes it.
    pub id: String,
    pub connected: bool,
    pub latest_score: Option<i64>,
    pub latest_timestamp: Option<i64>,
}

pub async fn devices(State(app): State<Arc<Api>>) -> Result<Json<Vec<DeviceView>>, ApiError> {
    let devices = app.devices.devices().await?;
    Ok(Json(
        devices
            .into_iter()
            .map(|d| DeviceView {
                id: Id(d.id).to_string(),
                connected: app.presence.is_connected(d.id),
                latest_score: d.latest.map(|l| l.score),
                latest_timestamp: d.latest.map(|l| l.timestamp),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    format: Option<String>,
}

pub async fn scores(
    State(app): State<Arc<Api>>,
    Path(id): Path<String>,
    Query(query): Query<SeriesQuery>,
) -> Result<Response, ApiError> {
    let rows = series(&app, &id).await?;
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(rows).into_response()),
        Some("csv") => {
            let mut out = String::from("timestamp,score,msgId,receivedAt\n");
            for r in &rows {
                let msg_id = r.msg_id.map(|m| m.to_string()).unwrap_or_default();
                out.push_str(&format!(
                    "{},{},{},{}\n",
                    r.timestamp, r.score, msg_id, r.received_at
                ));
            }
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response())
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "unknown format {other:?}: use json or csv"
        ))),
    }
}

/// `GET /api/clicker/devices/{id}/marks`: the series as RopeScore step marks.
pub async fn marks(
    State(app): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<Json<Vec<crate::scoring::marks::Mark>>, ApiError> {
    let rows = series(&app, &id).await?;
    let points: Vec<(i64, i64)> = rows.iter().map(|r| (r.timestamp, r.score)).collect();
    Ok(Json(crate::scoring::marks::marks(&points)))
}

/// A device's series, with the API's errors for a bad or unknown id.
pub async fn series(app: &Api, id: &str) -> Result<Vec<ScoreRecord>, ApiError> {
    let device: DeviceId = scoring::device_id(id).ok_or_else(|| {
        ApiError::bad_request(format!(
            "device id {id:?} is not valid: ids are 1 to 999999"
        ))
    })?;
    app.devices
        .device_scores(device)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no device {} is registered", Id(device))))
}
