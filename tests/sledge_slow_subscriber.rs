//! A live-update subscriber that stops reading is dropped once its socket.io
//! send buffer fills, so it cannot make the server hold unbounded memory; the
//! server stays responsive meanwhile. Speaks raw Engine.IO 4 over WebSocket so
//! the test controls exactly when the client reads.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use podium::config::ServeConfig;
use podium::store::judging::NewHack;
use podium::store::SyncMode;
use tokio_tungstenite::tungstenite::Message;

const ADMIN_SECRET: &str = "admin-secret-for-the-slow-subscriber-test";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame that is not an Engine.IO ping (pings are answered).
async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("the connection is open")
            .expect("a valid frame");
        match msg {
            // Engine.IO heartbeat: answer the ping so the connection stays up.
            Message::Text(text) if text.as_str() == "2" => {
                ws.send(Message::text("3")).await.unwrap();
            }
            Message::Text(text) => return text.to_string(),
            _ => {}
        }
    }
}

/// Reads until a socket.io event named `event` arrives.
async fn wait_event(ws: &mut Ws, event: &str) -> String {
    let prefix = format!("42[\"{event}\"");
    loop {
        let text = next_text(ws).await;
        if text.starts_with(&prefix) {
            return text;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::local(dir.path());
    config.sync = SyncMode::Normal;
    config.admin_secret = Some(ADMIN_SECRET.into());
    config.login_code = Some("login-code-for-the-slow-subscriber-test".into());
    let running = podium::server::start(config).await.unwrap();
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", running.addr);

    let (mut slow, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let open = next_text(&mut slow).await;
    assert!(open.starts_with('0'), "engine.io open: {open}");
    slow.send(Message::text("40")).await.unwrap();
    let connected = next_text(&mut slow).await;
    assert!(
        connected.starts_with("40"),
        "socket.io connect: {connected}"
    );
    slow.send(Message::text(format!(
        r#"42["authenticate",{{"secret":"{ADMIN_SECRET}","userId":0}}]"#
    )))
    .await
    .unwrap();
    assert!(wait_event(&mut slow, "authenticate-response")
        .await
        .contains(r#""success":true"#));
    slow.send(Message::text(r#"42["subscribe-database",{}]"#))
        .await
        .unwrap();
    wait_event(&mut slow, "update-full").await;

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
        let text = next_text(&mut slow).await;
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
    running.shutdown().await;
}
