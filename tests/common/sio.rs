//! A small socket.io client over a plain WebSocket, for tests that need
//! acknowledgements from several Sledge clients at once (the crash soak).
//! Engine.IO 3 (socket.io 2.x) and 4 (socket.io 4.x), default namespace, text
//! events and acks only; no polling, no binary packets, no reconnection.
//! The load generator has a fuller one (`bench/src/sio`); the bench crate is
//! not a dependency of the tests, hence this copy of its essentials.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const PATIENCE: Duration = Duration::from_secs(10);

/// A socket.io packet a test cares about.
#[derive(Debug)]
pub enum Packet {
    Event { name: String, data: Value },
    Ack { id: u64, data: Value },
}

pub struct Sio {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    eio3: bool,
    ping_every: Duration,
    next_ping: Instant,
    next_ack: u64,
}

impl Sio {
    /// Opens `/socket.io/` and joins the default namespace. Errors are
    /// strings because a soak treats every failure here as "the server is
    /// down, try again".
    pub async fn connect(addr: SocketAddr, eio3: bool) -> Result<Sio, String> {
        let version = if eio3 { 3 } else { 4 };
        let url = format!("ws://{addr}/socket.io/?EIO={version}&transport=websocket");
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        let mut sio = Sio {
            ws,
            eio3,
            ping_every: Duration::from_secs(25),
            next_ping: Instant::now() + Duration::from_secs(25),
            next_ack: 0,
        };
        let open = sio.raw(Instant::now() + PATIENCE).await?;
        let open: Value = open
            .strip_prefix('0')
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or_else(|| format!("expected the engine.io open packet, got {open:?}"))?;
        if let Some(ms) = open.get("pingInterval").and_then(Value::as_u64) {
            sio.ping_every = Duration::from_millis(ms.max(100));
            sio.next_ping = Instant::now() + sio.ping_every;
        }
        // socket.io 2 joins the default namespace by itself; 4 must ask.
        if !eio3 {
            sio.send("40".into()).await?;
        }
        loop {
            let text = sio.raw(Instant::now() + PATIENCE).await?;
            if text.starts_with("40") {
                return Ok(sio);
            }
            if text.starts_with("44") {
                return Err(format!("connect refused: {text}"));
            }
        }
    }

    async fn send(&mut self, text: String) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// Emits an event asking for an acknowledgement; returns the ack id.
    pub async fn emit(&mut self, name: &str, data: &Value) -> Result<u64, String> {
        self.next_ack += 1;
        let body = Value::Array(vec![Value::String(name.into()), data.clone()]);
        self.send(format!("42{}{body}", self.next_ack)).await?;
        Ok(self.next_ack)
    }

    /// The next text frame that is not keep-alive; answers (EIO4) or sends
    /// (EIO3) pings meanwhile. `Err("timeout")` at `deadline`.
    async fn raw(&mut self, deadline: Instant) -> Result<String, String> {
        loop {
            let wake = if self.eio3 {
                deadline.min(self.next_ping)
            } else {
                deadline
            };
            let msg = tokio::select! {
                m = self.ws.next() => m,
                _ = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= deadline {
                        return Err("timeout".into());
                    }
                    self.next_ping = Instant::now() + self.ping_every;
                    self.send("2".into()).await?;
                    continue;
                }
            };
            match msg {
                Some(Ok(Message::Text(t))) => match t.as_str() {
                    "2" if !self.eio3 => self.send("3".into()).await?,
                    "3" | "6" => {}
                    "1" | "41" => return Err("closed by the server".into()),
                    _ => return Ok(t.to_string()),
                },
                Some(Ok(Message::Close(_))) | None => return Err("connection closed".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("read: {e}")),
            }
        }
    }

    /// The next event or ack, `Ok(None)` when `deadline` passes first.
    pub async fn next(&mut self, deadline: Instant) -> Result<Option<Packet>, String> {
        loop {
            let text = match self.raw(deadline).await {
                Ok(t) => t,
                Err(e) if e == "timeout" => return Ok(None),
                Err(e) => return Err(e),
            };
            if let Some(p) = parse(&text) {
                return Ok(Some(p));
            }
        }
    }

    /// Emits and waits for that event's acknowledgement (other packets are
    /// dropped); a refusal (`ok: false`) is an error.
    pub async fn call(&mut self, name: &str, data: &Value) -> Result<Value, String> {
        let id = self.emit(name, data).await?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.next(deadline).await? {
                Some(Packet::Ack { id: got, data }) if got == id => {
                    return match data.get("ok").and_then(Value::as_bool) {
                        Some(true) => Ok(data),
                        _ => Err(format!("{name} refused: {data}")),
                    };
                }
                Some(_) => {}
                None => return Err(format!("no acknowledgement of {name} within {PATIENCE:?}")),
            }
        }
    }

    /// Waits for the event `name` (others are dropped).
    pub async fn wait_event(&mut self, name: &str) -> Result<Value, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.next(deadline).await? {
                Some(Packet::Event { name: n, data }) if n == name => return Ok(data),
                Some(_) => {}
                None => return Err(format!("no {name} within {PATIENCE:?}")),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

/// `42["name",data]` and `43<id>[data]` on the default namespace.
fn parse(text: &str) -> Option<Packet> {
    let rest = text.strip_prefix('4')?;
    let kind = rest.chars().next()?;
    let rest = &rest[1..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id: Option<u64> = rest[..digits].parse().ok();
    let Value::Array(mut items) = serde_json::from_str(&rest[digits..]).ok()? else {
        return None;
    };
    match kind {
        '2' if !items.is_empty() => {
            let name = items.remove(0).as_str()?.to_string();
            let data = items.into_iter().next().unwrap_or(Value::Null);
            Some(Packet::Event { name, data })
        }
        '3' => Some(Packet::Ack {
            id: id?,
            data: items.into_iter().next().unwrap_or(Value::Null),
        }),
        _ => None,
    }
}
