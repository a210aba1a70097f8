//! Assembles one node: opens storage, starts the judging core, builds each
//! adapter with only the state it uses (the clicker WebSocket at `/ws`,
//! socket.io at `/socket.io/`, the HTTP API under `/api`, the web pages),
//! puts them on one axum router with health and metrics, and runs it until
//! shutdown: at once ([`Running::shutdown`]), or gracefully, answering what
//! clients sent and telling them to reconnect ([`Running::drain`],
//! `crate::drain`). Connections reach the router through `crate::listener`
//! (TLS or plain, time bounds).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{self, Api};
use crate::clicker::{self, Clicker};
use crate::config::ServeConfig;
use crate::core::Core;
use crate::drain::{self, Drain};
use crate::limits::{ConnectionLimits, RegistrationLimits};
use crate::listener;
use crate::metrics::Metrics;
use crate::operator_secrets::cluster::ClusterSecretsError;
use crate::operator_secrets::{OperatorSecrets, SecretsFileError};
use crate::origins::{self, AllowedOrigins};
use crate::probes;
use crate::sledge::{self, SledgeService};
use crate::store::{Changes, Database, PgStore, Store, StoreError};
use crate::tls::{self, TlsError};

/// The parts of a running node that its owner (`main`, tests) reaches.
pub struct Node {
    /// The store of record, SQLite or PostgreSQL.
    pub db: Arc<dyn Database>,
    /// The SQLite store, when it is the one (fault drills reach it).
    pub sqlite: Option<Store>,
    pub core: Arc<Core>,
    pub metrics: Arc<Metrics>,
    /// Cancel to stop at once: connections close (clickers with 1001)
    /// without waiting for answers, then storage commits what it holds.
    pub shutdown: CancellationToken,
    /// The graceful stop of a rolling restart (SIGTERM): see `crate::drain`.
    pub drain: Drain,
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
    ClusterSecrets(#[from] ClusterSecretsError),
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
    pub app: Arc<Node>,
    task: JoinHandle<()>,
}

impl Running {
    /// Shuts down at once: stops accepting, closes WebSockets with "going
    /// away" and socket.io clients' connections without waiting for answers
    /// still due, then commits and closes storage.
    pub async fn shutdown(self) {
        self.app.shutdown.cancel();
        let _ = self.task.await;
    }

