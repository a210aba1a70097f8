//! The web pages: `/admin` (the organiser's console), `/judge` (a judge's
//! phone) and `/scoreboard` (the hall screen), with their scripts and style
//! under `/ui/`. The files in `ui/` are embedded at compile time, so the
//! binary serves them with no front-end build and nothing to install. The
//! pages are plain clients of the HTTP API, its event stream and the clicker
//! WebSocket: they have no access the API does not give anyone.
//!
//! Every file carries an ETag (a hash of its content), so a phone that
//! reloads a page revalidates each file and gets an empty 304 instead of
//! the file again.
//!
//! `/judge` is also an installable web app: a manifest and a service worker
//! (`/judge-sw.js`, at the root so its scope can be `/judge`) that keeps the
//! page's files for opening with no network. The worker is served with a
//! version (a hash of every file) written into it, so a server with other
//! files is a new worker, which replaces the old cache instead of keeping
//! old files forever.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

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
    ("floor.js", include_str!("../ui/floor.js")),
    ("links.js", include_str!("../ui/links.js")),
    ("judge.js", include_str!("../ui/judge.js")),
    ("clicker.js", include_str!("../ui/clicker.js")),
    ("scoreboard.js", include_str!("../ui/scoreboard.js")),
    ("speed-board.js", include_str!("../ui/speed-board.js")),
    ("speed-admin.js", include_str!("../ui/speed-admin.js")),
    ("outbox.js", include_str!("../ui/outbox.js")),
    ("judge.webmanifest", include_str!("../ui/judge.webmanifest")),
    ("icon.svg", include_str!("../ui/icon.svg")),
];

/// The judge page's service worker, before its version is written in.
const WORKER: &str = include_str!("../ui/judge-sw.js");

/// The worker as served: its first line names the version of every file,
/// so any change to the files changes the worker's bytes, which is what
/// makes a browser install it afresh (and drop the old cache).
static WORKER_BODY: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for (name, body) in FILES {
        hash.update(name.as_bytes());
        hash.update(body.as_bytes());
    }
    hash.update(WORKER.as_bytes());
    let version = hex::encode(&hash.finalize()[..8]);
    format!("const VERSION = '{version}';\n{WORKER}")
});

/// The routes of the pages and their assets.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/index.html") }))
        .route(
            "/admin",
            get(|h: HeaderMap| async move { file("admin.html", &h) }),
        )
        .route(
            "/judge",
            get(|h: HeaderMap| async move { file("judge.html", &h) }),
        )
        .route(
            "/scoreboard",
            get(|h: HeaderMap| async move { file("scoreboard.html", &h) }),
        )
        .route("/judge-sw.js", get(worker))
        .route("/ui/{name}", get(asset))
}

/// Whether `path` is one of the pages or their assets: what a browser on
/// plain HTTP is sent to HTTPS for when TLS is configured, so a judge who
/// types `http://` never sends the login code in clear text.
pub fn is_page(path: &str) -> bool {
    matches!(
        path,
        "/" | "/admin" | "/judge" | "/scoreboard" | "/judge-sw.js"
    ) || path.starts_with("/ui/")
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    file(&name, &headers)
}

async fn worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // The browser checks for a new worker on each visit; a cached
            // copy would pin the old files.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        WORKER_BODY.as_str(),
    )
        .into_response()
}

/// Each file's ETag, in the order of [`FILES`]. Weak, because the
/// compression layer may send the same file gzip- or brotli-encoded.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, body)| {
            let hash = Sha256::digest(body.as_bytes());
            HeaderValue::from_str(&format!("W/\"{}\"", hex::encode(&hash[..12])))
                .expect("hex is a valid header value")
        })
        .collect()
});

fn file(name: &str, request: &HeaderMap) -> Response {
    let Some(index) = FILES.iter().position(|(n, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such file\n").into_response();
    };
    let etag = ETAGS[index].clone();
    let headers = [
        (header::ETAG, etag.clone()),
        // Pages change only with the binary; revalidating is cheap (a 304)
        // and keeps an upgraded server from mixing old and new scripts.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if unchanged(request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        headers,
        [
            (header::CONTENT_TYPE, content_type(name)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        FILES[index].1,
    )
        .into_response()
}

/// Whether `If-None-Match` names `etag` (compared weakly, as RFC 9110 asks
/// for this header) or is `*`.
fn unchanged(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag.to_str().unwrap_or_default());
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == ours)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_told_from_the_api_and_the_protocols() {
        for page in [
            "/",
            "/admin",
            "/judge",
            "/judge-sw.js",
            "/scoreboard",
            "/ui/admin.js",
        ] {
            assert!(is_page(page), "{page}");
        }
        for other in ["/ws", "/socket.io/", "/api/state", "/healthz", "/adminx"] {
            assert!(!is_page(other), "{other}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists() {
        let etag = ETAGS[0].clone();
        let ask = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
            unchanged(&headers, &etag)
        };
        let strong = etag.to_str().unwrap().trim_start_matches("W/").to_owned();
        assert!(ask(etag.to_str().unwrap()));
        assert!(ask(&strong));
        assert!(ask(&format!("\"other\", {strong}")));
        assert!(ask("*"));
        assert!(!ask("\"other\""));
        assert!(!unchanged(&HeaderMap::new(), &etag));
        assert_ne!(ETAGS[0], ETAGS[1], "files have their own tags");
    }

    #[test]
    fn the_worker_carries_a_version_of_every_file() {
        let first = WORKER_BODY.lines().next().unwrap();
        assert!(first.starts_with("const VERSION = '"), "{first}");
        assert_eq!(first.len(), "const VERSION = '';".len() + 16, "{first}");
        // Every file of the judge page that the worker keeps exists.
        for name in [
            "judge.html",
            "judge.js",
            "outbox.js",
            "api.js",
            "live.js",
            "dom.js",
            "tables.js",
            "retry.js",
            "style.css",
            "judge.webmanifest",
            "icon.svg",
        ] {
            assert!(FILES.iter().any(|(n, _)| *n == name), "{name}");
            assert!(
                WORKER.contains(&format!("'/ui/{name}'")),
                "the worker does not keep {name}"
            );
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
