//! What the SQLite storage unit tests share: a fresh database in a
//! temporary directory, and one with a first judge.

use std::sync::Arc;

use super::Store;
use crate::judging::inputs::NewJudge;
use crate::metrics::Metrics;
use crate::store::{Changes, Perform, SyncMode};

/// A new, empty database (kept while the directory lives).
pub fn open() -> (tempfile::TempDir, Store, Changes) {
    let dir = tempfile::tempdir().unwrap();
    let (store, changes) =
        Store::open(dir.path(), SyncMode::Normal, Arc::new(Metrics::default())).unwrap();
    (dir, store, changes)
}

/// A new database with one judge, Ada (id 1, ada@example.org), whose
/// change has been taken off the feed.
pub async fn with_ada() -> (tempfile::TempDir, Store, Changes) {
    let (dir, store, mut changes) = open();
    store
        .perform(NewJudge {
            name: "Ada".into(),
            email: "ada@example.org".into(),
        })
        .await
        .unwrap();
    while changes.try_recv().is_ok() {}
    (dir, store, changes)
}
