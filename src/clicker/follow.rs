//! The clicker hub's newest scores, built from the change log: a snapshot
//! of every device's newest score at position N, then every score committed
//! after N, in commit order. Each one newer than what the hub holds for its
//! device is broadcast to the device's listeners (see [`Hub::publish_score`]);
//! an older one (stored late) is not. A gap in the numbers (a batch whose
//! first change is not the one after the last seen) is filled by reading
//! the log from N; a log that no longer holds it makes the hub reload the
//! newest scores. This is the follower another node would run too.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::hub::Hub;
use crate::store::{Change, Changes, Entry, Log, Seq, StoreError};

/// Loads the newest scores into `hub`, then broadcasts every score
/// committed after them until `shutdown`. `changes` must have been made
/// ([`Store::follow`]) before this is called.
pub async fn start(
    hub: Arc<Hub>,
    log: Arc<dyn Log>,
    changes: Changes,
    shutdown: CancellationToken,
) -> Result<(), StoreError> {
    let position = load(&hub, &*log).await?;
    tokio::spawn(follow(hub, log, changes, position, shutdown));
    Ok(())
}

/// Loads every device's newest score; returns their position.
async fn load(hub: &Hub, log: &dyn Log) -> Result<Seq, StoreError> {
    let snapshot = log.clicker_snapshot().await?;
    for (device, score) in snapshot.latest {
        hub.load_latest(device, score);
    }
    for (device, holder) in snapshot.holders {
        hub.load_holder(device, holder);
    }
    Ok(snapshot.position)
}

async fn follow(
    hub: Arc<Hub>,
    log: Arc<dyn Log>,
    mut changes: Changes,
    mut position: Seq,
    shutdown: CancellationToken,
) {
    loop {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => break,
            batch = changes.recv() => match batch {
                Some(batch) => batch,
                None => break,
            },
        };
        for entry in batch.iter() {
            if entry.seq <= position {
                continue;
            }
            if entry.seq != position + 1 {
                position = fill_gap(&hub, &*log, position, entry.seq - 1).await;
                if entry.seq <= position {
                    continue;
                }
            }
            apply(&hub, entry);
            position = entry.seq;
        }
    }
    tracing::debug!("clicker hub stopped following the change log");
}

fn apply(hub: &Hub, entry: &Entry) {
    match &entry.change {
        Change::Score(score) => hub.publish_score(score.device, score.timestamp, score.score),
        Change::Presence(p) => hub.apply_presence(p.device, p.holder, p.connected),
        Change::Judging(_) => {}
    }
}

/// Applies the changes after `position` up to `upto` read from the log;
/// returns the new position.
async fn fill_gap(hub: &Hub, log: &dyn Log, position: Seq, upto: Seq) -> Seq {
    tracing::warn!(
        from = position,
        upto,
        "a gap in the clicker scores; catching up from the log"
    );
    match log.changes_after(position, Some(upto)).await {
        Ok(entries) => {
            entries.iter().for_each(|entry| apply(hub, entry));
            upto
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot catch up from the log; reloading the newest scores");
            match load(hub, log).await {
                Ok(reloaded) => reloaded,
                Err(e) => {
                    tracing::error!(error = %e, "cannot reload the newest scores");
                    upto
                }
            }
        }
    }
}
