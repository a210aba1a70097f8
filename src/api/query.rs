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

/// A whole number in a path segment or query value: `7`, `+7`, `007`, or
/// written with a fraction or exponent (`7.0`, `7e0`) as the body's JSON
/// numbers may be (see `sledge::events::integral_numbers`), since the
/// OpenAPI document types these parameters as JSON Schema integers.
pub fn whole_number(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().or_else(|| {
        let f = text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && f.fract() == 0.0)?;
        // -2^63 and 2^63 are exact in f64.
        (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0)
            .contains(&f)
            .then_some(f as i64)
    })
}

/// A route's path parameters, as sent (decoded): one `String`, or a tuple
/// of them; the handler parses them.
pub struct PathParam<T = String>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // Fails only on a segment that does not decode to UTF-8 (`%FF`).
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(text)| PathParam(text))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}
