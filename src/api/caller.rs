//! Who is asking. Every endpoint but `POST /api/login` and
//! `GET /api/openapi.json` needs `Authorization: Bearer <secret>`: the
//! admin secret (the admin), or a secret `login` issued to a judge (that
//! judge). The secret is checked through the same throttle as socket.io's
//! `authenticate`, so failures from one address slow that address down on
//! both protocols.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use serde::Serialize;

use super::body::{self, Body};
use super::Api;
use crate::core::auth::Identity;
use crate::core::requests::{EventName, Request};
use crate::http_error::ApiError;

/// The identity of an authenticated request: the admin or one judge.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Identity);

/// The client's address (the TCP peer), for throttling.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

impl FromRequestParts<Arc<Api>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<Api>) -> Result<Self, ApiError> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, app).await;
        let secret = bearer_secret(&parts.headers)?;
        let who = identify(app, ip, secret.as_deref()).await?;
        // Keys are the caller's own: another caller's same key is another key.
        if let Some(scope) = who.idempotency_scope() {
            crate::store::idempotency::set_scope(scope);
        }
        Ok(Caller(who))
    }
}

/// The secret of an `Authorization: Bearer <secret>` header, if there is one.
pub fn bearer_secret(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        unauthorized("the Authorization header must be `Bearer <secret>`, with the admin secret or a judge's secret from POST /api/login")
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, secret) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let secret = secret.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || secret.is_empty() {
        return Err(malformed());
    }
    Ok(Some(secret.to_owned()))
}

/// The identity `secret` names; 401 without one.
pub async fn identify(
    app: &Api,
    ip: Option<IpAddr>,
    secret: Option<&str>,
) -> Result<Identity, ApiError> {
    let secret = secret.ok_or_else(|| {
        unauthorized("this endpoint needs credentials: send `Authorization: Bearer <secret>` with the admin secret or a judge's secret from POST /api/login")
    })?;
    Ok(app.core.identify(ip, secret).await?)
}

/// 403 unless `who` is the admin; `refusal` says what only the admin may do.
pub fn admin_only(who: Identity, refusal: &'static str) -> Result<(), ApiError> {
    if who == Identity::Admin {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN, refusal))
    }
}

/// A 401 that tells the client which scheme to use.
pub fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, message).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"podium\""),
    )
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedIn {
    /// The judge's secret: `Authorization: Bearer <secret>`.
    #[schema(pattern = r"^[0-9a-f]{64}$")]
    secret: String,
    /// The judge's id.
    user_id: i64,
}

impl LoggedIn {
    pub fn new(secret: String, user_id: i64) -> LoggedIn {
        LoggedIn { secret, user_id }
    }
}

/// `POST /api/login {judgeId, loginCode}`: a new secret for the judge, as
/// socket.io's `login` issues, under the same throttle.
#[utoipa::path(
    post,
    path = "/api/login",
    tag = "credentials",
    operation_id = "login",
    summary = "Sign a judge in with the login code",
    description = "A new secret for the judge, as socket.io `login` issues, under the same throttle. Earlier secrets stay valid. Public.",
    request_body(content = crate::core::requests::Login, content_type = "application/json"),
    responses(
        (status = 200, description = "The judge's new secret.", body = LoggedIn),
        (status = 401, description = "Wrong login code.", body = ApiError),
        (status = 404, description = "No judge has this id.", body = ApiError),
        (status = 429, description = "Too many wrong login codes, link tokens or secrets from this address (or for this judge): wait as long as Retry-After says.", body = ApiError, headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ),
)]
pub async fn login(
    State(app): State<Arc<Api>>,
    ClientIp(ip): ClientIp,
    Body(bytes): Body,
) -> Result<Json<LoggedIn>, ApiError> {
    let Request::Login(login) = body::event(EventName::Login, &bytes)? else {
        unreachable!("a login body parses as a login request")
    };
    let secret = app
        .core
        .login(ip, login.judge_id, &login.login_code)
        .await?;
    Ok(Json(LoggedIn {
        secret,
        user_id: login.judge_id,
    }))
}
