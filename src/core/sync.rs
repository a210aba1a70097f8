//! The live-update task: the one owner of the mirror and the subscriber list.
//!
//! It follows the store's change log (see `crate::store::log`): the mirror
//! starts as a snapshot of the judging tables at position N and applies
//! every committed change after N in order, sending every subscriber its
//! scoped `update-partial`. A batch whose first change is not the one after
//! the mirror's position (a gap) is caught up by reading the log from there
//! first; a log that no longer holds it makes the task reload the snapshot
//! and send everyone a new `update-full`. Changes that arrive together are
//! merged into one partial, which keeps bursts (an import) from flooding
//! sockets.
//!
//! Subscribing goes through the same task, which sends `update-full` from
//! the mirror and only then adds the subscriber: so no subscriber gets a
//! partial before its full update, misses a change, or sees changes in a
//! different order from another. A channel subscriber may instead *resume*
//! from an [`EventId`] it was sent earlier (the event stream's
//! `Last-Event-ID`): when the id is of this epoch and the log still holds
//! what followed it, the subscriber is added at the mirror's position and
//! its live updates are held back while the changes from its id to that
//! position are read from the log; it gets those (scoped like live ones),
//! then what was held back, and no `update-full`. The hand-over happens in
//! this task's order, so nothing is lost or sent twice.
//!
//! A subscriber is a [`Socket`] an adapter holds open (the socket.io
//! adapter's) or a bounded channel (the HTTP API's Server-Sent Events stream
//! drains one); both get the same updates in the same order.
//!
//! Flow control: a subscriber whose buffer is full (a phone on a slow link)
//! is not dropped but marked *behind*. What it misses from then on is
//! folded, scoped as it would have been sent, into one merged diff (rows
//! upserted by id, as clients merge partials: [`Mirror::apply`]); the task
//! retries on a timer with backoff and, once there is room, sends it as one
//! `update-partial` whose event id is that of the last change folded, so
//! `Last-Event-ID` resume stays exact. Once the folded diff would be about
//! as big as a full state, it is discarded and the subscriber gets a fresh
//! scoped `update-full` (with the mirror's position as its id) instead. So a
//! slow reader gets the latest state late, in order, and nothing is lost;
//! the task holds for it at most one merged diff no bigger than a full
//! state, on top of its buffer, however many changes it misses. A client
//! that stops reading is thus bounded too, and is ended: a socket by the
//! engine.io heartbeat, a stream once its queue has had no room for
//! [`STREAM_STALL`].
//! One-off reads of the state
//! ([`SyncHandle::snapshot`]) are answered from the mirror by the same task,
//! so they too include every change acknowledged before they were asked:
//! on this node by the task's order, and in cluster mode (where another
//! node may have acknowledged a write this node's mirror has not followed
//! yet) by waiting, at most [`READ_WAIT`], until the mirror reaches the
//! log's head as it was when the read began.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::updates::{UpdateFull, UpdatePartial, UPDATE_FULL, UPDATE_PARTIAL};
use super::view::{coalesce, preview, Mirror, Viewer};
use crate::judging::model::DataStore;
use crate::metrics::{Metrics, Protocol};
use crate::store::{Batch, Log};
use crate::store::{Change, Changes, Entry, LogError, Seq};

/// Most committed changes merged into one partial update.
const MAX_COALESCE: usize = 1024;
/// Changes stop being merged into one partial update once they hold about
/// this many bytes of JSON. A subscriber's send buffer holds
/// [`SUBSCRIBER_BUFFER`](super::SUBSCRIBER_BUFFER) packets, so this is what bounds it in bytes:
/// at most `SUBSCRIBER_BUFFER` partials of this size (plus one change each)
/// are queued for a subscriber before it is behind and what it misses is
/// folded instead. Without it, a task that fell behind merged ever bigger
/// batches (1 024 ten-kB hacks made one 10 MB packet). A burst of small
/// changes (ratings, assignments) still becomes one update.
pub const MAX_PARTIAL_BYTES: usize = 64 * 1024;

/// First wait before sending a subscriber that is behind what it missed;
/// it doubles while its buffer stays full, up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(20);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// How long an event stream's queue may stay full, with no room for even
/// one update, before its stream is ended: a reader that reads at all frees
/// a place within seconds (one update is at most about `MAX_PARTIAL_BYTES`),
/// one that stopped is closed, and `EventSource` reconnects and resumes. A
/// socket needs no such rule: the engine.io heartbeat ends a silent one.
const STREAM_STALL: Duration = Duration::from_secs(60);

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

/// A position in the change log as the event stream names it:
/// `<epoch>:<sequence>`, the sequence of the last change an update includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventId {
    pub epoch: String,
    pub seq: Seq,
}

