//! `POST /api/assignments` (admin): runs automatic assignment and writes
//! the new and changed `judgeHacks` rows, which subscribers get as one
//! `update-partial` (each judge only its own). The body is empty or
//! `{"judgesPerHack": k}`; without k, the previous run's k is used, or 3.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::body::{self, Body};
use super::caller::Caller;
use super::Api;
use crate::http_error::ApiError;
use crate::judging::outcomes::Assigned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AssignBody {
    judges_per_hack: Option<i64>,
}

pub async fn assign(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Assigned>, ApiError> {
    let request: AssignBody = body::optional(&bytes, r#"{"judgesPerHack": integer}"#)?;
    Ok(Json(app.core.assign(who, request.judges_per_hack).await?))
}
