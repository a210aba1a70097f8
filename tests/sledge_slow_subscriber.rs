//! A live-update subscriber that stops reading cannot make the server hold
//! unbounded memory: once its socket.io send buffer is full, what it misses
//! is folded into one update no bigger than a full state (`src/core/sync.rs`),
//! so the server holds for it at most its buffer's packets (of at most
//! `MAX_PARTIAL_BYTES` plus one change each), what is in transit and one
//! full state, however many changes it misses. It is not dropped for being
//! behind (the engine.io heartbeat ends it if it never reads again); when it
//! reads again it gets the latest state. Meanwhile a subscriber that reads
//! gets every change and the server stays responsive. Speaks raw Engine.IO
//! 4 over WebSocket so the test controls exactly when the client reads.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use common::{add_judges, Sledge, TestServer};
use podium::core::sync::MAX_PARTIAL_BYTES;
use podium::core::SUBSCRIBER_BUFFER as SEND_BUFFER;
use podium::judging::inputs::NewHack;
use podium::judging::ops::note::WriteNote;
use podium::store::SyncMode;
use serde_json::{json, Value};
use sio_client::Packet;
use tokio::time::Instant;

const ADMIN_SECRET: &str = "admin-secret-for-the-slow-subscriber-test";
/// Size of each note: each rewrite of the one note is a ~10 kB change.
const STORY: usize = 10_000;
/// What the kernel (a loopback socket's send buffer grows to 4 MiB here) and
/// the WebSocket writer may hold for a client on top of its send buffer.
const IN_TRANSIT: usize = 16 << 20;
/// The whole state here (a judge, a hack, one note), generously.
const FULL_STATE: usize = 64 << 10;

async fn subscribed_admin(server: &TestServer) -> Sledge {
    let mut client = Sledge::connect(server.addr).await;
    client
        .emit("authenticate", json!({"secret": ADMIN_SECRET, "userId": 0}))
        .await;
    assert!(client
        .event("authenticate-response")
        .await
        .to_string()
        .contains(r#""success":true"#));
    client.emit("subscribe-database", json!({})).await;
    client.event("update-full").await;
    client
}

/// The text of the one note in an update's tables, if it holds the note.
fn note_text(tables: &Value) -> Option<String> {
    Some(
        tables["notes"].as_array()?.first()?["text"]
            .as_str()?
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_holds_bounded_memory() {
    let server = TestServer::start_with(|config| {
        config.sync = SyncMode::Normal;
        config.admin_secret = Some(ADMIN_SECRET.into());
        config.login_code = Some("login-code-for-the-slow-subscriber-test".into());
    })
    .await;
    let running = server.running.as_ref().expect("the server is running");

    let store = running.app.db.clone();
    let metrics = running.app.metrics.clone();
    add_judges(store.as_ref(), 1).await;
    store
        .perform(NewHack {
            name: "Hack".into(),
            description: String::new(),
            location: 1,
        })
        .await
        .unwrap();

    let mut slow = subscribed_admin(&server).await;
    // A subscriber that keeps reading follows the note until it says "last".
    let mut reader = subscribed_admin(&server).await;
    let reading = tokio::spawn(async move {
        loop {
            let text = reader.text().await;
            let Some(partial) = text.strip_prefix("42") else {
                continue;
            };
            let partial: Value = serde_json::from_str(partial).unwrap();
            if partial[0] == "update-partial"
                && note_text(&partial[1]["diff"]).as_deref() == Some("last")
            {
                return;
            }
        }
    });

    // The slow client stops reading, and the one note is rewritten until
    // more than its bound was written for it: its send buffer's packets of
    // at most MAX_PARTIAL_BYTES (plus one change) each, what is in transit,
    // and the full state its missed changes fold into.
    let bound = SEND_BUFFER * (MAX_PARTIAL_BYTES + STORY) + IN_TRANSIT + FULL_STATE;
    let written = bound / STORY + 1;
    let story = "x".repeat(STORY);
    for n in 0..written {
        store
            .perform(WriteNote::new(1, 1, format!("{n} {story}")))
            .await
            .unwrap();
    }
    store.perform(WriteNote::new(1, 1, "last")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(120), reading)
        .await
        .expect("the reading subscriber gets the last note")
        .expect("the reading subscriber keeps getting updates");
    assert!(
        metrics.live_fell_behind.load(Relaxed) >= 1,
        "the slow subscriber's buffer filled (else this test shows nothing)"
    );
    assert_eq!(
        metrics.listeners_dropped_slow.load(Relaxed),
        0,
        "nobody is dropped for being behind"
    );

    // The server still serves others.
    let health = reqwest::get(format!("http://{}/healthz", running.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // Once the client reads again it gets what was queued, no more than the
    // bound, and then the latest note; unless it stayed silent past the
    // engine.io heartbeat, which ends a client that does not read.
    let (mut updates, mut bytes, mut last) = (0, 0, None);
    let deadline = Instant::now() + Duration::from_secs(120);
    let ended = loop {
        match slow.sio.next(deadline).await {
            Ok(Some(Packet::Event { name, data, .. })) => {
                updates += 1;
                bytes += data.to_string().len();
                let tables = if name == "update-full" {
                    &data["database"]
                } else {
                    &data["diff"]
                };
                if let Some(text) = note_text(tables) {
                    last = Some(text);
                }
                if last.as_deref() == Some("last") {
                    break "caught up";
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("the slow subscriber neither caught up nor was closed"),
            Err(_) => break "closed by the heartbeat",
        }
    };
    eprintln!(
        "{written} changes of {} kB ({} MB) while not reading; then {updates} updates ({} MB) \
         received, {ended}; at most {} kB folded for it",
        STORY / 1000,
        (written * STORY) >> 20,
        bytes >> 20,
        metrics.live_folded_bytes_max.load(Relaxed) / 1000,
    );
    assert!(
        bytes <= bound,
        "{} MB were held for the slow subscriber (bound {} MB)",
        bytes >> 20,
        bound >> 20
    );
    server.shutdown().await;
}
