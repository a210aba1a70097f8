//! A client flooding one protocol does not starve the other protocol's
//! clients. Each test runs the flood on its own runtime and OS thread (so the
//! server's runtime is not also running the flood's clients), measures the
//! other protocol's client before and during the flood, and prints both.
//!
//! What is asserted does not depend on how fast the machine is: a fair server
//! answers the measured client within about one round over the flood's
//! connections, so while one of its requests waits the flood gets only a
//! small share of the answers it gets during the whole measurement. A flood
//! that held a shared lock, starved the writer or the server's runtime would
//! make that request wait through most of the flood. A loaded machine slows
//! the flood and the measured client alike, and leaves the share alone; the
//! latencies themselves are figures (BENCHMARKS.md), not assertions.
//!
//! The two tests take turns (`SERIAL`): run side by side, each would be the
//! other's flood.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Client, Latencies, Sledge, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

static SERIAL: Mutex<()> = Mutex::new(());

const ADMIN: &str = "admin-secret-for-the-flood-isolation-tests";
/// How long the measured client works under the flood.
const UNDER_FLOOD: Duration = Duration::from_secs(5);
/// The most of the flood's answers (during the whole measurement) that may
/// go out while one request of the measured client waits.
const MAX_SHARE_BEHIND: f64 = 0.25;
/// The flood must outpace the measured client at least this many times over,
/// or it was no flood.
const MIN_FLOOD_FACTOR: u64 = 100;
/// Pause between the measured client's requests: it is a person, not a flood.
const PACE: Duration = Duration::from_millis(20);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What flood clients count, and the signal to stop.
#[derive(Clone, Default)]
struct Counters {
    stop: Arc<AtomicBool>,
    /// Frames or packets written to the server.
    sent: Arc<AtomicU64>,
    /// Frames or packets the server sent back.
    answered: Arc<AtomicU64>,
    /// Connections opened.
    connections: Arc<AtomicU64>,
}

struct Flood {
    counters: Counters,
    thread: std::thread::JoinHandle<()>,
}

impl Flood {
    /// Starts `clients` flood clients on a runtime of their own.
    fn start<F, Fut>(clients: usize, client: F) -> Flood
    where
        F: Fn(usize, Counters) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let counters = Counters::default();
        let shared = counters.clone();
        let thread = std::thread::spawn(move || {
            let rt = runtime();
            rt.block_on(async {
                for i in 0..clients {
                    tokio::spawn(client(i, shared.clone()));
                }
                while !shared.stop.load(Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
            // Flood clients may be stuck writing to a server that stopped
            // reading them: abandon them rather than wait.
            rt.shutdown_background();
        });
        Flood { counters, thread }
    }

    /// Lets the flood build up, runs `work` under it (given the flood's
    /// answer count, to see what the flood got while each request waited),
    /// stops the flood, and checks that it pushed hard and that no request
    /// of the measured client waited through a large share of it.
    async fn during<Fut>(self, what: &str, work: impl FnOnce(Arc<AtomicU64>) -> Fut) -> Served
    where
        Fut: Future<Output = Served>,
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let c = &self.counters;
        let (sent, answered) = (c.sent.load(Relaxed), c.answered.load(Relaxed));
        let started = Instant::now();
        let served = work(c.answered.clone()).await;
        let elapsed = started.elapsed().as_secs_f64();
        let sent = c.sent.load(Relaxed) - sent;
        let answered = c.answered.load(Relaxed) - answered;
        let connections = c.connections.load(Relaxed);
        c.stop.store(true, Relaxed);
        self.thread.join().unwrap();
        let behind = served.most_behind();
        eprintln!(
            "{what} flood: {connections} connections, {:.0} messages/s sent, {:.0} answers/s; \
             the most flood answers while one request waited: {behind} of {answered} ({:.2}%)",
            sent as f64 / elapsed,
            answered as f64 / elapsed,
            100.0 * behind as f64 / answered.max(1) as f64,
        );
        let requests = served.latencies.samples.len() as u64;
        assert!(
            requests >= 5,
            "only {requests} requests served under the flood"
        );
        assert!(
            answered >= MIN_FLOOD_FACTOR * requests,
            "the flood was no flood: {answered} answers against the client's {requests}"
        );
        assert!(
            behind as f64 <= MAX_SHARE_BEHIND * answered as f64,
            "a request waited while the flood got {behind} of its {answered} answers: \
             the server served the flood, not this client"
        );
        served
    }
}

/// What the measured client got: each request's latency, and how many
/// answers the flood got while it waited.
#[derive(Default)]
struct Served {
    latencies: Latencies,
    behind: Vec<u64>,
}

impl Served {
    /// Times `request`, counting the flood's answers meanwhile.
    async fn record<T>(&mut self, flood: &AtomicU64, request: impl Future<Output = T>) -> T {
        let (started, before) = (Instant::now(), flood.load(Relaxed));
        let answer = request.await;
        self.latencies.record(started.elapsed());
        self.behind.push(flood.load(Relaxed) - before);
        answer
    }

