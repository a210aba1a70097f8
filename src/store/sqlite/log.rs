//! The change log: every committed change gets a sequence number in the
//! transaction that commits it, stored with it, so that any follower (the
//! judging mirror, the clicker hub, a resuming event stream, later another
//! node) can be built as "a snapshot at sequence N, then every change after
//! N" and can catch up after a gap by reading the log from N.
//!
//! Numbers are monotone and gapless: the writer thread alone hands them out
//! (see `writer`), a job that is undone gives its numbers back, and a batch
//! that does not commit consumes none. The database also has an *epoch*, a
//! random id made when it is created and again when its history is reset
//! (a restored backup: [`super::backup`] removes the epoch from the copy, so
//! the first start on it makes a new one). A position is only meaningful
//! with its epoch.
//!
//! Storage, and why: a clicker score is one log entry, and the SCORE path
//! is the hot one (`bench/run.sh acks`). A first design gave each
//! `clicker_scores` row an indexed `seq` column; the index insert per score
//! cost about 10% of the durable acks rate, and a `change_log` row per
//! judging change cost about as much of the judging rate. So the log is one
//! row per *commit*: `change_log.seq` is the commit's last change, and its
//! body holds all of the commit's changes, packed ([`pack`]: a score in
//! [`SCORE_BYTES`], a judging diff as JSON), written by the writer once,
//! just before the commit. Reading "changes after N" reads the rows above N
//! and unpacks them. Only the last `retain` numbers are promised: older rows
//! are trimmed by the writer in the same transaction as a batch, in steps of
//! `retain / 8`, and `meta.log_floor` records the position below which the
//! log no longer answers.

use crate::store::log_codec::{pack, unpack};
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::{Store, StoreError};
use crate::secrets;
use crate::store::changes::{Changes, Entry, LogError, Seq};

/// The writer's view of the log: where it ends, what it still answers for,
/// how much to keep.
#[derive(Debug, Clone)]
pub(super) struct LogState {
    pub epoch: Arc<str>,
    pub last: Seq,
    pub floor: Seq,
    pub retain: u64,
}

impl LogState {
    /// The floor to trim to at position `last`, when enough is due that a
    /// trim is worth its statements.
    pub fn trim_to(&self, last: Seq) -> Option<Seq> {
        let step = (self.retain / 8).max(1);
        let target = last.saturating_sub(self.retain);
        (target >= self.floor + step).then_some(target)
    }
}

/// Reads (or, for a new database or a reset history, makes) the epoch and
/// the log's bounds. Runs on the writer's connection before it starts.
pub(super) fn open(conn: &Connection, retain: u64) -> Result<LogState, StoreError> {
    let epoch: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let last = last_seq(conn)?;
    let (epoch, floor) = match epoch {
        Some(epoch) => (epoch, floor(conn)?),
        None => {
            // A new history: nothing before `last` may be resumed under the
            // new epoch, and the old rows are of no use.
            let epoch = secrets::generate(8);
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('epoch', ?1)",
                [&epoch],
            )?;
            set_floor(&tx, last)?;
            tx.execute("DELETE FROM change_log", [])?;
            tx.commit()?;
            tracing::info!(%epoch, position = last, "the change log starts a new epoch");
            (epoch, last)
        }
    };
    Ok(LogState {
        epoch: epoch.into(),
        last,
        floor,
        retain: retain.max(1),
    })
}

/// The number of the last committed change.
pub(super) fn last_seq(conn: &Connection) -> Result<Seq, StoreError> {
    let logged: Option<Seq> = conn
        .prepare_cached("SELECT MAX(seq) FROM change_log")?
        .query_row([], |r| r.get(0))?;
    Ok(floor(conn)?.max(logged.unwrap_or(0)))
}

/// The position after which the log answers.
fn floor(conn: &Connection) -> Result<Seq, StoreError> {
    let floor: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'log_floor'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(floor.and_then(|f| f.parse().ok()).unwrap_or(0))
}

fn set_floor(conn: &Connection, floor: Seq) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('log_floor', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([floor.to_string()])
    .map(|_| ())
}

/// Stores a commit's changes, in order, as one row (called by the writer
/// inside the batch's transaction, before the commit).
pub(super) fn append(conn: &Connection, entries: &[Entry]) -> Result<(), StoreError> {
    let Some(last) = entries.last() else {
        return Ok(());
    };
    conn.prepare_cached("INSERT INTO change_log (seq, body) VALUES (?1, ?2)")?
        .execute(params![last.seq, pack(entries)?])?;
    Ok(())
}

/// Forgets the changes up to `floor` (in the batch's transaction). The
/// floor moves first: rows left behind by a failed delete are never read.
pub(super) fn trim(conn: &Connection, floor: Seq) -> Result<(), StoreError> {
    set_floor(conn, floor)?;
    conn.prepare_cached("DELETE FROM change_log WHERE seq <= ?1")?
        .execute([floor])?;
    Ok(())
}

