//! The tests' socket.io client, over a plain WebSocket: Engine.IO 3
//! (socket.io 2.x) and 4 (socket.io 4.x), default namespace, text events and
//! acks only; no polling, no binary packets, no reconnection.
//! [`Sio`] returns errors (the crash soak treats every failure as "the server
//! is down, try again"); [`Sledge`] is the same client with panicking
//! helpers, for tests that drive one client step by step.
//! The load generator has a fuller one (`bench/src/sio`); the bench crate is
//! not a dependency of the tests, hence this copy of its essentials.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{Ws, PATIENCE};

/// A socket.io packet a test cares about.
#[derive(Debug)]
pub enum Packet {
    Event { name: String, data: Value },
    Ack { id: u64, data: Value },
}

pub struct Sio {
    ws: Ws,
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
        let mut sio = Sio::over(ws, eio3);
        let answer = sio.join().await?;
        if answer.starts_with("44") {
            return Err(format!("connect refused: {answer}"));
        }
        Ok(sio)
    }

    /// A client on an Engine.IO WebSocket the caller opened; nothing read yet.
    pub fn over(ws: Ws, eio3: bool) -> Sio {
        Sio {
            ws,
            eio3,
            ping_every: Duration::from_secs(25),
            next_ping: Instant::now() + Duration::from_secs(25),
            next_ack: 0,
        }
    }

    /// Reads the Engine.IO open packet, asks to join the default namespace
    /// and returns socket.io's answer: `40...` joined, `44...` refused.
    pub async fn join(&mut self) -> Result<String, String> {
        let open = self.raw(Instant::now() + PATIENCE).await?;
        let open: Value = open
            .strip_prefix('0')
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or_else(|| format!("expected the engine.io open packet, got {open:?}"))?;
        if let Some(ms) = open.get("pingInterval").and_then(Value::as_u64) {
            self.ping_every = Duration::from_millis(ms.max(100));
            self.next_ping = Instant::now() + self.ping_every;
        }
        // socket.io 2 joins the default namespace by itself; 4 must ask.
        if !self.eio3 {
            self.send("40".into()).await?;
        }
        loop {
            let text = self.raw(Instant::now() + PATIENCE).await?;
            if text.starts_with("40") || text.starts_with("44") {
                return Ok(text);
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

    /// The next text frame that is not an Engine.IO ping; answers (EIO4) or
    /// sends (EIO3) pings meanwhile. `Err("timeout")` at `deadline`.
    async fn frame(&mut self, deadline: Instant) -> Result<String, String> {
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
                Some(Ok(Message::Text(t))) if t.as_str() == "2" && !self.eio3 => {
                    self.send("3".into()).await?
                }
                Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
                Some(Ok(Message::Close(_))) | None => return Err("connection closed".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("read: {e}")),
            }
        }
    }

    /// The next text frame that is not keep-alive (see [`Sio::frame`]); the
    /// server's disconnect is an error.
    async fn raw(&mut self, deadline: Instant) -> Result<String, String> {
        loop {
            let text = self.frame(deadline).await?;
            match text.as_str() {
                "3" | "6" => {}
                "1" | "41" => return Err("closed by the server".into()),
                _ => return Ok(text),
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
        let Some(data) = self.ack_within(id, PATIENCE).await? else {
            return Err(format!("no acknowledgement of {name} within {PATIENCE:?}"));
        };
        match data.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(data),
            _ => Err(format!("{name} refused: {data}")),
        }
    }

    /// Waits up to `patience` for acknowledgement `id` (other packets are
    /// dropped) and returns its data, `Ok(None)` when it does not come.
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

/// The panicking face of [`Sio`] (Engine.IO 4), so a test sees every packet
/// and controls when it reads: every failure panics, and events that arrive
/// while it waits for an acknowledgement are kept for [`Sledge::event`].
pub struct Sledge {
    pub sio: Sio,
    /// Events that arrived while waiting for something else, oldest first.
    pub events: VecDeque<(String, Value)>,
}

impl Sledge {
    /// Connects and joins the default namespace.
    pub async fn connect(addr: SocketAddr) -> Sledge {
        Sledge {
            sio: Sio::connect(addr, false).await.expect("socket.io connects"),
            events: Default::default(),
        }
    }

    /// The WebSocket underneath, for tests that take over the framing.
    pub fn into_ws(self) -> Ws {
        self.sio.ws
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.sio.send(text.into()).await.expect("send");
    }

    /// The next text frame that is not an Engine.IO ping (pings are answered).
    pub async fn text(&mut self) -> String {
        self.sio
            .frame(Instant::now() + PATIENCE)
            .await
            .expect("a socket.io frame within the patience window")
    }

    async fn next_packet(&mut self) -> Packet {
        let text = self.text().await;
        parse(&text).unwrap_or_else(|| panic!("unexpected packet {text:?}"))
    }

    /// Emits `event` without asking for an acknowledgement.
    pub async fn emit(&mut self, event: &str, payload: Value) {
        let packet = serde_json::json!([event, payload]);
        self.send_raw(&format!("42{packet}")).await;
    }

    /// Emits `event` with an acknowledgement id and returns the id.
    pub async fn emit_with_ack(&mut self, event: &str, payload: Value) -> u64 {
        self.sio.emit(event, &payload).await.expect("send")
    }

    /// Waits for acknowledgement `id`, keeping events that arrive meanwhile.
    pub async fn ack(&mut self, id: u64) -> Value {
        loop {
            match self.next_packet().await {
                Packet::Ack { id: got, data } if got == id => return data,
                Packet::Ack { id: got, .. } => {
                    panic!("acknowledgement {got} while waiting for {id}")
                }
                Packet::Event { name, data } => self.events.push_back((name, data)),
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
            match self.next_packet().await {
                Packet::Event { name: got, data } if got == name => return data,
                Packet::Event { .. } | Packet::Ack { .. } => {}
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
