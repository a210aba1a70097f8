//! The single writer thread and its group commit.
//!
//! Every change to the database is a job: a closure that runs against the
//! writer's connection. The thread takes the first waiting job, then every
//! other job already queued (up to [`MAX_BATCH`]), runs them all in one
//! transaction with one sync, and only then answers each job's caller. So
//! SCOREs arriving together from hundreds of connections cost one fsync, and
//! nothing is acknowledged before it is on disk.
//!
//! Each job runs inside its own savepoint: a job that fails or refuses is
//! rolled back alone and the rest of its batch still commits. Jobs may publish
//! [`Change`]s; those reach the [`Changes`] stream after the commit, in commit
//! order, which is what keeps every live subscriber's view in one order.

use std::ops::Deref;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use super::StoreError;
use crate::judging::model::DataStore;
use crate::metrics::Metrics;

/// Most jobs sharing one transaction: bounds the latency a batch adds.
pub const MAX_BATCH: usize = 4096;

/// A committed change that live subscribers must hear about.
#[derive(Debug, Clone)]
pub enum Change {
    /// Rows of the judging tables added or changed by one job.
    Judging(Box<DataStore>),
}

/// Committed changes, in commit order.
pub type Changes = tokio_mpsc::UnboundedReceiver<Change>;

/// What a job sees: the connection inside the batch transaction, and a place
/// to publish changes that only go out if the transaction commits.
pub struct Tx<'a> {
    conn: &'a Connection,
    published: Vec<Change>,
}

impl Tx<'_> {
    /// Queues `change` for the live feed; dropped if this job or its batch
    /// does not commit.
    pub fn publish(&mut self, change: Change) {
        self.published.push(change);
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// Runs after the batch commits (or fails), with the commit's outcome.
type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// A job: runs in the transaction; says whether to keep its writes.
/// Given no transaction (it could not begin), it must not run and only
/// hands back its completion.
type Run = Box<dyn FnOnce(Option<&mut Tx<'_>>) -> (bool, Completion) + Send>;

struct Job {
    run: Run,
    /// Whether the job needs a savepoint to be undone alone. A job whose
    /// writes are one statement does not: SQLite makes a statement atomic by
    /// itself, and a savepoint copies each page it touches to a sub-journal,
    /// which profiles of the durable-acks benchmark showed to be costly.
    savepoint: bool,
}

enum Msg {
    Job(Job),
    Close,
}

/// The handle through which tasks send jobs to the writer thread.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Msg>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Writer {
    pub(super) fn start(
        conn: Connection,
        metrics: Arc<Metrics>,
    ) -> Result<(Writer, Changes), StoreError> {
        let (jobs, rx) = mpsc::channel();
        let (changes_tx, changes) = tokio_mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("podium-writer".into())
            .spawn(move || run(conn, rx, changes_tx, metrics))
            .map_err(|e| StoreError::Worker(e.to_string()))?;
        Ok((
            Writer {
                jobs,
                thread: Arc::new(Mutex::new(Some(thread))),
            },
            changes,
        ))
    }

    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.try_write(move |tx| f(tx).map(Ok::<T, std::convert::Infallible>))
            .await
            .map(|r| match r {
                Ok(v) => v,
                Err(never) => match never {},
            })
    }

    pub(super) async fn try_write<T, E, F>(&self, f: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<Result<T, E>, StoreError> + Send + 'static,
    {
        self.submit(f, true).await
    }

    /// For jobs that write with at most one statement (see [`Job::savepoint`]).
    pub(super) async fn write_one<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(
            move |tx| f(tx).map(Ok::<T, std::convert::Infallible>),
            false,
        )
        .await
        .map(|r| match r {
            Ok(v) => v,
            Err(never) => match never {},
        })
    }

    async fn submit<T, E, F>(&self, f: F, savepoint: bool) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<Result<T, E>, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let run: Run = Box::new(move |tx| {
            let outcome = tx.map(f);
            let keep = matches!(outcome, Some(Ok(Ok(_))));
            let completion: Completion = Box::new(move |commit| {
                let result = match (commit, outcome) {
                    (_, Some(Err(e))) => Err(e),
                    (Err(e), None | Some(Ok(Ok(_)))) => Err(StoreError::Worker(format!(
                        "the write was not committed: {e}"
                    ))),
                    // A refusal wrote nothing, committed or not.
                    (_, Some(Ok(v))) => Ok(v),
                    (Ok(()), None) => Err(StoreError::Worker("the write did not run".into())),
                };
                let _ = reply.send(result);
            });
            (keep, completion)
        });
        self.jobs
            .send(Msg::Job(Job { run, savepoint }))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Commits what is queued, stops the thread and waits for it to exit.
    pub(super) fn close(&self) {
        let _ = self.jobs.send(Msg::Close);
        if let Some(handle) = self.thread.lock().expect("writer handle poisoned").take() {
            let _ = handle.join();
        }
    }
}

