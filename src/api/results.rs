//! Results and CSV exports (admin only): `GET /api/results` (JSON, with
//! coverage; `?judgesPerHack=k` measures coverage against k instead of the
//! latest assignment's), `GET /api/results.csv`, and
//! `GET /api/export/{hacks,judges,ratings}.csv`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::caller::Caller;
use super::query;
use super::Api;
use crate::core::reports::{Export, ResultsReport};
use crate::http_error::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// Measure coverage against this many judges per hack.
    #[param(minimum = 1, maximum = 100)]
    judges_per_hack: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/results",
    tag = "results",
    operation_id = "results",
    summary = "Results (admin)",
    description = "Hacks ranked by normalised score, superlative rankings, and coverage against judgesPerHack (by default the latest assignment's, or 3).",
    params(ResultsQuery),
    responses(
        (status = 200, description = "The results.", body = ResultsReport),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn results(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    query: Result<Query<ResultsQuery>, QueryRejection>,
) -> Result<Json<ResultsReport>, ApiError> {
    let query = query::parse(query, "the only query parameter is judgesPerHack=<integer>")?;
    Ok(Json(app.core.results(who, query.judges_per_hack).await?))
}

#[utoipa::path(
    get,
    path = "/api/results.csv",
    tag = "results",
    operation_id = "resultsCsv",
    summary = "Results as CSV (admin)",
    responses(
        (status = 200, description = "The ranked hacks, as an attachment.", body = String, content_type = "text/csv"),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn results_csv(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    csv(&app, who, Export::Results, "results.csv").await
}

#[utoipa::path(
    get,
    path = "/api/export/hacks.csv",
    tag = "results",
    operation_id = "exportHacks",
    summary = "Export hacks as CSV (admin)",
    responses(
        (status = 200, description = "Every hack, as an attachment.", body = String, content_type = "text/csv"),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn hacks_csv(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    csv(&app, who, Export::Hacks, "hacks.csv").await
}

#[utoipa::path(
    get,
    path = "/api/export/judges.csv",
    tag = "results",
    operation_id = "exportJudges",
    summary = "Export judges as CSV (admin)",
    responses(
        (status = 200, description = "Every judge, as an attachment.", body = String, content_type = "text/csv"),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn judges_csv(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    csv(&app, who, Export::Judges, "judges.csv").await
}

#[utoipa::path(
    get,
    path = "/api/export/ratings.csv",
    tag = "results",
    operation_id = "exportRatings",
    summary = "Export ratings as CSV (admin)",
    responses(
        (status = 200, description = "Every rating, as an attachment.", body = String, content_type = "text/csv"),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn ratings_csv(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    csv(&app, who, Export::Ratings, "ratings.csv").await
}

async fn csv(
    app: &Api,
    who: crate::core::auth::Identity,
    what: Export,
    file_name: &'static str,
) -> Result<Response, ApiError> {
    let text = app.core.export(who, what).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        text,
    )
        .into_response())
}
