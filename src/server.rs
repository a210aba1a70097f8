//! The HTTP front door: one axum router on one port for the clicker
//! WebSocket (`/ws`), socket.io (`/socket.io/`), health, metrics and the
//! HTTP API (`/api`, see `crate::api`), the web pages (`crate::ui`); plus
//! start-up and graceful shutdown. Connections reach the router through
//! `crate::listener` (TLS or plain, time bounds).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api;
use crate::clicker;
use crate::config::ServeConfig;
use crate::limits::{ConnectionLimits, Refused, RegistrationLimits};
use crate::listener;
use crate::metrics::Metrics;
use crate::operator_secrets::{OperatorSecrets, SecretsFileError};
use crate::origins::{self, AllowedOrigins};
use crate::sledge::{self, SledgeService};
use crate::store::{Store, StoreError};
use crate::tls::{self, TlsError};

/// Tungstenite's default buffers cost about 90 KiB per idle connection;
/// clicker frames are tens of bytes, so these are sized for small text.
const WS_READ_BUFFER: usize = 1024;
const WS_WRITE_BUFFER: usize = 4 * 1024;
/// Frames above this end the connection with close code 1009; frames above
/// the configured command limit but below this get an `ERROR` reply.
const WS_TRANSPORT_LIMIT: usize = 64 * 1024;

/// What every handler shares.
pub struct App {
    /// The settings, minus the Sledge secrets (only their hashes are kept, in `sledge`).
    pub config: ServeConfig,
    pub store: Store,
    pub hub: Arc<clicker::hub::Hub>,
    /// Live speed heats, fed by the hub (see `crate::speed::live`).
    pub speed: Arc<crate::speed::live::Live>,
    pub sledge: SledgeService,
    pub metrics: Arc<Metrics>,
    /// Places for open connections, shared with socket.io.
    pub connection_limits: Arc<ConnectionLimits>,
    /// Clicker REGISTERs per client address.
    pub registration_limits: RegistrationLimits,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// Upgraded connections, so shutdown can wait for their close handshakes.
    pub connections: TaskTracker,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsFileError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A started server.
pub struct Running {
    /// Where it listens (the real port when configured with port 0).
    pub addr: SocketAddr,
    pub app: Arc<App>,
    task: JoinHandle<()>,
}

impl Running {
    /// Shuts down gracefully: stops accepting, closes WebSockets with
    /// "going away", disconnects socket.io clients, waits for them, then
    /// commits and closes storage.
    pub async fn shutdown(self) {
        self.app.shutdown.cancel();
        let _ = self.task.await;
    }

