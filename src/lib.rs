//! Podium: a live scoring and judging server.
//!
//! One binary, one port (plain and, optionally, TLS), two protocols on one core:
//!
//! ```text
//! rooms, from the edge in (an arrow is "imports"; no room imports one to its left):
//!
//!   adapters        clicker/  sledge/  api/  ui.rs   one wire protocol each
//!        |                      \     |    /
//!   core            core/        the judging core: operations, access rules,
//!        |                       live views and their feed (and speed heats)
//!   storage         store/       traits for what the core and adapters need;
//!        |                       SQLite or PostgreSQL (cluster mode) behind them
//!   domain          judging/  speed/  scoring/   plain values and rules
//!
//! server.rs        assembles one node: storage, core, each adapter with its own state
//! listener.rs      accept loop: socket tuning, the PROXY protocol header (optional),
//!                  TLS-or-plain by first byte, header and handshake time bounds,
//!                  HTTP/1.1 with upgrades, graceful drain
//! proxy_protocol.rs  the PROXY protocol v1/v2 header a load balancer sends first
//! config.rs        settings from flags and PODIUM_* environment variables
//! tls.rs           the optional TLS certificate and key, loaded and checked at start
//! compression.rs   gzip/brotli for HTTP responses (pages, JSON, CSV, the event stream)
//! metrics.rs       Prometheus text metrics
//! drain.rs         the graceful stop of a rolling restart (SIGTERM): /healthz
//!                  fails, then connections close after their answers
//! probes.rs        /healthz and /metrics
//! limits.rs        connection limits (in all, per address) and the clicker rate limit
//! secrets.rs       CSPRNG secrets, hashing, constant-time comparison
//! operator_secrets/  the admin secret, the login code and the sign-in link key:
//!                  configured or generated, kept hashed (in cluster mode,
//!                  in the database, re-read every second)
//! origins.rs       which browser origins may use /ws, /socket.io/ and /api/
//! http_error.rs    JSON errors of the HTTP API
//!
//! clicker/         the clicker WebSocket protocol: parser, connection loop, fan-out hub
//! sledge/          the Sledge protocol over socket.io: sessions, replies
//! api/             the HTTP API: judging, imports, results, exports, floor, speed, SSE
//! ui.rs            the web pages (/admin, /judge with its offline worker, /scoreboard), embedded at compile time
//! core/            requests, permissions, credentials and throttles, the judging
//!                  operations, reports, the live mirror and its sync task, speed heats
//! store/           storage traits, the runner of decided writes, and what both
//!                  engines share (the change log's format, idempotency keys: a
//!                  repeated write answers its first answer); store/sqlite/ the
//!                  default engine: migrations, the group-commit writer, the change
//!                  log (every committed change numbered, epoch), one module per
//!                  table group; store/postgres/ the same for cluster mode, with
//!                  the log as the bus between nodes, node leases, the
//!                  wrong-guess budgets the nodes share and the one order
//!                  every batch takes its locks in
//! judging/         the judging model, inputs, refusals, validation, writes as pure
//!                  decisions (ops/), Devpost and judges CSVs, assignment,
//!                  normalised results, exports, the judging floor
//! speed/           speed events: IJRU rules, tallies from clicker counts, heat lists
//! scoring/         the clicker model: device ids, scores, the 32-bit clock, marks
//! ```
//!
//! `docs/architecture.md` follows a clicker `SCORE` and a Sledge `rate-hack`
//! through these rooms.
//!
//! Tests start a server with [`server::start`] on an ephemeral loopback port
//! ([`config::ServeConfig::local`]) and drive it with real clients.

pub mod api;
pub mod clicker;
pub mod compression;
pub mod config;
pub mod core;
pub mod drain;
pub mod http_error;
pub mod judging;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod operator_secrets;
pub mod origins;
pub mod probes;
pub mod proxy_protocol;
pub mod scoring;
pub mod secrets;
pub mod server;
pub mod sledge;
pub mod speed;
pub mod store;
pub mod tls;
pub mod ui;
