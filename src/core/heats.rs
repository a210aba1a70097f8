//! Live heats: the clicker hub calls [`Live::on_score`] for every score it
//! broadcasts; when the device judges in the running heat, that heat is
//! marked changed and [`run`] works out its official results again (from
//! storage, the same way final results are) and publishes a [`HeatView`] to
//! every subscriber of `GET /api/speed/live`. Changes that arrive while a
//! view is being computed are folded into the next one, so a burst of
//! clicks costs one recomputation, not one per click.
//!
//! Which heat runs, and which heats' entries, panels or deductions changed,
//! come from the change log ([`HeatChange`]), whichever node wrote them: a
//! deduction entered on one node shows on every node's scoreboards as soon
//! as that node hears the commit.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::scoring::DeviceId;
use crate::speed::model::{Filter, HeatState};
use crate::speed::results::{results, EntryResult};
use crate::store::{Batch, Change, Changes, HeatChange, Seq, SpeedStore, StoreError};

/// Views a slow subscriber may fall behind by; it then skips to the newest
/// (each view is complete, so nothing is lost by skipping).
const FEED_CAPACITY: usize = 64;

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
    fn watch(&self, heat: u32, devices: &[DeviceId]) {
        let mut inner = self.lock();
        inner.watched = devices.iter().map(|&d| (d, heat)).collect();
        inner.dirty.insert(heat);
        drop(inner);
        self.wake.notify_one();
    }

    /// `heat` stopped (or was locked again): its clickers no longer count.
    fn unwatch(&self, heat: u32) {
        let mut inner = self.lock();
        inner.watched.retain(|_, watched| *watched != heat);
        inner.dirty.insert(heat);
        drop(inner);
        self.wake.notify_one();
    }

    /// Watches the heat storage says is running (`None`: none is), when
    /// that is not what is watched (a heat left running by an earlier
    /// process, or changes missed in a gap). Both heats' views are worked
    /// out again.
    fn adopt(&self, running: Option<(u32, &[DeviceId])>) {
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
    fn touch(&self, heat: u32) {
        self.lock().dirty.insert(heat);
        self.wake.notify_one();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.feed.subscribe()
    }

    /// Applies a batch of committed changes; `position` is the last change
    /// seen (`None` before the first batch). Answers whether changes were
    /// missed (a gap in the numbers), so storage must be looked at again.
    fn follow(&self, position: &mut Option<Seq>, batch: &Batch) -> bool {
        let mut gap = false;
        for entry in batch.iter() {
            match *position {
                Some(seen) if entry.seq <= seen => continue,
                Some(seen) if entry.seq > seen + 1 => gap = true,
                _ => {}
            }
            *position = Some(entry.seq);
            if let Change::Heat(change) = &entry.change {
                match change {
                    HeatChange::Edited(heat) => self.touch(*heat),
                    HeatChange::Started { heat, devices } => self.watch(*heat, devices),
                    HeatChange::Stopped(heat) => self.unwatch(*heat),
                }
            }
        }
        gap
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

/// Looks at storage for the running heat and watches it; after a gap,
/// also works out the current heat again (its changes may be among those
/// missed).
async fn look(live: &Live, store: &dyn SpeedStore, after_gap: bool) -> Result<(), StoreError> {
    let current = store.speed_current_heat().await?;
    match &current {
        Some((heat, devices, true)) => live.adopt(Some((*heat, devices))),
        _ => live.adopt(None),
    }
    if let (Some((heat, _, _)), true) = (current, after_gap) {
        live.touch(heat);
    }
    Ok(())
}

/// How long to wait before reading storage again when it failed.
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Publishes heats as they change, until `shutdown`: picks up a heat left
/// running by an earlier process first, then follows `changes` (made before
/// this looks at storage, so no change is missed in between).
pub async fn run(
    live: Arc<Live>,
    store: Arc<dyn SpeedStore>,
    mut changes: Changes,
    shutdown: CancellationToken,
) {
    let mut position = None;
    let mut must_look = Some(false);
    // Warned about the storage failure now going on (once, not every retry).
    let mut warned = false;
    loop {
        if let Some(after_gap) = must_look {
            match look(&live, &*store, after_gap).await {
                Ok(()) => (must_look, warned) = (None, false),
                Err(e) if !std::mem::replace(&mut warned, true) => {
                    tracing::warn!(error = %e, "cannot read the running speed heat");
                }
                Err(_) => {}
            }
        }
        let retry = async {
            match must_look {
                Some(_) => tokio::time::sleep(LOOK_AGAIN).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = live.wake.notified() => {}
            batch = changes.recv() => {
                match batch {
                    Some(batch) if live.follow(&mut position, &batch) => must_look = Some(true),
                    Some(_) => {}
                    None => return,
                }
                continue;
            }
            () = retry => continue,
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

    fn batch(changes: &[(Seq, Change)]) -> Batch {
        changes
            .iter()
            .map(|(seq, change)| crate::store::Entry {
                seq: *seq,
                change: change.clone(),
            })
            .collect::<Vec<_>>()
            .into()
    }

    fn heat(change: HeatChange) -> Change {
        Change::Heat(change)
    }

    /// Every node hears every heat change from the log, its own and
    /// others' alike; numbers seen already are skipped, a gap is told.
    #[test]
    fn heat_changes_from_the_log_drive_the_live_heats() {
        let live = Live::new();
        let mut position = None;
        let started = heat(HeatChange::Started {
            heat: 2,
            devices: vec![5, 6],
        });
        assert!(!live.follow(&mut position, &batch(&[(7, started)])));
        assert_eq!(std::mem::take(&mut live.lock().dirty), BTreeSet::from([2]));
        live.on_score(6);
        assert_eq!(std::mem::take(&mut live.lock().dirty), BTreeSet::from([2]));

        let edited = batch(&[
            (8, heat(HeatChange::Edited(4))),
            (9, Change::Judging(Box::default())),
        ]);
        assert!(!live.follow(&mut position, &edited));
        assert_eq!(std::mem::take(&mut live.lock().dirty), BTreeSet::from([4]));
        assert!(!live.follow(&mut position, &edited), "seen already");
        assert!(live.lock().dirty.is_empty());

        let stopped = batch(&[(12, heat(HeatChange::Stopped(2)))]);
        assert!(
            live.follow(&mut position, &stopped),
            "10 and 11 were missed"
        );
        assert_eq!(std::mem::take(&mut live.lock().dirty), BTreeSet::from([2]));
        live.on_score(6);
        assert!(
            live.lock().dirty.is_empty(),
            "the stopped heat's clickers no longer count"
        );
    }

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
