//! Query strings: parsed into each endpoint's typed query, and a refused one
//! answered with 400 naming the parameters the endpoint takes.

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;

use crate::http_error::ApiError;

/// The endpoint's query, or a 400 whose message ends with `takes` (for
/// example "the only query parameter is preview=<characters>").
pub fn parse<T>(query: Result<Query<T>, QueryRejection>, takes: &str) -> Result<T, ApiError> {
    query
        .map(|Query(query)| query)
        .map_err(|e| ApiError::bad_request(format!("{}; {takes}", e.body_text())))
}
