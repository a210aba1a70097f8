//! PostgreSQL, the store of record in cluster mode: several nodes given the
//! same `--database-url` serve one competition.
//!
//! * [`schema`] migrates the database at start, under an advisory lock, so
//!   nodes starting together apply each migration once.
//! * [`writer`] is this node's group commit: jobs from many tasks share one
//!   transaction, and each caller hears back only after `COMMIT` returned.
//!   [`locks`] is what a batch locks first, in one global order across
//!   nodes, so two nodes' batches never deadlock.
//! * [`log`] is the change log in the database, the bus between nodes:
//!   each commit takes its gapless sequence numbers from one counter row in
//!   the committing transaction (so numbers follow commit order across
//!   nodes) and `NOTIFY`s the others.
//! * [`follow`] delivers committed changes to this node's followers in
//!   sequence order: its own commits at once, the other nodes' after a
//!   notification or a poll, reading the log from the last number
//!   delivered, so a missed notification or a lost connection loses nothing.
//! * [`leases`] tells the cluster which nodes are alive, so a dead node's
//!   devices are announced disconnected.
//! * [`perform`] runs the judging operations of `judging/ops/` (their
//!   facts and writes: [`ratings`], [`notes`]) with the locks each declares.
//! * One module per group of tables, as for SQLite: [`clicker`],
//!   [`judging`] (with [`judging_bulk`], [`judge_links`], [`floor`] and
//!   what they share, [`judging_rows`]), [`speed`]; and [`secrets`], the
//!   operator's secrets that SQLite mode keeps in files; [`budgets`], the
//!   wrong-guess budgets every node spends from.
//!
//! Reads run on a small pool of connections (deadpool-postgres).

mod absences;
mod budgets;
mod clicker;
mod floor;
mod follow;
mod idempotency;
mod interface;
mod judge_links;
mod judges;
mod judging;
mod judging_bulk;
mod judging_rows;
mod judging_status;
mod leases;
mod locks;
mod log;
mod notes;
mod perform;
mod placements;
mod ratings;
mod schema;
mod secrets;
mod speed;
#[cfg(test)]
mod test_support;
pub mod tls;
mod withdrawals;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::changes::{Changes, Followers};
use super::receive_clock::ReceiveClock;
use super::StoreError;
use crate::metrics::Metrics;
use locks::{Advisory, Locks};
pub use secrets::{OperatorHashes, StoredHash, LINK_KEY_BYTES};
pub use writer::PgTx;

/// Connections of the read pool: reads are short; more would only queue in
/// PostgreSQL beside the other nodes' connections.
const READ_POOL: usize = 16;
/// How long a new connection may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A future a job or a read returns, borrowing its connection.
pub type PgFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// A handle to the PostgreSQL store: cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    writer: writer::Writer,
    epoch: Arc<str>,
    followers: Arc<Followers>,
    /// Receive times of clicker scores and heat boundaries, on this node's clock.
    receive_clock: Arc<ReceiveClock>,
    /// This node's id in the cluster (see [`leases`]).
    node: u64,
    /// Stops renewing this node's lease.
    leases: CancellationToken,
    _delivery: Arc<follow::Delivery>,
}

