//! The Sledge judging protocol over socket.io: the default namespace on the
//! default path `/socket.io/`, served by the same axum router and port as
//! everything else, for socket.io 4.x and 2.x clients, over WebSocket and
//! long-polling. `docs/sledge-protocol.md` is the protocol as Podium speaks it.
//!
//! ```text
//! session.rs   one socket: its ordered request queue and its identity; turns
//!              events into the core's requests and its answers into replies
//! replies.rs   server events and the acknowledgement format
//! subscriber.rs  a socket as a subscriber of the core's live updates
//! ```
//!
//! Every rule lives in the judging core (`crate::core`); this adapter only
//! speaks socket.io.

pub mod replies;
mod session;
mod subscriber;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;

use crate::core::{Core, SUBSCRIBER_BUFFER};
use crate::limits::{ConnectionLimits, Refused};
use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::SocketIo;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

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
    /// Cancelled when a graceful stop closes connections (`crate::drain`):
    /// every event from then on is refused.
    pub closing: CancellationToken,
}

/// The running protocol: the layer to add to the router and the socket.io
/// handle (to close every client at shutdown).
pub struct SledgeService {
    pub layer: SocketIoLayer,
    pub io: SocketIo,
    pub core: Arc<Core>,
    /// Requests taken and not yet answered, on every socket.
    pub in_flight: Arc<InFlight>,
}

impl SledgeService {
    /// A graceful stop's part here, once `closing` is cancelled (new events
    /// are refused from then on): answers the requests already taken
    /// (waiting at most `within`), then closes every client's engine.io
    /// connection. Unlike a socket.io disconnect ("io server disconnect",
    /// after which clients stay away), a closed connection is "transport
    /// close" to socket.io-client 2 and 4, which then reconnect by
    /// themselves, through the balancer, to another node.
    pub async fn close(&self, within: Duration) {
        if !within.is_zero()
            && tokio::time::timeout(within, self.in_flight.idle())
                .await
                .is_err()
        {
            tracing::warn!(
                "socket.io requests still unanswered after {within:?}: closing their connections anyway (their clients were not acknowledged)"
            );
        }
        // Closes each socket's engine.io connection (after what is queued
        // for it, acknowledgements included), not its namespace.
        self.io.close().await;
    }
}

/// Requests taken from clients and not yet answered, so a graceful stop can
/// answer them before it closes their connections.
#[derive(Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    fn take(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Resolves once no request is waiting for its answer.
    pub async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a `done` in between wakes us.
            notified.as_mut().enable();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Sets up the socket.io namespace on `core`.
pub fn start(settings: Settings, core: Arc<Core>) -> SledgeService {
    let mut builder = SocketIo::builder()
        .max_buffer_size(SUBSCRIBER_BUFFER)
        .ws_max_message_size(MAX_INCOMING)
        .ws_max_frame_size(MAX_INCOMING);
    if let Some(timeout) = settings.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    let (layer, io) = builder.build_layer();
    let for_sockets = core.clone();
    let limits = settings.connection_limits;
    let event_rate = settings.event_rate;
    let in_flight = Arc::new(InFlight::default());
    let stop = session::Stop {
        closing: settings.closing,
        in_flight: in_flight.clone(),
    };
    // Registering in a connect middleware (not the connect handler, which
    // socketioxide runs after confirming the connection) means the client
    // cannot get an event in before the handlers exist. A refusal here
    // reaches the client as a connect error carrying the message.
    let attach = move |socket: SocketRef| {
        let sledge = for_sockets.clone();
        let limits = limits.clone();
        let stop = stop.clone();
        async move {
            let peer = socket
                .req_parts()
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip());
            let permit = limits.admit(peer).inspect_err(|refused| {
                tracing::debug!(?peer, %refused, "socket.io connection refused");
            })?;
            session::attach(sledge, socket, permit, event_rate, stop);
            Ok::<(), Refused>(())
        }
    };
    io.ns("/", (async |_: SocketRef| {}).with(attach));
    SledgeService {
        layer,
        io,
        core,
        in_flight,
    }
}
