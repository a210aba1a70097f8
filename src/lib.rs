//! Podium: a live scoring and judging server.
//!
//! One binary, one port (plain and, optionally, TLS), two protocols on one core:
//!
//! ```text
//! config.rs        settings from flags and PODIUM_* environment variables
//! server.rs        axum router (/ws, /socket.io, /healthz, /metrics, /api), start, shutdown
//! listener.rs      accept loop: socket tuning, TLS-or-plain by first byte, header and
//!                  handshake time bounds, HTTP/1.1 with upgrades, graceful drain
//! tls.rs           the optional TLS certificate and key, loaded and checked at start
//! compression.rs   gzip/brotli for HTTP responses (pages, JSON, CSV, the event stream)
//! metrics.rs       Prometheus text metrics
//! limits.rs        connection limits (in all, per address) and the clicker rate limit
//! secrets.rs       CSPRNG secrets, hashing, constant-time comparison
//! operator_secrets.rs  the Sledge admin secret and login code: configured or generated, kept hashed
//! judge_links.rs   the key judges' sign-in link tokens derive from, and the tokens
//! origins.rs       which browser origins may use /ws, /socket.io/ and /api/
//! http_error.rs    JSON errors of the HTTP API
//! ui.rs            the web pages (/admin, /judge, /scoreboard), embedded at compile time
//! api/             the HTTP API: state, writes, imports, assignment, results, exports, SSE
//! store/           SQLite: migrations, the group-commit writer, the change log (every
//!                  committed change numbered, epoch), one module per table group
//! clicker/         the clicker protocol: pure parser, fan-out hub, connection loop, history API
//! judging/         the judging domain: model, validation, import, assignment, results, export,
//!                  the judging floor (absences in assignment, the organiser's floor view)
//! speed/           speed events: IJRU rules, tallies from clicker counts, live heats
//! sledge/          the judging core both protocols share (operations, credentials, live
//!                  updates, reports) and the Sledge protocol over socket.io
//! ```
//!
//! Tests start a server with [`server::start`] on an ephemeral loopback port
//! ([`config::ServeConfig::local`]) and drive it with real clients.

pub mod api;
pub mod clicker;
pub mod compression;
pub mod config;
pub mod http_error;
pub mod judge_links;
pub mod judging;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod operator_secrets;
pub mod origins;
pub mod secrets;
pub mod server;
pub mod sledge;
pub mod speed;
pub mod store;
pub mod tls;
pub mod ui;