impl EventId {
    /// `None` for anything not of the form `<epoch>:<sequence>`.
    pub fn parse(text: &str) -> Option<EventId> {
        let (epoch, seq) = text.trim().split_once(':')?;
        let well_formed = !epoch.is_empty()
            && epoch.len() <= 64
            && epoch.bytes().all(|b| b.is_ascii_alphanumeric());
        if !well_formed || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(EventId {
            epoch: epoch.to_string(),
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.epoch, self.seq)
    }
}

/// One update for a channel subscriber: the event name (`update-full` or
/// `update-partial`), its payload as JSON (`{"database": ..}` or
/// `{"diff": ..}`), serialised once for all subscribers with the same view,
/// and its [`EventId`] as text.
#[derive(Debug, Clone)]
pub struct StreamUpdate {
    pub event: &'static str,
    pub data: Arc<str>,
    pub id: Arc<str>,
}

/// A subscriber that an adapter holds open (a socket.io socket), so the
/// core needs no transport of its own: the adapter queues each update on
/// its connection and says what became of it, and disconnects a socket
/// whose buffer is full.
pub trait Socket: Send + Sync + 'static {
    /// Tells this socket apart from every other subscribed at the same time.
    fn key(&self) -> u64;
    /// False once the socket has disconnected.
    fn connected(&self) -> bool;
    /// Queues `update-full`.
    fn send_full(&self, update: &UpdateFull<'_>) -> Sent;
    /// Queues `update-partial`; on [`Sent::Full`] nothing was queued and the
    /// task folds it into what it sends later.
    fn send_partial(&self, update: &UpdatePartial<'_>) -> Sent;
}

/// Where a subscriber's updates go.
enum Sink {
    Socket(Box<dyn Socket>),
    Channel(mpsc::Sender<StreamUpdate>),
}

/// Tells subscribers apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Socket(u64),
    Channel(u64),
}

/// How long a one-off read waits for the mirror to reach the log's head
/// before it is answered from the mirror as it is (a log that cannot be
/// followed: the read says what this node knows, and a warning says why).
pub const READ_WAIT: Duration = Duration::from_secs(2);

enum Command {
    Subscribe {
        sink: Sink,
        view: View,
        /// Where a channel subscriber's last stream ended, if it says.
        resume: Option<EventId>,
        done: oneshot::Sender<Result<Key, SubscribeError>>,
    },
    Unsubscribe(Key),
    Snapshot {
        viewer: Viewer,
        /// Answered once the mirror holds every change up to this one.
        at_least: Seq,
        done: oneshot::Sender<DataStore>,
    },
}

/// The way into the task; cheap to clone.
#[derive(Clone)]
pub struct SyncHandle {
    commands: mpsc::UnboundedSender<Command>,
    log: Arc<dyn Log>,
}

/// A channel subscription: `updates` yields the `update-full` first (or,
/// resumed, the changes after the id resumed from), then every
/// `update-partial` (a reader that fell behind gets what it missed folded,
/// or a new `update-full`), and ends at shutdown. Dropping the subscription unsubscribes.
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
    pub async fn subscribe(
        &self,
        socket: Box<dyn Socket>,
        viewer: Viewer,
    ) -> Result<(), SubscribeError> {
        let view = View {
            viewer,
            preview: None,
        };
        self.add(Sink::Socket(socket), view, None).await.map(|_| ())
    }

    /// Stops updates to a socket (it disconnected).
    pub fn unsubscribe(&self, socket: u64) {
        let _ = self
            .commands
            .send(Command::Unsubscribe(Key::Socket(socket)));
    }

    /// A subscription whose updates arrive on a channel that holds up to
    /// `capacity` of them; while it is full, what follows is folded into one
    /// update sent once there is room (see the module docs).
    /// With `preview`, hack descriptions are cut to that many characters.
    /// With `resume`, the changes after it instead of an `update-full` when
    /// it is of this epoch and still in the log (see the module docs).
    pub async fn subscribe_channel(
        &self,
        viewer: Viewer,
        capacity: usize,
        preview: Option<usize>,
        resume: Option<EventId>,
    ) -> Result<Subscription, SubscribeError> {
        let (sender, updates) = mpsc::channel(capacity.max(1));
        let view = View { viewer, preview };
        let key = self.add(Sink::Channel(sender), view, resume).await?;
        Ok(Subscription {
            updates,
            _unsubscribe: Unsubscribe {
                commands: self.commands.clone(),
                key,
            },
        })
    }

    /// The whole state as `viewer` sees it: what an `update-full` sent now
    /// would hold, with every change any node acknowledged before the call
    /// (see the module docs).
    pub async fn snapshot(&self, viewer: Viewer) -> Result<DataStore, SubscribeError> {
        let head = tokio::time::timeout(READ_WAIT, self.log.head()).await;
        let at_least = match head {
            Ok(Ok(seq)) => seq,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the log's head: answering a read from this node's state");
                0
            }
            Err(_) => {
                tracing::warn!("the log's head did not come within {READ_WAIT:?}: answering a read from this node's state");
                0
            }
        };
        let asked = self.ask_snapshot(viewer, at_least)?;
        match tokio::time::timeout(READ_WAIT, asked).await {
            Ok(answer) => answer.map_err(|_| SubscribeError::ShuttingDown),
            Err(_) => {
                tracing::warn!(
                    at_least,
                    "this node's state did not reach the log's head within {READ_WAIT:?}: answering a read from it as it is"
                );
                self.ask_snapshot(viewer, 0)?
                    .await
                    .map_err(|_| SubscribeError::ShuttingDown)
            }
        }
    }

    fn ask_snapshot(
        &self,
        viewer: Viewer,
        at_least: Seq,
    ) -> Result<oneshot::Receiver<DataStore>, SubscribeError> {
        let (done, answer) = oneshot::channel();
        self.commands
            .send(Command::Snapshot {
                viewer,
                at_least,
                done,
            })
            .map_err(|_| SubscribeError::ShuttingDown)?;
        Ok(answer)
    }

    async fn add(
        &self,
        sink: Sink,
        view: View,
        resume: Option<EventId>,
    ) -> Result<Key, SubscribeError> {
        let (done, answer) = oneshot::channel();
        self.commands
            .send(Command::Subscribe {
                sink,
                view,
                resume,
                done,
            })
            .map_err(|_| SubscribeError::ShuttingDown)?;
        answer.await.map_err(|_| SubscribeError::ShuttingDown)?
    }
}

/// Where the mirror starts: the judging tables as of change `seq` of `epoch`.
pub struct Start {
    pub epoch: Arc<str>,
    pub seq: Seq,
    pub data: DataStore,
}

