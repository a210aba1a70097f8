//! A client flooding one protocol does not noticeably delay the other
//! protocol's clients. Each test runs the flood on its own runtime and OS
//! thread (so the server's runtime is not also running the flood's clients),
//! measures the other protocol before and during the flood, prints both and
//! bounds the latencies under the flood. The bound is generous for a loaded
//! 2-core machine, but a flood that held a shared lock, starved the writer or
//! the server's runtime would blow through it (or through the 10 s patience
//! for a single answer).
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
/// No answer under the flood may take longer than this.
const BOUND: Duration = Duration::from_secs(1);
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

    /// Lets the flood build up, runs `work` under it, stops the flood, and
    /// prints and checks how hard it pushed meanwhile: a test whose flood
    /// did not load the server would prove nothing.
    async fn during<T>(self, what: &str, work: impl Future<Output = T>) -> T {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let c = &self.counters;
        let (sent, answered) = (c.sent.load(Relaxed), c.answered.load(Relaxed));
        let started = Instant::now();
        let result = work.await;
        let elapsed = started.elapsed().as_secs_f64();
        let sent = c.sent.load(Relaxed) - sent;
        let answered = c.answered.load(Relaxed) - answered;
        let connections = c.connections.load(Relaxed);
        c.stop.store(true, Relaxed);
        self.thread.join().unwrap();
        eprintln!(
            "{what} flood: {connections} connections, {:.0} messages/s sent, {:.0} answers/s",
            sent as f64 / elapsed,
            answered as f64 / elapsed
        );
        assert!(
            answered as f64 / elapsed > 1000.0,
            "the flood was no flood: {answered} answers in {elapsed:.1} s"
        );
        result
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

        async fn rate_for(judge: &mut Sledge, time: Duration, k: &mut i64) -> Latencies {
            let mut latencies = Latencies::default();
            let deadline = Instant::now() + time;
            while Instant::now() < deadline {
                *k += 1;
                let started = Instant::now();
                let ack = judge
                    .request(
                        "rate-hack",
                        json!({"judgeId": 1, "hackId": 1 + *k % 3, "rating": 1 + *k % 20}),
                    )
                    .await;
                latencies.record(started.elapsed());
                assert_eq!(ack["ok"], true, "{ack}");
                tokio::time::sleep(PACE).await;
            }
            latencies
        }

        let mut k = 0;
        let quiet = rate_for(&mut judge, Duration::from_secs(1), &mut k).await;
        let addr = server.addr;
        let loaded = Flood::start(64, move |n, c| clicker_flooder(addr, n, c))
            .during("clicker", rate_for(&mut judge, UNDER_FLOOD, &mut k))
            .await;
        eprintln!("{}", quiet.summary("rate-hack ack, quiet"));
        eprintln!("{}", loaded.summary("rate-hack ack, under the flood"));
        assert!(loaded.samples.len() >= 20, "{}", loaded.samples.len());
        assert!(
            loaded.max() < BOUND,
            "{}",
            loaded.summary("under the flood")
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

        async fn score_for(
            clicker: &mut Client,
            board: &mut Client,
            time: Duration,
            timestamp: &mut u64,
        ) -> (Latencies, Latencies) {
            let (mut acks, mut deliveries) = (Latencies::default(), Latencies::default());
            let deadline = Instant::now() + time;
            while Instant::now() < deadline {
                *timestamp += 1;
                let started = Instant::now();
                clicker
                    .send(&format!("SCORE {timestamp} {timestamp}"))
                    .await;
                assert_eq!(clicker.recv().await, format!("SCORED {timestamp}"));
                acks.record(started.elapsed());
                let frame = board.recv().await;
                deliveries.record(started.elapsed());
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
        )
        .await;
        let addr = server.addr;
        let (acks, deliveries) = Flood::start(64, move |n, c| sledge_flooder(addr, n, c))
            .during(
                "socket.io",
                score_for(&mut clicker, &mut board, UNDER_FLOOD, &mut timestamp),
            )
            .await;
        eprintln!("{}", quiet_acks.summary("SCORED, quiet"));
        eprintln!("{}", quiet_deliveries.summary("delivery, quiet"));
        eprintln!("{}", acks.summary("SCORED, under the flood"));
        eprintln!("{}", deliveries.summary("delivery, under the flood"));
        assert!(deliveries.samples.len() >= 20);
        assert!(acks.max() < BOUND, "{}", acks.summary("SCORED"));
        assert!(
            deliveries.max() < BOUND,
            "{}",
            deliveries.summary("delivery")
        );
        server.shutdown().await;
    });
}
