//! The live-update task: the one owner of the mirror and the subscriber list.
//!
//! It consumes the store's committed changes in commit order, applies each
//! to the mirror and sends every subscriber its scoped `update-partial`.
//! Subscribing goes through the same task, which sends `update-full` from
//! the mirror and only then adds the subscriber: so no subscriber gets a
//! partial before its full update, misses a change, or sees changes in a
//! different order from another. Changes that arrive together are merged
//! into one partial, which keeps bursts (an import) from flooding sockets.
//!
//! A subscriber is a socket.io socket or a bounded channel (the HTTP API's
//! Server-Sent Events stream drains one); both get the same updates in the
//! same order. One whose buffer is full is dropped (a socket is also
//! disconnected, a channel closed), so a client that stops reading cannot
//! make the server hold unbounded memory. One-off reads of the state
//! ([`SyncHandle::snapshot`]) are answered from the mirror by the same task,
//! so they too include every change acknowledged before they were asked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};
use thiserror::Error;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::updates::{UpdateFull, UpdatePartial, UPDATE_FULL, UPDATE_PARTIAL};
use super::view::{coalesce, preview, Mirror, Viewer};
use crate::judging::model::DataStore;
use crate::metrics::{Metrics, Protocol};
use crate::store::{Change, Changes};

/// Most committed changes merged into one partial update.
const MAX_COALESCE: usize = 1024;
/// Changes stop being merged into one partial update once they hold about
/// this many bytes of JSON. A subscriber's send buffer holds
/// [`SEND_BUFFER`](super::SUBSCRIBER_BUFFER) packets, so this is what bounds it in bytes: a subscriber
/// that stops reading is dropped after at most `SEND_BUFFER` partials of
/// this size (plus one change each). Without it, a task that fell behind
/// merged ever bigger batches (1 024 ten-kB hacks made one 10 MB packet),
/// and a client that did not read could pin hundreds of MB before its
/// buffer filled. A burst of small changes (ratings, assignments) still
/// becomes one update.
pub const MAX_PARTIAL_BYTES: usize = 64 * 1024;
/// How often to retry disconnecting a subscriber whose buffer is full.
const DISCONNECT_RETRY: Duration = Duration::from_millis(200);

/// Why a subscription did not start.
#[derive(Debug, Error)]
pub enum SubscribeError {
    #[error("the socket disconnected before its subscription started")]
    Gone,
    #[error("the full update could not be queued for sending (the socket's send buffer is full); try again")]
    Busy,
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// One update for a channel subscriber: the event name (`update-full` or
/// `update-partial`) and its payload as JSON (`{"database": ..}` or
/// `{"diff": ..}`), serialised once for all subscribers with the same view.
#[derive(Debug, Clone)]
pub struct StreamUpdate {
    pub event: &'static str,
    pub data: Arc<str>,
}

/// Where a subscriber's updates go.
enum Sink {
    Socket(SocketRef),
    Channel(mpsc::Sender<StreamUpdate>),
}

/// Tells subscribers apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Socket(Sid),
    Channel(u64),
}

enum Command {
    Subscribe {
        sink: Sink,
        view: View,
        done: oneshot::Sender<Result<Key, SubscribeError>>,
    },
    Unsubscribe(Key),
    Snapshot {
        viewer: Viewer,
        done: oneshot::Sender<DataStore>,
    },
}

/// The way into the task; cheap to clone.
#[derive(Clone)]
pub struct SyncHandle {
    commands: mpsc::UnboundedSender<Command>,
}

/// A channel subscription: `updates` yields the `update-full` first, then
/// every `update-partial`, and ends when the subscriber was dropped for not
/// keeping up, or at shutdown. Dropping the subscription unsubscribes.
pub struct Subscription {
    pub updates: mpsc::Receiver<StreamUpdate>,
    _unsubscribe: Unsubscribe,
}

struct Unsubscribe {
    commands: mpsc::UnboundedSender<Command>,
    key: Key,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Unsubscribe(self.key));
    }
}

