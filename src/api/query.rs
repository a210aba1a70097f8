//! Query strings and path parameters: parsed into each endpoint's typed
//! query, and a refused one answered with a JSON 400 (axum's own refusals
//! are plain text) naming the parameters the endpoint takes.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;

use crate::http_error::ApiError;

/// The endpoint's query, or a 400 whose message ends with `takes` (for
/// example "the only query parameter is preview=<characters>").
pub fn parse<T>(query: Result<Query<T>, QueryRejection>, takes: &str) -> Result<T, ApiError> {
    query
        .map(|Query(query)| query)
        .map_err(|e| ApiError::bad_request(format!("{}; {takes}", e.body_text())))
}

/// A route's one path parameter, as sent (decoded); the handler parses it.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // Fails only on a segment that does not decode to UTF-8 (`%FF`).
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(text)| PathParam(text))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}
