//! The SQLite engine, a node's own store of record by default: one
//! database file in the data directory, written by one writer thread.
//!
//! * [`writer`] runs the single writer thread with group commit: jobs sent
//!   from many tasks share one transaction and one sync, and each job's
//!   caller hears back only after the commit. [`checkpointer`] moves WAL
//!   pages into the database off that thread; [`faults`] fails the disk on
//!   purpose, for drills.
//! * [`schema`] holds the versioned migrations the binary applies itself.
//! * [`log`] is the change log in SQLite, [`snapshots`] what followers
//!   start from.
//! * One module owns each group of tables: [`clicker`] devices and scores,
//!   [`judging`] the Sledge tables, with [`judging_bulk`] for the writes
//!   that touch many rows at once (imports, assignment), [`judge_links`]
//!   the judges' sign-in links, [`speed`] speed events, heats and entries,
//!   and [`floor`] the judging floor (pause, absences, notes, withdrawals,
//!   judges' activity). [`keyed`] runs a write under its idempotency key.
//!
//! Reads run on a small pool of read-only connections (WAL lets them proceed
//! while the writer commits) on tokio's blocking threads.

mod absences;
mod checkpointer;
mod clicker;
mod faults;
mod floor;
mod interface;
mod judge_links;
mod judges;
mod judging;
mod judging_bulk;
mod judging_rows;
mod judging_status;
mod keyed;
mod log;
mod notes;
mod placements;
mod ratings;
mod schema;
mod snapshots;
mod speed;
#[cfg(test)]
pub(super) mod test_support;
mod withdrawals;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use super::{changes, now_ms, receive_clock, Changes, StoreError, SyncMode};
use crate::metrics::Metrics;
pub use faults::Fault;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "podium.sqlite3";

