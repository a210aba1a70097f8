//! A minimal socket.io client over a plain WebSocket, enough to drive the
//! Sledge judging protocol: Engine.IO 3 (socket.io 2.x) and Engine.IO 4
//! (socket.io 4.x), default namespace, text events and acks. No polling
//! transport, no binary packets, no reconnection.

pub mod client;
pub mod packet;

pub use client::SioClient;
pub use packet::{Eio, Packet};
