//! Hostile input at the wire, beyond the protocol-level refusals tested in
//! `tests/clicker.rs` and `tests/js/rejections.test.js`: broken socket.io
//! packets, oversized Sledge messages, and malformed HTTP requests. Each
//! case states what the server answers (the table in `docs/security.md`),
//! and the server must keep serving afterwards.

mod common;

use std::time::Duration;

use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a socket.io connection ends with: the next text frame, or how it closed.
#[derive(Debug, PartialEq)]
enum Outcome {
    Text(String),
    Closed,
}

async fn next(ws: &mut Ws) -> Outcome {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer within 10 s")
        {
            Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                let _ = ws.send(Message::text("3")).await;
            }
            // Engine.IO's close packet.
            Some(Ok(Message::Text(t))) if t.as_str() == "1" => return Outcome::Closed,
            Some(Ok(Message::Text(t))) => return Outcome::Text(t.to_string()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Outcome::Closed,
            Some(Ok(_)) => {}
        }
    }
}

/// A socket.io 4 socket that has joined the default namespace.
async fn joined(server: &TestServer) -> Ws {
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert!(matches!(next(&mut ws).await, Outcome::Text(t) if t.starts_with('0')));
    ws.send(Message::text("40")).await.unwrap();
    assert!(matches!(next(&mut ws).await, Outcome::Text(t) if t.starts_with("40")));
    ws
}

/// Sends `frame` on a fresh socket and returns what comes back.
async fn sledge_answer(server: &TestServer, frame: Message) -> Outcome {
    let mut ws = joined(server).await;
    ws.send(frame).await.unwrap();
    next(&mut ws).await
}

async fn still_serving(server: &TestServer) {
    let mut ws = joined(server).await;
    ws.send(Message::text(r#"42["subscribe-database",{}]"#))
        .await
        .unwrap();
    let Outcome::Text(reply) = next(&mut ws).await else {
        panic!("no answer")
    };
    assert!(reply.contains("protocol-error"), "{reply}");
}

#[tokio::test]
async fn broken_socketio_packets_close_only_their_connection() {
    let server = TestServer::start().await;
    for garbage in [
        "42[broken json",
        "42{\"not\":\"an array\"}",
        "4",
        "9",
        "hello",
        "",
        "42[]",
        "42[1,2]",
    ] {
        let outcome = sledge_answer(&server, Message::text(garbage)).await;
        eprintln!("{garbage:?} -> {outcome:?}");
        match outcome {
            Outcome::Closed => {}
            Outcome::Text(t) => assert!(t.contains("protocol-error"), "{garbage:?}: {t}"),
        }
    }
    // A binary frame where no attachment was announced.
    let outcome = sledge_answer(&server, Message::binary(vec![0u8, 159, 146, 150])).await;
    eprintln!("binary -> {outcome:?}");
    still_serving(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_sledge_messages_and_echoes_are_bounded() {
    let server = TestServer::start().await;
    // Over the 1 MiB WebSocket message limit: the connection is closed.
    let huge = format!(r#"42["add-hack",{{"name":"{}"}}]"#, "x".repeat(1 << 20));
    assert_eq!(
        sledge_answer(&server, Message::text(huge)).await,
        Outcome::Closed
    );
    // Under it, a huge unknown event name and a huge unknown field are
    // refused with a message that quotes only a little of them.
    for frame in [
        format!(r#"42["{}",{{}}]"#, "e".repeat(500_000)),
        format!(r#"42["add-superlative",{{"{}":1}}]"#, "f".repeat(500_000)),
        format!(
            r#"42["rate-hack",{{"judgeId":"{}","hackId":1,"rating":1}}]"#,
            "9".repeat(500_000)
        ),
    ] {
        let Outcome::Text(reply) = sledge_answer(&server, Message::text(frame)).await else {
            panic!("no answer")
        };
        let error: serde_json::Value = serde_json::from_str(&reply[2..]).unwrap();
        let message = error[1]["message"].as_str().unwrap();
        assert!(message.len() < 1024, "{} bytes", message.len());
        assert!(message.contains("more characters)"), "{message}");
    }
    still_serving(&server).await;
    server.shutdown().await;
}

/// Sends raw bytes as an HTTP request and returns the status line.
async fn raw_http(server: &TestServer, request: &[u8]) -> String {
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let _ = tcp.write_all(request).await;
    let mut reply = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut reply))
        .await
        .expect("an answer within 10 s")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&reply[..n]).to_string();
    text.lines().next().unwrap_or("(closed)").to_string()
}

#[tokio::test]
async fn malformed_http_gets_4xx_and_the_server_carries_on() {
    let server = TestServer::start().await;
    let status = |path: &'static str| {
        let url = server.url(path);
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/api/clicker/devices/abc/scores").await, 400);
    assert_eq!(status("/api/clicker/devices/0000001/scores").await, 400);
    assert_eq!(status("/api/clicker/devices/999999/scores").await, 404);
    assert_eq!(status("/api/nothing-here").await, 404);
    let post = reqwest::Client::new()
        .post(server.url("/api/clicker/devices"))
        .body(vec![b'{'; 3 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);

    assert!(raw_http(&server, b"GARBAGE\r\n\r\n").await.contains("400"));
    let answer = raw_http(&server, b"GET / HTTP/9.9\r\n\r\n").await;
    eprintln!("HTTP/9.9 -> {answer}");
    assert!(answer.contains(" 400 "), "{answer}");
    let mut long_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    long_header.extend(std::iter::repeat_n(b'a', 1 << 20));
    long_header.extend(b"\r\n\r\n");
    let answer = raw_http(&server, &long_header).await;
    eprintln!("1 MiB header -> {answer}");
    assert!(answer.contains(" 431 "), "{answer}");

    assert_eq!(status("/healthz").await, 200);
    server.shutdown().await;
}
