//! Shared test harness: start a real Podium on a loopback port and talk to
//! it with a real WebSocket client (tokio-tungstenite) and HTTP (reqwest).
#![allow(dead_code)]

pub mod netns;
pub mod raw;
pub mod sse;

pub use sio_client::Sledge;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
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

/// A client WebSocket, as tokio-tungstenite opens it.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct TestServer {
    pub running: Option<Running>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server with a fresh data directory (and, under
    /// `PODIUM_TEST_STORE=postgres`, a fresh database), after `tweak`
    /// adjusts the config.
    pub async fn start_with(tweak: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = serve_config(dir.path()).await;
        tweak(&mut config);
        let running = podium::server::start(config).await.expect("server starts");
        TestServer {
            addr: running.addr,
            running: Some(running),
            dir,
        }
    }

    /// Starts a node of the cluster whose PostgreSQL database is at `url`,
    /// with the given admin secret and login code.
    pub async fn cluster_node(url: &str, admin: &str, code: &str) -> TestServer {
        let (url, admin, code) = (url.to_string(), admin.to_string(), code.to_string());
        TestServer::start_with(move |c| {
            c.database_url = Some(url);
            c.admin_secret = Some(admin);
            c.login_code = Some(code);
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let resp = reqwest::get(self.url("/metrics")).await.unwrap();
        resp.text().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = reqwest::get(self.url(path)).await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// A registered clicker and a listener of it (`verb` is LISTEN or
    /// SUBSCRIBE) that has heard it is connected: (clicker, id, listener).
    pub async fn clicker_and_listener(&self, verb: &str) -> (Client, String, Client) {
        let mut clicker = self.client().await;
        let (id, _) = clicker.register(None).await;
        let mut board = self.client().await;
        board.listen_connected(verb, &id).await;
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
    pub ws: Ws,
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

    /// Sends `LISTEN <id>` or `SUBSCRIBE <id>` (`verb`) and waits until
    /// the listener hears that `id` is connected. The hub learns of a
    /// connection from the change log, so a listener asking right after
    /// REGISTERED (or on another node) may be answered `CONNECT` (none yet)
    /// and hear `CONNECT <id>` a moment later, as a scoreboard would; on a
    /// loaded machine that happens.
    pub async fn listen_connected(&mut self, verb: &str, id: &str) {
        let connected = format!("CONNECT {id}");
        let reply = self.ask(&format!("{verb} {id}")).await;
        if reply == "CONNECT" {
            self.expect(&connected).await;
        } else {
            assert_eq!(reply, connected);
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

    /// Starts `podium serve` with extra flags (and, under
    /// `PODIUM_TEST_STORE=postgres` unless `args` name a database,
    /// `--database-url` of the data directory's database, so a restart
    /// finds what was stored).
    pub async fn start_with_args(data_dir: &std::path::Path, args: &[&str]) -> ChildServer {
        let database = if args.contains(&"--database-url") {
            None
        } else {
            database_for(data_dir).await
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_podium"))
            .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
            .arg(data_dir)
            .args(database.iter().flat_map(|url| ["--database-url", url]))
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

/// The store the end-to-end tests run against, from `PODIUM_TEST_STORE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStore {
    Sqlite,
    Postgres,
}

pub fn test_store() -> TestStore {
    match std::env::var("PODIUM_TEST_STORE").as_deref() {
        Err(_) | Ok("" | "sqlite") => TestStore::Sqlite,
        Ok("postgres") => TestStore::Postgres,
        Ok(other) => {
            panic!("PODIUM_TEST_STORE={other:?}: write `postgres` or `sqlite` (unset means sqlite)")
        }
    }
}

/// For tests that drill SQLite itself (`TestServer::store()`, fault
/// injection, the database file): true, with a note on stderr, when the
/// run is against PostgreSQL, where the test does not apply.
pub fn skip_unless_sqlite(test: &str) -> bool {
    if test_store() == TestStore::Sqlite {
        return false;
    }
    eprintln!("SKIPPED {test}: it drills the SQLite store, and PODIUM_TEST_STORE=postgres");
    true
}

/// A `ServeConfig::local` for `data_dir`, on the data directory's own
/// PostgreSQL database under `PODIUM_TEST_STORE=postgres`: a server
/// restarted on the same directory finds what it stored.
pub async fn serve_config(data_dir: &Path) -> ServeConfig {
    let mut config = ServeConfig::local(data_dir);
    config.database_url = database_for(data_dir).await;
    config
}

/// The database of each data directory a test started a server on.
static DATABASES: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());

/// Under `PODIUM_TEST_STORE=postgres`, the URL of `data_dir`'s database
/// (made on first use); `None` on SQLite.
async fn database_for(data_dir: &Path) -> Option<String> {
    let known = DATABASES.lock().unwrap().get(data_dir).cloned();
    if known.is_some() {
        return known;
    }
    let url = fresh_database().await?;
    // Cluster mode keeps the admin secret and login code in the database and
    // a node refuses to start without them: make them, as an operator does
    // with `podium secrets rotate --all --database-url`.
    let made =
        podium::operator_secrets::cluster::rotate_at(&url, podium::operator_secrets::Rotate::All)
            .await
            .unwrap_or_else(|e| panic!("making the secrets of {url}: {e}"));
    LOGIN_CODES.lock().unwrap().insert(
        data_dir.to_path_buf(),
        made.login_code.expect("a login code"),
    );
    DATABASES
        .lock()
        .unwrap()
        .insert(data_dir.to_path_buf(), url.clone());
    Some(url)
}

/// The login code made for each data directory's database.
static LOGIN_CODES: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());

/// Under `PODIUM_TEST_STORE=postgres`, a new empty database on the server
/// at `PODIUM_TEST_DATABASE_URL` (its URL); `None` on SQLite.
pub async fn fresh_database() -> Option<String> {
    match test_store() {
        TestStore::Sqlite => None,
        TestStore::Postgres => Some(fresh_database_url().await),
    }
}

/// A new empty database, `podium_t_<random hex>`, on the server at
/// `PODIUM_TEST_DATABASE_URL`, whatever `PODIUM_TEST_STORE` says (for
/// tests of several nodes, which need PostgreSQL); its URL.
pub async fn fresh_database_url() -> String {
    let server = std::env::var("PODIUM_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "PODIUM_TEST_DATABASE_URL is not set: point it at a PostgreSQL server the tests may \
             create databases on (scripts/postgres start DIR prints one), or run scripts/test, \
             which starts a throwaway one"
        )
    });
    database_on(&server).await
}

/// A new empty database, `podium_t_<random hex>`, on the PostgreSQL server
/// of `server` (a URL of any database there); its URL.
pub async fn database_on(server: &str) -> String {
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PODIUM_TEST_DATABASE_URL={server}: {e}"));
    let connection = tokio::spawn(connection);
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).unwrap();
    let name = format!("podium_t_{}", hex::encode(random));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {server}: {e}"));
    drop(client);
    let _ = connection.await;
    with_database(server, &name)
}

/// Two-node tests need PostgreSQL: a fresh database's URL, or `None`
/// with a loud note when `PODIUM_TEST_DATABASE_URL` is unset. Under CI
/// (env `CI`) a missing database fails the test instead.
pub async fn cluster_database_url(test: &str) -> Option<String> {
    if std::env::var_os("PODIUM_TEST_DATABASE_URL").is_some() {
        return Some(fresh_database_url().await);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test} needs PostgreSQL: set PODIUM_TEST_DATABASE_URL (scripts/test does)");
    }
    eprintln!(
        "SKIPPED {test}: it needs PostgreSQL; set PODIUM_TEST_DATABASE_URL \
         (scripts/postgres start DIR prints one) or run scripts/test"
    );
    None
}

/// `url` (a `postgres://` URL or a `key=value` string) with its database
/// replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        // key=value form: a later key wins.
        return format!("{url} dbname={name}");
    };
    let scheme = &url[..url.len() - rest.len()];
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, format!("?{query}")),
        None => (rest, String::new()),
    };
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    format!("{scheme}{authority}/{name}{query}")
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
        self.running
            .as_ref()
            .expect("the server is running")
            .app
            .sqlite
            .as_ref()
            .expect("this test drives the SQLite store")
    }

    /// The running server's store of record, SQLite or PostgreSQL.
    pub fn db(&self) -> &dyn podium::store::Database {
        &*self.running.as_ref().expect("the server is running").app.db
    }

    pub async fn sledge(&self) -> Sledge {
        Sledge::connect(self.addr).await
    }

    /// The login code the server generated in its data directory.
    pub fn generated_login_code(&self) -> String {
        if let Some(code) = LOGIN_CODES.lock().unwrap().get(self.dir.path()) {
            return code.clone();
        }
        podium::operator_secrets::read(self.dir.path())
            .unwrap()
            .expect("a generated secrets file")
            .login_code
    }
}

