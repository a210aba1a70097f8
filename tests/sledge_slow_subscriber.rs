//! A live-update subscriber that stops reading is dropped once its socket.io
//! send buffer fills, so it cannot make the server hold unbounded memory; the
//! server stays responsive meanwhile. Speaks raw Engine.IO 4 over WebSocket so
//! the test controls exactly when the client reads.

mod common;

use std::sync::atomic::Ordering::Relaxed;

use common::{Sledge, TestServer};
use podium::store::judging::NewHack;
use podium::store::SyncMode;
use serde_json::json;

const ADMIN_SECRET: &str = "admin-secret-for-the-slow-subscriber-test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_dropped() {
    let server = TestServer::start_with(|config| {
        config.sync = SyncMode::Normal;
        config.admin_secret = Some(ADMIN_SECRET.into());
        config.login_code = Some("login-code-for-the-slow-subscriber-test".into());
    })
    .await;
    let running = server.running.as_ref().expect("the server is running");

    let mut slow = Sledge::connect(server.addr).await;
    slow.emit("authenticate", json!({"secret": ADMIN_SECRET, "userId": 0}))
        .await;
    assert!(slow
        .event("authenticate-response")
        .await
        .to_string()
        .contains(r#""success":true"#));
    slow.emit("subscribe-database", json!({})).await;
    slow.event("update-full").await;

    // The client stops reading. Each hack makes a ~10 kB partial update;
    // after the kernel's socket buffers and the 256-packet send buffer fill,
    // the subscriber must be dropped.
    let store = running.app.store.clone();
    let metrics = running.app.metrics.clone();
    let description = "x".repeat(10_000);
    let mut written = 0;
    while metrics.listeners_dropped_slow.load(Relaxed) == 0 {
        assert!(written < 20_000, "the slow subscriber was never dropped");
        store
            .add_hack(NewHack {
                name: format!("Hack {written}"),
                description: description.clone(),
                location: 1,
            })
            .await
            .unwrap();
        written += 1;
    }
    assert_eq!(metrics.listeners_dropped_slow.load(Relaxed), 1);

    // The server still serves others meanwhile.
    let health = reqwest::get(format!("http://{}/healthz", running.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // Once the client reads again it finds the end of what was queued and
    // then the namespace disconnect ("41"), and nothing after it.
    let mut partials = 0;
    loop {
        let text = slow.text().await;
        if text == "41" {
            break;
        }
        if text.starts_with("42[\"update-partial\"") {
            partials += 1;
        }
    }
    eprintln!("{partials} partials received for {written} hacks");
    assert!(
        partials < written,
        "{partials} partials for {written} hacks"
    );
    server.shutdown().await;
}