    fn most_behind(&self) -> u64 {
        self.behind.iter().copied().max().unwrap_or(0)
    }
}

/// A clicker that registers, then sends SCOREs (and every fourth frame an
/// unknown command) as fast as the server takes them, pipelined without
/// waiting for answers, which a reader task counts.
async fn clicker_flooder(addr: SocketAddr, n: usize, counters: Counters) {
    let mut client = Client::connect(addr).await;
    client.register(None).await;
    counters.connections.fetch_add(1, Relaxed);
    let (mut sink, mut stream) = client.ws.split();
    let answered = counters.answered.clone();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            if msg.is_text() {
                answered.fetch_add(1, Relaxed);
            }
        }
    });
    let mut i = (n as u64) << 32;
    while !counters.stop.load(Relaxed) {
        for _ in 0..32 {
            i += 1;
            let frame = if i.is_multiple_of(4) {
                "HELLO this is a flood".to_string()
            } else {
                format!("SCORE {i} {i}")
            };
            if sink.feed(Message::text(frame)).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
        counters.sent.fetch_add(32, Relaxed);
    }
}

/// socket.io packets a stranger can send: unknown events, malformed and
/// unauthorised requests, wrong login codes.
const SLEDGE_JUNK: &[&str] = &[
    r#"42["nonsense",{"a":1}]"#,
    r#"42["rate-hack",{"judgeId":"x","hackId":1,"rating":3}]"#,
    r#"42["add-hack",{"name":"flood","description":"","location":1}]"#,
    r#"42["rate-hack",{"judgeId":1,"hackId":1,"rating":3}]"#,
    r#"42["subscribe-database",{}]"#,
    r#"42["login",{"judgeId":1,"loginCode":"not-the-code"}]"#,
    r#"42["add-judge",[1,2,3]]"#,
];

/// A socket.io client sending junk as fast as the server takes it; every
/// fourth client also breaks the packet framing now and then, which ends its
/// connection, and reconnects.
async fn sledge_flooder(addr: SocketAddr, n: usize, counters: Counters) {
    while !counters.stop.load(Relaxed) {
        let sledge = Sledge::connect(addr).await;
        counters.connections.fetch_add(1, Relaxed);
        let (mut sink, mut stream) = sledge.into_ws().split();
        let answered = counters.answered.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if msg.is_text() {
                    answered.fetch_add(1, Relaxed);
                }
            }
        });
        let mut round = 0;
        while !counters.stop.load(Relaxed) {
            round += 1;
            for k in 0..32 {
                let packet = SLEDGE_JUNK[(round + k) % SLEDGE_JUNK.len()];
                if sink.feed(Message::text(packet)).await.is_err() {
                    break;
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
            counters.sent.fetch_add(32, Relaxed);
            if n.is_multiple_of(4) && round % 50 == 0 {
                let _ = sink.send(Message::text("4{broken")).await;
                break;
            }
        }
        reader.abort();
    }
}