    /// Stops gracefully, as SIGTERM does (`crate::drain`): `/healthz`
    /// fails for `delay` while everything else is served, then the server
    /// stops accepting, answers what clients sent, tells them to reconnect
    /// (clickers: 1012), commits and closes storage.
    pub async fn drain(self, delay: Duration) {
        self.app.drain.run(delay).await;
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
    // Only hashes of the secrets stay in memory, so take them out of the
    // config. SQLite mode: from the data directory, before storage is opened.
    let file_secrets = match config.database_url {
        None => Some(Arc::new(OperatorSecrets::open(
            &data_dir,
            config.admin_secret.take(),
            config.login_code.take(),
        )?)),
        Some(_) => None,
    };
    // This node's id among the cluster's: who holds which device's id.
    let node = crate::secrets::random_u64();
    let (db, sqlite, pg, changes) = open_store(&config, &data_dir, metrics.clone(), node).await?;
    let shutdown = CancellationToken::new();
    let drain = Drain::new(&shutdown);
    // Cluster mode: the nodes' wrong-guess budgets are one.
    let budgets = pg
        .clone()
        .map(|pg| Arc::new(pg) as Arc<dyn crate::store::SharedBudgets>);
    let secrets = match (file_secrets, pg) {
        (Some(secrets), _) => secrets,
        // Cluster mode: from the database, shared by every node.
        (None, Some(pg)) => {
            let (admin_secret, login_code) = (config.admin_secret.take(), config.login_code.take());
            OperatorSecrets::open_cluster(pg, admin_secret, login_code, shutdown.clone()).await?
        }
        (None, None) => unreachable!("a database URL opens PostgreSQL"),
    };
    // Made before any snapshot is read, so the hub misses no score.
    let scores = db.follow();
    let heat_changes = db.follow();
    let core = Arc::new(
        Core::start(
            db.clone(),
            budgets,
            db.clone(),
            changes,
            secrets,
            metrics.clone(),
            config.absent_flag_judges as usize,
            shutdown.clone(),
        )
        .await?,
    );
    let connection_limits = ConnectionLimits::new(&config.limits);
    let sledge = sledge::start(
        sledge::Settings {
            connection_limits: connection_limits.clone(),
            connect_timeout: config.limits.first_command(),
            event_rate: (config.limits.sledge_rate, config.limits.sledge_burst),
            closing: drain.closing().clone(),
        },
        core.clone(),
    );
    let listener = listener::bind(config.listen).map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let settings = listener::Settings {
        header_timeout: config.header_timeout(),
        tcp_send_buffer: config.tcp_send_buffer as usize,
        keepalive: config.heartbeat(),
        tls,
        proxy_protocol: config.proxy_protocol,
    };
    let tls_on = settings.tls.is_some();
    // Live speed heats follow the clicker hub's scores and the change
    // log's heat changes.
    let speed = crate::core::heats::Live::new();
    let hub = Arc::new(clicker::hub::Hub::new(metrics.clone(), node));
    let follows = speed.clone();
    hub.on_score(move |device| follows.on_score(device));
    clicker::follow::start(hub.clone(), db.clone(), scores, shutdown.clone()).await?;
    tokio::spawn(crate::core::heats::run(
        speed.clone(),
        db.clone(),
        heat_changes,
        shutdown.clone(),
    ));
    let clicker = Arc::new(Clicker {
        settings: clicker::Settings {
            limits: config.limits.clone(),
            heartbeat: config.heartbeat(),
            send_timeout: config.send_timeout(),
            max_frame_bytes: config.max_frame_bytes as usize,
            listener_queue: config.listener_queue as usize,
        },
        store: db.clone(),
        hub: hub.clone(),
        metrics: metrics.clone(),
        connection_limits,
        registration_limits: RegistrationLimits::new(&config.limits),
        shutdown: shutdown.clone(),
        closing: drain.closing().clone(),
        connections: TaskTracker::new(),
    });
    let api = Arc::new(Api {
        core: core.clone(),
        devices: db.clone(),
        store: db.clone(),
        speed,
        presence: hub,
        settings: api::Settings {
            max_import_bytes: config.max_import_bytes(),
            public_url: config.public_url.clone(),
            tls: tls_on,
        },
        // Event streams end when connections close, so clients reconnect
        // elsewhere and the listener's graceful stop does not wait on them.
        shutdown: drain.closing().clone(),
    });
    let probes = Arc::new(probes::Probes {
        store: db.clone(),
        metrics: metrics.clone(),
        drain: drain.clone(),
    });
    let router = router(&config, probes, api, clicker.clone(), &sledge);
    let node = Arc::new(Node {
        db,
        sqlite,
        core,
        metrics,
        shutdown,
        drain,
    });
    let task = tokio::spawn(serve(
        listener,
        router,
        settings,
        node.clone(),
        clicker,
        sledge,
    ));
    let data_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
    // With TLS, plain HTTP and WebSocket stay on the same port (`tls=true`).
    tracing::info!(%addr, tls = tls_on, data_dir = %data_dir.display(), "Podium is listening");
    Ok(Running {
        addr,
        app: node,
        task,
    })
}

/// Opens the store of record: PostgreSQL when a database URL is given,
/// else SQLite in the data directory.
async fn open_store(
    config: &ServeConfig,
    data_dir: &std::path::Path,
    metrics: Arc<Metrics>,
    node: u64,
) -> Result<(Arc<dyn Database>, Option<Store>, Option<PgStore>, Changes), StoreError> {
    match &config.database_url {
        Some(url) => {
            let (store, changes) =
                PgStore::open(url, metrics, config.change_log_retain, node).await?;
            Ok((Arc::new(store.clone()), None, Some(store), changes))
        }
        None => {
            let (store, changes) =
                Store::open_retaining(data_dir, config.sync, metrics, config.change_log_retain)?;
            Ok((Arc::new(store.clone()), Some(store), None, changes))
        }
    }
}

async fn serve(
    listener: TcpListener,
    router: Router,
    settings: listener::Settings,
    node: Arc<Node>,
    clicker: Arc<Clicker>,
    sledge: SledgeService,
) {
    let shutdown = node.shutdown.clone();
    let closing = node.drain.closing().clone();
    // socket.io clients hold long-polling requests and upgraded connections
    // open: close them all as soon as connections close, so the listener's
    // graceful stop below does not wait on them; answered first unless
    // the stop is immediate.
    let watch = closing.clone();
    let immediate = shutdown.clone();
    let socketio_closed = tokio::spawn(async move {
        watch.cancelled().await;
        let within = if immediate.is_cancelled() {
            Duration::ZERO
        } else {
            drain::ANSWER_WITHIN
        };
        let closed = sledge.close(within);
        if tokio::time::timeout(within + Duration::from_secs(5), closed)
            .await
            .is_err()
        {
            tracing::warn!("some socket.io clients did not close in time");
        }
    });
    listener::serve(listener, router, settings, closing.clone()).await;
    node.drain.close();
    let _ = socketio_closed.await;
    // Upgraded connections outlive the listener's graceful stop: clickers
    // answer the SCOREs they took and close (1012); wait for that, and for
    // their close handshakes (each is bounded). Past the bound (storage
    // not answering), stop them at once (1001).
    clicker.connections.close();
    if tokio::time::timeout(drain::ANSWER_WITHIN, clicker.connections.wait())
        .await
        .is_err()
    {
        shutdown.cancel();
        if tokio::time::timeout(Duration::from_secs(5), clicker.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close in time");
        }
    }
    // Background work (live views, other nodes' changes, leases) ends;
    // storage commits what is queued and refuses anything later.
    shutdown.cancel();
    node.db.close().await;
    tracing::info!("Podium stopped; storage flushed");
}

/// Every route on the one port, each adapter with its own state.
fn router(
    config: &ServeConfig,
    probes: Arc<probes::Probes>,
    api: Arc<Api>,
    clicker: Arc<Clicker>,
    sledge: &SledgeService,
) -> Router {
    let allowed = Arc::new(AllowedOrigins::new(&config.allowed_origins));
    let http = Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/metrics", get(probes::metrics))
        .with_state(probes)
        .merge(api::router(api))
        .merge(crate::ui::router());
    // Plain HTTP responses only: the clicker WebSocket is routed beside them,
    // and socket.io's layer answers its requests before they get here.
    let http = if config.compression {
        http.layer(crate::compression::layer())
    } else {
        http
    };
    Router::new()
        .route("/ws", get(clicker::upgrade::upgrade).with_state(clicker))
        .merge(http)
        .layer(sledge.layer.clone())
        // Outermost, so it sees socket.io's requests before its layer does.
        .layer(axum::middleware::from_fn_with_state(
            allowed,
            origins::check,
        ))
}
