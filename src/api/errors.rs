//! The judging core's refusals as HTTP statuses: 400 bad input, 401 no or
//! unknown credentials, 403 not allowed, 404 unknown id, 409 conflict with
//! what is stored, 429 throttled, 503 storage or shutdown. Messages are the
//! core's own, except permission refusals, which socket.io words for sockets.

use axum::http::{header, HeaderValue, StatusCode};

use super::caller::unauthorized;
use crate::core::access::AccessError;
use crate::core::auth::{Denied, Identity};
use crate::core::ops::OpError;
use crate::http_error::ApiError;
use crate::judging::error::{JudgingError, RefusalKind};

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> ApiError {
        match denied {
            Denied::NotAuthenticated { op } => unauthorized(format!(
                "{} needs credentials: send `Authorization: Bearer <secret>`",
                op.endpoint()
            )),
            Denied::NeedsAdmin { op, identity } => {
                let who = match identity {
                    Identity::Judge(judge) => format!("a secret of judge {judge}"),
                    _ => "no admin secret".to_string(),
                };
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "{} is for the admin only, and this request carries {who}: use the admin secret",
                        op.endpoint()
                    ),
                )
            }
            Denied::OtherJudge { op, me, other } => ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this request carries a secret of judge {me} and cannot {} as judge {other}: judgeId must be {me}",
                    op.endpoint()
                ),
            ),
        }
    }
}

impl From<JudgingError> for ApiError {
    fn from(e: JudgingError) -> ApiError {
        let status = match e.kind() {
            RefusalKind::Invalid => StatusCode::BAD_REQUEST,
            RefusalKind::NotFound => StatusCode::NOT_FOUND,
            RefusalKind::Conflict => StatusCode::CONFLICT,
        };
        let error = ApiError::new(status, e.to_string());
        match e.row() {
            Some(row) => error.with_field("row", row),
            None => error,
        }
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> ApiError {
        match e {
            OpError::Denied(denied) => denied.into(),
            OpError::Judging(e) => e.into(),
            OpError::KeyReused(e) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            OpError::Store(e) => e.into(),
            OpError::Import(e) => {
                let row = e.row;
                ApiError::bad_request(format!("{e}; nothing was imported")).with_field("row", row)
            }
            OpError::Unavailable(e) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> ApiError {
        match e {
            AccessError::Throttled(too_many) => {
                let seconds = too_many.retry_after.as_secs().max(1);
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, too_many.to_string())
                    .with_header(header::RETRY_AFTER, HeaderValue::from(seconds))
            }
            AccessError::Judging(e) => e.into(),
            AccessError::Store(e) => e.into(),
            refused @ (AccessError::Authenticate(_)
            | AccessError::UnknownSecret
            | AccessError::WrongLoginCode
            | AccessError::UnknownLink
            | AccessError::ExpiredLink) => unauthorized(refused.to_string()),
        }
    }
}
