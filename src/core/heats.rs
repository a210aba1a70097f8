//! Live heats: the clicker hub calls [`Live::on_score`] for every score it
//! broadcasts; when the device judges in the running heat, that heat is
//! marked changed and [`run`] works out its official results again (from
//! storage, the same way final results are) and publishes a [`HeatView`] to
//! every subscriber of `GET /api/speed/live`. Changes that arrive while a
//! view is being computed are folded into the next one, so a burst of
//! clicks costs one recomputation, not one per click.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::scoring::DeviceId;
use crate::speed::model::{Filter, HeatState};
use crate::speed::results::{results, EntryResult};
use crate::store::{SpeedStore, StoreError};

/// Views a slow subscriber may fall behind by; it then skips to the newest
/// (each view is complete, so nothing is lost by skipping).
const FEED_CAPACITY: usize = 64;
/// How often the running heat is read from storage.
const RUNNING_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// A heat as a scoreboard shows it: every station's entry with its live
/// official result and its judges' tallies.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeatView {
    /// `null` when no heat has been started yet.
    pub heat: Option<u32>,
    pub state: Option<HeatState>,
    /// Whether this is the current heat (the running one, else the last started).
    pub current: bool,
    pub entries: Vec<EntryResult>,
}

/// A view, serialized once for every subscriber.
#[derive(Debug)]
pub struct Published {
    pub heat: Option<u32>,
    pub current: bool,
    pub json: String,
}

#[derive(Default)]
struct Inner {
    /// The clickers of the running heat, and that heat.
    watched: HashMap<DeviceId, u32>,
    /// Heats whose view must be worked out again.
    dirty: BTreeSet<u32>,
}

/// The live state of speed heats, shared by the hub, the API and [`run`].
pub struct Live {
    inner: Mutex<Inner>,
    wake: Notify,
    feed: broadcast::Sender<Arc<Published>>,
}