/// Reads the changes in (after, upto] in one read transaction, checking
/// that they are all there.
fn read_after(conn: &Connection, after: Seq, upto: Option<Seq>) -> Result<Vec<Entry>, LogError> {
    let tx = conn.unchecked_transaction()?;
    let floor = floor(&tx)?;
    let last = last_seq(&tx)?;
    if after < floor {
        return Err(LogError::NotRetained { after, floor });
    }
    if after > last {
        return Err(LogError::Ahead { after, last });
    }
    let upto = upto.unwrap_or(last).min(last);
    let mut entries: Vec<Entry> = Vec::new();
    // A row holds one commit's changes, the last of them its seq: those
    // above `after` are in the rows above it.
    let mut rows =
        tx.prepare_cached("SELECT seq, body FROM change_log WHERE seq > ?1 ORDER BY seq")?;
    let mut rows = rows.query(params![after])?;
    while let Some(row) = rows.next()? {
        let seq: Seq = row.get(0)?;
        let body = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        unpack(body, &mut entries).map_err(|e| {
            LogError::Store(StoreError::Worker(format!(
                "the changes up to {seq} cannot be read: {e}"
            )))
        })?;
        if seq >= upto {
            break;
        }
    }
    entries.retain(|e| e.seq > after && e.seq <= upto);
    entries.sort_by_key(|e| e.seq);
    for (expected, entry) in (after + 1..).zip(&entries) {
        if entry.seq != expected {
            return Err(LogError::Gap {
                expected,
                found: entry.seq,
            });
        }
    }
    let end = after + entries.len() as Seq;
    if end != upto {
        return Err(LogError::Gap {
            expected: end + 1,
            found: upto,
        });
    }
    Ok(entries)
}

impl Store {
    /// The database's epoch: with a sequence number, a position in its history.
    pub fn epoch(&self) -> Arc<str> {
        self.epoch.clone()
    }

    /// A new follower of the committed changes: every batch committed from
    /// now on, in commit order. Read a snapshot after this, then skip what
    /// the snapshot holds already.
    pub fn follow(&self) -> Changes {
        self.followers.add()
    }

    /// Every change after `after` up to `upto` (or the end), in order, none
    /// missing; an error when the log no longer holds them.
    pub async fn changes_after(
        &self,
        after: Seq,
        upto: Option<Seq>,
    ) -> Result<Vec<Entry>, LogError> {
        match self
            .read(move |conn| Ok(read_after(conn, after, upto)))
            .await
        {
            Ok(result) => result,
            Err(e) => Err(e.into()),
        }
    }

