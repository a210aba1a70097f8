//! A live-update subscriber that stops reading is dropped once its socket.io
//! send buffer fills, so it cannot make the server hold unbounded memory:
//! it is dropped before more than a bounded number of bytes of updates were
//! written for it, however far the live-update task falls behind (it merges
//! changes that arrive together). Meanwhile a subscriber that reads gets
//! every change and the server stays responsive. Speaks raw Engine.IO 4 over
//! WebSocket so the test controls exactly when the client reads.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use common::{Sledge, TestServer};
use podium::core::sync::MAX_PARTIAL_BYTES;
use podium::core::SUBSCRIBER_BUFFER as SEND_BUFFER;
use podium::judging::inputs::NewHack;
use podium::store::SyncMode;
use serde_json::{json, Value};

const ADMIN_SECRET: &str = "admin-secret-for-the-slow-subscriber-test";
/// Size of each hack's description: each hack is a ~10 kB change.
const STORY: usize = 10_000;
/// What the kernel (a loopback socket's send buffer grows to 4 MiB here) and
/// the WebSocket writer may hold for a client on top of its send buffer.
const IN_TRANSIT: usize = 16 << 20;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_dropped() {
    let server = TestServer::start_with(|config| {
        config.sync = SyncMode::Normal;
        config.admin_secret = Some(ADMIN_SECRET.into());
        config.login_code = Some("login-code-for-the-slow-subscriber-test".into());
    })
    .await;
    let running = server.running.as_ref().expect("the server is running");

    let mut slow = subscribed_admin(&server).await;
    // A subscriber that keeps reading counts the hacks it is sent, until the
    // one named "last".
    let mut reader = subscribed_admin(&server).await;
    let reading = tokio::spawn(async move {
        let mut hacks = 0;
        loop {
            let text = reader.text().await;
            let Some(partial) = text.strip_prefix("42") else {
                continue;
            };
            let partial: Value = serde_json::from_str(partial).unwrap();
            if partial[0] != "update-partial" {
                continue;
            }
            for hack in partial[1]["diff"]["hacks"].as_array().unwrap() {
                hacks += 1;
                if hack["name"] == "last" {
                    return hacks;
                }
            }
        }
    });

    // The slow client stops reading, and more updates than its bound are
    // written for it: its send buffer's packets of at most MAX_PARTIAL_BYTES
    // (plus one change) each, and what is in transit. However far behind the
    // live-update task runs, by the time the reader has every change the
    // slow subscriber must have been dropped.
    let bound = SEND_BUFFER * (MAX_PARTIAL_BYTES + STORY) + IN_TRANSIT;
    let written = bound / STORY + 1;
    let store = running.app.db.clone();
    let metrics = running.app.metrics.clone();
    let description = "x".repeat(STORY);
    for n in 0..written {
        store
            .add_hack(NewHack {
                name: format!("Hack {n}"),
                description: description.clone(),
                location: 1,
            })
            .await
            .unwrap();
    }
    store
        .add_hack(NewHack {
            name: "last".into(),
            description: String::new(),
            location: 1,
        })
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(120), reading)
        .await
        .expect("the reading subscriber gets the last hack")
        .expect("the reading subscriber keeps getting updates");
    assert_eq!(seen, written + 1, "the reading subscriber got every hack");
    assert_eq!(
        metrics.listeners_dropped_slow.load(Relaxed),
        1,
        "after {} MB of updates for it the slow subscriber, and only it, was dropped (bound {} MB)",
        (written * STORY) >> 20,
        bound >> 20
    );

    // The server still serves others.
    let health = reqwest::get(format!("http://{}/healthz", running.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // Once the client reads again it finds the end of what was queued, no
    // more than the bound, and then the namespace disconnect ("41").
    let (mut partials, mut bytes) = (0, 0);
    loop {
        let text = slow.text().await;
        if text == "41" {
            break;
        }
        if text.starts_with("42[\"update-partial\"") {
            partials += 1;
            bytes += text.len();
        }
    }
    eprintln!(
        "{partials} partials ({} MB) received for {written} hacks",
        bytes >> 20
    );
    assert!(
        bytes <= bound,
        "{} MB were held for the slow subscriber (bound {} MB)",
        bytes >> 20,
        bound >> 20
    );
    server.shutdown().await;
}