    /// Resolves when the server has stopped.
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Opens storage, binds the port and starts serving in the background.
pub async fn start(mut config: ServeConfig) -> Result<Running, StartError> {
    let data_dir = config.data.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|source| StartError::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    // Checked before storage is opened, so a wrong file stops the start at once.
    let tls = match (&config.tls.tls_cert, &config.tls.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let metrics = Arc::new(Metrics::default());
    // Only hashes of the secrets stay in memory, so take them out of the config.
    let secrets = Arc::new(OperatorSecrets::open(
        &data_dir,
        config.admin_secret.take(),
        config.login_code.take(),
    )?);
    let (store, changes) = Store::open_retaining(
        &data_dir,
        config.sync,
        metrics.clone(),
        config.change_log_retain,
    )?;
    // Made before any snapshot is read, so the hub misses no score.
    let scores = store.follow();
    let shutdown = CancellationToken::new();
    let connection_limits = ConnectionLimits::new(&config.limits);
    let sledge = sledge::start(
        sledge::Settings {
            connection_limits: connection_limits.clone(),
            connect_timeout: config.limits.first_command(),
            event_rate: (config.limits.sledge_rate, config.limits.sledge_burst),
            absent_flag_judges: config.absent_flag_judges as usize,
        },
        store.clone(),
        changes,
        secrets,
        metrics.clone(),
        shutdown.clone(),
    )
    .await?;
    let listener = listener::bind(config.listen).map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let registration_limits = RegistrationLimits::new(&config.limits);
    let settings = listener::Settings {
        header_timeout: config.header_timeout(),
        tcp_send_buffer: config.tcp_send_buffer as usize,
        keepalive: config.heartbeat(),
        tls,
    };
    let tls_on = settings.tls.is_some();
    let speed = crate::speed::live::Live::new();
    let hub = Arc::new(clicker::hub::Hub::new(metrics.clone()));
    let follows = speed.clone();
    hub.on_score(move |device| follows.on_score(device));
    clicker::follow::start(hub.clone(), store.clone(), scores, shutdown.clone()).await?;
    tokio::spawn(crate::speed::live::run(
        speed.clone(),
        store.clone(),
        shutdown.clone(),
    ));
    let app = Arc::new(App {
        hub,
        speed,
        sledge,
        config,
        store,
        metrics,
        registration_limits,
        connection_limits,
        shutdown,
        connections: TaskTracker::new(),
    });
    let router = router(app.clone());
    let task = tokio::spawn(serve(listener, router, settings, app.clone()));
    let data_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
    // With TLS, plain HTTP and WebSocket stay on the same port (`tls=true`).
    tracing::info!(%addr, tls = tls_on, data_dir = %data_dir.display(), "Podium is listening");
    Ok(Running { addr, app, task })
}

async fn serve(listener: TcpListener, router: Router, settings: listener::Settings, app: Arc<App>) {
    let shutdown = app.shutdown.clone();
    // socket.io clients hold long-polling requests and upgraded connections
    // open: disconnect them all as soon as shutdown begins, so the graceful
    // shutdown below does not wait on them.
    let io = app.sledge.io.clone();
    let watch = shutdown.clone();
    let socketio_closed = tokio::spawn(async move {
        watch.cancelled().await;
        if tokio::time::timeout(Duration::from_secs(5), io.close())
            .await
            .is_err()
        {
            tracing::warn!("some socket.io clients did not close in time");
        }
    });
    listener::serve(listener, router, settings, shutdown).await;
    app.shutdown.cancel();
    let _ = socketio_closed.await;
    // Upgraded connections outlive the listener's graceful shutdown: wait for their
    // close handshakes (each is bounded), then commit what storage holds.
    app.connections.close();
    if tokio::time::timeout(Duration::from_secs(5), app.connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close in time");
    }
    let store = app.store.clone();
    let _ = tokio::task::spawn_blocking(move || store.close()).await;
    tracing::info!("Podium stopped; storage flushed");
}

/// Every route on the one port.
pub fn router(app: Arc<App>) -> Router {
    let allowed = Arc::new(AllowedOrigins::new(&app.config.allowed_origins));
    let http = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/clicker/devices", get(clicker::history::devices))
        .route(
            "/api/clicker/devices/{id}/scores",
            get(clicker::history::scores),
        )
        .route(
            "/api/clicker/devices/{id}/marks",
            get(clicker::history::marks),
        )
        .merge(api::router())
        .merge(crate::ui::router());
    // Plain HTTP responses only: the clicker WebSocket is routed beside them,
    // and socket.io's layer answers its requests before they get here.
    let http = if app.config.compression {
        http.layer(crate::compression::layer())
    } else {
        http
    };
    Router::new()
        .route("/ws", get(clicker_ws))
        .merge(http)
        .layer(app.sledge.layer.clone())
        // Outermost, so it sees socket.io's requests before its layer does.
        .layer(axum::middleware::from_fn_with_state(
            allowed,
            origins::check,
        ))
        .with_state(app)
}

async fn clicker_ws(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    // A refused upgrade also ends the connection (`Connection: close`), so a
    // device that retries gets a fresh one rather than a half-used keep-alive.
    let close = [(header::CONNECTION, "close")];
    if app.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, close, "shutting down").into_response();
    }
    // The place is held until the connection ends (or the upgrade fails).
    let permit = match app.connection_limits.admit(Some(peer.ip())) {
        Ok(permit) => permit,
        Err(refused) => {
            let status = match refused {
                Refused::Full { .. } => StatusCode::SERVICE_UNAVAILABLE,
                Refused::TooManyFromAddress { .. } => StatusCode::TOO_MANY_REQUESTS,
            };
            tracing::debug!(%peer, %refused, "clicker connection refused");
            return (status, close, format!("{refused}\n")).into_response();
        }
    };
    ws.read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(WS_WRITE_BUFFER)
        .max_message_size(WS_TRANSPORT_LIMIT)
        .max_frame_size(WS_TRANSPORT_LIMIT)
        .on_upgrade(move |socket| {
            let tracker = app.connections.clone();
            tracker.track_future(async move {
                clicker::connection::serve(socket, app, peer.ip()).await;
                drop(permit);
            })
        })
}

/// 200 when the server can serve and storage accepts a write.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    match tokio::time::timeout(Duration::from_secs(3), app.store.check_writable()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("storage not writable: {e}\n"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "storage did not answer within 3 s\n",
        )
            .into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