/// A handle to the database: cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct Store {
    writer: writer::Writer,
    /// Receive times of clicker scores, and the heat boundaries between them
    /// (shared by every clone: one clock per database).
    receive_clock: Arc<receive_clock::ReceiveClock>,
    readers: Arc<ReadPool>,
    /// The change log's epoch, and who hears of committed changes.
    epoch: Arc<str>,
    followers: Arc<changes::Followers>,
    _checkpointing: checkpointer::Alive,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`, applies
    /// migrations and starts the writer thread. Committed changes that other
    /// modules publish arrive on the returned [`Changes`] stream in commit
    /// order (a first follower: see [`Store::follow`]). The change log keeps
    /// [`super::log_codec::DEFAULT_RETAIN`] changes.
    pub fn open(
        data_dir: &Path,
        sync: SyncMode,
        metrics: Arc<Metrics>,
    ) -> Result<(Store, Changes), StoreError> {
        Store::open_retaining(data_dir, sync, metrics, super::log_codec::DEFAULT_RETAIN)
    }

    /// Like [`Store::open`], keeping at least the last `retain` changes in the log.
    pub fn open_retaining(
        data_dir: &Path,
        sync: SyncMode,
        metrics: Arc<Metrics>,
        retain: u64,
    ) -> Result<(Store, Changes), StoreError> {
        let path = data_dir.join(DB_FILE);
        // Declared before the connection, so dropped after it on every path.
        let vfs = faults::FaultVfs::register()?;
        let conn = Connection::open_with_flags_and_vfs(&path, OpenFlags::default(), vfs.name())
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync_pragma = match sync {
            SyncMode::Full => "FULL",
            SyncMode::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync_pragma)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Checkpoints run on their own thread (see `checkpointer`), so the
        // writer never copies WAL pages into the database inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&conn)?;
        // No connection outlives the process that held it.
        conn.execute("DELETE FROM device_presence", [])?;
        let log = log::open(&conn, retain)?;
        let epoch = log.epoch.clone();
        let checkpointing = checkpointer::start(&path)?;
        let followers = Arc::new(changes::Followers::default());
        let changes = followers.add();
        let writer = writer::Writer::start(conn, vfs, metrics, log, followers.clone())?;
        let store = Store {
            writer,
            receive_clock: Default::default(),
            readers: Arc::new(ReadPool {
                path,
                idle: Mutex::new(Vec::new()),
            }),
            epoch,
            followers,
            _checkpointing: checkpointing,
        };
        Ok((store, changes))
    }

    /// Runs `f` inside the next group-commit transaction and returns its
    /// result once the transaction is durably committed. See [`writer`].
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut writer::Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// Like [`Store::write`], for jobs whose refusal is a domain error: `Ok(Err(e))`
    /// means the job refused and changed nothing.
    async fn try_write<T, E, F>(&self, f: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut writer::Tx<'_>) -> Result<Result<T, E>, StoreError> + Send + 'static,
    {
        self.writer.try_write(f).await
    }

    /// Like [`Store::write`] for a job that writes with at most one
    /// statement: it skips the per-job savepoint, which such a job does not
    /// need (see [`writer`]). The hot path of every SCORE.
    async fn write_one<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut writer::Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.write_one(f).await
    }

    /// Runs `f` on a read-only connection on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let out = f(&conn);
            pool.give_back(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// Waits until every job sent so far is committed: used by health checks
    /// and by shutdown.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute_batch("SELECT 1")?;
            Ok(())
        })
        .await
    }

    /// Probes that the database accepts writes (for `/healthz`).
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.probe_writable_at(now_ms()).await
    }

    /// The stored value must change on every probe: SQLite leaves a page
    /// clean when a row is rewritten with identical content, and a commit
    /// with nothing to write never reaches the disk it is to probe. The
    /// clock alone does not guarantee that (two probes in one millisecond,
    /// or a clock stepped back onto the stored time), so the value is the
    /// probe time, or one past the stored value when that is not later.
    async fn probe_writable_at(&self, now: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('health_probed_at', ?1)
                 ON CONFLICT (key) DO UPDATE SET value =
                     max(CAST(excluded.value AS INTEGER), CAST(value AS INTEGER) + 1)",
                [now],
            )?;
            Ok(())
        })
        .await
    }

    /// Makes the writer's connection fail as `fault` would (see [`faults`]),
    /// or heal with [`Fault::None`], once the jobs already queued are done.
    /// For fault drills and tests: the server itself never calls it.
    pub async fn inject_fault(&self, fault: Fault) -> Result<(), StoreError> {
        self.writer.inject_fault(fault).await
    }

    /// Stops the writer after the jobs already queued and waits for it.
    pub fn close(&self) {
        self.writer.close();
    }
}

/// Writes a consistent copy of the database in `data_dir` to `target`, while
/// a server may be running on it: `VACUUM INTO` reads one snapshot (WAL lets
/// the writer carry on) and writes a compact, self-contained file. Restoring is
/// copying that file to `podium.sqlite3` in an empty data directory. The copy
/// has no change-log epoch: a server started on a restored copy makes a new
/// one, so no client resumes its event stream across the restore (the
/// original went on numbering changes the copy never saw).
pub fn backup(data_dir: &Path, target: &Path) -> Result<(), StoreError> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        return Err(StoreError::Worker(format!(
            "no database at {}",
            path.display()
        )));
    }
    if target.exists() {
        return Err(StoreError::Worker(format!(
            "{} exists already: choose a new file name",
            target.display()
        )));
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|source| StoreError::Open { path, source })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let target = target
        .to_str()
        .ok_or_else(|| StoreError::Worker("the backup path is not valid UTF-8".into()))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    let copy = Connection::open(target).map_err(|source| StoreError::Open {
        path: target.into(),
        source,
    })?;
    copy.execute("DELETE FROM meta WHERE key = 'epoch'", [])?;
    Ok(())
}

/// Read-only connections, opened on demand and kept for reuse.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle.lock().expect("read pool poisoned").pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: self.path.clone(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().expect("read pool poisoned");
        if idle.len() < 8 {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Fault, Store, SyncMode};
    use crate::metrics::Metrics;

    /// Two `/healthz` probes in the same millisecond, or after the clock
    /// stepped back, must each still write to the disk: a probe that wrote
    /// the stored value again would commit nothing and pass on a failing disk.
    #[tokio::test]
    async fn every_probe_reaches_the_disk_whatever_the_clock_says() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _changes) =
            Store::open(dir.path(), SyncMode::Normal, Arc::new(Metrics::default())).unwrap();
        let at = 1_796_000_000_000;
        for (what, earlier, now) in [
            ("same millisecond", at, at),
            ("clock stepped back", at + 10_000, at),
        ] {
            store.inject_fault(Fault::None).await.unwrap();
            store.probe_writable_at(earlier).await.unwrap();
            store.inject_fault(Fault::IoError).await.unwrap();
            assert!(
                store.probe_writable_at(now).await.is_err(),
                "{what}: the probe passed on a failing disk"
            );
            store.inject_fault(Fault::None).await.unwrap();
            store.probe_writable_at(now).await.unwrap();
            let stored: i64 = store
                .read(|c| {
                    Ok(c.query_row(
                        "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'health_probed_at'",
                        [],
                        |r| r.get(0),
                    )?)
                })
                .await
                .unwrap();
            assert!(stored > earlier, "{what}: probe stored {stored}");
        }
        store.close();
    }
}
