//! Which web pages may talk to Podium: an `Origin` check in front of the
//! clicker WebSocket (`/ws`), socket.io (`/socket.io/`) and the HTTP API
//! (`/api/`).
//!
//! Browsers name the page behind every WebSocket upgrade and cross-site
//! request in the `Origin` header, always serialised as
//! `scheme://host[:port]` or as `null`. Clickers, scripts and other
//! non-browser clients send none, or a name of their own (Espruino's
//! WebSocket module sends `Origin: Espruino`). So a request passes when it
//! has no `Origin`, when its `Origin` is not one a browser sends (no `://`,
//! and not `null`: no web page is behind it), when the origin is the
//! server's own (its host and port are the `Host` the request was sent to:
//! the pages Podium serves itself), or when the operator listed it
//! (`--allowed-origin`). Anything else, a page on another site that a judge
//! happens to open, gets 403 before it reaches a handler, and the
//! connection is closed after it, so a device that retries starts afresh.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http_error::ApiError;

/// The paths the check guards; other paths (health, metrics) are read-only
/// and need no protection from other sites.
const GUARDED: [&str; 3] = ["/ws", "/socket.io/", "/api/"];

/// The origins allowed besides the server's own.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins {
    /// Normalised `scheme://host[:port]`.
    listed: Vec<String>,
    /// `*` was listed: every origin is allowed.
    any: bool,
}

impl AllowedOrigins {
    /// From configured values already checked by [`parse_origin`].
    pub fn new(configured: &[String]) -> AllowedOrigins {
        AllowedOrigins {
            any: configured.iter().any(|o| o == "*"),
            listed: configured.iter().filter(|o| *o != "*").cloned().collect(),
        }
    }

    /// Whether a request with these `Origin` and `Host` headers may pass.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        if self.any {
            return true;
        }
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if !from_a_browser(&origin) {
            return true;
        }
        if self.listed.contains(&origin) {
            return true;
        }
        match (authority_of(&origin), host) {
            (Some((scheme, authority)), Some(host)) => {
                same_authority(scheme, authority, &host.trim().to_ascii_lowercase())
            }
            _ => false,
        }
    }
}

/// Whether a (trimmed) `Origin` value is one a browser sends: a serialised
/// origin has a scheme and `://`, an opaque one is `null`. Anything else
/// (`Espruino`) names a device or library, where no web page of another site
/// can be behind the request. An empty value (also what a header that is
/// not text becomes) is not trusted either.
fn from_a_browser(origin: &str) -> bool {
    origin.contains("://") || origin == "null" || origin.is_empty()
}

/// Splits `scheme://authority` (nothing after the authority); `None` for
/// opaque origins such as `null`.
fn authority_of(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    (!authority.is_empty() && !authority.contains(['/', '?', '#', '@']))
        .then_some((scheme, authority))
}

/// Whether `authority` (from an origin of `scheme`) names `host`, the port
/// implied by the scheme counting as written.
fn same_authority(scheme: &str, authority: &str, host: &str) -> bool {
    let default_port = match scheme {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return authority == host,
    };
    let strip = |a: &'_ str| -> String { a.strip_suffix(default_port).unwrap_or(a).to_string() };
    strip(authority) == strip(host)
}

/// Checks one configured origin: `*`, or `scheme://host[:port]` with scheme
/// http or https; returns it normalised (lower case, no trailing slash).
pub fn parse_origin(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value == "*" {
        return Ok(value.to_string());
    }
    let normalised = value.trim_end_matches('/').to_ascii_lowercase();
    match authority_of(&normalised) {
        Some(("http" | "https", _)) => Ok(normalised),
        _ => Err(format!(
            "{value:?} is not an origin: write scheme://host[:port], e.g. https://scores.example.org \
             or http://192.168.1.20:8080 (no path), or * to allow every origin"
        )),
    }
}

