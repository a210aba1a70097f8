//! The `Idempotency-Key` header of HTTP writes (`crate::store::idempotency`
//! says what a key does). Every POST, PUT, PATCH and DELETE under `/api/`
//! may carry one: it is checked here (400 if malformed), the request is
//! fingerprinted (method, path and query, body) and runs with the key as its
//! claim; the caller's scope is added by the `Caller` extractor. A response
//! that answers a stored outcome says so with `Idempotent-Replayed: true`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Api, BODY_LIMIT};
use crate::http_error::ApiError;
use crate::store::idempotency::{check_key, fingerprint, with_claim, Claim};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Middleware: runs a keyed write under its key.
pub async fn keyed(State(app): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !write || !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let Some(value) = request.headers().get(IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    let key = match value.to_str() {
        Ok(key) => key.to_owned(),
        Err(_) => {
            return ApiError::bad_request(
                "the Idempotency-Key header holds a character that is not visible ASCII: send 1 to 255 of '!' to '~'",
            )
            .into_response()
        }
    };
    if let Err(bad) = check_key(&key) {
        return ApiError::bad_request(format!("Idempotency-Key: {bad}")).into_response();
    }
    // A repeat must be the same request: its body is read whole here to
    // fingerprint it (up to the largest body any endpoint takes).
    let (parts, body) = request.into_parts();
    let limit = app.settings.max_import_bytes.max(BODY_LIMIT);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "cannot read the request body of a keyed write (at most {limit} bytes): {e}"
                ),
            )
            .into_response()
        }
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |p| p.as_str());
    let print = fingerprint(&[parts.method.as_str().as_bytes(), target.as_bytes(), &bytes]);
    let claim = Claim::new(key, print);
    let request = Request::from_parts(parts, Body::from(bytes));
    let mut response = with_claim(claim.clone(), next.run(request)).await;
    if claim.replayed() {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}