impl SyncHandle {
    /// Sends `socket` an `update-full` as `viewer` sees it and then every
    /// later change; subscribing again (say, after re-authenticating)
    /// starts over with a new full update.
    pub async fn subscribe(&self, socket: SocketRef, viewer: Viewer) -> Result<(), SubscribeError> {
        let view = View {
            viewer,
            preview: None,
        };
        self.add(Sink::Socket(socket), view).await.map(|_| ())
    }

    /// Stops updates to a socket (it disconnected).
    pub fn unsubscribe(&self, sid: Sid) {
        let _ = self.commands.send(Command::Unsubscribe(Key::Socket(sid)));
    }

    /// A subscription whose updates arrive on a channel that holds up to
    /// `capacity` of them; a subscriber that lets it fill is dropped.
    /// With `preview`, hack descriptions are cut to that many characters.
    pub async fn subscribe_channel(
        &self,
        viewer: Viewer,
        capacity: usize,
        preview: Option<usize>,
    ) -> Result<Subscription, SubscribeError> {
        let (sender, updates) = mpsc::channel(capacity.max(1));
        let view = View { viewer, preview };
        let key = self.add(Sink::Channel(sender), view).await?;
        Ok(Subscription {
            updates,
            _unsubscribe: Unsubscribe {
                commands: self.commands.clone(),
                key,
            },
        })
    }

    /// The whole state as `viewer` sees it: what an `update-full` sent now
    /// would hold.
    pub async fn snapshot(&self, viewer: Viewer) -> Result<DataStore, SubscribeError> {
        let (done, answer) = oneshot::channel();
        self.commands
            .send(Command::Snapshot { viewer, done })
            .map_err(|_| SubscribeError::ShuttingDown)?;
        answer.await.map_err(|_| SubscribeError::ShuttingDown)
    }

    async fn add(&self, sink: Sink, view: View) -> Result<Key, SubscribeError> {
        let (done, answer) = oneshot::channel();
        self.commands
            .send(Command::Subscribe { sink, view, done })
            .map_err(|_| SubscribeError::ShuttingDown)?;
        answer.await.map_err(|_| SubscribeError::ShuttingDown)?
    }
}

/// Starts the task with a mirror loaded from the database.
pub fn spawn(
    initial: DataStore,
    changes: Changes,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> SyncHandle {
    let (commands, inbox) = mpsc::unbounded_channel();
    let task = Task {
        mirror: Mirror::new(initial),
        subscribers: HashMap::new(),
        channels_made: 0,
        metrics,
    };
    tokio::spawn(task.run(changes, inbox, shutdown));
    SyncHandle { commands }
}

/// What one subscriber is sent: its viewer's scope, descriptions maybe cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct View {
    viewer: Viewer,
    preview: Option<usize>,
}

impl View {
    fn shape(&self, mut data: DataStore) -> DataStore {
        if let Some(chars) = self.preview {
            preview(&mut data, chars);
        }
        data
    }
}

struct Subscriber {
    sink: Sink,
    view: View,
}

struct Task {
    mirror: Mirror,
    subscribers: HashMap<Key, Subscriber>,
    /// Channel subscribers so far: the next one's key.
    channels_made: u64,
    metrics: Arc<Metrics>,
}