impl Live {
    pub fn new() -> Arc<Live> {
        Arc::new(Live {
            inner: Mutex::new(Inner::default()),
            wake: Notify::new(),
            feed: broadcast::channel(FEED_CAPACITY).0,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("speed live state poisoned")
    }

    /// A score of `device` was stored and broadcast.
    pub fn on_score(&self, device: DeviceId) {
        let mut inner = self.lock();
        if let Some(&heat) = inner.watched.get(&device) {
            inner.dirty.insert(heat);
            drop(inner);
            self.wake.notify_one();
        }
    }

    /// `heat` is running with these clickers (replaces any other).
    pub fn watch(&self, heat: u32, devices: &[DeviceId]) {
        let mut inner = self.lock();
        inner.watched = devices.iter().map(|&d| (d, heat)).collect();
        inner.dirty.insert(heat);
        drop(inner);
        self.wake.notify_one();
    }

    /// `heat` stopped (or was locked again): its clickers no longer count.
    pub fn unwatch(&self, heat: u32) {
        let mut inner = self.lock();
        inner.watched.retain(|_, watched| *watched != heat);
        inner.dirty.insert(heat);
        drop(inner);
        self.wake.notify_one();
    }

    /// Watches the heat storage says is running (`None`: none is), when
    /// that is not what is watched: another node may have started or
    /// stopped it. Both heats' views are worked out again.
    pub fn adopt(&self, running: Option<(u32, &[DeviceId])>) {
        let want: HashMap<DeviceId, u32> = running
            .map(|(heat, devices)| devices.iter().map(|&d| (d, heat)).collect())
            .unwrap_or_default();
        let mut inner = self.lock();
        if inner.watched == want {
            return;
        }
        let changed: Vec<u32> = inner
            .watched
            .values()
            .chain(want.values())
            .copied()
            .collect();
        inner.dirty.extend(changed);
        inner.watched = want;
        drop(inner);
        self.wake.notify_one();
    }

    /// Something of `heat` changed (deductions, judges, entries).
    pub fn touch(&self, heat: u32) {
        self.lock().dirty.insert(heat);
        self.wake.notify_one();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.feed.subscribe()
    }
}

/// Works out a heat's view now: `None` for the current heat.
pub async fn view(store: &dyn SpeedStore, heat: Option<u32>) -> Result<HeatView, StoreError> {
    let current = store.speed_current_heat().await?.map(|(h, _, _)| h);
    let Some(heat) = heat.or(current) else {
        return Ok(HeatView {
            heat: None,
            state: None,
            current: false,
            entries: Vec::new(),
        });
    };
    let sheets = store
        .speed_sheets(Filter {
            event: None,
            heat: Some(heat),
        })
        .await?;
    let state = store.speed_heat(heat).await?.map(|h| h.state);
    Ok(HeatView {
        heat: Some(heat),
        state,
        current: current == Some(heat),
        entries: results(sheets, false),
    })
}

/// Publishes heats as they change, until `shutdown`. Picks up a heat left
/// running by an earlier process first; with `other_nodes` (cluster mode),
/// where another node may start or stop a heat, looks again every
/// [`RUNNING_POLL`].
pub async fn run(
    live: Arc<Live>,
    store: Arc<dyn SpeedStore>,
    other_nodes: bool,
    shutdown: CancellationToken,
) {
    let mut poll = tokio::time::interval(RUNNING_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = false;
    let mut looked = false;
    loop {
        tokio::select! {
            () = live.wake.notified() => {}
            _ = poll.tick(), if other_nodes || !looked => {
                looked = true;
                match store.speed_current_heat().await {
                    Ok(Some((heat, devices, true))) => live.adopt(Some((heat, &devices))),
                    Ok(_) => live.adopt(None),
                    Err(e) if !std::mem::replace(&mut warned, true) => {
                        tracing::warn!(error = %e, "cannot read the running speed heat");
                    }
                    Err(_) => {}
                }
                continue;
            }
            () = shutdown.cancelled() => return,
        }
        let dirty = std::mem::take(&mut live.lock().dirty);
        for heat in dirty {
            match view(&*store, Some(heat)).await {
                Ok(view) => {
                    let published = Published {
                        heat: view.heat,
                        current: view.current,
                        json: serde_json::to_string(&view).expect("a heat view serializes"),
                    };
                    // No subscribers is fine.
                    let _ = live.feed.send(Arc::new(published));
                }
                Err(e) => tracing::warn!(heat, error = %e, "cannot work out a live speed heat"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heat_another_node_started_or_stopped_is_adopted_once() {
        let live = Live::new();
        live.adopt(Some((3, &[1, 2])));
        assert_eq!(std::mem::take(&mut live.lock().dirty), BTreeSet::from([3]));
        live.adopt(Some((3, &[1, 2])));
        assert!(live.lock().dirty.is_empty(), "nothing changed");
        live.on_score(2);
        assert_eq!(std::mem::take(&mut live.lock().dirty), BTreeSet::from([3]));
        live.adopt(None);
        assert_eq!(std::mem::take(&mut live.lock().dirty), BTreeSet::from([3]));
        live.on_score(2);
        assert!(
            live.lock().dirty.is_empty(),
            "the stopped heat's clickers no longer count"
        );
    }

    #[test]
    fn only_the_running_heats_clickers_mark_it_changed() {
        let live = Live::new();
        live.watch(3, &[1, 2]);
        live.lock().dirty.clear();
        live.on_score(9);
        assert!(live.lock().dirty.is_empty(), "not a judge of the heat");
        live.on_score(2);
        assert_eq!(live.lock().dirty.iter().copied().collect::<Vec<_>>(), [3]);
        // Locking another heat again leaves the running one watched.
        live.unwatch(1);
        live.lock().dirty.clear();
        live.on_score(1);
        assert_eq!(live.lock().dirty.iter().copied().collect::<Vec<_>>(), [3]);
        live.unwatch(3);
        live.lock().dirty.clear();
        live.on_score(1);
        assert!(live.lock().dirty.is_empty());
    }
}
