//! `GET /api/state`: the whole judging state as the caller sees it, scoped
//! exactly like its socket.io `update-full` (a judge sees every hack and
//! superlative, judges' names, and only its own email, assignments, ratings
//! and placements; hack descriptions only of its own hacks).
//!
//! `?preview=N` cuts every hack description to N characters (an ellipsis
//! marks a cut), for a page that shows only their start: the organiser's
//! console loads 1,000 hacks' names and tables without every story.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;

use super::caller::Caller;
use super::query;
use super::Api;
use crate::http_error::ApiError;
use crate::judging::model::DataStore;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StateQuery {
    /// Cut every hack description to this many characters (an ellipsis marks a cut).
    #[param(minimum = 0, maximum = 18446744073709551615_u64)]
    preview: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/state",
    tag = "state",
    operation_id = "state",
    summary = "The judging state as the caller sees it",
    description = "Scoped exactly like socket.io's `update-full`: the admin sees everything; a judge sees every hack and superlative, judges' names, and only its own email, assignments, ratings, placements and notes, and descriptions only of its own hacks.",
    params(StateQuery),
    responses((status = 200, description = "The state.", body = DataStore)),
    security(("bearer" = [])),
)]
pub async fn state(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    query: Result<Query<StateQuery>, QueryRejection>,
) -> Result<Json<DataStore>, ApiError> {
    let query = query::parse(query, "the only query parameter is preview=<characters>")?;
    let mut state = app.core.state(who).await?;
    if let Some(chars) = query.preview {
        crate::core::view::preview(&mut state, chars);
    }
    Ok(Json(state))
}
