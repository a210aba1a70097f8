//! The panicking face of [`Sio`] (Engine.IO 4) for tests that drive one
//! client step by step and see every packet: every failure panics, and
//! events that arrive while it waits for an acknowledgement are kept for
//! [`Sledge::event`].

use std::collections::VecDeque;
use std::net::SocketAddr;

use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::packet::{Eio, Packet};
use crate::{Sio, PATIENCE};

pub struct Sledge {
    pub sio: Sio,
    /// Events that arrived while waiting for something else, oldest first.
    pub events: VecDeque<(String, Value)>,
}

impl Sledge {
    /// Connects and joins the default namespace.
    pub async fn connect(addr: SocketAddr) -> Sledge {
        Sledge {
            sio: Sio::connect(addr, Eio::V4)
                .await
                .expect("socket.io connects"),
            events: Default::default(),
        }
    }

    /// The WebSocket underneath, for tests that take over the framing.
    pub fn into_ws(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.sio.into_ws()
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.sio.send_text(text).await.expect("send");
    }

    /// The next text frame that is not an Engine.IO ping (pings are answered).
    pub async fn text(&mut self) -> String {
        self.sio
            .frame(Instant::now() + PATIENCE)
            .await
            .expect("the connection stays open")
            .expect("a socket.io frame within the patience window")
            .to_string()
    }

    async fn next_packet(&mut self) -> Packet {
        match self.sio.next(Instant::now() + PATIENCE).await {
            Ok(Some(p @ (Packet::Event { .. } | Packet::Ack { .. }))) => p,
            Ok(Some(other)) => panic!("unexpected packet {other:?}"),
            Ok(None) => panic!("no socket.io packet within {PATIENCE:?}"),
            Err(e) => panic!("socket.io connection lost: {e}"),
        }
    }

    /// Emits `event` without asking for an acknowledgement.
    pub async fn emit(&mut self, event: &str, payload: Value) {
        self.sio.emit(event, &payload).await.expect("send");
    }

    /// Emits `event` with an acknowledgement id and returns the id.
    pub async fn emit_with_ack(&mut self, event: &str, payload: Value) -> u64 {
        self.sio.emit_with_ack(event, &payload).await.expect("send")
    }

    /// Waits for acknowledgement `id`, keeping events that arrive meanwhile.
    pub async fn ack(&mut self, id: u64) -> Value {
        loop {
            match self.next_packet().await {
                Packet::Ack { id: got, data } if got == id => return data,
                Packet::Ack { id: got, .. } => {
                    panic!("acknowledgement {got} while waiting for {id}")
                }
                Packet::Event { name, data, .. } => self.events.push_back((name, data)),
                _ => unreachable!("next_packet returns events and acks"),
            }
        }
    }

    /// Emits `event` and returns its acknowledgement.
    pub async fn request(&mut self, event: &str, payload: Value) -> Value {
        let id = self.emit_with_ack(event, payload).await;
        self.ack(id).await
    }

    /// The next event named `name`, from those kept or from the wire; other
    /// events are dropped.
    pub async fn event(&mut self, name: &str) -> Value {
        while let Some((got, data)) = self.events.pop_front() {
            if got == name {
                return data;
            }
        }
        loop {
            if let Packet::Event {
                name: got, data, ..
            } = self.next_packet().await
            {
                if got == name {
                    return data;
                }
            }
        }
    }

    /// Authenticates as `user_id` (0: the admin) with `secret`.
    pub async fn authenticate(&mut self, secret: &str, user_id: i64) {
        let ack = self
            .request(
                "authenticate",
                serde_json::json!({"secret": secret, "userId": user_id}),
            )
            .await;
        assert_eq!(ack["ok"], true, "authenticate: {ack}");
    }
}