    /// The last committed change's number.
    pub async fn position(&self) -> Result<Seq, StoreError> {
        self.read(last_seq).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::judging::model::DataStore;
    use crate::metrics::Metrics;
    use crate::store::changes::Change;
    use crate::store::{Fault, SyncMode};

    #[test]
    fn trims_in_steps_keeping_at_least_retain() {
        let state = LogState {
            epoch: "e".into(),
            last: 0,
            floor: 0,
            retain: 80,
        };
        assert_eq!(state.trim_to(80), None);
        assert_eq!(state.trim_to(89), None);
        assert_eq!(state.trim_to(90), Some(10));
        let later = LogState { floor: 10, ..state };
        assert_eq!(later.trim_to(99), None);
        assert_eq!(later.trim_to(100), Some(20));
    }

    fn open(dir: &std::path::Path, retain: u64) -> (Store, Changes) {
        Store::open_retaining(dir, SyncMode::Normal, Arc::new(Metrics::default()), retain).unwrap()
    }

    /// A judging change that names itself, to be found again in the log.
    fn marked(n: i64) -> Change {
        Change::Judging(Box::new(DataStore {
            judging_status: vec![crate::judging::model::JudgingStatus {
                id: n,
                paused: false,
            }],
            ..Default::default()
        }))
    }

    fn mark(entry: &Entry) -> i64 {
        match &entry.change {
            Change::Judging(diff) => diff.judging_status[0].id,
            Change::Score(s) => s.timestamp,
            Change::Presence(p) => -i64::from(p.device),
            Change::Heat(_) => unreachable!("no heat changes in these tests"),
        }
    }

    const HOLDER: crate::scoring::Holder = crate::scoring::Holder {
        node: 1,
        session: 1,
    };

    /// Kept jobs' changes get 1, 2, 3, ... whatever else shares their
    /// batches: a refusal, a failure, a batch lost to a disk fault; scores
    /// (logged with the rest, one row per commit) and duplicates (not a change) included.
    #[tokio::test]
    async fn numbers_are_gapless_across_undone_jobs_and_failed_batches() {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut changes) = open(dir.path(), 1000);
        let device = store.register_device(None, HOLDER).await.unwrap().id;
        let keep = |n: i64| {
            store.write(move |tx| {
                tx.publish(marked(n));
                Ok(())
            })
        };
        let refuse = store.try_write(|tx| {
            tx.publish(marked(-1));
            Ok(Err::<(), _>("no"))
        });
        let fail = store.write(|tx| {
            tx.publish(marked(-2));
            tx.execute("INSERT INTO nowhere VALUES (1)", [])?;
            Ok(())
        });
        let (a, r, f, b) = tokio::join!(keep(1), refuse, fail, keep(2));
        a.unwrap();
        assert!(r.unwrap().is_err());
        assert!(f.is_err());
        b.unwrap();
        store.record_score(device, 3, 30, None).await.unwrap();
        store.record_score(device, 3, 30, None).await.unwrap(); // a retry
        store.inject_fault(Fault::IoError).await.unwrap();
        let (lost, lost_score) = tokio::join!(keep(-3), store.record_score(device, -4, 1, None));
        assert!(lost.is_err() && lost_score.is_err());
        store.inject_fault(Fault::None).await.unwrap();
        keep(4).await.unwrap();
        store.record_score(device, 5, 50, None).await.unwrap();

        // Change 1 is the device taking hold of its id.
        let entries = store.changes_after(1, None).await.unwrap();
        let seqs: Vec<Seq> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3, 4, 5, 6]);
        let marks: Vec<i64> = entries.iter().map(mark).collect();
        assert_eq!(marks, [1, 2, 3, 4, 5]);
        let mut followed = Vec::new();
        while let Ok(batch) = changes.try_recv() {
            followed.extend(batch.iter().map(|e| (e.seq, mark(e))));
        }
        assert_eq!(
            followed,
            [
                (1, -i64::from(device)),
                (2, 1),
                (3, 2),
                (4, 3),
                (5, 4),
                (6, 5)
            ]
        );
        assert_eq!(store.position().await.unwrap(), 6);
        assert_eq!(store.changes_after(3, Some(4)).await.unwrap().len(), 1);
        assert!(matches!(
            store.changes_after(7, None).await,
            Err(LogError::Ahead { .. })
        ));

        // Numbering goes on after a restart, in the same epoch.
        let epoch = store.epoch();
        store.close();
        let (store, _changes) = open(dir.path(), 1000);
        assert_eq!(store.epoch(), epoch);
        keep_after_restart(&store).await;
        assert_eq!(store.position().await.unwrap(), 7);
        store.close();
    }

    async fn keep_after_restart(store: &Store) {
        store
            .write(|tx| {
                tx.publish(marked(6));
                Ok(())
            })
            .await
            .unwrap();
    }

    /// A commit's changes share one row, keyed by the last of them: any
    /// range reads back whole.
    #[tokio::test]
    async fn any_range_of_a_mixed_commit_reads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _changes) = open(dir.path(), 1000);
        let device = store.register_device(None, HOLDER).await.unwrap().id;
        let judging = |n: i64| {
            store.write(move |tx| {
                tx.publish(marked(n));
                Ok(())
            })
        };
        let (a, b, c, d) = tokio::join!(
            store.record_score(device, 1, 1, None),
            judging(2),
            store.record_score(device, 3, 1, None),
            judging(4),
        );
        a.unwrap();
        b.unwrap();
        c.unwrap();
        d.unwrap();
        // Change 1 is the device taking hold of its id: change n has mark n - 1.
        for after in 1..=5 {
            for upto in after..=5 {
                let read = store.changes_after(after, Some(upto)).await.unwrap();
                let marks: Vec<i64> = read.iter().map(mark).collect();
                let expected: Vec<i64> = (after as i64..upto as i64).collect();
                assert_eq!(marks, expected, "({after}, {upto}]");
            }
        }
        store.close();
    }

    #[tokio::test]
    async fn the_log_keeps_at_least_the_last_retain_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _changes) = open(dir.path(), 16);
        for n in 1..=100 {
            store
                .write(move |tx| {
                    tx.publish(marked(n));
                    Ok(())
                })
                .await
                .unwrap();
        }
        let kept = store.changes_after(100 - 16, None).await.unwrap();
        assert_eq!(kept.len(), 16);
        assert!(matches!(
            store.changes_after(0, None).await,
            Err(LogError::NotRetained { .. })
        ));
        let rows: i64 = store
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM change_log", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert!((16..=18).contains(&rows), "{rows} rows kept");
        store.close();
    }

    /// A restored backup is a new history: a new epoch, made on its first
    /// start, while the original keeps its own.
    #[tokio::test]
    async fn a_restored_backup_starts_a_new_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _changes) = open(dir.path(), 100);
        let epoch = store.epoch();
        store
            .write(|tx| {
                tx.publish(marked(1));
                Ok(())
            })
            .await
            .unwrap();
        let copy = tempfile::tempdir().unwrap();
        let file = copy.path().join(crate::store::DB_FILE);
        crate::store::backup(dir.path(), &file).unwrap();
        store.close();
        let (restored, _changes) = open(copy.path(), 100);
        let new_epoch = restored.epoch();
        assert_ne!(new_epoch, epoch);
        assert_eq!(restored.position().await.unwrap(), 1);
        restored.close();
        let (again, _changes) = open(copy.path(), 100);
        assert_eq!(again.epoch(), new_epoch, "made once, then kept");
        again.close();
        let (original, _changes) = open(dir.path(), 100);
        assert_eq!(original.epoch(), epoch);
        original.close();
    }
}