impl Task {
    async fn run(
        mut self,
        mut changes: Changes,
        mut inbox: mpsc::UnboundedReceiver<Command>,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                // Changes before commands: every change committed before a
                // client sent subscribe-database (its acknowledgement had
                // gone out, so the change was already queued here) is in
                // that client's update-full. Read-your-writes. The same
                // holds for snapshots.
                change = changes.recv() => match change {
                    Some(first) => {
                        let mut bytes = approx_bytes(&first);
                        let mut batch = vec![first];
                        while batch.len() < MAX_COALESCE && bytes < MAX_PARTIAL_BYTES {
                            match changes.try_recv() {
                                Ok(change) => {
                                    bytes += approx_bytes(&change);
                                    batch.push(change);
                                }
                                Err(_) => break,
                            }
                        }
                        self.publish(batch);
                    }
                    None => break,
                },
                command = inbox.recv() => match command {
                    Some(Command::Subscribe { sink, view, done }) => {
                        let _ = done.send(self.subscribe(sink, view));
                    }
                    Some(Command::Unsubscribe(key)) => {
                        self.subscribers.remove(&key);
                    }
                    Some(Command::Snapshot { viewer, done }) => {
                        let _ = done.send(self.mirror.snapshot(viewer));
                    }
                    None => break,
                },
            }
        }
        // Sockets hold the task's references only while it runs; dropping
        // the channels' senders ends their streams (and HTTP responses).
        self.subscribers.clear();
        tracing::debug!("sledge live updates stopped");
    }

    fn subscribe(&mut self, sink: Sink, view: View) -> Result<Key, SubscribeError> {
        let database = view.shape(self.mirror.snapshot(view.viewer));
        let full = UpdateFull {
            database: &database,
        };
        let key = match &sink {
            Sink::Socket(socket) => {
                // A socket that disconnected has sent its Unsubscribe already
                // (it is marked disconnected first), so it must not be added
                // after it.
                if !socket.connected() {
                    return Err(SubscribeError::Gone);
                }
                match socket.emit(UPDATE_FULL, &full) {
                    Ok(()) => Key::Socket(socket.id),
                    Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                        return Err(SubscribeError::Busy)
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot send update-full");
                        return Err(SubscribeError::Gone);
                    }
                }
            }
            Sink::Channel(sender) => {
                let update = StreamUpdate {
                    event: UPDATE_FULL,
                    data: to_json(&full),
                };
                // A new channel has room for its first update; failing, the
                // receiver is gone already.
                sender.try_send(update).map_err(|_| SubscribeError::Gone)?;
                self.channels_made += 1;
                Key::Channel(self.channels_made)
            }
        };
        self.metrics.messages_out(Protocol::Sledge, 1);
        self.subscribers.insert(key, Subscriber { sink, view });
        Ok(key)
    }

    fn publish(&mut self, batch: Vec<Change>) {
        let diff = coalesce(batch.into_iter().map(|change| match change {
            Change::Judging(diff) => *diff,
        }));
        if diff.is_empty() {
            return;
        }
        // One scoped diff per distinct viewer, however many subscribers share
        // it; serialised at most once, for the channels.
        let mut scoped: HashMap<View, (DataStore, Option<Arc<str>>)> = HashMap::new();
        let mut dropped = Vec::new();
        for (key, sub) in &self.subscribers {
            let (view, json) = scoped.entry(sub.view).or_insert_with(|| {
                let seen = sub.view.shape(self.mirror.scope(&diff, sub.view.viewer));
                (seen, None)
            });
            if view.is_empty() {
                continue;
            }
            let sent = match &sub.sink {
                Sink::Socket(socket) => send_to_socket(socket, view),
                Sink::Channel(sender) => {
                    let data = json
                        .get_or_insert_with(|| to_json(&UpdatePartial { diff: view }))
                        .clone();
                    send_to_channel(sender, data)
                }
            };
            match sent {
                Sent::Yes => self.metrics.messages_out(Protocol::Sledge, 1),
                Sent::Full => {
                    self.metrics
                        .listeners_dropped_slow
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    dropped.push(*key);
                }
                Sent::Gone => dropped.push(*key),
                Sent::Failed => {}
            }
        }
        self.mirror.apply(diff);
        for key in dropped {
            // For a channel this drops its sender: the stream ends once the
            // updates already queued are read.
            self.subscribers.remove(&key);
        }
    }
}

/// What became of one update.
enum Sent {
    Yes,
    /// The subscriber's buffer is full: it is not reading, so it is dropped.
    Full,
    /// The subscriber is gone.
    Gone,
    /// Not sent, for a reason that does not end the subscription.
    Failed,
}

fn send_to_socket(socket: &SocketRef, diff: &DataStore) -> Sent {
    match socket.emit(UPDATE_PARTIAL, &UpdatePartial { diff }) {
        Ok(()) => Sent::Yes,
        Err(SendError::Socket(SocketError::InternalChannelFull)) => {
            tracing::warn!(sid = %socket.id, "sledge subscriber not reading: send buffer full, disconnecting it");
            disconnect_when_possible(socket.clone());
            Sent::Full
        }
        Err(SendError::Socket(SocketError::Closed)) => Sent::Gone,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode update-partial");
            Sent::Failed
        }
    }
}

