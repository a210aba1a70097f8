//! The Sledge judging protocol over socket.io: the default namespace on the
//! default path `/socket.io/`, served by the same axum router and port as
//! everything else, for socket.io 4.x and 2.x clients, over WebSocket and
//! long-polling. `docs/sledge-protocol.md` is the protocol as Podium speaks it.
//!
//! ```text
//! events.rs    client events parsed into typed requests
//! events_props.rs  property tests of that parsing with random and mutated JSON
//! replies.rs   server events and the acknowledgement format
//! auth.rs      identities and who may do what (pure; both protocols)
//! throttle.rs  slowing down repeated failed logins per client address
//! access.rs    login, sign-in links, authenticate and bearer secrets, throttled
//!              (both protocols)
//! links.rs     judges' sign-in links for the organiser: list, re-issue
//! ops.rs       the judging operations with their permission rules (both protocols)
//! floor.rs     the judging floor's operations: pause, absences, notes, withdrawals,
//!              and the organiser's floor view (both protocols)
//! reports.rs   results and CSV exports for the admin (both protocols)
//! session.rs   one socket: its ordered request queue and its identity
//! view.rs      the mirror of the judging tables and per-viewer scoping (pure)
//! sync.rs      the live-update task: full and partial updates in commit order,
//!              to sockets and to the HTTP API's event streams
//! ```
//!
//! [`Sledge`] is the judging core both protocols share: the HTTP API
//! (`crate::api`) calls the same operations, credentials and live updates
//! as the socket.io sessions here, so the two cannot drift apart.

pub mod access;
pub mod auth;
pub mod events;
#[cfg(test)]
mod events_props;
pub mod floor;
pub mod links;
pub mod ops;
pub mod replies;
pub mod reports;
mod session;
pub mod sync;
pub mod throttle;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;

use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::SocketIo;
use tokio_util::sync::CancellationToken;

use crate::limits::{ConnectionLimits, Refused};
use crate::metrics::Metrics;
use crate::operator_secrets::OperatorSecrets;
use crate::store::log::Log;
use crate::store::{Changes, Store, StoreError};

/// Packets socket.io may hold for one client; a live-update subscriber that
/// lets this fill is dropped (see [`sync`]). Diffs that arrive together are
/// merged into one packet, so only a client that stopped reading fills it;
/// a merged packet holds at most [`sync::MAX_PARTIAL_BYTES`] (plus one
/// change), which makes this a bound in bytes too.
pub const SEND_BUFFER: usize = 256;
/// Largest WebSocket message accepted from a client. The largest valid
/// payload (a 10 000-character description) is well under this; long-polling
/// requests are capped by socket.io's own 100 kB payload limit.
pub const MAX_INCOMING: usize = 1 << 20;

/// What the front door decides for socket.io too.
pub struct Settings {
    /// Places for open connections: a socket takes one when it joins the
    /// namespace and frees it when it disconnects.
    pub connection_limits: Arc<ConnectionLimits>,
    /// How long a client may take from opening the transport to joining the
    /// namespace (`None`: socket.io's 45 s).
    pub connect_timeout: Option<Duration>,
    /// Events a second per socket, sustained, and the burst above it
    /// (rate 0: no limit).
    pub event_rate: (u64, u64),
    /// Different judges who must find a team absent before it is flagged.
    pub absent_flag_judges: usize,
}

/// What every Sledge session shares.
pub struct Sledge {
    pub store: Store,
    pub secrets: Arc<OperatorSecrets>,
    pub throttle: throttle::Throttle,
    pub metrics: Arc<Metrics>,
    pub sync: sync::SyncHandle,
    /// Different judges who must find a team absent before it is flagged.
    pub absent_flag_judges: usize,
}

/// The running protocol: the layer to add to the router and the socket.io
/// handle (to close every client at shutdown).
pub struct SledgeService {
    pub layer: SocketIoLayer,
    pub io: SocketIo,
    pub state: Arc<Sledge>,
}

/// Loads the judging tables into the live-update mirror (a snapshot at a
/// position of the change log), starts its task following `changes` from
/// there and sets up the socket.io namespace.
pub async fn start(
    settings: Settings,
    store: Store,
    changes: Changes,
    secrets: Arc<OperatorSecrets>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<SledgeService, StoreError> {
    // `changes` was made before this snapshot is read: the task skips what
    // the snapshot holds and misses nothing after it.
    let (seq, data) = store.judging_snapshot().await?;
    let start = sync::Start {
        epoch: store.epoch(),
        seq,
        data,
    };
    let log: Arc<dyn Log> = Arc::new(store.clone());
    let sync = sync::spawn(start, changes, log, metrics.clone(), shutdown);
    let state = Arc::new(Sledge {
        store,
        secrets,
        throttle: throttle::Throttle::default(),
        metrics,
        sync,
        absent_flag_judges: settings.absent_flag_judges,
    });
    let mut builder = SocketIo::builder()
        .max_buffer_size(SEND_BUFFER)
        .ws_max_message_size(MAX_INCOMING)
        .ws_max_frame_size(MAX_INCOMING);
    if let Some(timeout) = settings.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    let (layer, io) = builder.build_layer();
    let for_sockets = state.clone();
    let limits = settings.connection_limits;
    let event_rate = settings.event_rate;
    // Registering in a connect middleware (not the connect handler, which
    // socketioxide runs after confirming the connection) means the client
    // cannot get an event in before the handlers exist. A refusal here
    // reaches the client as a connect error carrying the message.
    let attach = move |socket: SocketRef| {
        let sledge = for_sockets.clone();
        let limits = limits.clone();
        async move {
            let peer = socket
                .req_parts()
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip());
            let permit = limits.admit(peer).inspect_err(|refused| {
                tracing::debug!(?peer, %refused, "socket.io connection refused");
            })?;
            session::attach(sledge, socket, permit, event_rate);
            Ok::<(), Refused>(())
        }
    };
    io.ns("/", (async |_: SocketRef| {}).with(attach));
    Ok(SledgeService { layer, io, state })
}
