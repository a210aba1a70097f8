//! This node's group commit on PostgreSQL.
//!
//! As with SQLite (`super::super::writer`), every change is a job run by one
//! task on one connection: the task takes the first waiting job and every
//! other job already queued (up to [`MAX_BATCH`]), runs them in one
//! transaction, and answers each caller only after `COMMIT` returned. A job
//! that may refuse or write several statements runs inside a savepoint, so
//! it is undone alone. Consecutive jobs of one statement (a clicker score)
//! run without savepoints and pipelined: their statements go out together
//! and cost one round trip, not one each.
//!
//! The batch's published changes take their numbers from `change_head`
//! just before the commit (see [`super::log`]), so a batch that does not
//! commit takes none. When the database is unreachable every job of the
//! batch hears so and nothing is acknowledged; the next batch reconnects.
//!
//! # Locks: every batch takes them first, in one global order
//!
//! A batch holds every lock its jobs need until `COMMIT`, so two nodes'
//! batches could wait on each other if they took them as their jobs run.
//! Instead each job declares its locks ([`Locks`]) and every batch takes
//! the union of its jobs' locks in one global order ([`super::locks`]: the
//! advisory locks import, floor (shared or exclusive), speed, device ids,
//! presence, settings, scores; then `judges` rows, `absences` rows of the
//! hacks named and `hacks` rows, each by id; then a lock per clicker device
//! whose scores it inserts), in the same simple query as `BEGIN`,
//! before any job runs: no extra round trip. Jobs take no lock themselves.
//! What each job declares:
//!
//! - pause, assignment: floor exclusive.
//! - rating, absence: floor shared, the judge's row, the hack's absences.
//!   Clearing absences: floor shared, the hack's absences. Placement:
//!   floor shared, the judge's row. Withdrawal: floor shared, the hack's
//!   row. Note, a judge's sign-in links: the judge's (judges') row.
//! - Devpost import, new hack, superlative or judge, judges import: import.
//! - every speed write: speed.
//! - registration: device ids and presence; disconnection, reclaiming an
//!   id and reaping dead nodes: presence.
//! - health probe, operator secrets, link key: settings.
//! - a score: the scores lock shared and its device's lock.
//!
//! Every row a job writes is written only by jobs declaring a lock that
//! covers it, so once a batch's jobs run it waits for no other batch; the
//! one lock taken later is the `change_head` row, by every batch that
//! publishes, last, just before the commit (see [`super::log`]), so it
//! closes no cycle either. An idempotency key's claim
//! ([`super::idempotency`]) waits only on a batch holding the same caller's
//! same key, hence the same request, whose declared locks (at least one
//! exclusive) the two batches already took in order at `BEGIN`.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{join_all, BoxFuture};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Statement};

use super::tls::Connector;

use super::super::changes::{Change, Entry};
use super::super::job_outcome::{fail_all, settle, Completion, Ran};
use super::follow::Delivery;
use super::locks::{BatchLocks, Locks};
use super::log;
use super::PgFuture;
use crate::metrics::Metrics;
use crate::store::StoreError;

/// Most jobs sharing one transaction: bounds the latency a batch adds.
pub const MAX_BATCH: usize = 4096;
/// After a failed connection attempt, jobs are refused at once for this
/// long rather than each waiting out a connection timeout.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// What a job sees: the writer's connection, inside the batch's
/// transaction, and a place to publish changes that only go out if the
/// transaction commits.
pub struct PgTx {
    client: Arc<Client>,
    statements: Arc<Statements>,
    published: Vec<Change>,
}

/// The runner's operations publish through the same log.
impl crate::store::runner::Publish for PgTx {
    fn publish(&mut self, change: Change) {
        PgTx::publish(self, change);
    }
}

impl PgTx {
    /// Logs `change` and hands it to every node's followers once committed;
    /// dropped if this job or its batch does not commit.
    pub fn publish(&mut self, change: Change) {
        self.published.push(change);
    }