fn send_to_channel(sender: &mpsc::Sender<StreamUpdate>, data: Arc<str>) -> Sent {
    let update = StreamUpdate {
        event: UPDATE_PARTIAL,
        data,
    };
    match sender.try_send(update) {
        Ok(()) => Sent::Yes,
        Err(TrySendError::Full(_)) => {
            tracing::warn!(
                "event-stream subscriber not reading: its queue is full, ending its stream"
            );
            Sent::Full
        }
        Err(TrySendError::Closed(_)) => Sent::Gone,
    }
}

/// About how many bytes of JSON a change makes (its text plus a fixed cost
/// per row), without serialising it: enough to bound a merged partial.
fn approx_bytes(change: &Change) -> usize {
    /// Ids, numbers and keys of a row, a generous guess.
    const ROW: usize = 96;
    let Change::Judging(diff) = change;
    // Destructured whole so that a new table cannot be left uncounted.
    let DataStore {
        hacks,
        judges,
        judge_hacks,
        superlatives,
        superlative_placements,
        ratings,
        superlative_hacks,
        absences,
        notes,
        judging_status,
        withdrawals,
    } = &**diff;
    let text = hacks
        .iter()
        .map(|h| h.name.len() + h.description.len())
        .chain(judges.iter().map(|j| j.name.len() + j.email.len()))
        .chain(superlatives.iter().map(|s| s.name.len()))
        .chain(notes.iter().map(|n| n.text.len()))
        .sum::<usize>();
    let rows = hacks.len()
        + judges.len()
        + judge_hacks.len()
        + superlatives.len()
        + superlative_placements.len()
        + ratings.len()
        + superlative_hacks.len()
        + absences.len()
        + notes.len()
        + judging_status.len()
        + withdrawals.len();
    text + rows * ROW
}

/// An update's payload as JSON text.
fn to_json(payload: &impl serde::Serialize) -> Arc<str> {
    serde_json::to_string(payload)
        .expect("judging rows serialise")
        .into()
}

