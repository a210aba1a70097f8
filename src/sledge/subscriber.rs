//! A socket.io socket as a subscriber of the core's live updates: it queues
//! `update-full` and `update-partial` in the socket's send buffer and, when
//! that buffer is full (the client stopped reading), disconnects the socket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};

use crate::core::sync::{Sent, Socket};
use crate::core::updates::{UpdateFull, UpdatePartial, UPDATE_FULL, UPDATE_PARTIAL};

/// How often to retry disconnecting a subscriber whose buffer is full.
const DISCONNECT_RETRY: Duration = Duration::from_millis(200);

/// A socket and the key the sync task knows it by.
pub struct Subscriber {
    socket: SocketRef,
    key: u64,
}

impl Subscriber {
    pub fn new(socket: SocketRef, key: u64) -> Subscriber {
        Subscriber { socket, key }
    }

    /// A key no other socket of this process has.
    pub fn next_key() -> u64 {
        static KEYS: AtomicU64 = AtomicU64::new(1);
        KEYS.fetch_add(1, Ordering::Relaxed)
    }

    fn sent(&self, result: Result<(), SendError>, full_means_drop: bool) -> Sent {
        match result {
            Ok(()) => Sent::Yes,
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                if full_means_drop {
                    tracing::warn!(sid = %self.socket.id, "sledge subscriber not reading: send buffer full, disconnecting it");
                    disconnect_when_possible(self.socket.clone());
                }
                Sent::Full
            }
            Err(SendError::Socket(SocketError::Closed)) => Sent::Gone,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a live update");
                Sent::Failed
            }
        }
    }
}

impl Socket for Subscriber {
    fn key(&self) -> u64 {
        self.key
    }

    fn connected(&self) -> bool {
        self.socket.connected()
    }

    fn send_full(&self, update: &UpdateFull<'_>) -> Sent {
        // A full buffer here refuses the subscription; the socket stays.
        self.sent(self.socket.emit(UPDATE_FULL, update), false)
    }

    fn send_partial(&self, update: &UpdatePartial<'_>) -> Sent {
        self.sent(self.socket.emit(UPDATE_PARTIAL, update), true)
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
