//! The live-update task: the one owner of the mirror and the subscriber list.
//!
//! It consumes the store's committed changes in commit order, applies each
//! to the mirror and sends every subscriber its scoped `update-partial`.
//! Subscribing goes through the same task, which sends `update-full` from
//! the mirror and only then adds the subscriber: so no subscriber gets a
//! partial before its full update, misses a change, or sees changes in a
//! different order from another. Changes that arrive together are merged
//! into one partial, which keeps bursts (an import) from flooding sockets.
//! A subscriber whose send buffer is full is dropped and disconnected, so a
//! client that stops reading cannot make the server hold unbounded memory.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::replies::{UpdateFull, UpdatePartial, UPDATE_FULL, UPDATE_PARTIAL};
use super::view::{coalesce, scope, Mirror, Viewer};
use crate::judging::model::DataStore;
use crate::metrics::{Metrics, Protocol};
use crate::store::{Change, Changes};

/// Most committed changes merged into one partial update.
const MAX_COALESCE: usize = 1024;
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

enum Command {
    Subscribe {
        socket: SocketRef,
        viewer: Viewer,
        done: oneshot::Sender<Result<(), SubscribeError>>,
    },
    Unsubscribe(Sid),
}

/// The way into the task; cheap to clone.
#[derive(Clone)]
pub struct SyncHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl SyncHandle {
    /// Sends `socket` an `update-full` as `viewer` sees it and then every
    /// later change; subscribing again (say, after re-authenticating)
    /// starts over with a new full update.
    pub async fn subscribe(&self, socket: SocketRef, viewer: Viewer) -> Result<(), SubscribeError> {
        let (done, answer) = oneshot::channel();
        self.commands
            .send(Command::Subscribe {
                socket,
                viewer,
                done,
            })
            .map_err(|_| SubscribeError::ShuttingDown)?;
        answer.await.map_err(|_| SubscribeError::ShuttingDown)?
    }

    /// Stops updates to a socket (it disconnected).
    pub fn unsubscribe(&self, sid: Sid) {
        let _ = self.commands.send(Command::Unsubscribe(sid));
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
        metrics,
    };
    tokio::spawn(task.run(changes, inbox, shutdown));
    SyncHandle { commands }
}

struct Subscriber {
    socket: SocketRef,
    viewer: Viewer,
}

struct Task {
    mirror: Mirror,
    subscribers: HashMap<Sid, Subscriber>,
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
                // that client's update-full. Read-your-writes.
                change = changes.recv() => match change {
                    Some(first) => {
                        let mut batch = vec![first];
                        while batch.len() < MAX_COALESCE {
                            match changes.try_recv() {
                                Ok(change) => batch.push(change),
                                Err(_) => break,
                            }
                        }
                        self.publish(batch);
                    }
                    None => break,
                },
                command = inbox.recv() => match command {
                    Some(Command::Subscribe { socket, viewer, done }) => {
                        let _ = done.send(self.subscribe(socket, viewer));
                    }
                    Some(Command::Unsubscribe(sid)) => {
                        self.subscribers.remove(&sid);
                    }
                    None => break,
                },
            }
        }
        // Sockets hold the task's references only while it runs.
        self.subscribers.clear();
        tracing::debug!("sledge live updates stopped");
    }

    fn subscribe(&mut self, socket: SocketRef, viewer: Viewer) -> Result<(), SubscribeError> {
        // A socket that disconnected has sent its Unsubscribe already (it is
        // marked disconnected first), so it must not be added after it.
        if !socket.connected() {
            return Err(SubscribeError::Gone);
        }
        let database = self.mirror.snapshot(viewer);
        match socket.emit(
            UPDATE_FULL,
            &UpdateFull {
                database: &database,
            },
        ) {
            Ok(()) => {
                self.metrics.messages_out(Protocol::Sledge, 1);
                self.subscribers
                    .insert(socket.id, Subscriber { socket, viewer });
                Ok(())
            }
            Err(SendError::Socket(SocketError::InternalChannelFull)) => Err(SubscribeError::Busy),
            Err(e) => {
                tracing::debug!(error = %e, "cannot send update-full");
                Err(SubscribeError::Gone)
            }
        }
    }

    fn publish(&mut self, batch: Vec<Change>) {
        let diff = coalesce(batch.into_iter().map(|change| match change {
            Change::Judging(diff) => *diff,
        }));
        if diff.is_empty() {
            return;
        }
        // One scoped diff per distinct viewer, however many sockets share it.
        let mut scoped: HashMap<Viewer, DataStore> = HashMap::new();
        let mut dropped = Vec::new();
        for (sid, sub) in &self.subscribers {
            let view = scoped
                .entry(sub.viewer)
                .or_insert_with(|| scope(&diff, sub.viewer));
            if view.is_empty() {
                continue;
            }
            match sub
                .socket
                .emit(UPDATE_PARTIAL, &UpdatePartial { diff: view })
            {
                Ok(()) => self.metrics.messages_out(Protocol::Sledge, 1),
                Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                    tracing::warn!(sid = %sid, "sledge subscriber not reading: send buffer full, disconnecting it");
                    self.metrics
                        .listeners_dropped_slow
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    disconnect_when_possible(sub.socket.clone());
                    dropped.push(*sid);
                }
                Err(SendError::Socket(SocketError::Closed)) => dropped.push(*sid),
                Err(e) => tracing::error!(error = %e, "cannot encode update-partial"),
            }
        }
        self.mirror.apply(diff);
        for sid in dropped {
            self.subscribers.remove(&sid);
        }
    }
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