    /// How many changes this job published so far.
    pub(in crate::store) fn published_len(&self) -> usize {
        self.published.len()
    }

    /// Drops the changes published after the first `len`: their writes
    /// were rolled back to a savepoint of the job's own.
    pub(in crate::store) fn unpublish_to(&mut self, len: usize) {
        self.published.truncate(len);
    }

    /// `sql` prepared once per connection.
    pub async fn prepare_cached(&self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement);
        }
        let statement = self.client.prepare(sql).await?;
        self.statements.put(sql, statement.clone());
        Ok(statement)
    }
}

impl Deref for PgTx {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Prepared statements of one connection, by their SQL.
#[derive(Default)]
struct Statements(Mutex<HashMap<&'static str, Statement>>);

impl Statements {
    fn get(&self, sql: &'static str) -> Option<Statement> {
        self.0
            .lock()
            .expect("statements poisoned")
            .get(sql)
            .cloned()
    }

    fn put(&self, sql: &'static str, statement: Statement) {
        self.0
            .lock()
            .expect("statements poisoned")
            .insert(sql, statement);
    }
}

/// The writer's connection.
struct Conn {
    client: Arc<Client>,
    statements: Arc<Statements>,
}

impl Conn {
    fn tx(&self) -> PgTx {
        PgTx {
            client: self.client.clone(),
            statements: self.statements.clone(),
            published: Vec::new(),
        }
    }
}

/// A job: runs in the transaction and says what became of its writes.
/// Given no transaction, it must not run and only hands back its completion.
type Run = Box<dyn for<'a> FnOnce(Option<&'a mut PgTx>) -> BoxFuture<'a, (Ran, Completion)> + Send>;

/// Makes a [`Run`] of a closure, fixing its higher-ranked signature.
fn run_of<F>(f: F) -> Run
where
    F: for<'a> FnOnce(Option<&'a mut PgTx>) -> BoxFuture<'a, (Ran, Completion)> + Send + 'static,
{
    Box::new(f)
}

struct Job {
    run: Run,
    /// Whether the job runs in its own savepoint (see the module's notes).
    savepoint: bool,
    /// What the batch must lock for this job before any job runs.
    locks: Locks,
}

enum Msg {
    Job(Job),
    Close,
}

