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
//! [`Change`]s: each gets the next sequence number of the change log (see
//! [`super::log`]), the batch's changes are stored in the log inside its
//! transaction (one row per commit), and after the
//! commit the batch's changes reach every follower ([`super::Store::follow`])
//! in commit order, which is what keeps every live view in one order. A job
//! that is undone gives its numbers back, and a batch that does not commit
//! consumes none, so the numbers stay gapless.
//!
//! When storage fails (disk full, I/O error, read-only), nothing of a batch
//! that did not commit is acknowledged or published: every job in it hears
//! the error, the transaction is rolled back, and the thread carries on with
//! the next batch, so writes resume by themselves once the fault clears.

use std::ops::Deref;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::faults::{Fault, FaultVfs};
use super::log::{self, LogState};
use super::StoreError;
use crate::metrics::Metrics;
use crate::store::changes::{Change, Entry, Followers};
use crate::store::job_outcome::{fail_all, settle, Completion, Ran};

/// Most jobs sharing one transaction: bounds the latency a batch adds.
pub const MAX_BATCH: usize = 4096;

/// What a job sees: the connection inside the batch transaction, and a place
/// to publish changes that only go out if the transaction commits.
pub struct Tx<'a> {
    conn: &'a Connection,
    published: Vec<Change>,
}

/// The runner's operations publish through the same log.
impl crate::store::runner::Publish for Tx<'_> {
    fn publish(&mut self, change: Change) {
        Tx::publish(self, change);
    }
}

