//! A live-update subscriber on a slow link that does read, slowly, is served,
//! not dropped: an admin page behind a 50 kB/s link (a throttling TCP proxy
//! in this test, both directions) sits through a burst of 5 000 ratings made
//! over the HTTP API, stays connected, and ends with the same state as a
//! subscriber on a fast link and as `GET /api/state`. The server folds what
//! the slow one misses while its send buffer is full (`src/core/sync.rs`);
//! the test checks that it really fell behind, and prints the figures: bytes
//! it received, the most bytes folded for it, and how long it took to catch
//! up after the burst.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use common::{add_judges, TestServer};
use podium::judging::inputs::NewHack;
use serde_json::{json, Value};
use sio_client::{Packet, Sledge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket};
use tokio::time::Instant;

const ADMIN_SECRET: &str = "admin-secret-for-the-throttled-subscriber-test";
/// The slow link, in bytes a second each way.
const RATE: usize = 50_000;
const JUDGES: i64 = 50;
const HACKS: i64 = 100;
/// Requests in flight at once during the burst.
const WRITERS: i64 = 8;
/// The longest any wait may take on a loaded machine before the test fails.
const PATIENCE: Duration = Duration::from_secs(300);

/// A TCP proxy to `upstream` that forwards at most `RATE` bytes a second each
/// way, with a small receive buffer towards the server so that the server's
/// buffers (not the kernel's) fill when the link is slow.
async fn throttled_proxy(upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let socket = TcpSocket::new_v4().unwrap();
            socket.set_recv_buffer_size(16 * 1024).unwrap();
            let server = socket.connect(upstream).await.unwrap();
            let (from_client, to_client) = client.into_split();
            let (from_server, to_server) = server.into_split();
            tokio::spawn(pump(from_server, to_client));
            tokio::spawn(pump(from_client, to_server));
        }
    });
    addr
}

/// Copies one direction, sleeping after each chunk as long as `RATE` allows.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
    let mut buffer = vec![0; 4096];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_secs_f64(n as f64 / RATE as f64)).await;
    }
    let _ = to.shutdown().await;
}

/// The judging state as a client rebuilds it: per table, rows by id.
type State = BTreeMap<String, BTreeMap<i64, Value>>;

/// Applies `update-full` (replaces everything) or `update-partial` (upserts
/// rows by id), as the judge and organiser pages do.
fn apply(state: &mut State, tables: &Value, full: bool) {
    if full {
        state.clear();
    }
    for (table, rows) in tables.as_object().expect("tables") {
        let rows_by_id = state.entry(table.clone()).or_default();
        for row in rows.as_array().expect("rows") {
            rows_by_id.insert(row["id"].as_i64().expect("an id"), row.clone());
        }
    }
}

fn has_last_hack(state: &State) -> bool {
    state
        .get("hacks")
        .is_some_and(|hacks| hacks.values().any(|h| h["name"] == "last"))
}

/// What one subscriber saw.
struct Seen {
    state: State,
    bytes: usize,
    /// When it first held the hack added after the burst.
    converged: Instant,
}