/// The handle through which tasks send jobs to this node's writer.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::UnboundedSender<Msg>,
    task: Arc<tokio::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl Writer {
    pub fn start(
        config: Connector,
        metrics: Arc<Metrics>,
        retain: u64,
        delivery: Arc<Delivery>,
    ) -> Writer {
        let (jobs, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(config, rx, metrics, retain.max(1), delivery));
        Writer {
            jobs,
            task: Arc::new(tokio::sync::Mutex::new(Some(task))),
        }
    }

    pub async fn write<T, F>(&self, locks: Locks, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut PgTx) -> PgFuture<'a, T> + Send + 'static,
    {
        self.submit(
            move |tx| Box::pin(async move { f(tx).await.map(Ok::<T, std::convert::Infallible>) }),
            true,
            locks,
        )
        .await
        .map(|r| match r {
            Ok(v) => v,
            Err(never) => match never {},
        })
    }

    pub async fn try_write<T, E, F>(&self, locks: Locks, f: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: for<'a> FnOnce(&'a mut PgTx) -> PgFuture<'a, Result<T, E>> + Send + 'static,
    {
        self.submit(f, true, locks).await
    }

    pub async fn write_one<T, F>(&self, locks: Locks, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut PgTx) -> PgFuture<'a, T> + Send + 'static,
    {
        self.submit(
            move |tx| Box::pin(async move { f(tx).await.map(Ok::<T, std::convert::Infallible>) }),
            false,
            locks,
        )
        .await
        .map(|r| match r {
            Ok(v) => v,
            Err(never) => match never {},
        })
    }

    async fn submit<T, E, F>(
        &self,
        f: F,
        savepoint: bool,
        locks: Locks,
    ) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: for<'a> FnOnce(&'a mut PgTx) -> PgFuture<'a, Result<T, E>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let run = run_of(move |tx| {
            Box::pin(async move {
                let outcome = match tx {
                    Some(tx) => Some(f(tx).await),
                    None => None,
                };
                settle(outcome, reply)
            })
        });
        self.jobs
            .send(Msg::Job(Job {
                run,
                savepoint,
                locks,
            }))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Commits what is queued, then stops the writer and waits for it.
    pub async fn close(&self) {
        let _ = self.jobs.send(Msg::Close);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

/// What the writer keeps between batches.
struct State {
    config: Connector,
    conn: Option<Arc<Conn>>,
    /// When the last connection attempt failed, and why.
    refused: Option<(Instant, String)>,
    retain: u64,
    delivery: Arc<Delivery>,
}

impl State {
    /// The connection, opening one if there is none (or it closed).
    async fn conn(&mut self) -> Result<Arc<Conn>, StoreError> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            if let Some((at, reason)) = &self.refused {
                if at.elapsed() < RECONNECT_PAUSE {
                    return Err(StoreError::Unreachable(reason.clone()));
                }
            }
            match self.config.connect().await {
                Ok((client, connection)) => {
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::warn!(error = %e, "the writer's database connection ended");
                        }
                    });
                    if self.refused.take().is_some() {
                        tracing::warn!("the writer reconnected to the database");
                    }
                    self.conn = Some(Arc::new(Conn {
                        client: Arc::new(client),
                        statements: Default::default(),
                    }));
                }
                Err(e) => {
                    if self.refused.is_none() {
                        tracing::error!(error = %e, "the writer cannot reach the database: writes are refused until it returns");
                    }
                    self.refused = Some((Instant::now(), e.to_string()));
                    return Err(e);
                }
            }
        }
        Ok(self.conn.clone().expect("connected above"))
    }
}

