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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResultsQuery {
    judges_per_hack: Option<i64>,
}

pub async fn results(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    query: Result<Query<ResultsQuery>, QueryRejection>,
) -> Result<Json<ResultsReport>, ApiError> {
    let query = query::parse(query, "the only query parameter is judgesPerHack=<integer>")?;
    Ok(Json(app.core.results(who, query.judges_per_hack).await?))
}

pub async fn results_csv(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    csv(&app, who, Export::Results, "results.csv").await
}

pub async fn hacks_csv(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    csv(&app, who, Export::Hacks, "hacks.csv").await
}

pub async fn judges_csv(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
) -> Result<Response, ApiError> {
    csv(&app, who, Export::Judges, "judges.csv").await
}

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
