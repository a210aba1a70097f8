//! End-to-end tests of the Origin check (`src/origins.rs`) on the clicker
//! WebSocket, socket.io (long-polling and WebSocket) and the HTTP API.

mod common;

use common::TestServer;
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
