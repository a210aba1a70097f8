//! `GET /api/state`: the whole judging state as the caller sees it, scoped
//! exactly like its socket.io `update-full` (a judge sees every hack and
//! superlative, judges' names, and only its own email, assignments, ratings
//! and placements).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;

use super::caller::Caller;
use crate::http_error::ApiError;
use crate::judging::model::DataStore;
use crate::server::App;

pub async fn state(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
) -> Result<Json<DataStore>, ApiError> {
    Ok(Json(app.sledge.state.state(who).await?))
}
