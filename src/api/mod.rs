//! The HTTP API: JSON (and CSV) beside the socket.io protocol, for scripts
//! and web pages, on the same judging core and the same rules
//! (`crate::core`'s operations, credentials and live updates).
//! `docs/http-api.md` is the reference; `GET /api/openapi.json` describes
//! every endpoint.
//!
//! ```text
//! caller.rs       who is asking: Authorization: Bearer <secret>; POST /api/login
//! body.rs         request bodies: size limits, JSON payloads checked like socket.io's
//! query.rs        query strings and path parameters: a refused one is a JSON 400
//! errors.rs       refusals of the judging core as HTTP statuses
//! state.rs        GET /api/state
//! judging.rs      POST /api/hacks, /api/judges, /api/superlatives, /api/ratings, /api/placements;
//!                 DELETE /api/judges/{judgeId}/ratings/{hackId}
//! import.rs       POST /api/import/devpost, /api/import/judges
//! upload.rs       CSV upload bodies, read as they arrive, up to --max-import-mib
//! assignments.rs  POST /api/assignments
//! results.rs      GET /api/results, /api/results.csv, /api/export/*.csv
//! events.rs       GET /api/events: live updates as Server-Sent Events
//! floor.rs       POST /api/judging/{pause,resume}, /api/absences, /api/absences/clear,
//!                 /api/notes, /api/withdrawals; GET /api/floor: the judging floor
//! handout.rs      GET /api/judges/names (public), GET /api/login-code (admin): signing judges in
//! links.rs        GET /api/judges/links, POST /api/judges/{judgeId}/link (admin), POST /api/login/link
//! devices.rs      GET /api/clicker/devices, .../{id}/scores, .../{id}/marks: clicker history
//! idempotency.rs  the Idempotency-Key header of every write: repeats answer the first answer
//! openapi.rs      GET /api/openapi.json, generated from the handlers' annotations
//! speed.rs        speed events: entries, heat list import, heats, deductions,
//!                 results (JSON, CSV) and the live heat (SSE); docs/speed.md
//! ```

mod assignments;
mod body;
mod caller;
mod devices;
mod errors;
mod events;
mod floor;
mod handout;
mod idempotency;
mod import;
mod judging;
mod links;
mod openapi;
pub(crate) mod query;
mod results;
mod speed;
mod state;
mod upload;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::{any, delete, get, post};
use axum::Router;

use tokio_util::sync::CancellationToken;

use crate::core::heats::Live;
use crate::core::Core;
use crate::http_error::ApiError;
use crate::scoring::Presence;
use crate::store::{ClickerStore, SpeedStore};

/// Largest request body in general: the largest valid JSON payload (a
/// 10 000-character description) is far below it. CSV imports stream
/// theirs, up to `--max-import-mib` (see `upload.rs`).
pub const BODY_LIMIT: usize = 64 * 1024;

/// What the HTTP API's handlers share.
pub struct Api {
    /// The judging core: operations, credentials, live updates.
    pub core: Arc<Core>,
    /// Clicker devices and their score series.
    pub devices: Arc<dyn ClickerStore>,
    /// Speed events: entries, heats, results.
    pub store: Arc<dyn SpeedStore>,
    /// Live speed heats.
    pub speed: Arc<Live>,
    /// Which clicker devices are connected (the clicker adapter knows).
    pub presence: Arc<dyn Presence>,
    pub settings: Settings,
    /// Cancelled when the server closes connections (at once, or after a
    /// graceful stop's drain delay): ends event streams.
    pub shutdown: CancellationToken,
}

/// The configuration the HTTP API reads.
pub struct Settings {
    /// The largest CSV import body, in bytes.
    pub max_import_bytes: usize,
    /// The address judges' sign-in links start with (`--public-url`).
    pub public_url: Option<String>,
    /// Whether the server serves TLS (sign-in links then start `https://`).
    pub tls: bool,
}

/// Every `/api` route.
pub fn router(api: Arc<Api>) -> Router {
    routes()
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            idempotency::keyed,
        ))
        .with_state(api)
}

fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/api/clicker/devices", get(devices::devices))
        .route("/api/clicker/devices/{id}/scores", get(devices::scores))
        .route("/api/clicker/devices/{id}/marks", get(devices::marks))
        .route("/api/login", post(caller::login))
        .route("/api/state", get(state::state))
        .route("/api/hacks", post(judging::add_hack))
        .route("/api/judges", post(judging::add_judge))
        .route("/api/superlatives", post(judging::add_superlative))
        .route("/api/ratings", post(judging::rate))
        .route(
            "/api/judges/{judgeId}/ratings/{hackId}",
            delete(judging::unrate),
        )
        .route("/api/placements", post(judging::rank))
        .route("/api/import/devpost", post(import::devpost))
        .route("/api/import/judges", post(import::judges))
        .route("/api/assignments", post(assignments::assign))
        .route("/api/results", get(results::results))
        .route("/api/results.csv", get(results::results_csv))
        .route("/api/export/hacks.csv", get(results::hacks_csv))
        .route("/api/export/judges.csv", get(results::judges_csv))
        .route("/api/export/ratings.csv", get(results::ratings_csv))
        .route("/api/judging/pause", post(floor::pause))
        .route("/api/judging/resume", post(floor::resume))
        .route("/api/absences", post(floor::mark_absent))
        .route("/api/absences/clear", post(floor::clear_absences))
        .route("/api/notes", post(floor::note))
        .route("/api/withdrawals", post(floor::withdraw))
        .route("/api/floor", get(floor::floor))
        .route("/api/events", get(events::events))
        .route("/api/judges/names", get(handout::judge_names))
        .route("/api/login-code", get(handout::login_code))
        .route("/api/judges/links", get(links::list))
        .route("/api/judges/{judgeId}/link", post(links::reissue))
        .route("/api/login/link", post(links::login))
        .route("/api/openapi.json", get(openapi::document))
        .merge(speed_routes())
        .method_not_allowed_fallback(method_not_allowed)
        .route("/api/{*rest}", any(unknown_endpoint))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// The speed event routes (see `speed`).
fn speed_routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/api/speed/events", post(speed::set_event))
        .route("/api/entries", post(speed::add_entry))
        .route("/api/import/entries", post(speed::import_entries))
        .route("/api/entries/{id}/judges", post(speed::set_entry_judges))
        .route("/api/entries/{id}/deductions", post(speed::set_deductions))
        .route(
            "/api/speed/stations/{station}/judges",
            post(speed::set_station_judges),
        )
        .route("/api/heats/{heat}/start", post(speed::start_heat))
        .route("/api/heats/{heat}/stop", post(speed::stop_heat))
        .route("/api/heats/{heat}/unlock", post(speed::unlock_heat))
        .route("/api/speed/heats", get(speed::heats))
        .route("/api/speed/results", get(speed::results))
        .route("/api/speed/live", get(speed::live))
}

/// A JSON 405 for a known path with another method.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}: GET /api/openapi.json lists each endpoint's methods",
            uri.path()
        ),
    )
}

/// A JSON 404 for any other path under `/api`, pointing at the reference.
async fn unknown_endpoint() -> ApiError {
    ApiError::not_found(
        "no such endpoint: GET /api/openapi.json lists them all (docs/http-api.md explains them)",
    )
}
