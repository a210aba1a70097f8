//! The PROXY protocol at the listener (`--proxy-protocol`): the address a
//! balancer's header names is the one the per-address connection limit
//! counts (v1 and v2 alike); a health check's `LOCAL` header is served; a
//! connection without a header is closed unanswered. With the option off, a
//! header is bad input: refused, and the server carries on.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: podium\r\nConnection: Upgrade\r\n\
Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: podium\r\nConnection: close\r\n\r\n";

fn v2(command: u8, source: Option<([u8; 4], u16)>) -> Vec<u8> {
    let mut bytes = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    bytes.push(0x20 | command);
    match source {
        Some((ip, port)) => {
            bytes.extend_from_slice(&[0x11, 0, 12]);
            bytes.extend_from_slice(&ip);
            bytes.extend_from_slice(&[127, 0, 0, 1]);
            bytes.extend_from_slice(&port.to_be_bytes());
            bytes.extend_from_slice(&8080u16.to_be_bytes());
        }
        None => bytes.extend_from_slice(&[0, 0, 0]),
    }
    bytes
}

fn v1(source: &str) -> Vec<u8> {
    format!("PROXY TCP4 {source} 127.0.0.1 40000 8080\r\n").into_bytes()
}

/// Sends `header` then `request`; the answer's status code (`None` when the
/// server closed without one) and the connection, still open when upgraded.
async fn send(addr: SocketAddr, header: &[u8], request: &[u8]) -> (Option<u16>, TcpStream) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(header).await.unwrap();
    // A second write, so the header and the request may arrive apart.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no answer within 30 s"),
        }
    }
    let status = std::str::from_utf8(&answer)
        .ok()
        .and_then(|a| a.strip_prefix("HTTP/1.1 "))
        .and_then(|a| a.get(..3))
        .and_then(|code| code.parse().ok());
    (status, stream)
}

#[tokio::test]
async fn headers_name_the_client_and_connections_without_one_are_closed() {
    let server = TestServer::start_with(|c| {
        c.proxy_protocol = true;
        // A header cut short is closed when this runs out.
        c.header_timeout_secs = 2;
        c.limits.max_connections_per_ip = 1;
        c.limits.first_command_secs = 0;
    })
    .await;
    let addr = server.addr;

    // One connection per address: every connection here comes from
    // 127.0.0.1, yet each client named in a header gets its own place.
    let (status, _first) = send(addr, &v2(1, Some(([192, 0, 2, 7], 5000))), UPGRADE).await;
    assert_eq!(status, Some(101), "v2: the first connection of 192.0.2.7");
    let (status, _) = send(addr, &v1("192.0.2.7"), UPGRADE).await;
    assert_eq!(
        status,
        Some(429),
        "v1: 192.0.2.7 already has its one connection"
    );
    let (status, _second) = send(addr, &v1("192.0.2.8"), UPGRADE).await;
    assert_eq!(status, Some(101), "v1: 192.0.2.8 has a place of its own");
    let (status, _) = send(addr, &v2(1, Some(([192, 0, 2, 8], 5001))), UPGRADE).await;
    assert_eq!(
        status,
        Some(429),
        "v2: 192.0.2.8 already has its one connection"
    );

    // HAProxy's health check (LOCAL) is the proxy itself: served. And the
    // proxy's own address (127.0.0.1) has its own place, still free.
    let (status, _) = send(addr, &v2(0, None), HEALTHZ).await;
    assert_eq!(status, Some(200), "a LOCAL health check");
    let (status, _local) = send(addr, b"PROXY UNKNOWN\r\n", UPGRADE).await;
    assert_eq!(
        status,
        Some(101),
        "v1 UNKNOWN: the connection's own address"
    );

    // No header, a garbled one, one cut short: closed with no answer.
    for (what, bytes) in [
        ("no header", HEALTHZ.to_vec()),
        ("garbage", b"PROXY TCP4 not-an-address\r\n".to_vec()),
        ("cut short", v2(1, Some(([192, 0, 2, 9], 1)))[..20].to_vec()),
    ] {
        let (status, _) = send(
            addr,
            &bytes,
            if what == "cut short" { b"" } else { HEALTHZ },
        )
        .await;
        assert_eq!(status, None, "{what}: closed unanswered");
    }
    // A header sent a byte at a time (a slow client) is fine.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for byte in v1("192.0.2.10") {
        stream.write_all(&[byte]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stream.write_all(HEALTHZ).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn with_the_option_off_a_header_is_bad_input() {
    let server = TestServer::start().await;
    for header in [
        v1("192.0.2.7"),
        v2(1, Some(([192, 0, 2, 7], 5000))),
        v2(0, None),
    ] {
        let (status, _) = send(server.addr, &header, HEALTHZ).await;
        assert!(
            matches!(status, None | Some(400)),
            "refused or closed, not served: {status:?}"
        );
    }
    // And the server carries on.
    let (status, _) = send(server.addr, b"", HEALTHZ).await;
    assert_eq!(status, Some(200));
    server.shutdown().await;
}