/// Disconnects a socket whose buffer is full. The disconnect packet needs
/// buffer space too, so this retries until there is room (a slow client
/// learns it was dropped) or the connection is gone: a client that never
/// reads is closed by the engine.io heartbeat within a minute, and then
/// disconnecting succeeds at once.
fn disconnect_when_possible(socket: SocketRef) {
    tokio::spawn(async move {
        while let Err(SocketError::InternalChannelFull) = socket.clone().disconnect() {
            tokio::time::sleep(DISCONNECT_RETRY).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judging::model::{Hack, Rating};

    fn start() -> (mpsc::UnboundedSender<Change>, SyncHandle, CancellationToken) {
        let (changes, inbox) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let handle = spawn(
            DataStore::default(),
            inbox,
            Arc::new(Metrics::default()),
            shutdown.clone(),
        );
        (changes, handle, shutdown)
    }

    fn hack(id: i64) -> Change {
        Change::Judging(Box::new(DataStore {
            hacks: vec![Hack {
                id,
                name: format!("Hack {id}"),
                description: String::new(),
                location: id,
            }],
            ..Default::default()
        }))
    }

    fn rating(id: i64, judge_id: i64) -> Change {
        Change::Judging(Box::new(DataStore {
            ratings: vec![Rating {
                id,
                judge_id,
                hack_id: 1,
                rating: 10,
            }],
            ..Default::default()
        }))
    }

    /// Changes are handled before commands, so once a snapshot answers,
    /// every change sent before it has been published.
    async fn settle(handle: &SyncHandle) {
        handle.snapshot(Viewer::Admin).await.unwrap();
    }

    fn payload(update: &StreamUpdate) -> serde_json::Value {
        serde_json::from_str(&update.data).unwrap()
    }

    #[tokio::test]
    async fn channels_get_full_then_scoped_partials_in_commit_order() {
        let (changes, handle, _shutdown) = start();
        changes.send(hack(1)).unwrap();
        settle(&handle).await;
        let mut admin = handle
            .subscribe_channel(Viewer::Admin, 8, None)
            .await
            .unwrap();
        let mut judge = handle
            .subscribe_channel(Viewer::Judge(2), 8, None)
            .await
            .unwrap();
        for sub in [&mut admin, &mut judge] {
            let full = sub.updates.recv().await.unwrap();
            assert_eq!(full.event, UPDATE_FULL);
            assert_eq!(payload(&full)["database"]["hacks"][0]["id"], 1);
        }
        changes.send(rating(1, 1)).unwrap();
        changes.send(rating(2, 2)).unwrap();
        settle(&handle).await;
        let seen = admin.updates.recv().await.unwrap();
        assert_eq!(seen.event, UPDATE_PARTIAL);
        let ids: Vec<_> = payload(&seen)["diff"]["ratings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [1, 2], "the admin sees both, merged into one partial");
        let seen = judge.updates.recv().await.unwrap();
        assert_eq!(payload(&seen)["diff"]["ratings"][0]["judgeId"], 2);
        assert_eq!(
            payload(&seen)["diff"]["ratings"].as_array().unwrap().len(),
            1
        );
        assert!(judge.updates.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_channel_that_fills_is_dropped_after_what_it_holds() {
        let (changes, handle, _shutdown) = start();
        let mut slow = handle
            .subscribe_channel(Viewer::Admin, 2, None)
            .await
            .unwrap();
        let mut fine = handle
            .subscribe_channel(Viewer::Admin, 8, None)
            .await
            .unwrap();
        for id in 1..=3 {
            changes.send(hack(id)).unwrap();
            settle(&handle).await;
        }
        let events: Vec<_> = std::iter::from_fn(|| slow.updates.try_recv().ok())
            .map(|u| u.event)
            .collect();
        assert_eq!(events, [UPDATE_FULL, UPDATE_PARTIAL]);
        assert!(slow.updates.recv().await.is_none(), "its stream ended");
        let events = std::iter::from_fn(|| fine.updates.try_recv().ok()).count();
        assert_eq!(events, 4, "others are unaffected");
    }

    #[tokio::test]
    async fn a_backlog_is_merged_into_partials_of_bounded_size() {
        let (changes, handle, _shutdown) = start();
        let mut sub = handle
            .subscribe_channel(Viewer::Admin, 1024, None)
            .await
            .unwrap();
        assert_eq!(sub.updates.recv().await.unwrap().event, UPDATE_FULL);
        // Queued before the task runs again: it finds them all waiting, as
        // when it has fallen behind.
        let story = "x".repeat(10_000);
        for id in 1..=100 {
            let Change::Judging(mut diff) = hack(id);
            diff.hacks[0].description = story.clone();
            changes.send(Change::Judging(diff)).unwrap();
        }
        settle(&handle).await;
        let partials: Vec<_> = std::iter::from_fn(|| sub.updates.try_recv().ok()).collect();
        let hacks: usize = partials
            .iter()
            .map(|p| payload(p)["diff"]["hacks"].as_array().unwrap().len())
            .sum();
        assert_eq!(hacks, 100, "every hack arrives");
        for partial in &partials {
            assert!(
                partial.data.len() <= MAX_PARTIAL_BYTES + story.len() + 200,
                "a partial of {} bytes",
                partial.data.len()
            );
        }
        assert!(
            partials.len() <= 100 * story.len() / MAX_PARTIAL_BYTES + 2,
            "{} partials for 100 changes of 10 kB",
            partials.len()
        );

        for id in 1..=500 {
            changes.send(rating(id, 1)).unwrap();
        }
        settle(&handle).await;
        let partials: Vec<_> = std::iter::from_fn(|| sub.updates.try_recv().ok()).collect();
        assert_eq!(partials.len(), 1, "a burst of small changes is one partial");
        assert_eq!(
            payload(&partials[0])["diff"]["ratings"]
                .as_array()
                .unwrap()
                .len(),
            500
        );
    }

    #[tokio::test]
    async fn shutdown_ends_every_channel() {
        let (_changes, handle, shutdown) = start();
        let mut sub = handle
            .subscribe_channel(Viewer::Judge(1), 4, None)
            .await
            .unwrap();
        assert_eq!(sub.updates.recv().await.unwrap().event, UPDATE_FULL);
        shutdown.cancel();
        assert!(sub.updates.recv().await.is_none());
        assert!(handle.snapshot(Viewer::Admin).await.is_err());
    }
}