async fn run(
    config: Connector,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    metrics: Arc<Metrics>,
    retain: u64,
    delivery: Arc<Delivery>,
) {
    let mut state = State {
        config,
        conn: None,
        refused: None,
        retain,
        delivery,
    };
    let mut batch: Vec<Job> = Vec::new();
    let mut closing = false;
    while !closing {
        match rx.recv().await {
            Some(Msg::Job(job)) => batch.push(job),
            Some(Msg::Close) | None => break,
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => batch.push(job),
                Ok(Msg::Close) => {
                    closing = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let size = batch.len();
        let failed = commit_batch(&mut state, &mut batch).await;
        metrics.commit_batch.observe(size as f64);
        metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        if failed > 0 {
            metrics
                .write_errors
                .fetch_add(failed as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }
    tracing::debug!("PostgreSQL writer stopped");
}

/// Answers every job of a batch that did not run.
async fn refuse_all(batch: &mut Vec<Job>, err: &StoreError) -> usize {
    let mut completions = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        completions.push((job.run)(None).await);
    }
    fail_all(completions, err)
}

/// Runs one batch in one transaction and answers every job; returns how
/// many jobs were answered with an error.
async fn commit_batch(state: &mut State, batch: &mut Vec<Job>) -> usize {
    let retain = state.retain;
    let delivery = state.delivery.clone();
    let conn = match state.conn().await {
        Ok(conn) => conn,
        Err(e) => return refuse_all(batch, &e).await,
    };
    let mut completions: Vec<(Ran, Completion)> = Vec::with_capacity(batch.len());
    let mut published: Vec<Change> = Vec::new();
    // Set when the transaction can no longer commit.
    let mut doomed: Option<StoreError> = None;
    // Transaction control not sent yet: it goes out in one pipeline with
    // the next job's first statement, ahead of it, so `BEGIN` with the
    // batch's locks, a job's `SAVEPOINT` and the last job's `RELEASE` cost
    // no round trip of their own.
    let mut locks = BatchLocks::default();
    for job in batch.iter() {
        locks.add(&job.locks);
    }
    let mut control = format!("BEGIN{}", locks.sql());
    let mut jobs = batch.drain(..).peekable();
    while let Some(job) = jobs.next() {
        if doomed.is_some() {
            completions.push((job.run)(None).await);
            continue;
        }
        if job.savepoint {
            control.push_str("; SAVEPOINT job");
            let mut tx = conn.tx();
            let (sent, (ran, completion)) = futures_util::join!(
                conn.client.batch_execute(&control),
                (job.run)(Some(&mut tx))
            );
            if let Err(e) = sent {
                doomed = Some(e.into());
            }
            control = match ran {
                Ran::Kept => "RELEASE SAVEPOINT job".into(),
                Ran::Refused | Ran::Failed => {
                    "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job".into()
                }
            };
            if ran == Ran::Kept {
                published.append(&mut tx.published);
            }
            completions.push((ran, completion));
        } else {
            // This job and the one-statement jobs right after it, pipelined.
            let mut group = vec![job];
            while let Some(next) = jobs.next_if(|j| !j.savepoint) {
                group.push(next);
            }
            let mut txs: Vec<PgTx> = group.iter().map(|_| conn.tx()).collect();
            let control_sent = async {
                match control.is_empty() {
                    true => Ok(()),
                    false => conn.client.batch_execute(&control).await,
                }
            };
            let (sent, ran) = futures_util::join!(
                control_sent,
                join_all(
                    group
                        .into_iter()
                        .zip(txs.iter_mut())
                        .map(|(job, tx)| (job.run)(Some(tx))),
                )
            );
            control.clear();
            if let Err(e) = sent {
                doomed = Some(e.into());
            }
            for ((ran, completion), mut tx) in ran.into_iter().zip(txs) {
                match ran {
                    Ran::Kept => published.append(&mut tx.published),
                    // Without a savepoint a failed statement aborts the
                    // transaction, and a refusal cannot be undone alone.
                    Ran::Refused | Ran::Failed => {
                        doomed.get_or_insert_with(|| StoreError::NotCommitted {
                            reason: "another write in the same transaction failed".into(),
                        });
                    }
                }
                completions.push((ran, completion));
            }
        }
    }
    // A refused or failed last job must be undone before the commit.
    if doomed.is_none() && control.starts_with("ROLLBACK") {
        if let Err(e) = conn.client.batch_execute(&control).await {
            doomed = Some(e.into());
        }
    }
    drop(jobs);
    let committed = match doomed {
        Some(e) => Err(e),
        None => finish(&conn, published, retain).await,
    };
    match committed {
        Ok(entries) => {
            // Delivered first: a caller's next read sees its own write.
            if !entries.is_empty() {
                delivery.committed(entries).await;
            }
            let mut failed = 0;
            for (ran, completion) in completions {
                if ran == Ran::Failed {
                    failed += 1;
                }
                completion(Ok(()));
            }
            failed
        }
        Err(e) => {
            if conn.client.batch_execute("ROLLBACK").await.is_err() {
                state.conn = None;
            }
            tracing::error!(error = %e, "a batch of writes did not commit");
            fail_all(completions, &e)
        }
    }
}

/// Numbers and logs the batch's changes, then commits; the numbered
/// changes once `COMMIT` returned.
async fn finish(
    conn: &Conn,
    published: Vec<Change>,
    retain: u64,
) -> Result<Vec<Entry>, StoreError> {
    let tx = conn.tx();
    let entries = if published.is_empty() {
        Vec::new()
    } else {
        log::append(&tx, published, retain).await?
    };
    conn.client.batch_execute("COMMIT").await?;
    Ok(entries)
}
