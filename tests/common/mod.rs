//! Shared test harness: start a real Podium on a loopback port and talk to
//! it with a real WebSocket client (tokio-tungstenite) and HTTP (reqwest).
#![allow(dead_code)]

pub mod sio;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use podium::config::ServeConfig;
use podium::server::Running;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame it expects.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub running: Option<Running>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server with a fresh data directory, after `tweak` adjusts the config.
    pub async fn start_with(tweak: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServeConfig::local(dir.path());
        tweak(&mut config);
        let running = podium::server::start(config).await.expect("server starts");
        TestServer {
            addr: running.addr,
            running: Some(running),
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = reqwest::get(self.url(path)).await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// A registered clicker and a listener of it (`verb` is LISTEN or
    /// SUBSCRIBE) that has had its `CONNECT` reply: (clicker, id, listener).
    pub async fn clicker_and_listener(&self, verb: &str) -> (Client, String, Client) {
        let mut clicker = self.client().await;
        let (id, _) = clicker.register(None).await;
        let mut board = self.client().await;
        assert_eq!(
            board.ask(&format!("{verb} {id}")).await,
            format!("CONNECT {id}")
        );
        (clicker, id, board)
    }

    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// A clicker-protocol client over a real WebSocket.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("websocket connects");
        Client { ws }
    }

    /// A client whose socket receive buffer is tiny, so that not reading
    /// pushes back on the server after a few frames rather than megabytes.
    pub async fn connect_with_small_buffer(addr: SocketAddr) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(1024).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(
            format!("ws://{addr}/ws"),
            MaybeTlsStream::Plain(stream),
        )
        .await
        .expect("websocket connects");
        Client { ws }
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub async fn send_message(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// The next text frame (pings and pongs skipped); panics on close or timeout.
    pub async fn recv(&mut self) -> String {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame within the patience window");
            match next {
                Some(Ok(Message::Text(t))) => return t.to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    pub async fn expect(&mut self, text: &str) {
        assert_eq!(self.recv().await, text);
    }

    /// Sends `command` and returns the reply.
    pub async fn ask(&mut self, command: &str) -> String {
        self.send(command).await;
        self.recv().await
    }

    /// REGISTER (with an optional secret); returns (id, secret).
    pub async fn register(&mut self, secret: Option<&str>) -> (String, String) {
        let cmd = match secret {
            Some(s) => format!("REGISTER {s}"),
            None => "REGISTER".to_string(),
        };
        let reply = self.ask(&cmd).await;
        let parts: Vec<&str> = reply.split(' ').collect();
        assert_eq!(parts.len(), 3, "REGISTERED <id> <secret>, got {reply:?}");
        assert_eq!(parts[0], "REGISTERED");
        (parts[1].to_string(), parts[2].to_string())
    }

    /// Asserts that no text frame arrives for `wait` (pings and pongs may).
    pub async fn silent_for(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// Reads until the server's close frame, skipping anything else; returns it.
    pub async fn expect_close(&mut self) -> Option<CloseFrame> {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("close within the patience window");
            match next {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("connection failed instead of closing: {e}"),
                None => return None,
            }
        }
    }
}

pub fn close_code(frame: &Option<CloseFrame>) -> u16 {
    frame.as_ref().map(|f| u16::from(f.code)).unwrap_or(0)
}

/// A `podium serve` child process (the real binary), for kill -9 tests.
pub struct ChildServer {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ChildServer {
    pub async fn start(data_dir: &std::path::Path) -> ChildServer {
        ChildServer::start_with_args(data_dir, &[]).await
    }

    /// Starts `podium serve` with extra flags.
    pub async fn start_with_args(data_dir: &std::path::Path, args: &[&str]) -> ChildServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_podium"))
            .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("PODIUM_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("podium starts");
        let server = ChildServer { child, addr };
        server.wait_healthy().await;
        server
    }

    pub async fn wait_healthy(&self) {
        let url = format!("http://{}/healthz", self.addr);
        for _ in 0..200 {
            if let Ok(resp) = reqwest::get(&url).await {
                if resp.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server at {} never became healthy", self.addr);
    }

    pub fn kill9(mut self) {
        // Child::kill sends SIGKILL on Unix.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A device's score series from the history API.
pub async fn device_scores(addr: SocketAddr, id: &str) -> Vec<serde_json::Value> {
    let rows: serde_json::Value =
        reqwest::get(format!("http://{addr}/api/clicker/devices/{id}/scores"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    rows.as_array().expect("a JSON array of rows").clone()
}

impl Drop for ChildServer {
    /// A test that fails midway must not leave its server running (holding
    /// the test runner's output pipe open).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl TestServer {
    /// The running server's storage, for fault drills.
    pub fn store(&self) -> &podium::store::Store {
        &self
            .running
            .as_ref()
            .expect("the server is running")
            .app
            .store
    }

    pub async fn sledge(&self) -> Sledge {
        Sledge::connect(self.addr).await
    }
}

/// A Sledge client speaking raw Engine.IO 4 / socket.io over WebSocket, so a
/// test sees every packet and controls when it reads.
pub struct Sledge {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ack: u64,
    /// Events that arrived while waiting for something else, oldest first.
    pub events: std::collections::VecDeque<(String, serde_json::Value)>,
}

/// One socket.io packet from the server, as far as the tests care.
enum Packet {
    Event(String, serde_json::Value),
    Ack(u64, serde_json::Value),
    Other(String),
}

impl Sledge {
    /// Connects and joins the default namespace.
    pub async fn connect(addr: SocketAddr) -> Sledge {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("socket.io connects");
        let mut sledge = Sledge {
            ws,
            next_ack: 0,
            events: Default::default(),
        };
        let open = sledge.next_text().await;
        assert!(open.starts_with('0'), "engine.io open: {open}");
        sledge.send_raw("40").await;
        let joined = sledge.next_text().await;
        assert!(joined.starts_with("40"), "socket.io connect: {joined}");
        sledge
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next text frame that is not an Engine.IO ping (pings are answered).
    async fn next_text(&mut self) -> String {
        loop {
            let msg = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a socket.io frame within the patience window")
                .expect("the connection is open")
                .expect("a valid frame");
            match msg {
                Message::Text(text) if text.as_str() == "2" => self.send_raw("3").await,
                Message::Text(text) => return text.to_string(),
                _ => {}
            }
        }
    }

    async fn next_packet(&mut self) -> Packet {
        let text = self.next_text().await;
        if let Some(body) = text.strip_prefix("42") {
            let value: serde_json::Value = serde_json::from_str(body).expect("event JSON");
            let name = value[0].as_str().expect("an event name").to_string();
            return Packet::Event(name, value[1].clone());
        }
        if let Some(body) = text.strip_prefix("43") {
            let digits = body.find('[').expect("an ack array");
            let id = body[..digits].parse().expect("an ack id");
            let value: serde_json::Value = serde_json::from_str(&body[digits..]).expect("ack JSON");
            return Packet::Ack(id, value[0].clone());
        }
        Packet::Other(text)
    }

    /// Emits `event` without asking for an acknowledgement.
    pub async fn emit(&mut self, event: &str, payload: serde_json::Value) {
        let packet = serde_json::json!([event, payload]);
        self.send_raw(&format!("42{packet}")).await;
    }

    /// Emits `event` with an acknowledgement id and returns the id.
    pub async fn emit_with_ack(&mut self, event: &str, payload: serde_json::Value) -> u64 {
        self.next_ack += 1;
        let packet = serde_json::json!([event, payload]);
        self.send_raw(&format!("42{}{packet}", self.next_ack)).await;
        self.next_ack
    }

    /// Waits for acknowledgement `id`, keeping events that arrive meanwhile.
    pub async fn ack(&mut self, id: u64) -> serde_json::Value {
        loop {
            match self.next_packet().await {
                Packet::Ack(got, value) if got == id => return value,
                Packet::Ack(got, _) => panic!("acknowledgement {got} while waiting for {id}"),
                Packet::Event(name, value) => self.events.push_back((name, value)),
                Packet::Other(text) => panic!("unexpected packet {text:?}"),
            }
        }
    }

    /// Emits `event` and returns its acknowledgement.
    pub async fn request(&mut self, event: &str, payload: serde_json::Value) -> serde_json::Value {
        let id = self.emit_with_ack(event, payload).await;
        self.ack(id).await
    }

    /// The next event named `name`, from those kept or from the wire; other
    /// events are dropped.
    pub async fn event(&mut self, name: &str) -> serde_json::Value {
        while let Some((got, value)) = self.events.pop_front() {
            if got == name {
                return value;
            }
        }
        loop {
            match self.next_packet().await {
                Packet::Event(got, value) if got == name => return value,
                Packet::Event(..) | Packet::Ack(..) => {}
                Packet::Other(text) => panic!("unexpected packet {text:?}"),
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

/// Measured latencies of one kind, for tests that bound them.
#[derive(Default)]
pub struct Latencies {
    pub samples: Vec<Duration>,
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        self.samples.push(latency);
    }

    /// The `q` quantile (0 to 1), nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    pub fn max(&self) -> Duration {
        self.samples.iter().copied().max().unwrap_or_default()
    }

    /// `what: n=…, p50 …, p99 …, max …`, for the test's output.
    pub fn summary(&self, what: &str) -> String {
        format!(
            "{what}: n={}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.samples.len(),
            self.quantile(0.5).as_secs_f64() * 1e3,
            self.quantile(0.99).as_secs_f64() * 1e3,
            self.max().as_secs_f64() * 1e3,
        )
    }
}
