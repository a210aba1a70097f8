//! Moves committed pages from the WAL into the database file, off the
//! writer's thread.
//!
//! SQLite would otherwise checkpoint inside whichever commit crosses 1000 WAL
//! pages, stalling every acknowledgement waiting on that commit (profiles of
//! the durable-acks benchmark showed it). A PASSIVE checkpoint never blocks
//! the writer; it copies what it can and the next round does the rest. The
//! thread stops once every handle to the store is gone.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// How often to checkpoint.
const INTERVAL: Duration = Duration::from_millis(500);

/// Keeps the checkpoint thread running while any clone of it lives.
pub type Alive = Arc<()>;

/// Starts the checkpoint thread for the database at `path`.
pub fn start(path: &Path) -> Result<Alive, StoreError> {
    let conn = Connection::open(path).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let alive = Arc::new(());
    let watch: Weak<()> = Arc::downgrade(&alive);
    std::thread::Builder::new()
        .name("podium-checkpoint".into())
        .spawn(move || loop {
            std::thread::sleep(INTERVAL);
            if watch.strong_count() == 0 {
                return;
            }
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::debug!(error = %e, "checkpoint skipped");
            }
        })
        .map_err(|e| StoreError::Worker(e.to_string()))?;
    Ok(alive)
}
