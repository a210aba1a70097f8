//! One socket.io connection: handshake, keep-alive, emitting events with or
//! without acks, and waiting for a reply. Keep-alive differs by version: in
//! EIO4 the server pings and the client answers; in EIO3 the client pings.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::packet::{self, Eio, Packet};
use crate::conn::{self, Ws};

const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SioClient {
    ws: Ws,
    pub eio: Eio,
    ping_interval: Duration,
    next_client_ping: Instant,
    next_ack: u64,
}

/// What `next` produced before its deadline.
pub enum Next {
    Packet(Packet),
    Timeout,
}

impl SioClient {
    /// Opens the WebSocket and completes the Engine.IO and socket.io
    /// handshakes for the default namespace.
    pub async fn connect(host: &str, eio: Eio) -> Result<SioClient, String> {
        let ws = conn::connect(host, eio.query()).await?;
        let mut c = SioClient {
            ws,
            eio,
            ping_interval: Duration::from_secs(25),
            next_client_ping: Instant::now() + Duration::from_secs(25),
            next_ack: 0,
        };
        let deadline = Instant::now() + REPLY_TIMEOUT;
        match c.next(deadline).await? {
            Next::Packet(Packet::Open(v)) => {
                if let Some(ms) = v.get("pingInterval").and_then(Value::as_u64) {
                    c.ping_interval = Duration::from_millis(ms.max(100));
                }
                c.next_client_ping = Instant::now() + c.ping_interval;
            }
            Next::Packet(p) => return Err(format!("engine.io: expected open packet, got {p:?}")),
            Next::Timeout => return Err("engine.io: no open packet within 10 s".into()),
        }
        // socket.io 2 joins the default namespace by itself; 4 must ask.
        if eio == Eio::V4 {
            c.send_text("40".to_string()).await?;
        }
        loop {
            match c.next(deadline).await? {
                Next::Packet(Packet::Connect(_)) => return Ok(c),
                Next::Packet(Packet::ConnectError(v)) => {
                    return Err(format!("socket.io connect refused: {v}"))
                }
                Next::Packet(Packet::Noop) => {}
                Next::Packet(p) => return Err(format!("socket.io: expected connect, got {p:?}")),
                Next::Timeout => return Err("socket.io: no connect packet within 10 s".into()),
            }
        }
    }

    async fn send_text(&mut self, text: String) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// Queues an event without flushing; returns its ack id if one is asked.
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

    pub async fn emit(
        &mut self,
        name: &str,
        data: &Value,
        want_ack: bool,
    ) -> Result<Option<u64>, String> {
        let ack = self.feed_event(name, data, want_ack).await?;
        self.flush().await?;
        Ok(ack)
    }

    /// The next packet that is not keep-alive, or `Timeout` at `deadline`.
    /// Errors mean the connection is gone.
    pub async fn next(&mut self, deadline: Instant) -> Result<Next, String> {
        loop {
            let wake = match self.eio {
                Eio::V3 => deadline.min(self.next_client_ping),
                Eio::V4 => deadline,
            };
            let msg = tokio::select! {
                m = self.ws.next() => m,
                _ = tokio::time::sleep_until(wake.into()) => {
                    if Instant::now() >= deadline {
                        return Ok(Next::Timeout);
                    }
                    self.next_client_ping = Instant::now() + self.ping_interval;
                    self.send_text("2".to_string()).await?;
                    continue;
                }
            };
            match msg {
                Some(Ok(Message::Text(t))) => match packet::parse(t.as_str()) {
                    Packet::Ping => {
                        if self.eio == Eio::V4 {
                            self.send_text("3".to_string()).await?;
                        }
                    }
                    Packet::Pong | Packet::Noop => {}
                    Packet::Close | Packet::Disconnect => {
                        return Err("closed by server (engine.io/socket.io close)".into())
                    }
                    p => return Ok(Next::Packet(p)),
                },
                Some(Ok(Message::Close(_))) | None => return Err("closed by server".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Emits `name` without an ack and waits for the `response` event.
    /// A `protocol-error` answer becomes an error; other events are skipped.
    pub async fn request(
        &mut self,
        name: &str,
        data: &Value,
        response: &str,
    ) -> Result<Value, String> {
        self.emit(name, data, false).await?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match self.next(deadline).await? {
                Next::Packet(Packet::Event { name: n, data, .. }) if n == response => {
                    return Ok(data)
                }
                Next::Packet(Packet::Event { name: n, data, .. }) if n == "protocol-error" => {
                    return Err(format!("{name}: protocol-error {data}"))
                }
                Next::Packet(_) => {}
                Next::Timeout => return Err(format!("{name}: no {response} within 10 s")),
            }
        }
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