/// Adds judges 1 to `n`: "Judge i", judgei@example.org.
pub async fn add_judges(store: &dyn podium::store::JudgingStore, n: i64) {
    for i in 1..=n {
        store
            .perform(podium::judging::inputs::NewJudge {
                name: format!("Judge {i}"),
                email: format!("judge{i}@example.org"),
            })
            .await
            .unwrap();
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

/// A clicker that streams `SCORE n <1000 + n> n` as fast as its socket
/// takes them, never waiting for an answer (as a crash test wants), and
/// the timestamps the server acknowledged with `SCORED`.
pub struct ScoreFlood {
    writer: tokio::task::JoinHandle<()>,
    replies: futures_util::stream::SplitStream<Ws>,
    pub acked: std::collections::BTreeSet<i64>,
}

impl ScoreFlood {
    /// Starts streaming on a registered clicker's socket.
    pub fn start(ws: Ws) -> ScoreFlood {
        let (mut tx, replies) = ws.split();
        let writer = tokio::spawn(async move {
            for n in 1..=1_000_000u64 {
                let frame = Message::text(format!("SCORE {n} {} {n}", 1000 + n));
                if tx.send(frame).await.is_err() {
                    break;
                }
            }
        });
        ScoreFlood {
            writer,
            replies,
            acked: Default::default(),
        }
    }

    /// Waits until `n` scores were acknowledged; any other reply fails.
    pub async fn until_acked(&mut self, n: usize) {
        while self.acked.len() < n {
            match self.replies.next().await {
                Some(Ok(Message::Text(t))) => {
                    let parts: Vec<&str> = t.split(' ').collect();
                    assert_eq!(parts[0], "SCORED", "{t}");
                    self.acked.insert(parts[2].parse::<i64>().unwrap());
                }
                Some(Ok(_)) => {}
                other => panic!("lost the connection early: {other:?}"),
            }
        }
    }

    /// After the server was killed: whatever acknowledgements still arrive
    /// before the socket dies count too. Stops the stream.
    pub async fn drain(mut self) -> std::collections::BTreeSet<i64> {
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(5), self.replies.next()).await
        {
            if let Message::Text(t) = message {
                if let Some(ts) = t.strip_prefix("SCORED ").and_then(|r| r.split(' ').nth(1)) {
                    self.acked.insert(ts.parse().unwrap());
                }
            }
        }
        self.writer.abort();
        self.acked
    }
}
