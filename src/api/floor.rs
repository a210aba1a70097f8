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
use crate::core::commands::{MarkAbsent, NoteHack};
use crate::http_error::ApiError;
use crate::judging::floor::Floor;
use crate::judging::model::{Absence, JudgingStatus, Note, Withdrawal};

/// `POST /api/judging/pause` -> `{id: 1, paused: true}`.
#[utoipa::path(
    post,
    path = "/api/judging/pause",
    tag = "floor",
    operation_id = "pauseJudging",
    summary = "Pause judging (admin)",
    description = "While paused, judges cannot rate, rank or mark absences.",
    responses(
        (status = 200, description = "The status.", body = JudgingStatus),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn pause(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Json<JudgingStatus>, ApiError> {
    Ok(Json(app.core.set_paused(who, true).await?))
}

/// `POST /api/judging/resume` -> `{id: 1, paused: false}`.
#[utoipa::path(
    post,
    path = "/api/judging/resume",
    tag = "floor",
    operation_id = "resumeJudging",
    summary = "Resume judging (admin)",
    responses(
        (status = 200, description = "The status.", body = JudgingStatus),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn resume(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Json<JudgingStatus>, ApiError> {
    Ok(Json(app.core.set_paused(who, false).await?))
}

/// `POST /api/absences {judgeId, hackId}` -> the absence.
#[utoipa::path(
    post,
    path = "/api/absences",
    tag = "floor",
    operation_id = "markAbsent",
    summary = "Mark a hack's team absent",
    description = "The admin, or the judge named by judgeId; like socket.io `mark-absent`.",
    request_body(content = crate::core::commands::MarkAbsent, content_type = "application/json"),
    responses(
        (status = 200, description = "The absence.", body = Absence),
        (status = 403, description = "Not allowed: a judge doing the admin's work, or acting as another judge (judgeId must be the caller's own).", body = ApiError),
        (status = 404, description = "No such judge or hack.", body = ApiError),
        (status = 409, description = "Judging is paused.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn mark_absent(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Absence>, ApiError> {
    let absent: MarkAbsent = body::command(&bytes)?;
    Ok(Json(app.core.run(who, absent).await?))
}

/// `POST /api/notes {judgeId, hackId, text}` -> the note.
#[utoipa::path(
    post,
    path = "/api/notes",
    tag = "floor",
    operation_id = "noteHack",
    summary = "A judge's private note on a hack",
    description = "The admin, or the judge named by judgeId; like socket.io `note-hack`. An empty text clears the note.",
    request_body(content = crate::core::commands::NoteHack, content_type = "application/json"),
    responses(
        (status = 200, description = "The note.", body = Note),
        (status = 403, description = "Not allowed: a judge doing the admin's work, or acting as another judge (judgeId must be the caller's own).", body = ApiError),
        (status = 404, description = "No such judge or hack.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn note(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Note>, ApiError> {
    let note: NoteHack = body::command(&bytes)?;
    Ok(Json(app.core.run(who, note).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClearBody {
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    hack_id: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cleared {
    cleared: Vec<Absence>,
}

/// `POST /api/absences/clear {hackId}` -> `{cleared: [absences]}`.
#[utoipa::path(
    post,
    path = "/api/absences/clear",
    tag = "floor",
    operation_id = "clearAbsences",
    summary = "Clear a hack's absence marks (admin)",
    request_body(content = ClearBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The absences cleared.", body = Cleared),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 404, description = "No such hack.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn clear_absences(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Cleared>, ApiError> {
    let request: ClearBody = required(&bytes, r#"{"hackId": integer}"#)?;
    let cleared = app.core.clear_absences(who, request.hack_id).await?;
    Ok(Json(Cleared { cleared }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WithdrawBody {
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    hack_id: i64,
    withdrawn: bool,
}

/// `POST /api/withdrawals {hackId, withdrawn}` -> the withdrawal row.
#[utoipa::path(
    post,
    path = "/api/withdrawals",
    tag = "floor",
    operation_id = "withdraw",
    summary = "Withdraw a hack, or take it back (admin)",
    description = "A withdrawn hack leaves the results and stays in the exports, marked.",
    request_body(content = WithdrawBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The withdrawal row.", body = Withdrawal),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 404, description = "No such hack.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    get,
    path = "/api/floor",
    tag = "floor",
    operation_id = "floor",
    summary = "The judging floor (admin)",
    description = "Each judge's progress and next table, each hack's coverage and absence flags.",
    responses(
        (status = 200, description = "The floor.", body = Floor),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
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
