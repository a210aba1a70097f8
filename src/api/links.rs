//! Judges' sign-in links: `GET /api/judges/links` and
//! `POST /api/judges/{judgeId}/link` (admin: each judge's link with its QR code
//! as SVG), and `POST /api/login/link {token}` (a judge's phone: a secret,
//! as `POST /api/login` answers).
//!
//! A link is `<base>/judge#token=<token>`: the token travels in the
//! fragment, which browsers never send, so it is in no request line and no
//! proxy's log. The base is `--public-url`, or else the address the
//! organiser's browser used.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::uri::Authority;
use axum::http::{header, HeaderMap};
use axum::Json;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use serde::{Deserialize, Serialize};

use super::body::{self, Body};
use super::caller::{self, Caller, ClientIp, LoggedIn};
use super::query::PathParam;
use super::Api;
use crate::core::auth::Identity;
use crate::core::links::JudgeLink;
use crate::http_error::ApiError;

/// The longest a link may be made valid for: a long event with set-up days.
pub const MAX_VALID_HOURS: u64 = 24 * 30;

/// A judge's sign-in link (`JudgeLink` in the OpenAPI document).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = JudgeLink)]
pub struct LinkAnswer {
    judge_id: i64,
    name: String,
    url: String,
    /// Milliseconds since the Unix epoch, or `null`: until re-issued.
    expires_at: Option<i64>,
    /// The URL as a QR code, an SVG document.
    qr_svg: String,
}

/// `GET /api/judges/links` (admin): every judge's link, issuing one for
/// judges that have none that can be shown.
#[utoipa::path(
    get,
    path = "/api/judges/links",
    tag = "credentials",
    operation_id = "judgeLinks",
    summary = "Every judge's sign-in link and QR code (admin)",
    description = "Issues a link for judges that have none that can be shown. The links' address is --public-url, or else this request's Host.",
    responses(
        (status = 200, description = "One link per judge, in id order.", body = Vec<LinkAnswer>),
        (status = 400, description = "No usable Host header and no --public-url.", body = ApiError),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    headers: HeaderMap,
) -> Result<Json<Vec<LinkAnswer>>, ApiError> {
    admin_only(who)?;
    let base = base_url(&app, &headers)?;
    let links = app.core.judge_links().await?;
    Ok(Json(
        links.into_iter().map(|link| answer(&base, link)).collect(),
    ))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reissue {
    /// Hours until the new link expires; absent: until it is re-issued.
    #[schema(minimum = 1, maximum = 720)]
    valid_hours: Option<u64>,
}

/// `POST /api/judges/{judgeId}/link {validHours?}` (admin): a new link for the
/// judge; the old one stops working.
#[utoipa::path(
    post,
    path = "/api/judges/{judgeId}/link",
    tag = "credentials",
    operation_id = "reissueJudgeLink",
    summary = "A new sign-in link for one judge (admin)",
    description = "The judge's old link stops working. The body may be empty: the link then lasts until re-issued.",
    params(("judgeId" = i64, Path, description = "The judge's id.", minimum = 1)),
    request_body(content = Option<Reissue>, content_type = "application/json"),
    responses(
        (status = 200, description = "The new link.", body = LinkAnswer),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 404, description = "No judge has this id.", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn reissue(
    State(app): State<Arc<Api>>,
    Caller(who): Caller,
    PathParam(judge): PathParam,
    headers: HeaderMap,
    Body(bytes): Body,
) -> Result<Json<LinkAnswer>, ApiError> {
    admin_only(who)?;
    let number = super::query::whole_number(&judge);
    let judge: i64 = number.filter(|id| *id >= 1).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{judge:?} is not a judge id: judges are numbered from 1"
        ))
    })?;
    let Reissue { valid_hours } = body::optional(&bytes, "{\"validHours\": 12}")?;
    let valid_for = match valid_hours {
        Some(h @ 1..=MAX_VALID_HOURS) => Some(Duration::from_secs(h * 3600)),
        Some(h) => {
            return Err(ApiError::bad_request(format!(
                "validHours {h} is out of range: from 1 to {MAX_VALID_HOURS}, or leave it out for a link that lasts until re-issued"
            )))
        }
        None => None,
    };
    let base = base_url(&app, &headers)?;
    let link = app.core.reissue_link(judge, valid_for).await?;
    Ok(Json(answer(&base, link)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkLogin {
    /// The token of a sign-in link (after `#token=`).
    token: String,
}

impl std::fmt::Debug for LinkLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkLogin { .. }")
    }
}

/// `POST /api/login/link {token}`: a new secret for the judge whose link
/// it is, under the same throttle as the login code.
#[utoipa::path(
    post,
    path = "/api/login/link",
    tag = "credentials",
    operation_id = "loginLink",
    summary = "Sign a judge in with a sign-in link's token",
    description = "A new secret for the judge whose link it is, under the same throttle as the login code. Public.",
    request_body(content = LinkLogin, content_type = "application/json"),
    responses(
        (status = 200, description = "The judge's new secret.", body = LoggedIn),
        (status = 401, description = "Unknown or expired token.", body = ApiError),
        (status = 429, description = "Too many wrong login codes, link tokens or secrets from this address (or for this judge): wait as long as Retry-After says.", body = ApiError, headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ),
)]
pub async fn login(
    State(app): State<Arc<Api>>,
    ClientIp(ip): ClientIp,
    Body(bytes): Body,
) -> Result<Json<LoggedIn>, ApiError> {
    let LinkLogin { token } = serde_json::from_value(body::json_value(&bytes)?).map_err(|e| {
        ApiError::bad_request(format!(
            "{e}; the body is shaped {{\"token\": \"...\"}}, the token of a sign-in link"
        ))
    })?;
    let (secret, judge) = app.core.login_link(ip, token.trim()).await?;
    Ok(Json(LoggedIn::new(secret, judge)))
}

fn admin_only(who: Identity) -> Result<(), ApiError> {
    caller::admin_only(who, "only the admin may see or issue sign-in links")
}

/// Where judges reach this server: `--public-url`, or the Host the
/// organiser's browser asked for, over https when TLS is on.
fn base_url(app: &Api, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(url) = &app.settings.public_url {
        return Ok(url.clone());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| Authority::from_str(h).ok())
        .filter(|a| !a.as_str().contains('@'))
        .ok_or_else(|| {
            ApiError::bad_request(
                "the request has no usable Host header, so the links' address is unknown: start the server with --public-url",
            )
        })?;
    let scheme = if app.settings.tls { "https" } else { "http" };
    Ok(format!("{scheme}://{host}"))
}

fn answer(base: &str, link: JudgeLink) -> LinkAnswer {
    let url = format!("{base}/judge#token={}", link.token);
    LinkAnswer {
        qr_svg: qr_svg(&url),
        judge_id: link.judge_id,
        name: link.name,
        url,
        expires_at: link.expires_at,
    }
}

/// `text` as a QR code in SVG, with its quiet zone.
pub fn qr_svg(text: &str) -> String {
    // A link is well under 200 bytes, far inside what a QR code holds.
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .expect("a sign-in link fits in a QR code");
    // One unit per module keeps the path short (the page scales the image):
    // 500 judges' codes are then 5.5 MB of JSON rather than 6.6.
    code.render::<svg::Color<'_>>()
        .module_dimensions(1, 1)
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn qr_codes_are_svg() {
        let svg =
            super::qr_svg("http://192.168.1.10:8080/judge#token=0123456789abcdef0123456789abcdef");
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
}