async fn subscribed_admin(addr: SocketAddr) -> Sledge {
    let mut client = Sledge::connect(addr).await;
    client
        .emit("authenticate", json!({"secret": ADMIN_SECRET, "userId": 0}))
        .await;
    let answer = client.event("authenticate-response").await;
    assert!(answer.to_string().contains(r#""success":true"#), "{answer}");
    client.emit("subscribe-database", json!({})).await;
    client
}

/// Reads `client`'s updates until its state holds the hack named "last";
/// a lost connection fails the test.
async fn follow(mut client: Sledge, who: &'static str) -> Seen {
    let mut state = State::new();
    let mut bytes = 0;
    loop {
        let packet = client
            .sio
            .next(Instant::now() + PATIENCE)
            .await
            .unwrap_or_else(|e| panic!("the {who} subscriber was disconnected: {e}"))
            .unwrap_or_else(|| panic!("the {who} subscriber got nothing for {PATIENCE:?}"));
        if let Packet::Event { name, data, .. } = packet {
            // The payload's JSON: about what the link carried.
            bytes += data.to_string().len();
            match name.as_str() {
                "update-full" => apply(&mut state, &data["database"], true),
                "update-partial" => apply(&mut state, &data["diff"], false),
                _ => {}
            }
        }
        if has_last_hack(&state) {
            return Seen {
                state,
                bytes,
                converged: Instant::now(),
            };
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_sits_through_a_burst_and_ends_with_the_same_state() {
    let server = TestServer::start_with(|config| {
        config.admin_secret = Some(ADMIN_SECRET.into());
        config.login_code = Some("login-code-for-the-throttled-subscriber-test".into());
    })
    .await;
    let running = server.running.as_ref().expect("the server is running");
    let store = running.app.db.clone();
    add_judges(store.as_ref(), JUDGES).await;
    for n in 1..=HACKS {
        store
            .perform(NewHack {
                name: format!("Hack {n}"),
                description: format!("What hack {n} does, in a sentence or two."),
                location: n,
            })
            .await
            .unwrap();
    }

    let proxy = throttled_proxy(running.addr).await;
    let slow = tokio::spawn(follow(subscribed_admin(proxy).await, "slow"));
    let fast = tokio::spawn(follow(subscribed_admin(running.addr).await, "fast"));

    // The burst: every judge rates every hack, through the HTTP API as the
    // admin, a few requests at a time.
    let started = Instant::now();
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/ratings", running.addr);
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                for n in (writer..JUDGES * HACKS).step_by(WRITERS as usize) {
                    let body = json!({
                        "judgeId": n / HACKS + 1,
                        "hackId": n % HACKS + 1,
                        "rating": n % 10 + 1,
                    });
                    let reply = http
                        .post(&url)
                        .bearer_auth(ADMIN_SECRET)
                        .json(&body)
                        .send()
                        .await
                        .expect("a response");
                    assert_eq!(
                        reply.status(),
                        200,
                        "{body}: {}",
                        reply.text().await.unwrap()
                    );
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let burst = started.elapsed();
    store
        .perform(NewHack {
            name: "last".into(),
            description: String::new(),
            location: 0,
        })
        .await
        .unwrap();
    let after_burst = Instant::now();

    let fast = tokio::time::timeout(PATIENCE, fast)
        .await
        .expect("the fast subscriber catches up")
        .unwrap();
    let slow = tokio::time::timeout(PATIENCE, slow)
        .await
        .expect("the slow subscriber catches up")
        .unwrap();

    let reply = http
        .get(format!("http://{}/api/state", running.addr))
        .bearer_auth(ADMIN_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let state: Value = reply.json().await.unwrap();
    let mut api = State::new();
    apply(&mut api, &state, true);

    let ratings = |s: &State| s.get("ratings").map_or(0, |r| r.len());
    assert_eq!(
        ratings(&api),
        (JUDGES * HACKS) as usize,
        "every rating is stored"
    );
    assert!(
        fast.state == api,
        "the fast subscriber's state is the stored one"
    );
    assert!(
        slow.state == api,
        "the slow subscriber's state is the stored one ({} of {} ratings)",
        ratings(&slow.state),
        ratings(&api)
    );

    let metrics = &running.app.metrics;
    let fell_behind = metrics.live_fell_behind.load(Relaxed);
    let folded_max = metrics.live_folded_bytes_max.load(Relaxed);
    eprintln!(
        "burst of {} ratings in {:.1} s; slow subscriber ({} kB/s): {} kB received, \
         fell behind {fell_behind} times, at most {} kB folded for it, caught up {:.1} s \
         after the burst (fast one: {:.1} s, {} kB)",
        JUDGES * HACKS,
        burst.as_secs_f64(),
        RATE / 1000,
        slow.bytes / 1000,
        folded_max / 1000,
        slow.converged.duration_since(after_burst).as_secs_f64(),
        fast.converged.duration_since(after_burst).as_secs_f64(),
        fast.bytes / 1000,
    );
    assert!(
        fell_behind >= 1,
        "the slow subscriber's buffer filled at least once (else this test shows nothing)"
    );
    assert_eq!(
        metrics.listeners_dropped_slow.load(Relaxed),
        0,
        "nobody was dropped"
    );
    server.shutdown().await;
}
