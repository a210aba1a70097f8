//! `GET /api/openapi.json`: the OpenAPI 3 description of the HTTP API,
//! written by hand beside the code (`openapi.json`); a test checks that it
//! lists every route the router has.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
