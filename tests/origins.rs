//! End-to-end tests of the Origin check (`src/origins.rs`) on the clicker
//! WebSocket, socket.io (long-polling and WebSocket) and the HTTP API.

mod common;

use common::raw::{self, RawWs};
use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, http::HeaderValue};

const EVIL: &str = "http://evil.example";

/// The HTTP status of a GET of `path` with `origin` (if any).
async fn get(server: &TestServer, path: &str, origin: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new().get(server.url(path));
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    request.send().await.unwrap().status().as_u16()
}

/// The status a WebSocket upgrade to `path` with `origin` gets (101 when it opens).
async fn upgrade(server: &TestServer, path: &str, origin: Option<&str>) -> u16 {
    let mut request = format!("ws://{}{path}", server.addr)
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", HeaderValue::from_str(origin).unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected handshake failure: {e}"),
    }
}

const SIO_POLL: &str = "/socket.io/?EIO=4&transport=polling";
const SIO_WS: &str = "/socket.io/?EIO=4&transport=websocket";

#[tokio::test]
async fn foreign_origins_are_refused_and_own_and_originless_requests_pass() {
    let server = TestServer::start().await;
    let own = format!("http://{}", server.addr);
    for origin in [None, Some(own.as_str())] {
        assert_eq!(upgrade(&server, "/ws", origin).await, 101, "{origin:?}");
        assert_eq!(upgrade(&server, SIO_WS, origin).await, 101, "{origin:?}");
        assert_eq!(get(&server, SIO_POLL, origin).await, 200, "{origin:?}");
        assert_eq!(get(&server, "/api/clicker/devices", origin).await, 200);
    }
    assert_eq!(upgrade(&server, "/ws", Some(EVIL)).await, 403);
    assert_eq!(upgrade(&server, SIO_WS, Some(EVIL)).await, 403);
    assert_eq!(get(&server, SIO_POLL, Some(EVIL)).await, 403);
    assert_eq!(get(&server, "/api/clicker/devices", Some(EVIL)).await, 403);
    assert_eq!(
        get(&server, "/api/clicker/devices", Some("null")).await,
        403
    );
    // Another port on the same host is another origin.
    let other_port = format!("http://127.0.0.1:{}", server.addr.port() + 1);
    assert_eq!(
        get(&server, "/api/clicker/devices", Some(&other_port)).await,
        403
    );
    // Health and metrics are not guarded.
    assert_eq!(get(&server, "/healthz", Some(EVIL)).await, 200);
    assert_eq!(get(&server, "/metrics", Some(EVIL)).await, 200);

    // The refusal says why, as JSON.
    let response = reqwest::Client::new()
        .get(server.url("/api/clicker/devices"))
        .header("Origin", EVIL)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains(EVIL) && message.contains("--allowed-origin"),
        "{message}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn listed_origins_pass() {
    let server = TestServer::start_with(|c| {
        c.allowed_origins =
            vec![podium::origins::parse_origin("https://Scores.Example.org/").unwrap()]
    })
    .await;
    let listed = Some("https://scores.example.org");
    assert_eq!(upgrade(&server, "/ws", listed).await, 101);
    assert_eq!(get(&server, SIO_POLL, listed).await, 200);
    assert_eq!(get(&server, "/api/clicker/devices", listed).await, 200);
    assert_eq!(upgrade(&server, "/ws", Some(EVIL)).await, 403);
    server.shutdown().await;

    let open = TestServer::start_with(|c| c.allowed_origins = vec!["*".into()]).await;
    assert_eq!(upgrade(&open, "/ws", Some(EVIL)).await, 101);
    open.shutdown().await;
}

/// RopeScore's Espruino firmware: its WebSocket module upgrades with
/// `Origin: Espruino` (no scheme, which no browser sends). With default
/// settings it must get through, register and have its scores acknowledged;
/// the same header passes the HTTP API and socket.io too.
#[tokio::test]
async fn an_espruino_device_connects_with_default_settings() {
    let server = TestServer::start().await;
    let mut device = RawWs::open(server.addr, Some("Espruino"), None).await;
    device.send_text("REGISTER").await;
    let registered = device.recv_text().await;
    assert!(registered.starts_with("REGISTERED "), "{registered}");
    device.send_text("SCORE 1 1700000000000 3").await;
    assert_eq!(device.recv_text().await, "SCORED 1 1700000000000");
    assert_eq!(
        get(&server, "/api/clicker/devices", Some("Espruino")).await,
        200
    );
    assert_eq!(get(&server, SIO_POLL, Some("Espruino")).await, 200);
    assert_eq!(upgrade(&server, SIO_WS, Some("Espruino")).await, 101);
    // Browser origins are still checked: a foreign page and an opaque one.
    assert_eq!(upgrade(&server, "/ws", Some(EVIL)).await, 403);
    assert_eq!(upgrade(&server, "/ws", Some("null")).await, 403);
    server.shutdown().await;
}

/// A refused upgrade ends the TCP connection: the answer says
/// `Connection: close` and the server closes its side at once, instead of
/// keeping the connection alive for the header timeout (10 s here).
#[tokio::test]
async fn a_refused_upgrade_closes_the_connection() {
    let server = TestServer::start().await;
    let mut stream = raw::connect(server.addr, None).await;
    stream
        .write_all(raw::upgrade_request(server.addr, Some(EVIL)).as_bytes())
        .await
        .unwrap();
    let (head, mut rest) = raw::read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("\r\nconnection: close"),
        "{head}"
    );
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        stream.read_to_end(&mut rest),
    )
    .await;
    assert!(
        matches!(ended, Ok(Ok(_))),
        "the server kept the refused connection open"
    );
    let body = String::from_utf8_lossy(&rest);
    assert!(body.contains("are not allowed here"), "{body}");
    server.shutdown().await;
}