/// The middleware: refuses guarded requests from origins not allowed.
pub async fn check(
    State(allowed): State<Arc<AllowedOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let guarded = GUARDED
        .iter()
        .any(|p| path == p.trim_end_matches('/') || path.starts_with(p));
    if guarded {
        let headers = request.headers();
        let origin = headers
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or(""));
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        if !allowed.allows(origin, host) {
            tracing::debug!(
                ?origin,
                ?host,
                path,
                "request from a foreign origin refused"
            );
            let message = format!(
                "requests from the web page at {} are not allowed here: \
                 only this server's own pages and the origins the operator \
                 listed (--allowed-origin) may connect",
                origin.unwrap_or_default()
            );
            let mut refused = ApiError::new(StatusCode::FORBIDDEN, message).into_response();
            // Not kept alive: a device that retries gets a fresh connection.
            refused.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return refused;
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> AllowedOrigins {
        AllowedOrigins::default()
    }

    #[test]
    fn no_origin_and_same_origin_pass() {
        let d = default();
        assert!(d.allows(None, Some("10.0.0.5:8080")));
        assert!(d.allows(None, None));
        assert!(d.allows(Some("http://10.0.0.5:8080"), Some("10.0.0.5:8080")));
        assert!(d.allows(
            Some("HTTP://Scores.Example:8080/"),
            Some("scores.example:8080")
        ));
        // The scheme's own port may be written or implied on either side.
        assert!(d.allows(Some("http://scores.example"), Some("scores.example:80")));
        assert!(d.allows(Some("https://scores.example:443"), Some("scores.example")));
        assert!(d.allows(Some("http://[::1]:8080"), Some("[::1]:8080")));
    }

    #[test]
    fn other_origins_are_refused() {
        let d = default();
        assert!(!d.allows(Some("http://evil.example"), Some("10.0.0.5:8080")));
        // Same host, another port is another origin.
        assert!(!d.allows(Some("http://10.0.0.5:9090"), Some("10.0.0.5:8080")));
        assert!(!d.allows(Some("http://10.0.0.5"), Some("10.0.0.5:8080")));
        // Opaque origins (sandboxed frames, files) and junk.
        assert!(!d.allows(Some("null"), Some("10.0.0.5:8080")));
        assert!(!d.allows(Some(""), Some("10.0.0.5:8080")));
        assert!(!d.allows(Some("http://10.0.0.5:8080@evil"), Some("10.0.0.5:8080")));
        assert!(!d.allows(Some("http://10.0.0.5:8080"), None));
        assert!(!d.allows(Some("https://10.0.0.5:443"), Some("10.0.0.5:80")));
    }

    #[test]
    fn origins_no_browser_sends_pass() {
        let d = default();
        // Espruino's WebSocket module, and other libraries' own names.
        for origin in ["Espruino", " espruino ", "MicroPython", "localhost"] {
            assert!(d.allows(Some(origin), Some("10.0.0.5:8080")), "{origin}");
            assert!(d.allows(Some(origin), None), "{origin}");
        }
    }

    #[test]
    fn listed_origins_and_the_wildcard_pass() {
        let listed = AllowedOrigins::new(&[parse_origin("https://Scores.Example.org/").unwrap()]);
        assert!(listed.allows(Some("https://scores.example.org"), Some("127.0.0.1:8080")));
        assert!(!listed.allows(Some("http://scores.example.org"), Some("127.0.0.1:8080")));
        let any = AllowedOrigins::new(&["*".to_string()]);
        assert!(any.allows(Some("http://anything.example"), Some("127.0.0.1:8080")));
    }

    #[test]
    fn configured_values_must_be_origins() {
        assert_eq!(parse_origin(" * ").unwrap(), "*");
        assert_eq!(
            parse_origin("http://192.168.1.20:8080").unwrap(),
            "http://192.168.1.20:8080"
        );
        for bad in [
            "scores.example",
            "https://a.example/admin",
            "ftp://a.example",
            "null",
            "",
        ] {
            let e = parse_origin(bad).unwrap_err();
            assert!(e.contains("scheme://host[:port]"), "{e}");
        }
    }
}
