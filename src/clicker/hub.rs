//! The live fan-out hub for clicker events: which devices are connected, the
//! newest score of each, and who listens to what.
//!
//! Every listener has a bounded queue of ready-made text frames. Publishing
//! never waits: a frame is formatted once per draft and offered to each
//! listener's queue; a listener whose queue is full is dropped (its
//! connection closes with [`super::connection::CLOSE_TOO_SLOW`]), so a
//! scoreboard that stops reading can slow down no sender and no other
//! listener, and memory stays bounded. The lock is never held across an await.
//!
//! Scores and presence reach it from the store's change log
//! ([`super::follow`]), in commit order, whichever connection or node
//! stored them. Presence is cluster-wide: a device's id is held by one
//! connection ([`Holder`]: a node and a session on it); `CONNECT` and
//! `DISCONNECT` go out when the log says the id was taken or let go, and a
//! connection of this node whose id another connection (on any node) took
//! over is told to close.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::ws::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use super::protocol::{Draft, ServerMessage};
use super::queue::{self, PushError};
use crate::metrics::Metrics;
use crate::scoring::clock::is_newer;
use crate::scoring::{DeviceId, Holder, LatestScore, Presence};

/// The hub shared by every clicker connection.
pub struct Hub {
    inner: Mutex<Inner>,
    metrics: Arc<Metrics>,
    next_id: AtomicU64,
    /// This node's id in the cluster.
    node: u64,
    /// Told the device of every score broadcast, outside the lock: how
    /// speed heats follow the clickers (`crate::core::heats`).
    score_hook: OnceLock<ScoreHook>,
}

type ScoreHook = Box<dyn Fn(DeviceId) + Send + Sync>;

#[derive(Default)]
struct Inner {
    /// This node's connected senders, by the id they registered.
    sessions: HashMap<DeviceId, Session>,
    /// Who holds each connected device's id, cluster-wide (from the log).
    holders: HashMap<DeviceId, Holder>,
    /// The newest score broadcast (or loaded at REGISTER) per device.
    latest: HashMap<DeviceId, LatestScore>,
    /// Listeners of each device id.
    watchers: HashMap<DeviceId, Vec<Arc<Listener>>>,
}

impl Inner {
    /// Keeps `latest` as the device's newest score unless a newer one (by
    /// the wrapping clock) is known already.
    fn keep_newer(&mut self, device: DeviceId, latest: LatestScore) {
        let newer = self
            .latest
            .get(&device)
            .is_none_or(|known| is_newer(latest.timestamp, known.timestamp));
        if newer {
            self.latest.insert(device, latest);
        }
    }
}

struct Session {
    id: u64,
    kicked: CancellationToken,
}

/// A sender's hold on a device id.
pub struct SessionHandle {
    pub device: DeviceId,
    pub holder: Holder,
    /// Cancelled when a newer connection takes the id over.
    pub kicked: CancellationToken,
}

/// A listening connection, as the hub sees it.
pub struct Listener {
    id: u64,
    draft: Draft,
    queue: queue::Sender,
    /// Cancelled when the queue overflowed and the listener must go.
    pub dropped: CancellationToken,
    /// The same fact, cheap to read on every delivery (a token's check
    /// takes a lock).
    gone: AtomicBool,
}

impl Listener {
    pub fn draft(&self) -> Draft {
        self.draft
    }
}

/// Formats a broadcast once per draft, only for drafts someone listens with.
struct Frames<'a> {
    make: &'a dyn Fn(Draft) -> ServerMessage,
    one: Option<Utf8Bytes>,
    two: Option<Utf8Bytes>,
}

impl Frames<'_> {
    fn get(&mut self, draft: Draft) -> Utf8Bytes {
        let slot = match draft {
            Draft::One => &mut self.one,
            Draft::Two => &mut self.two,
        };
        slot.get_or_insert_with(|| Utf8Bytes::from((self.make)(draft).to_string()))
            .clone()
    }
}

impl Hub {
    /// The hub of node `node`.
    pub fn new(metrics: Arc<Metrics>, node: u64) -> Hub {
        Hub {
            inner: Mutex::new(Inner::default()),
            metrics,
            next_id: AtomicU64::new(1),
            node,
            score_hook: OnceLock::new(),
        }
    }

