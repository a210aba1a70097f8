//! One socket.io connection: handshake, keep-alive, emitting events with or
//! without acks, and waiting for a reply. Keep-alive differs by version: in
//! EIO4 the server pings and the client answers; in EIO3 the client pings.
//!
//! Errors are strings: every caller treats a failure as "this connection is
//! gone" (a soak retries, the load generator counts it, a test panics).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::packet::{self, Eio, Packet};
use crate::PATIENCE;

/// A socket.io client on the default namespace, over a WebSocket on `S`
/// (by default the stream tokio-tungstenite's `connect_async` opens).
pub struct Sio<S = MaybeTlsStream<TcpStream>> {
    ws: WebSocketStream<S>,
    eio: Eio,
    ping_every: Duration,
    next_ping: Instant,
    next_ack: u64,
}

impl Sio {
    /// Opens `ws://{addr}/socket.io/` and joins the default namespace; a
    /// refusal (`44...`) is an error.
    pub async fn connect(addr: SocketAddr, eio: Eio) -> Result<Sio, String> {
        let url = format!("ws://{addr}{}", eio.query());
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        Sio::joined(ws, eio).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sio<S> {
    /// A client on an Engine.IO WebSocket the caller opened (at
    /// [`Eio::query`]); nothing read yet: see [`Sio::join`].
    pub fn over(ws: WebSocketStream<S>, eio: Eio) -> Sio<S> {
        Sio {
            ws,
            eio,
            ping_every: Duration::from_secs(25),
            next_ping: Instant::now() + Duration::from_secs(25),
            next_ack: 0,
        }
    }

    /// [`Sio::over`] then [`Sio::join`]; a refusal is an error.
    pub async fn joined(ws: WebSocketStream<S>, eio: Eio) -> Result<Sio<S>, String> {
        let mut sio = Sio::over(ws, eio);
        let answer = sio.join().await?;
        if answer.starts_with("44") {
            return Err(format!("socket.io connect refused: {answer}"));
        }
        Ok(sio)
    }

    /// Reads the Engine.IO open packet, asks to join the default namespace
    /// and returns socket.io's answer as sent: `40...` joined, `44...`
    /// refused (tests assert on the refusal).
    pub async fn join(&mut self) -> Result<String, String> {
        let deadline = Instant::now() + PATIENCE;
        let Some(open) = self.frame(deadline).await? else {
            return Err("engine.io: no open packet in time".into());
        };
        let Packet::Open(open) = packet::parse(&open) else {
            return Err(format!("engine.io: expected the open packet, got {open:?}"));
        };
        if let Some(ms) = open.get("pingInterval").and_then(Value::as_u64) {
            self.ping_every = Duration::from_millis(ms.max(100));
            self.next_ping = Instant::now() + self.ping_every;
        }
        // socket.io 2 joins the default namespace by itself; 4 must ask.
        if self.eio == Eio::V4 {
            self.send_text("40").await?;
        }
        loop {
            let Some(text) = self.frame(deadline).await? else {
                return Err("socket.io: no connect packet in time".into());
            };
            match text.as_str() {
                t if t.starts_with("40") || t.starts_with("44") => return Ok(t.to_string()),
                "1" | "41" => return Err("closed by the server".into()),
                _ => {}
            }
        }
    }

    /// Sends one text frame as it is (a packet of the caller's making).
    pub async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// Queues an event without flushing (see [`Sio::flush`]); returns its ack
    /// id if one is asked.
    pub async fn feed_event(
        &mut self,
        name: &str,
        data: &Value,
        want_ack: bool,
    ) -> Result<Option<u64>, String> {
        let ack = want_ack.then(|| {
            self.next_ack += 1;
            self.next_ack
        });
        self.ws
            .feed(Message::text(packet::event(name, data, ack)))
            .await
            .map_err(|e| format!("send: {e}"))?;
        Ok(ack)
    }

    pub async fn flush(&mut self) -> Result<(), String> {
        self.ws.flush().await.map_err(|e| format!("flush: {e}"))
    }

    /// Emits an event without asking for an acknowledgement.
    pub async fn emit(&mut self, name: &str, data: &Value) -> Result<(), String> {
        self.feed_event(name, data, false).await?;
        self.flush().await
    }

    /// Emits an event asking for an acknowledgement; returns the ack id.
    pub async fn emit_with_ack(&mut self, name: &str, data: &Value) -> Result<u64, String> {
        let id = self.feed_event(name, data, true).await?;
        self.flush().await?;
        Ok(id.expect("an ack id was asked for"))
    }

    /// The next text frame other than an Engine.IO ping, `None` at
    /// `deadline`; answers (EIO4) or sends (EIO3) pings meanwhile. Errors
    /// mean the connection is gone.
    pub(crate) async fn frame(&mut self, deadline: Instant) -> Result<Option<Utf8Bytes>, String> {
        loop {
            let wake = match self.eio {
                Eio::V3 => deadline.min(self.next_ping),
                Eio::V4 => deadline,
            };
            let msg = tokio::select! {
                m = self.ws.next() => m,
                _ = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    self.next_ping = Instant::now() + self.ping_every;
                    self.send_text("2").await?;
                    continue;
                }
            };
            match msg {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    if self.eio == Eio::V4 {
                        self.send_text("3").await?;
                    }
                }
                Some(Ok(Message::Text(t))) => return Ok(Some(t)),
                Some(Ok(Message::Close(_))) | None => return Err("connection closed".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("read: {e}")),
            }
        }
    }