/// Starts the task on a snapshot; it follows `changes` (a follower made
/// before the snapshot was read) and reads `log` to catch up.
pub fn spawn(
    start: Start,
    changes: Changes,
    log: Arc<dyn Log>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> SyncHandle {
    spawn_with_stall(start, changes, log, metrics, shutdown, STREAM_STALL)
}

/// [`spawn`] with another [`STREAM_STALL`] (tests cannot wait a minute).
fn spawn_with_stall(
    start: Start,
    changes: Changes,
    log: Arc<dyn Log>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    stream_stall: Duration,
) -> SyncHandle {
    let (commands, inbox) = mpsc::unbounded_channel();
    let (caught_up, caught_up_inbox) = mpsc::unbounded_channel();
    let task = Task {
        mirror: Mirror::new(start.data),
        position: start.seq,
        epoch: start.epoch,
        log: log.clone(),
        reads: Vec::new(),
        subscribers: HashMap::new(),
        retry_at: None,
        backoff: RETRY_FIRST,
        stream_stall,
        channels_made: 0,
        caught_up,
        metrics,
    };
    tokio::spawn(task.run(changes, inbox, caught_up_inbox, shutdown));
    SyncHandle { commands, log }
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
    /// While a resumed channel's catch-up is read: its live updates, held
    /// back to follow the catch-up.
    held: Option<Vec<StreamUpdate>>,
    /// Set while its buffer is full: what it has not been sent yet.
    behind: Option<Behind>,
}

/// What a subscriber whose buffer was full has missed, folded into one update.
struct Behind {
    /// Its scoped diffs merged as clients merge them; `None` once a fresh
    /// full state is the smaller thing to send.
    missed: Option<Mirror>,
    /// About how many bytes of JSON the diffs folded make (an upper bound:
    /// a row replaced counts twice).
    bytes: usize,
    /// About how big its full state is, measured once the folded diffs pass
    /// [`MAX_PARTIAL_BYTES`].
    full_bytes: Option<usize>,
    /// The last change folded (its event id).
    upto: Seq,
    /// When its buffer was found full.
    since: Instant,
}

impl Behind {
    fn missed(diff: &DataStore, upto: Seq) -> Behind {
        let mut missed = Mirror::default();
        missed.apply(diff.clone());
        Behind {
            missed: Some(missed),
            bytes: approx_bytes(diff),
            full_bytes: None,
            upto,
            since: Instant::now(),
        }
    }

    fn full(upto: Seq) -> Behind {
        Behind {
            missed: None,
            bytes: 0,
            full_bytes: None,
            upto,
            since: Instant::now(),
        }
    }

    /// Folds in the next scoped diff, or gives up the diffs for a full state
    /// when they grow as big as one (`full_size` measures it).
    fn fold(&mut self, diff: &DataStore, upto: Seq, full_size: impl FnOnce() -> usize) {
        self.upto = upto;
        let Some(missed) = &mut self.missed else {
            return;
        };
        if diff.is_empty() {
            return;
        }
        self.bytes += approx_bytes(diff);
        if self.bytes > MAX_PARTIAL_BYTES
            && self.bytes >= *self.full_bytes.get_or_insert_with(full_size)
        {
            self.missed = None;
            return;
        }
        missed.apply(diff.clone());
    }
}

/// A resumed subscriber's catch-up, read from the log: the changes up to
/// the position it was added at.
struct CaughtUp {
    key: Key,
    read: Result<Vec<Entry>, LogError>,
}

/// Judging diffs of consecutive changes, waiting to go out as one partial.
#[derive(Default)]
struct Pending {
    diffs: Vec<DataStore>,
    bytes: usize,
    /// The last change they cover (changes that are not judging ones included).
    upto: Seq,
}

impl Pending {
    fn add(&mut self, entry: &Entry) {
        if let Change::Judging(diff) = &entry.change {
            self.bytes += approx_bytes(diff);
            self.diffs.push((**diff).clone());
        }
        self.upto = entry.seq;
    }

    fn full(&self) -> bool {
        self.diffs.len() >= MAX_COALESCE || self.bytes >= MAX_PARTIAL_BYTES
    }

    fn take(&mut self) -> (Seq, DataStore) {
        self.bytes = 0;
        (self.upto, coalesce(std::mem::take(&mut self.diffs)))
    }
}

struct Task {
    mirror: Mirror,
    /// The last change the mirror holds.
    position: Seq,
    epoch: Arc<str>,
    log: Arc<dyn Log>,
    subscribers: HashMap<Key, Subscriber>,
    /// One-off reads waiting for the mirror to reach a position.
    reads: Vec<(Seq, Viewer, oneshot::Sender<DataStore>)>,
    /// When to try again to send the subscribers that are behind.
    retry_at: Option<Instant>,
    backoff: Duration,
    /// [`STREAM_STALL`].
    stream_stall: Duration,
    /// Channel subscribers so far: the next one's key.
    channels_made: u64,
    caught_up: mpsc::UnboundedSender<CaughtUp>,
    metrics: Arc<Metrics>,
}

impl Task {
    async fn run(
        mut self,
        mut changes: Changes,
        mut inbox: mpsc::UnboundedReceiver<Command>,
        mut caught_up: mpsc::UnboundedReceiver<CaughtUp>,
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
                batch = changes.recv() => match batch {
                    Some(first) => {
                        self.follow(first, &mut changes).await;
                        self.answer_reads();
                    }
                    None => break,
                },
                Some(caught) = caught_up.recv() => self.hand_over(caught),
                _ = until(self.retry_at) => self.retry_behind(),
                command = inbox.recv() => match command {
                    Some(Command::Subscribe { sink, view, resume, done }) => {
                        let _ = done.send(self.subscribe(sink, view, resume));
                    }
                    Some(Command::Unsubscribe(key)) => {
                        self.subscribers.remove(&key);
                    }
                    Some(Command::Snapshot { viewer, at_least, done }) => {
                        if self.position >= at_least {
                            let _ = done.send(self.mirror.snapshot(viewer));
                        } else {
                            self.reads.retain(|(_, _, done)| !done.is_closed());
                            self.reads.push((at_least, viewer, done));
                        }
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

    /// Answers the one-off reads the mirror has now caught up with.
    fn answer_reads(&mut self) {
        if self.reads.is_empty() {
            return;
        }
        let position = self.position;
        let (ready, waiting) = std::mem::take(&mut self.reads)
            .into_iter()
            .partition(|(at_least, _, _)| *at_least <= position);
        self.reads = waiting;
        for (_, viewer, done) in ready {
            let _ = done.send(self.mirror.snapshot(viewer));
        }
    }

    /// Applies `first` and the batches already waiting behind it, merged
    /// into partials of bounded size.
    async fn follow(&mut self, first: Batch, changes: &mut Changes) {
        let mut pending = Pending {
            upto: self.position,
            ..Pending::default()
        };
        let mut batch = first;
        let mut flushed = false;
        loop {
            for entry in batch.iter() {
                if entry.seq <= self.position {
                    continue; // the snapshot holds it already
                }
                if entry.seq != self.position + 1 {
                    self.flush(&mut pending);
                    self.fill_gap(entry.seq - 1).await;
                    pending.upto = self.position;
                    if entry.seq <= self.position {
                        continue;
                    }
                    if entry.seq != self.position + 1 {
                        tracing::error!(
                            from = self.position,
                            to = entry.seq,
                            "live updates skip changes the log could not supply"
                        );
                    }
                }
                self.position = entry.seq;
                pending.add(entry);
                if pending.full() {
                    self.flush(&mut pending);
                    flushed = true;
                    // Let the sockets' tasks take what was queued before
                    // queueing more: a task that never yields fills their
                    // buffers, and readers are dropped as too slow.
                    tokio::task::yield_now().await;
                }
            }
            if flushed {
                break; // back to the loop, where commands get their turn
            }
            match changes.try_recv() {
                Ok(next) => batch = next,
                Err(_) => break,
            }
        }
        self.flush(&mut pending);
    }

    /// Reads the changes after the mirror's position up to `upto` from the
    /// log and applies them; reloads the snapshot if the log cannot say.
    async fn fill_gap(&mut self, upto: Seq) {
        tracing::warn!(
            from = self.position,
            upto,
            "a gap in the live changes; catching up from the log"
        );
        match self.log.changes_after(self.position, Some(upto)).await {
            Ok(entries) => {
                let mut pending = Pending {
                    upto: self.position,
                    ..Pending::default()
                };
                for entry in &entries {
                    self.position = entry.seq;
                    pending.add(entry);
                    if pending.full() {
                        self.flush(&mut pending);
                    }
                }
                self.flush(&mut pending);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot catch up from the log; reloading the state");
                self.reload().await;
            }
        }
    }

    /// Starts over from a fresh snapshot: every subscriber gets a new
    /// `update-full` (a resumed one still catching up too).
    async fn reload(&mut self) {
        let (seq, data) = match self.log.judging_snapshot().await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::error!(error = %e, "cannot reload the judging state");
                return;
            }
        };
        self.mirror = Mirror::new(data);
        self.position = seq;
        let id = self.id(seq);
        let mut dropped = Vec::new();
        let mut behind = false;
        for (key, sub) in &mut self.subscribers {
            sub.held = None;
            sub.behind = None;
            let database = sub.view.shape(self.mirror.snapshot(sub.view.viewer));
            let full = UpdateFull {
                database: &database,
            };
            let sent = match &sub.sink {
                Sink::Socket(socket) => socket.send_full(&full),
                Sink::Channel(sender) => send_to_channel(
                    sender,
                    StreamUpdate {
                        event: UPDATE_FULL,
                        data: to_json(&full),
                        id: id.clone(),
                    },
                ),
            };
            match sent {
                Sent::Yes => self.metrics.messages_out(Protocol::Sledge, 1),
                // It gets the full state (a newer one) once it has room.
                Sent::Full => {
                    sub.behind = Some(Behind::full(seq));
                    behind = true;
                }
                Sent::Gone | Sent::Failed => dropped.push(*key),
            }
        }
        for key in dropped {
            self.subscribers.remove(&key);
        }
        if behind {
            self.schedule_retry();
        }
    }

    fn id(&self, seq: Seq) -> Arc<str> {
        format!("{}:{seq}", self.epoch).into()
    }

    fn subscribe(
        &mut self,
        sink: Sink,
        view: View,
        resume: Option<EventId>,
    ) -> Result<Key, SubscribeError> {
        let from = match (&sink, resume) {
            (Sink::Channel(_), Some(id)) if *id.epoch == *self.epoch && id.seq <= self.position => {
                id.seq
            }
            _ => return self.add_with_full(sink, view),
        };
        self.channels_made += 1;
        let key = Key::Channel(self.channels_made);
        let held = if from == self.position {
            None
        } else {
            let log = self.log.clone();
            let done = self.caught_up.clone();
            let upto = self.position;
            tokio::spawn(async move {
                let read = log.changes_after(from, Some(upto)).await;
                let _ = done.send(CaughtUp { key, read });
            });
            Some(Vec::new())
        };
        self.subscribers.insert(
            key,
            Subscriber {
                sink,
                view,
                held,
                behind: None,
            },
        );
        Ok(key)
    }

    fn add_with_full(&mut self, sink: Sink, view: View) -> Result<Key, SubscribeError> {
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
                match socket.send_full(&full) {
                    Sent::Yes => Key::Socket(socket.key()),
                    Sent::Full => return Err(SubscribeError::Busy),
                    Sent::Gone | Sent::Failed => return Err(SubscribeError::Gone),
                }
            }
            Sink::Channel(sender) => {
                let update = StreamUpdate {
                    event: UPDATE_FULL,
                    data: to_json(&full),
                    id: self.id(self.position),
                };
                // A new channel has room for its first update (a reloaded
                // one may not: then it is dropped and reconnects).
                sender.try_send(update).map_err(|_| SubscribeError::Gone)?;
                self.channels_made += 1;
                Key::Channel(self.channels_made)
            }
        };
        self.metrics.messages_out(Protocol::Sledge, 1);
        self.subscribers.insert(
            key,
            Subscriber {
                sink,
                view,
                held: None,
                behind: None,
            },
        );
        Ok(key)
    }

    /// A resumed subscriber's catch-up was read: it gets the changes read,
    /// scoped, then the updates held back meanwhile. If the log could not
    /// answer (the id is older than the log keeps), it gets an
    /// `update-full` instead, and the held updates are dropped.
    fn hand_over(&mut self, caught: CaughtUp) {
        let Some(sub) = self.subscribers.get_mut(&caught.key) else {
            return;
        };
        let Some(held) = sub.held.take() else {
            return; // reloaded meanwhile: it had an update-full
        };
        let view = sub.view;
        let updates = match caught.read {
            Ok(entries) => {
                let mut updates = Vec::new();
                let mut pending = Pending::default();
                let chunk = |pending: &mut Pending, updates: &mut Vec<StreamUpdate>| {
                    if pending.diffs.is_empty() {
                        return;
                    }
                    let (upto, diff) = pending.take();
                    let seen = view.shape(self.mirror.scope_applied(&diff, view.viewer));
                    if !seen.is_empty() {
                        updates.push(StreamUpdate {
                            event: UPDATE_PARTIAL,
                            data: to_json(&UpdatePartial { diff: &seen }),
                            id: format!("{}:{upto}", self.epoch).into(),
                        });
                    }
                };
                for entry in &entries {
                    pending.add(entry);
                    if pending.full() {
                        chunk(&mut pending, &mut updates);
                    }
                }
                chunk(&mut pending, &mut updates);
                updates.extend(held);
                updates
            }
            Err(e) => {
                tracing::debug!(error = %e, "an event stream cannot resume; sending update-full");
                let database = view.shape(self.mirror.snapshot(view.viewer));
                vec![StreamUpdate {
                    event: UPDATE_FULL,
                    data: to_json(&UpdateFull {
                        database: &database,
                    }),
                    id: self.id(self.position),
                }]
            }
        };
        let position = self.position;
        let Some(sub) = self.subscribers.get_mut(&caught.key) else {
            return;
        };
        let Sink::Channel(sender) = &sub.sink else {
            return;
        };
        for update in updates {
            match send_to_channel(sender, update) {
                Sent::Yes => self.metrics.messages_out(Protocol::Sledge, 1),
                Sent::Full => {
                    // What did not fit is already JSON: the reader gets the
                    // state as of then as a full update once it has room.
                    sub.behind = Some(Behind::full(position));
                    self.metrics.live_fell_behind.fetch_add(1, Relaxed);
                    self.schedule_retry();
                    return;
                }
                Sent::Gone | Sent::Failed => {
                    self.subscribers.remove(&caught.key);
                    return;
                }
            }
        }
    }

    /// Arms the retry timer for subscribers that are behind, if it is not.
    fn schedule_retry(&mut self) {
        if self.retry_at.is_none() {
            self.backoff = RETRY_FIRST;
            self.retry_at = Some(Instant::now() + self.backoff);
        }
    }

    /// Tries to send every subscriber that is behind what it missed: the
    /// folded diff as one partial (its id the last change folded), or a full
    /// state as of now. The mirror is at `position` here (between batches).
    fn retry_behind(&mut self) {
        self.retry_at = None;
        let (mut sent_some, mut still_behind) = (false, false);
        let mut gone = Vec::new();
        let epoch = self.epoch.clone();
        let id = |seq: Seq| -> Arc<str> { format!("{epoch}:{seq}").into() };
        for (key, sub) in &mut self.subscribers {
            let Some(behind) = &sub.behind else {
                continue;
            };
            let sent = match &behind.missed {
                Some(missed) => {
                    // Scoped already: every row it holds is the viewer's.
                    let diff = missed.snapshot(Viewer::Admin);
                    let update = UpdatePartial { diff: &diff };
                    match &sub.sink {
                        _ if diff.is_empty() => Sent::Yes,
                        Sink::Socket(socket) => socket.send_partial(&update),
                        Sink::Channel(sender) => send_to_channel(
                            sender,
                            StreamUpdate {
                                event: UPDATE_PARTIAL,
                                data: to_json(&update),
                                id: id(behind.upto),
                            },
                        ),
                    }
                }
                None => {
                    let database = sub.view.shape(self.mirror.snapshot(sub.view.viewer));
                    let full = UpdateFull {
                        database: &database,
                    };
                    match &sub.sink {
                        Sink::Socket(socket) => socket.send_full(&full),
                        Sink::Channel(sender) => send_to_channel(
                            sender,
                            StreamUpdate {
                                event: UPDATE_FULL,
                                data: to_json(&full),
                                id: id(self.position),
                            },
                        ),
                    }
                }
            };
            match sent {
                Sent::Yes => {
                    sub.behind = None;
                    sent_some = true;
                    self.metrics.messages_out(Protocol::Sledge, 1);
                }
                Sent::Full
                    if matches!(sub.sink, Sink::Channel(_))
                        && behind.since.elapsed() >= self.stream_stall =>
                {
                    tracing::warn!(stall = ?self.stream_stall, "event-stream subscriber not reading: ending its stream");
                    self.metrics.listeners_dropped_slow.fetch_add(1, Relaxed);
                    gone.push(*key);
                }
                Sent::Full => still_behind = true,
                Sent::Gone => gone.push(*key),
                // Cannot be encoded: trying again would not help either.
                Sent::Failed => sub.behind = None,
            }
        }
        for key in gone {
            self.subscribers.remove(&key);
        }
        if still_behind {
            // Readers that took something get another try soon; a buffer
            // that stays full is tried ever less often.
            self.backoff = if sent_some {
                RETRY_FIRST
            } else {
                (self.backoff * 2).min(RETRY_MAX)
            };
            self.retry_at = Some(Instant::now() + self.backoff);
        }
    }

    /// Sends the pending changes as one partial and applies them.
    fn flush(&mut self, pending: &mut Pending) {
        if pending.diffs.is_empty() {
            return;
        }
        let (upto, diff) = pending.take();
        if diff.is_empty() {
            return;
        }
        let id = self.id(upto);
        // One scoped diff per distinct viewer, however many subscribers share
        // it; serialised at most once, for the channels.
        let mut scoped: HashMap<View, (DataStore, Option<Arc<str>>)> = HashMap::new();
        let mut dropped = Vec::new();
        let mut fell_behind = false;
        let mirror = &self.mirror;
        for (key, sub) in &mut self.subscribers {
            let (view, json) = scoped.entry(sub.view).or_insert_with(|| {
                let seen = sub.view.shape(mirror.scope(&diff, sub.view.viewer));
                (seen, None)
            });
            if let Some(behind) = &mut sub.behind {
                let shape = sub.view;
                behind.fold(view, upto, || {
                    approx_bytes(&shape.shape(mirror.snapshot(shape.viewer)))
                });
                let held = behind.missed.as_ref().map_or(0, |_| behind.bytes);
                self.metrics
                    .live_folded_bytes_max
                    .fetch_max(held as u64, Relaxed);
                continue;
            }
            if view.is_empty() {
                continue;
            }
            let sent = match &sub.sink {
                Sink::Socket(socket) => socket.send_partial(&UpdatePartial { diff: view }),
                Sink::Channel(sender) => {
                    let data = json
                        .get_or_insert_with(|| to_json(&UpdatePartial { diff: view }))
                        .clone();
                    let update = StreamUpdate {
                        event: UPDATE_PARTIAL,
                        data,
                        id: id.clone(),
                    };
                    match &mut sub.held {
                        Some(held) if held.len() >= sender.max_capacity() => {
                            // The catch-up will be too late to be useful: a
                            // full state replaces it and what was held.
                            sub.held = None;
                            sub.behind = Some(Behind::full(upto));
                            fell_behind = true;
                            self.metrics.live_fell_behind.fetch_add(1, Relaxed);
                            continue;
                        }
                        Some(held) => {
                            held.push(update);
                            Sent::Yes
                        }
                        None => send_to_channel(sender, update),
                    }
                }
            };
            match sent {
                Sent::Yes => self.metrics.messages_out(Protocol::Sledge, 1),
                Sent::Full => {
                    // Not dropped: this and what follows go out folded.
                    tracing::debug!(?key, "live-update subscriber behind; folding its updates");
                    let behind = Behind::missed(view, upto);
                    self.metrics
                        .live_folded_bytes_max
                        .fetch_max(behind.bytes as u64, Relaxed);
                    sub.behind = Some(behind);
                    fell_behind = true;
                    self.metrics.live_fell_behind.fetch_add(1, Relaxed);
                }
                Sent::Gone => dropped.push(*key),
                Sent::Failed => {}
            }
        }
        self.mirror.apply(diff);
        for key in dropped {
            self.subscribers.remove(&key);
        }
        if fell_behind {
            self.schedule_retry();
        }
    }
}