impl Tx<'_> {
    /// Logs `change` and queues it for the followers; dropped (with its
    /// number) if this job or its batch does not commit.
    pub fn publish(&mut self, change: Change) {
        self.published.push(change);
    }

    /// How many changes this job published so far.
    pub(super) fn published_len(&self) -> usize {
        self.published.len()
    }

    /// Drops the changes published after the first `len`: their writes
    /// were rolled back to a savepoint of the job's own.
    pub(super) fn unpublish_to(&mut self, len: usize) {
        self.published.truncate(len);
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// A job: runs in the transaction; says what became of its writes.
/// Given no transaction (it could not begin, or was lost), it must not run
/// and only hands back its completion.
type Run = Box<dyn FnOnce(Option<&mut Tx<'_>>) -> (Ran, Completion) + Send>;

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
    /// Applied between batches, in queue order with the jobs.
    Fault(Fault, oneshot::Sender<Result<(), StoreError>>),
    Close,
}

/// The writer's connection and the VFS it was opened with. Fields drop in
/// declaration order: the connection must close before its VFS goes away.
struct Owned {
    conn: Connection,
    vfs: FaultVfs,
}

/// The handle through which tasks send jobs to the writer thread.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Msg>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Writer {
    /// `conn` must have been opened with `vfs`, which the thread drops after it.
    /// Committed changes go to `followers`, numbered on from `log`.
    pub(super) fn start(
        conn: Connection,
        vfs: FaultVfs,
        metrics: Arc<Metrics>,
        log: LogState,
        followers: Arc<Followers>,
    ) -> Result<Writer, StoreError> {
        let (jobs, rx) = mpsc::channel();
        let owned = Owned { conn, vfs };
        let thread = std::thread::Builder::new()
            .name("podium-writer".into())
            .spawn(move || {
                let mut out = Out { log, followers };
                run(&owned.conn, &owned.vfs, rx, &mut out, metrics)
            })
            .map_err(|e| StoreError::Worker(e.to_string()))?;
        Ok(Writer {
            jobs,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
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
        let run: Run = Box::new(move |tx| settle(tx.map(f), reply));
        self.jobs
            .send(Msg::Job(Job { run, savepoint }))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    pub(super) async fn inject_fault(&self, fault: Fault) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Msg::Fault(fault, reply))
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

/// Where committed changes go: the log's position, and the followers.
struct Out {
    log: LogState,
    followers: Arc<Followers>,
}

fn run(
    conn: &Connection,
    vfs: &FaultVfs,
    rx: mpsc::Receiver<Msg>,
    out: &mut Out,
    metrics: Arc<Metrics>,
) {
    let mut batch: Vec<Job> = Vec::new();
    let mut closing = false;
    while !closing {
        let mut fault = None;
        match rx.recv() {
            Ok(Msg::Job(job)) => batch.push(job),
            Ok(Msg::Fault(f, reply)) => fault = Some((f, reply)),
            Ok(Msg::Close) | Err(_) => break,
        }
        while fault.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => batch.push(job),
                // Jobs queued after the fault must meet it: stop the batch here.
                Ok(Msg::Fault(f, reply)) => fault = Some((f, reply)),
                Ok(Msg::Close) => {
                    closing = true;
                    break;
                }
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let started = Instant::now();
            let size = batch.len();
            let failed = commit_batch(conn, &mut batch, out);
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
        if let Some((f, reply)) = fault {
            let _ = reply.send(apply_fault(conn, vfs, f));
        }
    }
    // Fold the WAL back into the main file so a clean stop leaves one file.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %e, "final checkpoint failed");
    }
    tracing::debug!("storage writer stopped");
}

fn apply_fault(conn: &Connection, vfs: &FaultVfs, fault: Fault) -> Result<(), StoreError> {
    conn.pragma_update(None, "query_only", fault == Fault::ReadOnly)?;
    vfs.set(fault);
    if fault == Fault::None {
        tracing::warn!("storage fault cleared: writes go to disk again");
    } else {
        tracing::warn!(%fault, "storage fault injected: writes will fail until it is cleared");
    }
    Ok(())
}

/// Runs one batch in one transaction and answers every job; returns how
/// many jobs were answered with an error.
fn commit_batch(conn: &Connection, batch: &mut Vec<Job>, out: &mut Out) -> usize {
    if !conn.is_autocommit() {
        // A transaction left open by an earlier failure would make every
        // BEGIN below fail, and the writer with it, for good.
        tracing::error!("a failed transaction was still open; rolling it back");
        let _ = exec(conn, "ROLLBACK");
    }
    let mut completions: Vec<(Ran, Completion)> = Vec::with_capacity(batch.len());
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        let err = StoreError::Sqlite(e);
        tracing::error!(error = %err, "cannot begin a transaction");
        for job in batch.drain(..) {
            // Not run: only its completion is taken, to answer the failure.
            completions.push((job.run)(None));
        }
        return fail_all(completions, &err);
    }
    // The batch's changes with their numbers; `seq` is the last one given.
    let mut published: Vec<Entry> = Vec::new();
    let mut seq = out.log.last;
    let mut jobs = batch.drain(..);
    for job in jobs.by_ref() {
        let mut tx = Tx {
            conn,
            published: Vec::new(),
        };
        if job.savepoint && exec(conn, "SAVEPOINT job").is_err() {
            // Without its savepoint a failing job could not be undone alone.
            completions.push((job.run)(None));
            continue;
        }
        let (ran, completion) = (job.run)(Some(&mut tx));
        let mut undone = true;
        if job.savepoint {
            match ran {
                // A savepoint that cannot be released cannot be undone
                // alone either: its log rows would hold numbers given back.
                Ran::Kept => undone = exec(conn, "RELEASE job").is_ok(),
                Ran::Refused | Ran::Failed => {
                    undone = exec(conn, "ROLLBACK TO job")
                        .and_then(|()| exec(conn, "RELEASE job"))
                        .is_ok();
                }
            }
        } else if ran != Ran::Kept && !tx.published.is_empty() {
            // Without a savepoint, its writes stay: a change it published
            // could be neither logged nor undone.
            undone = false;
        }
        if ran == Ran::Kept && undone {
            for change in tx.published {
                seq += 1;
                published.push(Entry { seq, change });
            }
        }
        completions.push((ran, completion));
        if conn.is_autocommit() || !undone {
            // On some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) SQLite
            // rolls back the whole transaction, not just the statement: the
            // jobs before this one lost their writes too, and a job run now
            // would commit on its own, outside the batch. A job that cannot
            // be undone alone spoils the batch the same way.
            let err = StoreError::NotCommitted {
                reason: "storage failed during the commit this write shared, \
                         and the whole commit was rolled back"
                    .into(),
            };
            tracing::error!(error = %err, "a write failed and took its batch with it");
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            for job in jobs {
                completions.push((job.run)(None));
            }
            return fail_all(completions, &err);
        }
    }
    drop(jobs);
    if let Err(e) = log::append(conn, &published) {
        // The jobs are done and cannot be undone alone.
        let err = StoreError::NotCommitted {
            reason: format!("the change log could not be written: {e}"),
        };
        tracing::error!(error = %err, "a batch's changes could not be logged; the batch is rolled back");
        if !conn.is_autocommit() {
            let _ = exec(conn, "ROLLBACK");
        }
        return fail_all(completions, &err);
    }
    let mut trimmed = None;
    if let Some(floor) = out.log.trim_to(seq) {
        match log::trim(conn, floor) {
            Ok(()) => trimmed = Some(floor),
            Err(e) => {
                tracing::warn!(error = %e, "cannot trim the change log now; trying again later");
                if conn.is_autocommit() {
                    let err = StoreError::NotCommitted {
                        reason: "storage failed during the commit this write shared, \
                             and the whole commit was rolled back"
                            .into(),
                    };
                    return fail_all(completions, &err);
                }
            }
        }
    }
    match exec(conn, "COMMIT") {
        Ok(()) => {
            out.log.last = seq;
            if let Some(floor) = trimmed {
                out.log.floor = floor;
            }
            out.followers.send(published);
            let lost = StoreError::Worker("the job's savepoint failed".into());
            let mut failed = 0;
            for (ran, completion) in completions {
                if ran == Ran::Failed {
                    failed += 1;
                }
                // A failed job reports its own error; only a lost savepoint needs one.
                completion(if ran == Ran::Failed {
                    Err(&lost)
                } else {
                    Ok(())
                });
            }
            failed
        }
        Err(e) => {
            let err = StoreError::Sqlite(e);
            tracing::error!(error = %err, "commit failed; the batch is rolled back");
            // A COMMIT that failed may leave the transaction open (it does
            // for SQLITE_BUSY): end it, or the next BEGIN fails.
            if !conn.is_autocommit() {
                if let Err(e) = exec(conn, "ROLLBACK") {
                    tracing::error!(error = %e, "rollback after a failed commit failed");
                }
            }
            fail_all(completions, &err)
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
    use crate::store::{Change, Fault, Store, StoreError, SyncMode};

    fn insert(key: String) -> impl FnOnce(&mut super::Tx<'_>) -> Result<(), StoreError> {
        move |tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES (?1, 'x')", [&key])?;
            tx.publish(Change::Judging(Box::default()));
            Ok(())
        }
    }

    async fn keys(store: &Store) -> Vec<String> {
        store
            .read(|c| {
                let mut s = c.prepare("SELECT key FROM meta WHERE value = 'x' ORDER BY key")?;
                let rows = s.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap()
    }

    /// Under each fault a batch of writes (with and without savepoints, one
    /// big enough to spill the page cache mid-transaction) is refused whole:
    /// every job hears an error, nothing is stored or published, reads go
    /// on, and the same writer commits again once the fault is cleared.
    #[tokio::test]
    async fn a_failed_commit_answers_every_job_and_the_writer_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::default());
        let (store, mut changes) =
            Store::open(dir.path(), SyncMode::Normal, metrics.clone()).unwrap();
        store.write(insert("before".into())).await.unwrap();
        assert!(changes.try_recv().is_ok());
        for fault in [Fault::DiskFull, Fault::IoError, Fault::ReadOnly] {
            store.inject_fault(fault).await.unwrap();
            let name = |n: &str| format!("{fault} {n}");
            let plain = store.write(insert(name("plain")));
            let one = store.write_one(insert(name("one")));
            let big_key = name("big");
            let big = store.write(move |tx| {
                // Several MiB: more than the page cache holds, so SQLite
                // writes pages out before the commit.
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, zeroblob(8 * 1024 * 1024))",
                    [&big_key],
                )?;
                Ok(())
            });
            let after = store.write(insert(name("after")));
            let (plain, one, big, after) = tokio::join!(plain, one, big, after);
            for (what, result) in [
                ("plain", plain),
                ("one", one),
                ("big", big),
                ("after", after),
            ] {
                let err = result.expect_err(&format!("{what} must fail under {fault}"));
                eprintln!("{fault}: {what}: {err}");
            }
            assert!(store.check_writable().await.is_err(), "{fault}");
            assert_eq!(keys(&store).await, ["before"], "{fault}: nothing stored");
            assert!(changes.try_recv().is_err(), "{fault}: nothing published");

            store.inject_fault(Fault::None).await.unwrap();
            store.check_writable().await.unwrap();
            store.write(insert(name("healed"))).await.unwrap();
            assert!(
                changes.try_recv().is_ok(),
                "{fault}: published after healing"
            );
            let mut stored = keys(&store).await;
            stored.sort();
            let mut expected = ["before".to_string(), name("healed")];
            expected.sort();
            assert_eq!(stored, expected, "{fault}");
            store
                .write(move |tx| {
                    tx.execute("DELETE FROM meta WHERE key LIKE '% healed'", [])?;
                    Ok(())
                })
                .await
                .unwrap();
        }
        let errors = metrics
            .write_errors
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(errors >= 12, "{errors} write errors counted");
        store.close();
        // The writer stopped cleanly and the file is whole.
        let (store, _changes) =
            Store::open(dir.path(), SyncMode::Normal, Arc::new(Metrics::default())).unwrap();
        assert_eq!(keys(&store).await, ["before"]);
        store.close();
    }

    type BoxedJob = Box<dyn FnOnce(&mut super::Tx<'_>) -> Result<(), StoreError> + Send>;

    /// However SQLite comes to drop the batch's transaction mid-batch (here a
    /// job ends it itself, as SQLITE_FULL or SQLITE_IOERR in a statement may),
    /// the whole batch fails and the jobs after it do not run outside it.
    #[tokio::test]
    async fn a_job_that_loses_the_transaction_fails_its_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut changes) =
            Store::open(dir.path(), SyncMode::Normal, Arc::new(Metrics::default())).unwrap();
        // Hold the writer, so that the next jobs queue up and share one batch.
        let (started, has_started) = tokio::sync::oneshot::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .write(move |_| {
                        let _ = started.send(());
                        let _ = released.recv();
                        Ok(())
                    })
                    .await
            }
        });
        has_started.await.unwrap();
        // The current-thread runtime runs these in order: they queue in order.
        let spawn_write = |job: BoxedJob, one: bool| {
            let store = store.clone();
            tokio::spawn(async move {
                if one {
                    store.write_one(job).await
                } else {
                    store.write(job).await
                }
            })
        };
        let before = spawn_write(Box::new(insert("before".into())), false);
        let dropper = spawn_write(
            Box::new(|tx| {
                tx.execute("INSERT INTO meta (key, value) VALUES ('dropper', 'x')", [])?;
                tx.execute_batch("ROLLBACK")?;
                Ok(())
            }),
            false,
        );
        let after = spawn_write(Box::new(insert("after".into())), true);
        let after_savepoint = spawn_write(Box::new(insert("after savepoint".into())), false);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for (what, job) in [
            ("before", before),
            ("dropper", dropper),
            ("after", after),
            ("after savepoint", after_savepoint),
        ] {
            let err = job.await.unwrap().expect_err(what);
            assert!(
                matches!(err, StoreError::NotCommitted { .. }),
                "{what}: {err}"
            );
        }
        assert!(keys(&store).await.is_empty(), "nothing of the batch stored");
        assert!(
            changes.try_recv().is_err(),
            "nothing of the batch published"
        );
        store.write(insert("later".into())).await.unwrap();
        assert_eq!(keys(&store).await, ["later"]);
        store.close();
    }

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
