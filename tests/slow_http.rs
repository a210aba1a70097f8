//! Slow and silent clients at the HTTP layer (`src/listener.rs`): a client
//! that stalls in the middle of its request headers, or sends nothing, or
//! (with TLS) stalls in its handshake, is disconnected after
//! `--header-timeout-secs`, while everyone else carries on; a WebSocket
//! that outlives the bound is not touched by it.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(1);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// Sends `prefix`, then waits for the server to close the connection;
/// returns how long that took (panics if not within 5 s).
async fn stall(addr: SocketAddr, prefix: &[u8]) -> tokio::task::JoinHandle<Duration> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(prefix).await.unwrap();
    let sent = prefix.len();
    tokio::spawn(async move {
        let mut buf = [0u8; 256];
        loop {
            match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
                Ok(Ok(_)) => continue,
                Err(_) => panic!("still connected after 5 s (sent {sent} bytes)"),
            }
        }
    })
}

fn assert_dropped_after_the_bound(what: &str, took: Duration) {
    assert!(
        took >= BOUND - Duration::from_millis(100) && took < BOUND * 3,
        "{what}: dropped after {took:?}, the bound is {BOUND:?}"
    );
}

#[tokio::test]
async fn stalled_and_silent_clients_are_dropped_others_carry_on() {
    let server = TestServer::start_with(|c| c.header_timeout_secs = BOUND.as_secs()).await;
    let half_line = stall(server.addr, b"GET /healt").await;
    let half_headers = stall(server.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let silent = stall(server.addr, b"").await;

    // Meanwhile, and after the bound has passed, the others are served.
    let mut clicker = server.client().await;
    clicker.register(None).await;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + BOUND + Duration::from_millis(500);
    while Instant::now() < deadline {
        let health = client.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The WebSocket has outlived the bound: upgraded connections are not bound by it.
    assert_eq!(clicker.ask("SCORE 1 1").await, "SCORED 1");

    assert_dropped_after_the_bound("half a request line", half_line.await.unwrap());
    assert_dropped_after_the_bound("half the headers", half_headers.await.unwrap());
    assert_dropped_after_the_bound("nothing sent", silent.await.unwrap());
    assert_eq!(clicker.ask("SCORE 2 2").await, "SCORED 2");
    server.shutdown().await;
}

#[tokio::test]
async fn with_tls_stalled_handshakes_and_stalled_plain_requests_are_dropped() {
    let server = TestServer::start_with(|c| {
        c.header_timeout_secs = BOUND.as_secs();
        c.tls.tls_cert = Some(fixture("cert.pem"));
        c.tls.tls_key = Some(fixture("key.pem"));
    })
    .await;
    let silent = stall(server.addr, b"").await;
    // A TLS record header announcing a ClientHello that never comes.
    let half_hello = stall(server.addr, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await;
    let half_line = stall(server.addr, b"GET /healt").await;

    let mut clicker = server.client().await;
    clicker.register(None).await;
    tokio::time::sleep(BOUND + Duration::from_millis(200)).await;
    assert_eq!(clicker.ask("SCORE 1 1").await, "SCORED 1");

    assert_dropped_after_the_bound("nothing sent", silent.await.unwrap());
    assert_dropped_after_the_bound("half a ClientHello", half_hello.await.unwrap());
    // A plain request gets the bound once the first byte has told it from TLS.
    let took = half_line.await.unwrap();
    assert!(
        took < BOUND * 3,
        "half a request line over TLS's port: {took:?}"
    );
    server.shutdown().await;
}