/// What became of one update.
pub enum Sent {
    Yes,
    /// The subscriber's buffer is full (it reads slowly, or not at all):
    /// nothing was queued; it is sent what it missed, folded, later.
    Full,
    /// The subscriber is gone.
    Gone,
    /// Not sent, for a reason that does not end the subscription.
    Failed,
}

fn send_to_channel(sender: &mpsc::Sender<StreamUpdate>, update: StreamUpdate) -> Sent {
    match sender.try_send(update) {
        Ok(()) => Sent::Yes,
        Err(TrySendError::Full(_)) => Sent::Full,
        Err(TrySendError::Closed(_)) => Sent::Gone,
    }
}

/// Waits until `at`, or forever without one.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// About how many bytes of JSON a change makes (its text plus a fixed cost
/// per row), without serialising it: enough to bound a merged partial.
fn approx_bytes(diff: &DataStore) -> usize {
    /// Ids, numbers and keys of a row, a generous guess.
    const ROW: usize = 96;
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
    } = diff;
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures_util::future::BoxFuture;

    use super::*;
    use crate::judging::model::{Hack, Rating};
    use crate::store::{ClickerSnapshot, StoreError};

    const EPOCH: &str = "e1";

    /// An in-memory change log holding every change after `floor`.
    #[derive(Default)]
    struct MemLog {
        entries: Mutex<Vec<Entry>>,
        floor: Mutex<Seq>,
        /// What `head` answers: 0 (a single node) unless a test says.
        head: Mutex<Seq>,
    }

    impl Log for MemLog {
        fn epoch(&self) -> Arc<str> {
            EPOCH.into()
        }

        fn clicker_snapshot(&self) -> BoxFuture<'static, Result<ClickerSnapshot, StoreError>> {
            Box::pin(async { Ok(ClickerSnapshot::default()) })
        }

        fn judging_snapshot(&self) -> BoxFuture<'static, Result<(Seq, DataStore), StoreError>> {
            let entries = self.entries.lock().unwrap();
            let seq = entries.last().map_or(0, |e| e.seq);
            let data = coalesce(entries.iter().filter_map(|e| match &e.change {
                Change::Judging(diff) => Some((**diff).clone()),
                Change::Score(_) | Change::Presence(_) | Change::Heat(_) => None,
            }));
            Box::pin(async move { Ok((seq, data)) })
        }

        fn head(&self) -> BoxFuture<'static, Result<Seq, StoreError>> {
            let head = *self.head.lock().unwrap();
            Box::pin(async move { Ok(head) })
        }

        fn changes_after(
            &self,
            after: Seq,
            upto: Option<Seq>,
        ) -> BoxFuture<'static, Result<Vec<Entry>, LogError>> {
            let floor = *self.floor.lock().unwrap();
            let read = if after < floor {
                Err(LogError::NotRetained { after, floor })
            } else {
                Ok(self
                    .entries
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|e| e.seq > after && upto.is_none_or(|u| e.seq <= u))
                    .cloned()
                    .collect())
            };
            Box::pin(async move { read })
        }
    }

    /// The writer's side: numbers changes, logs them, sends them on.
    struct Feed {
        log: Arc<MemLog>,
        sender: mpsc::UnboundedSender<Batch>,
    }

    impl Feed {
        /// Logs `change` without sending it: a follower sees a gap.
        fn log_only(&self, change: Change) -> Entry {
            let mut entries = self.log.entries.lock().unwrap();
            let entry = Entry {
                seq: entries.last().map_or(0, |e| e.seq) + 1,
                change,
            };
            entries.push(entry.clone());
            entry
        }

        fn send(&self, change: Change) {
            let entry = self.log_only(change);
            self.sender.send(Arc::from(vec![entry])).unwrap();
        }
    }

    fn start() -> (Feed, SyncHandle, CancellationToken) {
        start_with_stall(STREAM_STALL)
    }

    fn start_with_stall(stream_stall: Duration) -> (Feed, SyncHandle, CancellationToken) {
        let (sender, inbox) = mpsc::unbounded_channel();
        let log = Arc::new(MemLog::default());
        let shutdown = CancellationToken::new();
        let handle = spawn_with_stall(
            Start {
                epoch: EPOCH.into(),
                seq: 0,
                data: DataStore::default(),
            },
            inbox,
            log.clone(),
            Arc::new(Metrics::default()),
            shutdown.clone(),
            stream_stall,
        );
        (Feed { log, sender }, handle, shutdown)
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

    /// Cluster mode: another node acknowledged a rating this node has not
    /// followed yet. A read begun after that waits for it, and a read
    /// whose change never comes is answered after READ_WAIT from what the
    /// node has.
    #[tokio::test]
    async fn a_read_waits_for_what_another_node_acknowledged() {
        let (changes, handle, _shutdown) = start();
        changes.send(hack(1));
        settle(&handle).await;
        let theirs = changes.log_only(rating(1, 1));
        *changes.log.head.lock().unwrap() = theirs.seq;
        let read = tokio::spawn({
            let handle = handle.clone();
            async move { handle.snapshot(Viewer::Admin).await.unwrap() }
        });
        tokio::time::sleep(READ_WAIT / 2).await;
        assert!(
            !read.is_finished(),
            "answered before the mirror had the rating"
        );
        changes.sender.send(Arc::from(vec![theirs])).unwrap();
        assert_eq!(read.await.unwrap().ratings.len(), 1);

        *changes.log.head.lock().unwrap() = 99;
        let started = Instant::now();
        let state = handle.snapshot(Viewer::Admin).await.unwrap();
        assert_eq!(state.ratings.len(), 1);
        assert!(started.elapsed() >= READ_WAIT);
    }

    #[tokio::test]
    async fn channels_get_full_then_scoped_partials_in_commit_order() {
        let (changes, handle, _shutdown) = start();
        changes.send(hack(1));
        settle(&handle).await;
        let mut admin = handle
            .subscribe_channel(Viewer::Admin, 8, None, None)
            .await
            .unwrap();
        let mut judge = handle
            .subscribe_channel(Viewer::Judge(2), 8, None, None)
            .await
            .unwrap();
        for sub in [&mut admin, &mut judge] {
            let full = sub.updates.recv().await.unwrap();
            assert_eq!(full.event, UPDATE_FULL);
            assert_eq!(payload(&full)["database"]["hacks"][0]["id"], 1);
        }
        changes.send(rating(1, 1));
        changes.send(rating(2, 2));
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

    /// The next update, waiting for the retry timer if need be.
    async fn next(sub: &mut Subscription) -> StreamUpdate {
        tokio::time::timeout(Duration::from_secs(10), sub.updates.recv())
            .await
            .expect("an update within 10 s")
            .expect("the stream goes on")
    }

    fn hack_ids(update: &StreamUpdate) -> Vec<i64> {
        let field = if update.event == UPDATE_FULL {
            "database"
        } else {
            "diff"
        };
        payload(update)[field]["hacks"]
            .as_array()
            .map(|rows| rows.iter().map(|r| r["id"].as_i64().unwrap()).collect())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_channel_that_fills_gets_what_it_missed_folded_once_it_reads() {
        let (changes, handle, _shutdown) = start();
        let mut slow = handle
            .subscribe_channel(Viewer::Admin, 2, None, None)
            .await
            .unwrap();
        let mut fine = handle
            .subscribe_channel(Viewer::Admin, 8, None, None)
            .await
            .unwrap();
        for id in 1..=5 {
            changes.send(hack(id));
            settle(&handle).await;
        }
        let events = std::iter::from_fn(|| fine.updates.try_recv().ok()).count();
        assert_eq!(events, 6, "others are unaffected");
        assert_eq!(next(&mut slow).await.event, UPDATE_FULL);
        assert_eq!(hack_ids(&next(&mut slow).await), [1]);
        // Hacks 2 to 5 did not fit: they come as one partial, carrying the
        // id of the last of them, once there is room.
        let folded = next(&mut slow).await;
        assert_eq!(folded.event, UPDATE_PARTIAL);
        assert_eq!(hack_ids(&folded), [2, 3, 4, 5]);
        assert_eq!(&*folded.id, "e1:5");
        // Caught up, it is sent changes one by one again.
        changes.send(hack(6));
        let update = next(&mut slow).await;
        assert_eq!((hack_ids(&update), &*update.id), (vec![6], "e1:6"));
    }

    #[tokio::test]
    async fn a_stream_whose_queue_stays_full_is_ended() {
        let stall = Duration::from_millis(300);
        let (changes, handle, _shutdown) = start_with_stall(stall);
        let mut stuck = handle
            .subscribe_channel(Viewer::Admin, 1, None, None)
            .await
            .unwrap();
        changes.send(hack(1));
        settle(&handle).await;
        tokio::time::sleep(stall * 3).await;
        assert_eq!(next(&mut stuck).await.event, UPDATE_FULL);
        let rest = tokio::time::timeout(Duration::from_secs(10), stuck.updates.recv())
            .await
            .expect("the stream ends");
        assert!(
            rest.is_none(),
            "nothing after the full update: its stream ended"
        );
    }

    #[tokio::test]
    async fn what_a_subscriber_missed_becomes_a_full_state_when_that_is_smaller() {
        let (changes, handle, _shutdown) = start();
        changes.send(hack(1));
        settle(&handle).await;
        let mut slow = handle
            .subscribe_channel(Viewer::Admin, 1, None, None)
            .await
            .unwrap();
        // Hack 1 rewritten many times: folded, the rewrites add up to more
        // than the one hack the full state holds.
        let story = "y".repeat(10_000);
        let rewrites = 2 * MAX_PARTIAL_BYTES / story.len();
        for n in 0..rewrites {
            let Change::Judging(mut diff) = hack(1) else {
                unreachable!()
            };
            diff.hacks[0].description = format!("{n} {story}");
            changes.send(Change::Judging(diff));
            settle(&handle).await;
        }
        assert_eq!(next(&mut slow).await.event, UPDATE_FULL);
        let update = next(&mut slow).await;
        assert_eq!(update.event, UPDATE_FULL, "a full state, not the rewrites");
        let last = 1 + rewrites as Seq;
        assert_eq!(&*update.id, format!("e1:{last}"));
        let description = payload(&update)["database"]["hacks"][0]["description"].clone();
        assert_eq!(description, format!("{} {story}", rewrites - 1));
        assert!(slow.updates.try_recv().is_err(), "and nothing else");
    }

    #[tokio::test]
    async fn a_backlog_is_merged_into_partials_of_bounded_size() {
        let (changes, handle, _shutdown) = start();
        let mut sub = handle
            .subscribe_channel(Viewer::Admin, 1024, None, None)
            .await
            .unwrap();
        assert_eq!(sub.updates.recv().await.unwrap().event, UPDATE_FULL);
        // Queued before the task runs again: it finds them all waiting, as
        // when it has fallen behind.
        let story = "x".repeat(10_000);
        for id in 1..=100 {
            let Change::Judging(mut diff) = hack(id) else {
                unreachable!()
            };
            diff.hacks[0].description = story.clone();
            changes.send(Change::Judging(diff));
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
            changes.send(rating(id, 1));
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

    fn rating_ids(update: &StreamUpdate) -> Vec<i64> {
        payload(update)["diff"]["ratings"]
            .as_array()
            .map(|rows| rows.iter().map(|r| r["id"].as_i64().unwrap()).collect())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_gap_is_filled_from_the_log_in_order() {
        let (changes, handle, _shutdown) = start();
        let mut sub = handle
            .subscribe_channel(Viewer::Admin, 8, None, None)
            .await
            .unwrap();
        assert_eq!(sub.updates.recv().await.unwrap().id.as_ref(), "e1:0");
        changes.log_only(rating(1, 1));
        changes.log_only(rating(2, 1));
        changes.send(rating(3, 1));
        settle(&handle).await;
        let updates: Vec<_> = std::iter::from_fn(|| sub.updates.try_recv().ok()).collect();
        let ids: Vec<i64> = updates.iter().flat_map(rating_ids).collect();
        assert_eq!(ids, [1, 2, 3], "the two missed changes come first");
        assert_eq!(updates.last().unwrap().id.as_ref(), "e1:3");
        assert_eq!(
            handle.snapshot(Viewer::Admin).await.unwrap().ratings.len(),
            3
        );
    }

    #[tokio::test]
    async fn a_gap_the_log_no_longer_holds_reloads_everyone() {
        let (changes, handle, _shutdown) = start();
        let mut sub = handle
            .subscribe_channel(Viewer::Admin, 8, None, None)
            .await
            .unwrap();
        assert_eq!(sub.updates.recv().await.unwrap().event, UPDATE_FULL);
        changes.log_only(hack(1));
        changes.log_only(hack(2));
        *changes.log.floor.lock().unwrap() = 2;
        changes.send(hack(3));
        settle(&handle).await;
        let full = sub.updates.recv().await.unwrap();
        assert_eq!((full.event, full.id.as_ref()), (UPDATE_FULL, "e1:3"));
        assert_eq!(
            payload(&full)["database"]["hacks"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert!(sub.updates.try_recv().is_err(), "hack 3 is not sent again");
        changes.send(hack(4));
        settle(&handle).await;
        assert_eq!(sub.updates.recv().await.unwrap().id.as_ref(), "e1:4");
    }

    #[tokio::test]
    async fn a_channel_resumes_after_its_id_scoped_without_update_full() {
        let (changes, handle, _shutdown) = start();
        changes.send(hack(1));
        let mut last = HashMap::new();
        for viewer in [Viewer::Admin, Viewer::Judge(2)] {
            let mut sub = handle
                .subscribe_channel(viewer, 8, None, None)
                .await
                .unwrap();
            let full = sub.updates.recv().await.unwrap();
            assert_eq!(full.event, UPDATE_FULL);
            last.insert(viewer, EventId::parse(&full.id).unwrap());
        }
        // Missed while away: the judge may see only its own ratings.
        for id in 1..=6 {
            changes.send(rating(id, 1 + id % 2));
        }
        settle(&handle).await;
        for (viewer, expected, live) in [
            (Viewer::Admin, vec![1, 2, 3, 4, 5, 6], 7),
            (Viewer::Judge(2), vec![1, 3, 5, 7], 8),
        ] {
            let mut sub = handle
                .subscribe_channel(viewer, 8, None, Some(last[&viewer].clone()))
                .await
                .unwrap();
            changes.send(rating(live, 2));
            settle(&handle).await;
            let mut updates = Vec::new();
            while updates.iter().flat_map(rating_ids).last() != Some(live) {
                updates.push(sub.updates.recv().await.unwrap());
            }
            assert!(
                updates.iter().all(|u| u.event == UPDATE_PARTIAL),
                "{viewer:?}"
            );
            let mut seen: Vec<i64> = updates.iter().flat_map(rating_ids).collect();
            assert_eq!(seen.pop(), Some(live), "{viewer:?}: the live change last");
            assert_eq!(seen, expected, "{viewer:?}");
            assert!(sub.updates.try_recv().is_err(), "{viewer:?}: nothing twice");
        }
    }

    #[tokio::test]
    async fn an_id_of_another_epoch_or_beyond_the_log_gets_update_full() {
        let (changes, handle, _shutdown) = start();
        for id in 1..=3 {
            changes.send(rating(id, 1));
        }
        settle(&handle).await;
        *changes.log.floor.lock().unwrap() = 2;
        for id in ["other:1", "e1:1", "e1:99"] {
            let mut sub = handle
                .subscribe_channel(Viewer::Admin, 8, None, EventId::parse(id))
                .await
                .unwrap();
            let first = sub.updates.recv().await.unwrap();
            assert_eq!(first.event, UPDATE_FULL, "{id}");
            assert_eq!(first.id.as_ref(), "e1:3", "{id}");
            assert_eq!(
                payload(&first)["database"]["ratings"]
                    .as_array()
                    .unwrap()
                    .len(),
                3
            );
        }
        let mut sub = handle
            .subscribe_channel(Viewer::Admin, 8, None, EventId::parse("e1:3"))
            .await
            .unwrap();
        changes.send(rating(4, 1));
        settle(&handle).await;
        assert_eq!(rating_ids(&sub.updates.recv().await.unwrap()), [4]);
    }

    #[test]
    fn event_ids_parse_strictly() {
        let id = EventId::parse("a1b2:42").unwrap();
        assert_eq!((id.epoch.as_str(), id.seq), ("a1b2", 42));
        assert_eq!(id.to_string(), "a1b2:42");
        for bad in [
            "",
            "42",
            ":42",
            "a1:",
            "a1:-1",
            "a1:x",
            "a 1:2",
            "a1:99999999999999999999999",
        ] {
            assert_eq!(EventId::parse(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn shutdown_ends_every_channel() {
        let (_changes, handle, shutdown) = start();
        let mut sub = handle
            .subscribe_channel(Viewer::Judge(1), 4, None, None)
            .await
            .unwrap();
        assert_eq!(sub.updates.recv().await.unwrap().event, UPDATE_FULL);
        shutdown.cancel();
        assert!(sub.updates.recv().await.is_none());
        assert!(handle.snapshot(Viewer::Admin).await.is_err());
    }
}