fn run(
    conn: Connection,
    rx: mpsc::Receiver<Msg>,
    changes: tokio_mpsc::UnboundedSender<Change>,
    metrics: Arc<Metrics>,
) {
    let mut batch: Vec<Job> = Vec::new();
    let mut closing = false;
    while !closing {
        match rx.recv() {
            Ok(Msg::Job(job)) => batch.push(job),
            Ok(Msg::Close) | Err(_) => break,
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
        commit_batch(&conn, &mut batch, &changes);
        metrics.commit_batch.observe(size as f64);
        metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
    }
    // Fold the WAL back into the main file so a clean stop leaves one file.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %e, "final checkpoint failed");
    }
    tracing::debug!("storage writer stopped");
}

fn commit_batch(
    conn: &Connection,
    batch: &mut Vec<Job>,
    changes: &tokio_mpsc::UnboundedSender<Change>,
) {
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    let mut published: Vec<Change> = Vec::new();
    let begun = exec(conn, "BEGIN IMMEDIATE");
    if let Err(e) = begun {
        let err = StoreError::Sqlite(e);
        tracing::error!(error = %err, "cannot begin a transaction");
        for job in batch.drain(..) {
            // Not run: only its completion is taken, to answer the failure.
            let (_, completion) = (job.run)(None);
            completion(Err(&err));
        }
        return;
    }
    // Per job: did its writes make it into the transaction as it asked?
    let mut kept_ok: Vec<bool> = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        let mut tx = Tx {
            conn,
            published: Vec::new(),
        };
        let savepoint = if job.savepoint {
            exec(conn, "SAVEPOINT job").map(|()| true)
        } else {
            Ok(false)
        };
        let (keep, completion) = (job.run)(Some(&mut tx));
        let ok = match (savepoint, keep) {
            (Err(_), _) => false,
            (Ok(false), _) => true,
            (Ok(true), true) => exec(conn, "RELEASE job").is_ok(),
            (Ok(true), false) => {
                // A refused job reports its own outcome; its writes go.
                let _ = exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"));
                true
            }
        };
        if ok && keep {
            published.append(&mut tx.published);
        }
        kept_ok.push(ok);
        completions.push(completion);
    }
    match exec(conn, "COMMIT") {
        Ok(()) => {
            for change in published {
                // No receiver only during shutdown; nothing is waiting then.
                let _ = changes.send(change);
            }
            let lost = StoreError::Worker("the job's savepoint failed".into());
            for (completion, ok) in completions.into_iter().zip(kept_ok) {
                completion(if ok { Ok(()) } else { Err(&lost) });
            }
        }
        Err(e) => {
            let err = StoreError::Sqlite(e);
            tracing::error!(error = %err, "commit failed; the batch is rolled back");
            let _ = exec(conn, "ROLLBACK");
            for completion in completions {
                completion(Err(&err));
            }
        }
    }
}

/// Runs one statement from the statement cache: the transaction-control
/// statements run for every job, and parsing them each time showed up in
/// profiles of the writer.
fn exec(conn: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::metrics::Metrics;
    use crate::store::{Store, StoreError, SyncMode};

    #[tokio::test]
    async fn a_refused_or_failed_job_is_undone_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _changes) =
            Store::open(dir.path(), SyncMode::Normal, Arc::new(Metrics::default())).unwrap();
        let insert = |key: &'static str| {
            move |tx: &mut super::Tx<'_>| -> Result<(), StoreError> {
                tx.execute("INSERT INTO meta (key, value) VALUES (?1, 'x')", [key])?;
                Ok(())
            }
        };
        let kept = store.write(insert("kept"));
        let refused = store.try_write(|tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES ('refused', 'x')", [])?;
            Ok(Err::<(), _>("no"))
        });
        let failed = store.write(|tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES ('failed', 'x')", [])?;
            tx.execute("INSERT INTO nowhere VALUES (1)", [])?;
            Ok(())
        });
        let one = store.write_one(insert("one"));
        let (kept, refused, failed, one) = tokio::join!(kept, refused, failed, one);
        kept.unwrap();
        assert_eq!(refused.unwrap(), Err("no"));
        assert!(failed.is_err());
        one.unwrap();
        let keys: Vec<String> = store
            .read(|c| {
                let mut s = c.prepare("SELECT key FROM meta WHERE value = 'x' ORDER BY key")?;
                let rows = s.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(keys, ["kept", "one"]);
        store.close();
    }
}