impl PgStore {
    /// Connects to `url`, migrates the schema, takes a lease for this node
    /// (`node`: its id, random for each start), and starts this node's
    /// writer and its follower of the change log. Committed changes, this
    /// node's and every other node's, arrive on the returned [`Changes`] in
    /// sequence order.
    pub async fn open(
        url: &str,
        metrics: Arc<Metrics>,
        retain: u64,
        node: u64,
    ) -> Result<(PgStore, Changes), StoreError> {
        let mut connector = tls::Connector::from_url(url)?;
        connector
            .config
            .connect_timeout(CONNECT_TIMEOUT)
            // A database host that vanishes without closing its connections
            // (a network partition) is noticed in about 8 s, not hours.
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(1))
            .keepalives_retries(3)
            .application_name("podium")
            // Notices such as "relation already exists, skipping" are not news.
            .options("-c client_min_messages=warning");
        let epoch = schema::migrate(&connector).await?;
        let manager = Manager::from_config(
            connector.config.clone(),
            connector.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(READ_POOL)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .wait_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Worker(format!("cannot make the connection pool: {e}")))?;
        let followers = Arc::new(Followers::default());
        let changes = followers.add();
        let position = log::position(&pool).await?;
        let delivery =
            follow::Delivery::start(connector.clone(), pool.clone(), followers.clone(), position);
        let writer = writer::Writer::start(connector, metrics, retain, delivery.clone());
        let store = PgStore {
            pool,
            writer,
            epoch: epoch.as_str().into(),
            followers,
            receive_clock: Default::default(),
            node,
            leases: CancellationToken::new(),
            _delivery: delivery,
        };
        leases::start(store.clone(), store.leases.clone()).await?;
        tracing::info!(%epoch, position, node = format_args!("{node:016x}"), "PostgreSQL store open");
        Ok((store, changes))
    }

    /// Runs `f` inside this node's next group-commit transaction, which
    /// takes `locks` first, and returns its result once `COMMIT` returned.
    /// See [`writer`] and [`locks`].
    async fn write<T, F>(&self, locks: Locks, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut PgTx) -> PgFuture<'a, T> + Send + 'static,
    {
        self.writer.write(locks, f).await
    }

    /// Like [`PgStore::write`], for jobs whose refusal is a domain error:
    /// `Ok(Err(e))` means the job refused and its writes were undone.
    async fn try_write<T, E, F>(&self, locks: Locks, f: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: for<'a> FnOnce(&'a mut PgTx) -> PgFuture<'a, Result<T, E>> + Send + 'static,
    {
        self.writer.try_write(locks, f).await
    }

    /// Like [`PgStore::write`] for a job of one statement that cannot refuse:
    /// no savepoint, and it runs pipelined beside its neighbours in the batch.
    async fn write_one<T, F>(&self, locks: Locks, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut PgTx) -> PgFuture<'a, T> + Send + 'static,
    {
        self.writer.write_one(locks, f).await
    }

    /// Runs `f` on a pooled connection.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: for<'a> FnOnce(&'a deadpool_postgres::Client) -> PgFuture<'a, T>,
    {
        let client = self.pool.get().await.map_err(unreachable)?;
        f(&client).await
    }

    /// The database's epoch: with a sequence number, a position in its history.
    pub fn epoch(&self) -> Arc<str> {
        self.epoch.clone()
    }

    /// A new follower of the committed changes of every node, in sequence order.
    pub fn follow(&self) -> Changes {
        self.followers.add()
    }

    /// Probes that the database accepts writes through this node's writer
    /// (for `/healthz`).
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.write(Locks::exclusive(Advisory::Settings), |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('health_probed_at', now()::text)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Gives up this node's lease (its devices disconnect on every node),
    /// then stops the writer after the jobs already queued.
    pub async fn close(&self) {
        self.leases.cancel();
        self.leave().await;
        self.writer.close().await;
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        if let Some(db) = e.as_db_error() {
            return StoreError::Postgres(format!("{}: {}", db.code().code(), db.message()));
        }
        if e.is_closed() {
            return StoreError::Unreachable("the connection was closed".into());
        }
        // Display alone says "error connecting to server" and the like: the
        // cause is in the source.
        match std::error::Error::source(&e) {
            Some(source) => StoreError::Unreachable(format!("{e}: {source}")),
            None => StoreError::Unreachable(e.to_string()),
        }
    }
}

/// Starts a read-only transaction in which every read sees the database as
/// of one moment (REPEATABLE READ): a view's rows and the log position they
/// are as of, or a sheet's entries and their tallies.
async fn snapshot(
    client: &mut deadpool_postgres::Client,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    Ok(client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// A pool that cannot hand out a connection: the database is unreachable.
fn unreachable(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => e.into(),
        e => StoreError::Unreachable(e.to_string()),
    }
}
