//! `GET /api/clicker/devices` and `GET /api/clicker/devices/{id}/scores`:
//! every device with its newest score, and one device's whole series as
//! JSON rows or, with `?format=csv`, as CSV; `.../marks` gives the series as
//! RopeScore step marks.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::query::{self, PathParam};
use super::Api;
use crate::http_error::ApiError;
use crate::scoring::{self, Id};
use crate::scoring::{DeviceId, ScoreRecord};

/// One device in the list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    /// Six digits, as the protocol writes it.
    pub id: String,
    pub connected: bool,
    pub latest_score: Option<i64>,
    pub latest_timestamp: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/clicker/devices",
    tag = "clicker",
    operation_id = "clickerDevices",
    summary = "Every clicker and its newest score",
    description = "Public.",
    responses(
        (status = 200, description = "The devices.", body = Vec<DeviceView>),
        (status = 503, description = "Storage failed or the server is shutting down.", body = ApiError),
    ),
)]
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// `json` (the default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/clicker/devices/{id}/scores",
    tag = "clicker",
    operation_id = "clickerScores",
    summary = "A clicker's scores",
    description = "Public. The whole series, as JSON or (format=csv) as CSV `timestamp,score,msgId,receivedAt`.",
    params(("id" = String, Path, description = "The device id, 1 to 999999, in one to six digits: `7` or `000007` as the protocol writes it.", pattern = r"^0{0,5}[1-9][0-9]{0,5}$", min_length = 1, max_length = 6), SeriesQuery),
    responses(
        (status = 200, description = "The series.", content((Vec<ScoreRecord> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A malformed device id or an unknown format.", body = ApiError),
        (status = 404, description = "No such device.", body = ApiError),
        (status = 503, description = "Storage failed or the server is shutting down.", body = ApiError),
    ),
)]
pub async fn scores(
    State(app): State<Arc<Api>>,
    PathParam(id): PathParam,
    query: Result<Query<SeriesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query::parse(
        query,
        "the only query parameter is format=json or format=csv",
    )?;
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
#[utoipa::path(
    get,
    path = "/api/clicker/devices/{id}/marks",
    tag = "clicker",
    operation_id = "clickerMarks",
    summary = "A clicker's series as RopeScore step marks",
    description = "Public.",
    params(("id" = String, Path, description = "The device id, 1 to 999999, in one to six digits: `7` or `000007` as the protocol writes it.", pattern = r"^0{0,5}[1-9][0-9]{0,5}$", min_length = 1, max_length = 6)),
    responses(
        (status = 200, description = "One mark per counted step.", body = Vec<crate::scoring::marks::Mark>),
        (status = 400, description = "A malformed device id.", body = ApiError),
        (status = 404, description = "No such device.", body = ApiError),
        (status = 503, description = "Storage failed or the server is shutting down.", body = ApiError),
    ),
)]
pub async fn marks(
    State(app): State<Arc<Api>>,
    PathParam(id): PathParam,
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
