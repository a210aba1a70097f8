//! The starting points of the views that follow the change log: the
//! judging tables and every device's newest score, each read in one
//! transaction together with the position it is as of, and the [`Log`]
//! trait for the SQLite store.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::log::last_seq;
use super::{Store, StoreError};
use crate::judging::model::DataStore;
use crate::scoring::DeviceId;
use crate::store::changes::{ClickerSnapshot, Entry, Log, LogError, Seq};

impl Store {
    /// Every judging row and the position they are as of.
    pub async fn judging_snapshot(&self) -> Result<(Seq, DataStore), StoreError> {
        self.read(|conn| {
            let tx = conn.unchecked_transaction()?;
            let seq = last_seq(&tx)?;
            Ok((seq, super::judging::load_all(&tx)?))
        })
        .await
    }

    /// Every device's newest score, every connected device's holder, and
    /// the position they are as of.
    pub async fn clicker_snapshot(&self) -> Result<ClickerSnapshot, StoreError> {
        self.read(|conn| {
            let tx = conn.unchecked_transaction()?;
            let seq = last_seq(&tx)?;
            let ids: Vec<DeviceId> = tx
                .prepare("SELECT id FROM clicker_devices ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut latest = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(score) = super::clicker::latest_score_before(&tx, id, i64::MAX)? {
                    latest.push((id, score));
                }
            }
            Ok(ClickerSnapshot {
                position: seq,
                latest,
                holders: super::clicker::holders(&tx)?,
            })
        })
        .await
    }
}

impl Log for Store {
    fn epoch(&self) -> Arc<str> {
        Store::epoch(self)
    }

    fn judging_snapshot(&self) -> BoxFuture<'static, Result<(Seq, DataStore), StoreError>> {
        let store = self.clone();
        Box::pin(async move { store.judging_snapshot().await })
    }

    fn clicker_snapshot(&self) -> BoxFuture<'static, Result<ClickerSnapshot, StoreError>> {
        let store = self.clone();
        Box::pin(async move { store.clicker_snapshot().await })
    }

    /// One node, whose followers get each commit before it is acknowledged.
    fn head(&self) -> BoxFuture<'static, Result<Seq, StoreError>> {
        Box::pin(std::future::ready(Ok(0)))
    }

    fn changes_after(
        &self,
        after: Seq,
        upto: Option<Seq>,
    ) -> BoxFuture<'static, Result<Vec<Entry>, LogError>> {
        let store = self.clone();
        Box::pin(async move { store.changes_after(after, upto).await })
    }
}