/// A clicker flood does not delay a judge's acknowledgements.
#[test]
fn judge_acknowledgements_continue_under_a_clicker_flood() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    runtime().block_on(async {
        let server = TestServer::start_with(|c| {
            c.admin_secret = Some(ADMIN.into());
            // Lifted so the flood stays a flood (the rate limit would close
            // its connections after 5 s, see tests/limits.rs).
            c.limits.clicker_rate = 0;
        })
        .await;
        let mut judge = server.sledge().await;
        judge.authenticate(ADMIN, 0).await;
        for i in 1..=3 {
            let ack = judge
                .request(
                    "add-hack",
                    json!({"name": format!("Hack {i}"), "description": "", "location": i}),
                )
                .await;
            assert_eq!(ack["ok"], true, "{ack}");
        }
        let ack = judge
            .request(
                "add-judge",
                json!({"name": "Ada", "email": "ada@example.org"}),
            )
            .await;
        assert_eq!(ack["ok"], true, "{ack}");

        async fn rate_for(
            judge: &mut Sledge,
            time: Duration,
            k: &mut i64,
            flood: &AtomicU64,
        ) -> Served {
            let mut served = Served::default();
            let deadline = Instant::now() + time;
            while Instant::now() < deadline {
                *k += 1;
                let rating = json!({"judgeId": 1, "hackId": 1 + *k % 3, "rating": 1 + *k % 20});
                let ack = served
                    .record(flood, judge.request("rate-hack", rating))
                    .await;
                assert_eq!(ack["ok"], true, "{ack}");
                tokio::time::sleep(PACE).await;
            }
            served
        }

        let mut k = 0;
        let quiet = rate_for(
            &mut judge,
            Duration::from_secs(1),
            &mut k,
            &AtomicU64::new(0),
        )
        .await;
        let addr = server.addr;
        let loaded = Flood::start(64, move |n, c| clicker_flooder(addr, n, c))
            .during("clicker", |flood| async move {
                rate_for(&mut judge, UNDER_FLOOD, &mut k, &flood).await
            })
            .await;
        eprintln!("{}", quiet.latencies.summary("rate-hack ack, quiet"));
        eprintln!(
            "{}",
            loaded.latencies.summary("rate-hack ack, under the flood")
        );
        server.shutdown().await;
    });
}

/// A socket.io flood does not delay clicker acknowledgements or deliveries
/// to a scoreboard.
#[test]
fn scoreboard_deliveries_continue_under_a_socketio_flood() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    runtime().block_on(async {
        let server = TestServer::start_with(|c| {
            c.admin_secret = Some(ADMIN.into());
            // The worst case: a flood the per-socket event rate does not stop.
            c.limits.sledge_rate = 0;
        })
        .await;
        let (mut clicker, _id, mut board) = server.clicker_and_listener("LISTEN").await;

        /// One SCORE at a time: its SCORED and its delivery to the board.
        async fn score_for(
            clicker: &mut Client,
            board: &mut Client,
            time: Duration,
            timestamp: &mut u64,
            flood: &AtomicU64,
        ) -> (Served, Served) {
            let (mut acks, mut deliveries) = (Served::default(), Served::default());
            let deadline = Instant::now() + time;
            while Instant::now() < deadline {
                *timestamp += 1;
                let scored = async {
                    clicker
                        .send(&format!("SCORE {timestamp} {timestamp}"))
                        .await;
                    clicker.recv().await
                };
                let delivered = async {
                    let (scored, frame) = tokio::join!(acks.record(flood, scored), board.recv());
                    (scored, frame)
                };
                let (scored, frame) = deliveries.record(flood, delivered).await;
                assert_eq!(scored, format!("SCORED {timestamp}"));
                assert!(frame.contains(&timestamp.to_string()), "{frame}");
                tokio::time::sleep(PACE).await;
            }
            (acks, deliveries)
        }

        let mut timestamp = 1_000;
        let (quiet_acks, quiet_deliveries) = score_for(
            &mut clicker,
            &mut board,
            Duration::from_secs(1),
            &mut timestamp,
            &AtomicU64::new(0),
        )
        .await;
        let addr = server.addr;
        let mut acks = Served::default();
        let acks_ref = &mut acks;
        let deliveries = Flood::start(64, move |n, c| sledge_flooder(addr, n, c))
            .during("socket.io", |flood| async move {
                let (acks, deliveries) = score_for(
                    &mut clicker,
                    &mut board,
                    UNDER_FLOOD,
                    &mut timestamp,
                    &flood,
                )
                .await;
                *acks_ref = acks;
                deliveries
            })
            .await;
        eprintln!("{}", quiet_acks.latencies.summary("SCORED, quiet"));
        eprintln!("{}", quiet_deliveries.latencies.summary("delivery, quiet"));
        eprintln!("{}", acks.latencies.summary("SCORED, under the flood"));
        eprintln!(
            "{}",
            deliveries.latencies.summary("delivery, under the flood")
        );
        server.shutdown().await;
    });
}
