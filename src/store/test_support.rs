//! What the storage unit tests share: a fresh database in a temporary
//! directory, a first judge, and a hack, a judge and a superlative to rate
//! (for both stores' tests).

use std::sync::Arc;

use super::{Changes, JudgingStore, Store, SyncMode};
use crate::judging::inputs::{NewHack, NewJudge};
use crate::judging::model::{Hack, Judge, Superlative};
use crate::metrics::Metrics;

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
        .add_judge(NewJudge {
            name: "Ada".into(),
            email: "ada@example.org".into(),
        })
        .await
        .unwrap();
    while changes.try_recv().is_ok() {}
    (dir, store, changes)
}

/// Adds hack "Tally", judge Ada and superlative "Best hardware" to either store.
pub async fn seed(store: &dyn JudgingStore) -> (Hack, Judge, Superlative) {
    let hack = store
        .add_hack(NewHack {
            name: "Tally".into(),
            description: "counts things".into(),
            location: 12,
        })
        .await
        .unwrap();
    let judge = store
        .add_judge(NewJudge {
            name: "Ada".into(),
            email: "Ada@Example.org".into(),
        })
        .await
        .unwrap();
    let superlative = store.add_superlative("Best hardware".into()).await.unwrap();
    (hack, judge, superlative)
}
