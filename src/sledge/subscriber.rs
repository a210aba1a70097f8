//! A socket.io socket as a subscriber of the core's live updates: it queues
//! `update-full` and `update-partial` in the socket's send buffer and says
//! when that buffer is full, so that the core folds what the socket misses
//! until it has room (a slow reader is served late, not dropped; one that
//! stops reading is ended by the engine.io heartbeat).

use std::sync::atomic::{AtomicU64, Ordering};

use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};

use crate::core::sync::{Sent, Socket};
use crate::core::updates::{UpdateFull, UpdatePartial, UPDATE_FULL, UPDATE_PARTIAL};

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

    fn sent(&self, result: Result<(), SendError>) -> Sent {
        match result {
            Ok(()) => Sent::Yes,
            Err(SendError::Socket(SocketError::InternalChannelFull)) => Sent::Full,
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
        self.sent(self.socket.emit(UPDATE_FULL, update))
    }

    fn send_partial(&self, update: &UpdatePartial<'_>) -> Sent {
        self.sent(self.socket.emit(UPDATE_PARTIAL, update))
    }
}
