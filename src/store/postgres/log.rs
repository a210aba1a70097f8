//! The change log in PostgreSQL, the bus between nodes.
//!
//! A committing transaction takes its numbers by raising `change_head.last`
//! as its last statements before `COMMIT`. The row lock it takes there is
//! held until the commit, so the next transaction (of any node) numbers on
//! only after this one committed: numbers are gapless and follow commit
//! order, and a reader that sees number N sees every number below it. The
//! commit's changes are stored as one `change_log` row, packed as SQLite's
//! log packs them (`crate::store::log`), and `pg_notify` wakes the other
//! nodes when the transaction commits (PostgreSQL sends notifications only
//! then). Trimming keeps at least `retain` numbers, as with SQLite.

use std::sync::Arc;

use deadpool_postgres::Pool;
use futures_util::future::BoxFuture;

use super::writer::PgTx;
use super::{judging, snapshot, unreachable, PgStore};
use crate::judging::model::DataStore;
use crate::store::changes::{Change, ClickerSnapshot, Entry, Log, LogError, Seq};
use crate::store::log_codec::{pack, unpack};
use crate::store::StoreError;

/// The channel nodes `LISTEN` on; the payload is the last number committed.
pub const CHANNEL: &str = "podium_changes";

/// Numbers `published`, stores them as one row and queues the notification,
/// inside the batch's transaction; trims the log when due.
pub(super) async fn append(
    tx: &PgTx,
    published: Vec<Change>,
    retain: u64,
) -> Result<Vec<Entry>, StoreError> {
    let count = published.len() as i64;
    let raise = tx
        .prepare_cached(
            "UPDATE change_head SET last = last + $1 WHERE id = 1 RETURNING last, floor",
        )
        .await?;
    let row = tx.query_one(&raise, &[&count]).await?;
    let last: i64 = row.get(0);
    let floor: i64 = row.get(1);
    let first = (last - count + 1) as Seq;
    let entries: Vec<Entry> = published
        .into_iter()
        .zip(first..)
        .map(|(change, seq)| Entry { seq, change })
        .collect();
    let step = (retain / 8).max(1) as i64;
    let target = last - retain as i64;
    if target >= floor + step {
        let trim = tx
            .prepare_cached(
                "WITH moved AS (UPDATE change_head SET floor = GREATEST(floor, $1) WHERE id = 1)
                 DELETE FROM change_log WHERE seq <= $1",
            )
            .await?;
        tx.execute(&trim, &[&target]).await?;
    }
    let store = tx
        .prepare_cached(
            "WITH logged AS (INSERT INTO change_log (seq, body) VALUES ($1, $2))
             SELECT pg_notify('podium_changes', $3)",
        )
        .await?;
    tx.query(&store, &[&last, &pack(&entries)?, &last.to_string()])
        .await?;
    Ok(entries)
}

/// The number of the last committed change.
pub(super) async fn position(pool: &Pool) -> Result<Seq, StoreError> {
    let client = pool.get().await.map_err(unreachable)?;
    let last: i64 = client
        .query_one("SELECT last FROM change_head WHERE id = 1", &[])
        .await?
        .get(0);
    Ok(last as Seq)
}

/// The changes in (after, upto], read in one snapshot, checked whole.
pub(super) async fn read_after(
    pool: &Pool,
    after: Seq,
    upto: Option<Seq>,
) -> Result<Vec<Entry>, LogError> {
    let mut client = pool.get().await.map_err(unreachable)?;
    let tx = snapshot(&mut client).await?;
    let head = tx
        .query_one("SELECT last, floor FROM change_head WHERE id = 1", &[])
        .await
        .map_err(StoreError::from)?;
    let (last, floor) = (head.get::<_, i64>(0) as Seq, head.get::<_, i64>(1) as Seq);
    if after < floor {
        return Err(LogError::NotRetained { after, floor });
    }
    if after > last {
        return Err(LogError::Ahead { after, last });
    }
    let upto = upto.unwrap_or(last).min(last);
    let rows = tx
        .query(
            "SELECT seq, body FROM change_log WHERE seq > $1 ORDER BY seq",
            &[&(after as i64)],
        )
        .await
        .map_err(StoreError::from)?;
    let mut entries: Vec<Entry> = Vec::new();
    for row in rows {
        let seq: i64 = row.get(0);
        let body: &[u8] = row.get(1);
        unpack(body, &mut entries).map_err(|e| {
            LogError::Store(StoreError::Worker(format!(
                "the changes up to {seq} cannot be read: {e}"
            )))
        })?;
        if seq as Seq >= upto {
            break;
        }
    }
    entries.retain(|e| e.seq > after && e.seq <= upto);
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

impl PgStore {
    /// Every judging row and the position they are as of, read in one snapshot.
    pub async fn judging_snapshot(&self) -> Result<(Seq, DataStore), StoreError> {
        let mut client = self.pool.get().await.map_err(unreachable)?;
        let tx = snapshot(&mut client).await?;
        let last: i64 = tx
            .query_one("SELECT last FROM change_head WHERE id = 1", &[])
            .await?
            .get(0);
        let all = judging::load_all(&*tx).await?;
        Ok((last as Seq, all))
    }

    /// Every device's newest score, every connected device's holder, and
    /// the position they are as of.
    pub async fn clicker_snapshot(&self) -> Result<ClickerSnapshot, StoreError> {
        let mut client = self.pool.get().await.map_err(unreachable)?;
        let tx = snapshot(&mut client).await?;
        let last: i64 = tx
            .query_one("SELECT last FROM change_head WHERE id = 1", &[])
            .await?
            .get(0);
        Ok(ClickerSnapshot {
            position: last as Seq,
            latest: super::clicker::latest_scores(&*tx).await?,
            holders: super::clicker::holders(&*tx).await?,
        })
    }
}

impl Log for PgStore {
    fn epoch(&self) -> Arc<str> {
        PgStore::epoch(self)
    }

    fn judging_snapshot(&self) -> BoxFuture<'static, Result<(Seq, DataStore), StoreError>> {
        let store = self.clone();
        Box::pin(async move { store.judging_snapshot().await })
    }

    fn clicker_snapshot(&self) -> BoxFuture<'static, Result<ClickerSnapshot, StoreError>> {
        let store = self.clone();
        Box::pin(async move { store.clicker_snapshot().await })
    }

    /// `change_head.last`: every node's commits, in commit order.
    fn head(&self) -> BoxFuture<'static, Result<Seq, StoreError>> {
        let pool = self.pool.clone();
        Box::pin(async move {
            let client = pool.get().await.map_err(unreachable)?;
            let row = client
                .query_one("SELECT last FROM change_head WHERE id = 1", &[])
                .await?;
            Ok(row.get::<_, i64>(0) as Seq)
        })
    }

    fn changes_after(
        &self,
        after: Seq,
        upto: Option<Seq>,
    ) -> BoxFuture<'static, Result<Vec<Entry>, LogError>> {
        let pool = self.pool.clone();
        Box::pin(async move { read_after(&pool, after, upto).await })
    }
}