    /// The next packet that is not keep-alive, `None` at `deadline` (a
    /// `std` or `tokio` instant). The server's disconnect is an error.
    pub async fn next(&mut self, deadline: impl Into<Instant>) -> Result<Option<Packet>, String> {
        let deadline = deadline.into();
        loop {
            let Some(text) = self.frame(deadline).await? else {
                return Ok(None);
            };
            match packet::parse(text.as_str()) {
                Packet::Ping | Packet::Pong | Packet::Noop => {}
                Packet::Close | Packet::Disconnect => return Err("closed by the server".into()),
                p => return Ok(Some(p)),
            }
        }
    }

    /// Emits and waits for that event's acknowledgement (other packets are
    /// dropped); a refusal (`ok` not true) is an error.
    pub async fn call(&mut self, name: &str, data: &Value) -> Result<Value, String> {
        let id = self.emit_with_ack(name, data).await?;
        let Some(data) = self.ack_within(id, PATIENCE).await? else {
            return Err(format!("no acknowledgement of {name} within {PATIENCE:?}"));
        };
        match data.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(data),
            _ => Err(format!("{name} refused: {data}")),
        }
    }

    /// Waits up to `patience` for acknowledgement `id` (other packets are
    /// dropped) and returns its data, `None` when it does not come.
    pub async fn ack_within(
        &mut self,
        id: u64,
        patience: Duration,
    ) -> Result<Option<Value>, String> {
        let deadline = Instant::now() + patience;
        loop {
            match self.next(deadline).await? {
                Some(Packet::Ack { id: got, data }) if got == id => return Ok(Some(data)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// Waits for the event `name`; a `protocol-error` event is an error,
    /// other packets are dropped.
    pub async fn wait_event(&mut self, name: &str) -> Result<Value, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.next(deadline).await? {
                Some(Packet::Event { name: n, data, .. }) if n == name => return Ok(data),
                Some(Packet::Event { name: n, data, .. }) if n == "protocol-error" => {
                    return Err(format!("protocol-error {data} while waiting for {name}"))
                }
                Some(_) => {}
                None => return Err(format!("no {name} within {PATIENCE:?}")),
            }
        }
    }

    /// Emits `name` without an ack and waits for the `response` event (the
    /// Sledge protocol answers `login` with `login-response`, and so on).
    pub async fn request(
        &mut self,
        name: &str,
        data: &Value,
        response: &str,
    ) -> Result<Value, String> {
        self.emit(name, data).await?;
        self.wait_event(response)
            .await
            .map_err(|e| format!("{name}: {e}"))
    }

    /// The WebSocket underneath, for callers that take over the framing.
    pub fn into_ws(self) -> WebSocketStream<S> {
        self.ws
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

/// Reads an ack payload: `{"ok":false,...}` or an `error` field is a refusal.
pub fn ack_ok(data: &Value) -> bool {
    match data.get("ok").and_then(Value::as_bool) {
        Some(ok) => ok,
        None => data.get("error").is_none(),
    }
}
