//! Request bodies: read whole up to the route's limit (413 beyond it), and
//! JSON payloads checked by the very parser socket.io events go through
//! (`core::requests`, `core::commands`), so a field is required, typed and known alike on
//! both protocols. Any content type is accepted: the endpoint says what the
//! body is.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::BODY_LIMIT;
use crate::core::commands::{self, Command};
use crate::core::requests::{self, EventName};
use crate::http_error::ApiError;

/// The whole request body.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the request body is too large: the limit is {} KiB",
                        BODY_LIMIT / 1024
                    ),
                ))
            }
            Err(rejection) => Err(ApiError::new(
                rejection.status(),
                format!("cannot read the request body: {}", rejection.body_text()),
            )),
        }
    }
}

/// The body as JSON, whole numbers as integers (see
/// [`requests::integral_numbers`]); an empty body (no bytes) is `null`. Blank
/// space alone is neither empty nor JSON, and is refused like other
/// malformed JSON, as the OpenAPI document says.
pub fn json_value(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    requests::integral_numbers(&mut value);
    Ok(value)
}

/// The body as the payload of socket.io event `event`, checked as strictly.
pub fn event(event: EventName, bytes: &[u8]) -> Result<requests::Request, ApiError> {
    let payload = json_value(bytes)?;
    requests::parse(event.as_str(), Some(payload)).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The body as the payload of command `C` (its socket.io event's payload),
/// checked as strictly.
pub fn command<C: Command>(bytes: &[u8]) -> Result<C, ApiError> {
    let payload = json_value(bytes)?;
    commands::parse::<C>(payload).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The body as `T`, or `T::default()` when it is empty.
pub fn optional<T: DeserializeOwned + Default>(bytes: &[u8], shape: &str) -> Result<T, ApiError> {
    match json_value(bytes)? {
        Value::Null => Ok(T::default()),
        value => serde_json::from_value(value).map_err(|e| {
            ApiError::bad_request(format!("{e}; the body is shaped {shape}, or empty"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schemathesis sent `3931777994474318.0` as an id: a whole number
    /// JSON Schema calls an integer. Parsed to the nearest float (not one
    /// ulp off, which is `...318.5`), it is taken as that integer.
    #[test]
    fn whole_numbers_written_as_floats_parse_exactly() {
        let value = json_value(br#"{"hackId": 3931777994474318.0}"#).unwrap();
        assert_eq!(value["hackId"].as_i64(), Some(3_931_777_994_474_318));
    }
}