    /// Sets the one function told of every score broadcast (after the fact).
    pub fn on_score(&self, hook: impl Fn(DeviceId) + Send + Sync + 'static) {
        if self.score_hook.set(Box::new(hook)).is_err() {
            tracing::warn!("the clicker hub's score hook was set twice; the first one stays");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("clicker hub poisoned")
    }

    /// Makes a listener with a queue of `capacity` frames; the receiver is
    /// the connection's to drain.
    pub fn new_listener(&self, draft: Draft, capacity: usize) -> (Arc<Listener>, queue::Receiver) {
        let (queue, rx) = queue::bounded(capacity);
        let listener = Arc::new(Listener {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            draft,
            queue,
            dropped: CancellationToken::new(),
            gone: AtomicBool::new(false),
        });
        (listener, rx)
    }

    /// A holder for a connection of this node that is about to register.
    pub fn new_holder(&self) -> Holder {
        Holder {
            node: self.node,
            session: self.next_id.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// This node's connection `holder` registered `device` (committed, and
    /// logged: listeners hear `CONNECT` from [`Hub::apply_presence`]). A
    /// connection of this node that held the id before is told to close.
    pub fn attach(
        &self,
        device: DeviceId,
        holder: Holder,
        latest: Option<LatestScore>,
    ) -> SessionHandle {
        let kicked = CancellationToken::new();
        let mut inner = self.lock();
        if let Some(latest) = latest {
            inner.keep_newer(device, latest);
        }
        let previous = inner.sessions.insert(
            device,
            Session {
                id: holder.session,
                kicked: kicked.clone(),
            },
        );
        if let Some(old) = previous {
            old.kicked.cancel();
        }
        SessionHandle {
            device,
            holder,
            kicked,
        }
    }

    /// This node's connection ended: it no longer holds its id here. Whether
    /// the device disconnected is for the log to say (the store releases
    /// the id unless another connection took it over).
    pub fn detach(&self, handle: &SessionHandle) {
        let mut inner = self.lock();
        if inner
            .sessions
            .get(&handle.device)
            .is_some_and(|s| s.id == handle.holder.session)
        {
            inner.sessions.remove(&handle.device);
        }
    }

    /// Who held a device's id when the hub's snapshot was read.
    pub fn load_holder(&self, device: DeviceId, holder: Holder) {
        self.lock().holders.insert(device, holder);
    }

    /// A presence change from the log. `connected`: `holder` took the id;
    /// listeners get `CONNECT` unless it was held already (a takeover), and
    /// a connection of this node that held it is told to close. Else the
    /// holder let go, or its node was counted dead: listeners get
    /// `DISCONNECT` if it still held the id. Returns true when that holder
    /// is a connection of this node that is still open (this node was cut
    /// off from the database for longer than its lease): the caller takes
    /// the id back for it ([`super::follow`]).
    #[must_use]
    pub fn apply_presence(&self, device: DeviceId, holder: Holder, connected: bool) -> bool {
        let mut inner = self.lock();
        let ours = |session: &Session| holder.node == self.node && holder.session == session.id;
        if connected {
            if let Some(local) = inner.sessions.get(&device) {
                if !ours(local) {
                    local.kicked.cancel();
                    inner.sessions.remove(&device);
                }
            }
            if inner.holders.insert(device, holder).is_none() {
                self.broadcast(&mut inner, device, &|_| {
                    ServerMessage::Connect(vec![device])
                });
            }
            false
        } else {
            let still_open = inner.sessions.get(&device).is_some_and(ours);
            if inner.holders.get(&device) == Some(&holder) {
                inner.holders.remove(&device);
                self.broadcast(&mut inner, device, &|_| ServerMessage::Disconnect(device));
            }
            still_open
        }
    }

    /// Sets the newest score of `device` as the store holds it, when newer
    /// than the one known; nobody is told (see [`super::follow`]).
    pub fn load_latest(&self, device: DeviceId, latest: LatestScore) {
        self.lock().keep_newer(device, latest);
    }

    /// A newly stored score that is the newest of its device: every listener
    /// of the device gets it, in its own draft's format. A score not newer
    /// than the last one broadcast is ignored, so no listener ever sees a
    /// count go back in time.
    pub fn publish_score(&self, device: DeviceId, timestamp: i64, score: i64) {
        {
            let mut inner = self.lock();
            if inner
                .latest
                .get(&device)
                .is_some_and(|known| !is_newer(timestamp, known.timestamp))
            {
                return;
            }
            inner
                .latest
                .insert(device, LatestScore { timestamp, score });
            self.broadcast(&mut inner, device, &|draft| {
                score_message(draft, device, timestamp, score)
            });
        }
        if let Some(hook) = self.score_hook.get() {
            hook(device);
        }
    }

    /// Adds `ids` to what `listener` hears. Queues, before anything else can
    /// reach it, `CONNECT` with those of `ids` connected now, then the newest
    /// score of each of them.
    pub fn listen(&self, listener: &Arc<Listener>, ids: &[DeviceId]) {
        let mut inner = self.lock();
        let mut connected = Vec::new();
        for &device in ids {
            let watchers = inner.watchers.entry(device).or_default();
            if !watchers.iter().any(|l| l.id == listener.id) {
                watchers.push(listener.clone());
            }
            if inner.holders.contains_key(&device) && !connected.contains(&device) {
                connected.push(device);
            }
        }
        let mut frames = vec![ServerMessage::Connect(connected.clone())];
        frames.extend(connected.iter().filter_map(|device| {
            inner
                .latest
                .get(device)
                .map(|l| score_message(listener.draft, *device, l.timestamp, l.score))
        }));
        for frame in frames {
            if !self.offer(listener, Utf8Bytes::from(frame.to_string())) {
                break;
            }
        }
    }

    /// Forgets a listener whose connection ended.
    pub fn remove_listener(
        &self,
        listener: &Arc<Listener>,
        ids: impl IntoIterator<Item = DeviceId>,
    ) {
        let mut inner = self.lock();
        for device in ids {
            if let Some(watchers) = inner.watchers.get_mut(&device) {
                watchers.retain(|l| l.id != listener.id);
                if watchers.is_empty() {
                    inner.watchers.remove(&device);
                }
            }
        }
    }

    /// Whether `device` has a connected sender now.
    pub fn is_connected(&self, device: DeviceId) -> bool {
        self.lock().holders.contains_key(&device)
    }

    fn broadcast(
        &self,
        inner: &mut Inner,
        device: DeviceId,
        make: &dyn Fn(Draft) -> ServerMessage,
    ) {
        let Some(watchers) = inner.watchers.get_mut(&device) else {
            return;
        };
        let mut frames = Frames {
            make,
            one: None,
            two: None,
        };
        watchers.retain(|listener| self.offer(listener, frames.get(listener.draft)));
        if watchers.is_empty() {
            inner.watchers.remove(&device);
        }
    }

    /// Queues a frame for a listener; false when the listener is gone or was
    /// just dropped for being too slow.
    fn offer(&self, listener: &Listener, frame: Utf8Bytes) -> bool {
        if listener.gone.load(Ordering::Relaxed) {
            return false;
        }
        match listener.queue.push(frame) {
            Ok(()) => true,
            Err(PushError::Full) => {
                listener.gone.store(true, Ordering::Relaxed);
                tracing::info!(
                    listener = listener.id,
                    "dropping a clicker listener: its send queue is full"
                );
                listener.dropped.cancel();
                self.metrics
                    .listeners_dropped_slow
                    .fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(PushError::Closed) => false,
        }
    }
}

fn score_message(draft: Draft, id: DeviceId, timestamp: i64, score: i64) -> ServerMessage {
    ServerMessage::Score {
        draft,
        timestamp,
        id,
        score: score as u64,
    }
}

impl Presence for Hub {
    fn is_connected(&self, device: DeviceId) -> bool {
        Hub::is_connected(self, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Hub {
        Hub::new(Arc::new(Metrics::default()), NODE)
    }

    const NODE: u64 = 1;
    const OTHER_NODE: u64 = 2;

    fn drain(rx: &mut queue::Receiver) -> Vec<String> {
        let mut out = Vec::new();
        rx.take(&mut out, usize::MAX);
        out.iter().map(|f| f.to_string()).collect()
    }

    /// A connection of this node registers `device`, and the log says so.
    fn connect(hub: &Hub, device: DeviceId, latest: Option<LatestScore>) -> SessionHandle {
        let holder = hub.new_holder();
        let session = hub.attach(device, holder, latest);
        assert!(!hub.apply_presence(device, holder, true));
        session
    }

    /// A connection of this node ends, and the log says the id was let go.
    fn disconnect(hub: &Hub, session: &SessionHandle) {
        hub.detach(session);
        assert!(!hub.apply_presence(session.device, session.holder, false));
    }

    #[test]
    fn listeners_get_their_draft_and_a_snapshot() {
        let hub = hub();
        let session = connect(
            &hub,
            7,
            Some(LatestScore {
                timestamp: 5,
                score: 2,
            }),
        );
        let (one, mut rx1) = hub.new_listener(Draft::One, 16);
        let (two, mut rx2) = hub.new_listener(Draft::Two, 16);
        hub.listen(&one, &[7, 8]);
        hub.listen(&two, &[7]);
        assert_eq!(drain(&mut rx1), ["CONNECT 000007", "SCORE 5 000007 2"]);
        assert_eq!(drain(&mut rx2), ["CONNECT 000007", "SCORE 5 2 000007"]);
        hub.publish_score(7, 6, 3);
        hub.publish_score(7, 4, 1); // late: never broadcast
        assert_eq!(drain(&mut rx1), ["SCORE 6 000007 3"]);
        assert_eq!(drain(&mut rx2), ["SCORE 6 3 000007"]);
        let s8 = connect(&hub, 8, None);
        assert_eq!(drain(&mut rx1), ["CONNECT 000008"]);
        disconnect(&hub, &session);
        disconnect(&hub, &s8);
        assert_eq!(drain(&mut rx1), ["DISCONNECT 000007", "DISCONNECT 000008"]);
        assert_eq!(drain(&mut rx2), ["DISCONNECT 000007"]);
    }

    #[test]
    fn the_score_hook_hears_what_is_broadcast() {
        let hub = hub();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = heard.clone();
        hub.on_score(move |device| sink.lock().unwrap().push(device));
        hub.publish_score(4, 10, 1);
        hub.publish_score(4, 9, 0); // late: not broadcast, not heard
        hub.publish_score(5, 1, 1);
        assert_eq!(*heard.lock().unwrap(), [4, 5]);
    }

    #[test]
    fn takeover_kicks_the_old_session_silently() {
        let hub = hub();
        let (l, mut rx) = hub.new_listener(Draft::One, 16);
        hub.listen(&l, &[1]);
        let old = connect(&hub, 1, None);
        let new = connect(&hub, 1, None);
        assert!(old.kicked.is_cancelled());
        disconnect(&hub, &old);
        assert!(hub.is_connected(1));
        assert_eq!(drain(&mut rx), ["CONNECT", "CONNECT 000001"]);
        disconnect(&hub, &new);
        assert_eq!(drain(&mut rx), ["DISCONNECT 000001"]);
    }

    #[test]
    fn a_takeover_on_another_node_closes_the_connection_here() {
        let hub = hub();
        let (l, mut rx) = hub.new_listener(Draft::One, 16);
        hub.listen(&l, &[3]);
        let here = connect(&hub, 3, None);
        let there = Holder {
            node: OTHER_NODE,
            session: 1,
        };
        assert!(!hub.apply_presence(3, there, true));
        assert!(here.kicked.is_cancelled());
        // The closed connection lets go of a hold it no longer has.
        disconnect(&hub, &here);
        assert!(hub.is_connected(3));
        assert!(!hub.apply_presence(3, there, false));
        assert_eq!(
            drain(&mut rx),
            ["CONNECT", "CONNECT 000003", "DISCONNECT 000003"]
        );
    }

    #[test]
    fn a_takeover_logged_before_this_node_attached_still_closes_the_old_one() {
        let hub = hub();
        let old = connect(&hub, 4, None);
        let holder = hub.new_holder();
        assert!(!hub.apply_presence(4, holder, true));
        assert!(old.kicked.is_cancelled());
        let new = hub.attach(4, holder, None);
        assert!(!new.kicked.is_cancelled());
    }

    #[test]
    fn a_hold_the_cluster_released_under_an_open_connection_is_to_be_taken_back() {
        let hub = hub();
        let (l, mut rx) = hub.new_listener(Draft::One, 16);
        hub.listen(&l, &[5]);
        let session = connect(&hub, 5, None);
        // Another node reaped this one's devices (its lease ran out).
        assert!(hub.apply_presence(5, session.holder, false));
        assert!(
            !session.kicked.is_cancelled(),
            "the device stays connected here"
        );
        assert!(!hub.is_connected(5));
        // Taken back: listeners hear it connect again.
        assert!(!hub.apply_presence(5, session.holder, true));
        assert!(!session.kicked.is_cancelled());
        assert_eq!(
            drain(&mut rx),
            [
                "CONNECT",
                "CONNECT 000005",
                "DISCONNECT 000005",
                "CONNECT 000005"
            ]
        );
    }

    #[test]
    fn a_full_queue_drops_only_that_listener() {
        let hub = hub();
        let _s = connect(&hub, 1, None);
        let (slow, _rx_slow) = hub.new_listener(Draft::One, 2);
        let (fast, mut rx_fast) = hub.new_listener(Draft::One, 64);
        hub.listen(&slow, &[1]);
        hub.listen(&fast, &[1]);
        drain(&mut rx_fast);
        for ts in 1..=10 {
            hub.publish_score(1, ts, ts);
        }
        assert!(slow.dropped.is_cancelled());
        assert!(!fast.dropped.is_cancelled());
        assert_eq!(drain(&mut rx_fast).len(), 10);
        assert_eq!(
            hub.metrics.listeners_dropped_slow.load(Ordering::Relaxed),
            1
        );
    }
}
