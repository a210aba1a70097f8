//! The judging floor over HTTP: `POST /api/judging/pause` and
//! `/api/judging/resume` (admin), `POST /api/absences` and `POST /api/notes`
//! (the admin, or the judge named by `judgeId`, with the payloads of
//! socket.io's `mark-absent` and `note-hack`), `POST /api/absences/clear`
//! and `POST /api/withdrawals` (admin), and `GET /api/floor`, the
//! organiser's floor view (admin).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::body::{self, Body};
use super::caller::Caller;
use super::Api;
use crate::core::requests::{EventName, Request};
use crate::http_error::ApiError;
use crate::judging::floor::Floor;
use crate::judging::model::{Absence, JudgingStatus, Note, Withdrawal};

/// `POST /api/judging/pause` -> `{id: 1, paused: true}`.
pub async fn pause(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Json<JudgingStatus>, ApiError> {
    Ok(Json(app.core.set_paused(who, true).await?))
}

/// `POST /api/judging/resume` -> `{id: 1, paused: false}`.
pub async fn resume(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Json<JudgingStatus>, ApiError> {
    Ok(Json(app.core.set_paused(who, false).await?))
}

/// `POST /api/absences {judgeId, hackId}` -> the absence.
pub async fn mark_absent(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Absence>, ApiError> {
    let Request::MarkAbsent(absent) = body::event(EventName::MarkAbsent, &bytes)? else {
        unreachable!("parsed as mark-absent")
    };
    let row = app
        .core
        .mark_absent(who, absent.judge_id, absent.hack_id)
        .await?;
    Ok(Json(row))
}

/// `POST /api/notes {judgeId, hackId, text}` -> the note.
pub async fn note(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Note>, ApiError> {
    let Request::NoteHack(note) = body::event(EventName::NoteHack, &bytes)? else {
        unreachable!("parsed as note-hack")
    };
    let row = app
        .core
        .note(who, note.judge_id, note.hack_id, note.text)
        .await?;
    Ok(Json(row))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClearBody {
    hack_id: i64,
}

#[derive(Debug, Serialize)]
pub struct Cleared {
    cleared: Vec<Absence>,
}

/// `POST /api/absences/clear {hackId}` -> `{cleared: [absences]}`.
pub async fn clear_absences(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Cleared>, ApiError> {
    let request: ClearBody = required(&bytes, r#"{"hackId": integer}"#)?;
    let cleared = app.core.clear_absences(who, request.hack_id).await?;
    Ok(Json(Cleared { cleared }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WithdrawBody {
    hack_id: i64,
    withdrawn: bool,
}

/// `POST /api/withdrawals {hackId, withdrawn}` -> the withdrawal row.
pub async fn withdraw(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Withdrawal>, ApiError> {
    let request: WithdrawBody = required(&bytes, r#"{"hackId": integer, "withdrawn": boolean}"#)?;
    let row = app
        .core
        .set_withdrawn(who, request.hack_id, request.withdrawn)
        .await?;
    Ok(Json(row))
}

/// `GET /api/floor` -> the floor view.
pub async fn floor(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Json<Floor>, ApiError> {
    Ok(Json(app.core.floor(who).await?))
}

/// The body as `T`, every field required and known.
fn required<T: DeserializeOwned>(bytes: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_value(body::json_value(bytes)?)
        .map_err(|e| ApiError::bad_request(format!("{e}; the body is shaped {shape}")))
}
