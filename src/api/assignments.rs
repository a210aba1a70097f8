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

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssignBody {
    /// How many judges rate each hack.
    #[schema(minimum = 1, maximum = 100)]
    judges_per_hack: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/assignments",
    tag = "assignment",
    operation_id = "assign",
    summary = "Assign judges to hacks (admin)",
    description = "Writes the new and changed judgeHacks rows. Without judgesPerHack (or with an empty body), the previous run's value is used, or 3.",
    request_body(content = Option<AssignBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "What the run wrote.", body = Assigned),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 409, description = "Nothing to assign: no judges or no hacks yet.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn assign(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    Body(bytes): Body,
) -> Result<Json<Assigned>, ApiError> {
    let request: AssignBody = body::optional(&bytes, r#"{"judgesPerHack": integer}"#)?;
    Ok(Json(app.core.assign(who, request.judges_per_hack).await?))
}
