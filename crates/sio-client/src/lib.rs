//! A minimal socket.io client, to drive Podium's Sledge judging protocol from
//! Rust: the end-to-end tests (`tests/`) and the load generator (`bench/`)
//! both use it, so there is one client to keep right rather than two copies
//! drifting apart.
//!
//! It speaks Engine.IO 3 (socket.io 2.x) and 4 (socket.io 3.x/4.x) over the
//! WebSocket transport only, on the default namespace: text events, acks and
//! keep-alive. No polling transport, no binary packets, no reconnection: it is
//! an instrument, not a client for users. Whether Podium works with the real
//! clients is checked with npm `socket.io-client` 2 and 4 in `tests/js`.
//!
//! [`Sio`] returns errors (a soak or the load generator counts a failure
//! and carries on); [`Sledge`] wraps it with panicking helpers for tests
//! that drive one client step by step.

mod client;
pub mod packet;
mod sledge;

use std::time::Duration;

pub use client::{ack_ok, Sio};
pub use packet::{Eio, Packet};
pub use sledge::Sledge;

/// How long a reply (the handshake, an acknowledgement, an awaited event)
/// may take before the client gives up on it.
pub const PATIENCE: Duration = Duration::from_secs(10);
