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
use crate::scoring::{DeviceId, Holder};
use crate::store::{Change, Changes, Database, Entry, Seq, StoreError};

/// Loads the newest scores into `hub`, then broadcasts every score
/// committed after them until `shutdown`. `changes` must have been made
/// ([`Store::follow`]) before this is called.
pub async fn start(
    hub: Arc<Hub>,
    store: Arc<dyn Database>,
    changes: Changes,
    shutdown: CancellationToken,
) -> Result<(), StoreError> {
    let position = load(&hub, &store).await?;
    tokio::spawn(follow(hub, store, changes, position, shutdown));
    Ok(())
}

/// Loads every device's newest score; returns their position.
async fn load(hub: &Hub, store: &Arc<dyn Database>) -> Result<Seq, StoreError> {
    let snapshot = store.clicker_snapshot().await?;
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
    store: Arc<dyn Database>,
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
                position = fill_gap(&hub, &store, position, entry.seq - 1).await;
                if entry.seq <= position {
                    continue;
                }
            }
            apply(&hub, &store, entry);
            position = entry.seq;
        }
    }
    tracing::debug!("clicker hub stopped following the change log");
}

fn apply(hub: &Hub, store: &Arc<dyn Database>, entry: &Entry) {
    match &entry.change {
        Change::Score(score) => hub.publish_score(score.device, score.timestamp, score.score),
        Change::Presence(p) => {
            if hub.apply_presence(p.device, p.holder, p.connected) {
                reclaim(store, p.device, p.holder);
            }
        }
        Change::Judging(_) | Change::Heat(_) => {}
    }
}

/// Takes `device`'s id back for `holder`, a connection of this node that is
/// still open although the cluster counted this node dead (it was cut off
/// from the database for longer than its lease): listeners everywhere hear
/// it connect again. Retried until it is written or another connection
/// holds the id (whose hold then closes this one).
fn reclaim(store: &Arc<dyn Database>, device: DeviceId, holder: Holder) {
    let store = store.clone();
    tokio::spawn(async move {
        tracing::warn!(
            device,
            "this node's hold on a device was released while it was cut off; taking it back"
        );
        for _ in 0..RECLAIM_ATTEMPTS {
            match store.reclaim_device(device, holder).await {
                Ok(_) => return,
                Err(e) => tracing::warn!(device, error = %e, "cannot take a device's id back yet"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}

/// Attempts, a second apart, to take a released id back.
const RECLAIM_ATTEMPTS: usize = 30;

/// Applies the changes after `position` up to `upto` read from the log;
/// returns the new position.
async fn fill_gap(hub: &Hub, store: &Arc<dyn Database>, position: Seq, upto: Seq) -> Seq {
    tracing::warn!(
        from = position,
        upto,
        "a gap in the clicker scores; catching up from the log"
    );
    match store.changes_after(position, Some(upto)).await {
        Ok(entries) => {
            entries.iter().for_each(|entry| apply(hub, store, entry));
            upto
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot catch up from the log; reloading the newest scores");
            match load(hub, store).await {
                Ok(reloaded) => reloaded,
                Err(e) => {
                    tracing::error!(error = %e, "cannot reload the newest scores");
                    upto
                }
            }
        }
    }
}
