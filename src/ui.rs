//! The web pages: `/admin` (the organiser's console), `/judge` (a judge's
//! phone) and `/scoreboard` (the hall screen), with their scripts and style
//! under `/ui/`. The files in `ui/` are embedded at compile time, so the
//! binary serves them with no front-end build and nothing to install. The
//! pages are plain clients of the HTTP API, its event stream and the clicker
//! WebSocket: they have no access the API does not give anyone.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// Every file served, by name under `/ui/` (pages also at `/<page>`).
const FILES: &[(&str, &str)] = &[
    ("admin.html", include_str!("../ui/admin.html")),
    ("judge.html", include_str!("../ui/judge.html")),
    ("scoreboard.html", include_str!("../ui/scoreboard.html")),
    ("index.html", include_str!("../ui/index.html")),
    ("style.css", include_str!("../ui/style.css")),
    ("api.js", include_str!("../ui/api.js")),
    ("live.js", include_str!("../ui/live.js")),
    ("tables.js", include_str!("../ui/tables.js")),
    ("dom.js", include_str!("../ui/dom.js")),
    ("retry.js", include_str!("../ui/retry.js")),
    ("admin.js", include_str!("../ui/admin.js")),
    ("judge.js", include_str!("../ui/judge.js")),
    ("clicker.js", include_str!("../ui/clicker.js")),
    ("scoreboard.js", include_str!("../ui/scoreboard.js")),
    ("speed-board.js", include_str!("../ui/speed-board.js")),
    ("speed-admin.js", include_str!("../ui/speed-admin.js")),
];

/// The routes of the pages and their assets.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/index.html") }))
        .route("/admin", get(|| async { file("admin.html") }))
        .route("/judge", get(|| async { file("judge.html") }))
        .route("/scoreboard", get(|| async { file("scoreboard.html") }))
        .route("/ui/{name}", get(asset))
}

/// Whether `path` is one of the pages or their assets: what a browser on
/// plain HTTP is sent to HTTPS for when TLS is configured, so a judge who
/// types `http://` never sends the login code in clear text.
pub fn is_page(path: &str) -> bool {
    matches!(path, "/" | "/admin" | "/judge" | "/scoreboard") || path.starts_with("/ui/")
}

async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

fn file(name: &str) -> Response {
    let Some((_, body)) = FILES.iter().find(|(n, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such file\n").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, content_type(name)),
            // Pages change only with the binary; revalidating is cheap and
            // keeps an upgraded server from mixing old and new scripts.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response()
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_told_from_the_api_and_the_protocols() {
        for page in ["/", "/admin", "/judge", "/scoreboard", "/ui/admin.js"] {
            assert!(is_page(page), "{page}");
        }
        for other in ["/ws", "/socket.io/", "/api/state", "/healthz", "/adminx"] {
            assert!(!is_page(other), "{other}");
        }
    }

    #[test]
    fn every_file_has_a_known_content_type() {
        for (name, body) in FILES {
            assert_ne!(content_type(name), "application/octet-stream", "{name}");
            assert!(!body.is_empty(), "{name} is empty");
        }
    }
}
