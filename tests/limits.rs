//! End-to-end tests of the limits (`src/limits.rs`): connections in all and
//! per client address across both protocols, the clicker rate limit and
//! its close for persistent abuse, and the deadline for a first command.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{close_code, Client, TestServer, Ws};
use futures_util::{SinkExt, StreamExt};
use podium::clicker::connection::{CLOSE_NO_COMMAND, CLOSE_RATE_LIMIT};
use sio_client::{Eio, Sio};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::MaybeTlsStream;

/// Opens a WebSocket to `path` from loopback address `from` (any address in
/// 127.0.0.0/8 works on Linux), or returns the HTTP status it was refused with.
async fn open_from(server: SocketAddr, from: [u8; 4], path: &str) -> Result<Ws, u16> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    let stream = socket.connect(server).await.unwrap();
    match tokio_tungstenite::client_async(
        format!("ws://{server}{path}"),
        MaybeTlsStream::Plain(stream),
    )
    .await
    {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("unexpected handshake failure: {e}"),
    }
}

async fn clicker_from(server: SocketAddr, from: [u8; 4]) -> Result<Client, u16> {
    open_from(server, from, "/ws").await.map(|ws| Client { ws })
}

/// Opens Engine.IO 4 over WebSocket and asks to join the default namespace;
/// returns the client and socket.io's answer (`40...` joined, `44...` refused).
async fn socketio_from(server: SocketAddr, from: [u8; 4]) -> (Sio, String) {
    let ws = open_from(server, from, "/socket.io/?EIO=4&transport=websocket")
        .await
        .expect("the transport opens");
    let mut sio = Sio::over(ws, Eio::V4);
    let answer = sio.join().await.expect("socket.io answers");
    (sio, answer)
}

const HOME: [u8; 4] = [127, 0, 0, 1];
const NEIGHBOUR: [u8; 4] = [127, 0, 0, 2];

#[tokio::test]
async fn connections_beyond_the_total_are_refused_on_both_protocols() {
    let server = TestServer::start_with(|c| c.limits.max_connections = 2).await;
    let mut a = clicker_from(server.addr, HOME).await.unwrap();
    let (_sio, joined) = socketio_from(server.addr, NEIGHBOUR).await;
    assert!(joined.starts_with("40"), "{joined}");

    // Full: a clicker upgrade gets 503, a socket.io join a connect error.
    assert_eq!(clicker_from(server.addr, HOME).await.err(), Some(503));
    let (_refused, answer) = socketio_from(server.addr, NEIGHBOUR).await;
    assert!(
        answer.starts_with("44") && answer.contains("limit of 2 connections"),
        "{answer}"
    );

    // Places come back when connections end, and the others keep working.
    a.register(None).await;
    drop(a);
    let mut b = None;
    for _ in 0..100 {
        match clicker_from(server.addr, HOME).await {
            Ok(client) => {
                b = Some(client);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let mut b = b.expect("the closed clicker's place is freed");
    b.register(None).await;
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_per_address_limit_are_refused_for_that_address_only() {
    let server = TestServer::start_with(|c| c.limits.max_connections_per_ip = 2).await;
    let _a1 = clicker_from(server.addr, HOME).await.unwrap();
    let (_a2, joined) = socketio_from(server.addr, HOME).await;
    assert!(joined.starts_with("40"), "{joined}");
    assert_eq!(clicker_from(server.addr, HOME).await.err(), Some(429));
    let (_refused, answer) = socketio_from(server.addr, HOME).await;
    assert!(
        answer.starts_with("44") && answer.contains("too many connections from your address"),
        "{answer}"
    );
    // Another address is not affected.
    let mut other = clicker_from(server.addr, NEIGHBOUR).await.unwrap();
    other.register(None).await;
    // Plain HTTP is not a connection held open, so it is not counted.
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn frames_over_the_rate_are_dropped_with_an_error() {
    let server = TestServer::start_with(|c| {
        c.limits.clicker_rate = 10;
        c.limits.clicker_burst = 5;
    })
    .await;
    let mut clicker = server.client().await;
    clicker.register(None).await; // 1 of the burst of 5
    for n in 1..=20u64 {
        clicker.send(&format!("SCORE {n} {n} {n}")).await;
    }
    let (mut scored, mut refused) = (0, 0);
    for _ in 0..20 {
        let reply = clicker.recv().await;
        if reply.starts_with("SCORED") {
            scored += 1;
        } else {
            assert!(
                reply.starts_with("ERROR rate limit exceeded: at most 10 frames a second"),
                "{reply}"
            );
            refused += 1;
        }
    }
    // The rest of the burst, and maybe a token or two refilled meanwhile.
    assert!((4..=6).contains(&scored), "{scored} scored");
    assert_eq!(scored + refused, 20);
    // After a pause the connection is served again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(clicker.ask("SCORE 99 99 99").await, "SCORED 99 99");
    server.shutdown().await;
}

#[tokio::test]
async fn a_connection_flooding_for_seconds_is_closed_with_4003() {
    let server = TestServer::start_with(|c| {
        c.limits.clicker_rate = 10;
        c.limits.clicker_burst = 10;
    })
    .await;
    let clicker = server.client().await;
    let (mut tx, mut rx) = clicker.ws.split();
    let started = Instant::now();
    // 200 frames a second, 20 times the rate, until the server closes.
    let flood = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        for _ in 0..2000 {
            ticks.tick().await;
            if tx.send(Message::text("LISTEN 1")).await.is_err() {
                break;
            }
        }
    });
    let close = loop {
        let next = tokio::time::timeout(Duration::from_secs(15), rx.next())
            .await
            .expect("closed within 15 s");
        match next {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let took = started.elapsed();
    assert_eq!(close_code(&close), CLOSE_RATE_LIMIT);
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(8),
        "closed after {took:?}"
    );
    flood.abort();
    server.shutdown().await;
}

/// A registered clicker flooding SCOREs at 20 times the rate is stopped as
/// one flooding other frames is, whatever its timestamps claim: spaced at
/// the rate's own pace, or a minute apart (a device's clock never earns
/// more time than the server's clock ran). About twice the rate gets
/// through at most (by the read time, and by the timestamps), the rest is
/// refused, and after 5 s the connection is closed with 4003.
#[tokio::test]
async fn a_flood_of_scores_with_faked_timestamps_is_still_stopped() {
    let server = TestServer::start_with(|c| {
        c.limits.clicker_rate = 10;
        c.limits.clicker_burst = 10;
    })
    .await;
    for spacing in [100, 60_000] {
        let mut clicker = server.client().await;
        clicker.register(None).await;
        let (mut tx, mut rx) = clicker.ws.split();
        let started = Instant::now();
        let flood = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_millis(5));
            for n in 1..=2000u64 {
                ticks.tick().await;
                let frame = format!("SCORE {n} {} {n}", 1_700_000_000_000 + n * spacing);
                if tx.send(Message::text(frame)).await.is_err() {
                    break;
                }
            }
        });
        let (mut scored, mut refused) = (0u64, 0u64);
        let close = loop {
            let next = tokio::time::timeout(Duration::from_secs(15), rx.next())
                .await
                .expect("closed within 15 s");
            match next {
                Some(Ok(Message::Text(t))) if t.starts_with("SCORED ") => scored += 1,
                Some(Ok(Message::Text(t))) => {
                    assert!(t.starts_with("ERROR rate limit exceeded: "), "{t}");
                    refused += 1;
                }
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        let took = started.elapsed();
        assert_eq!(close_code(&close), CLOSE_RATE_LIMIT, "spacing {spacing}");
        assert!(
            took >= Duration::from_secs(5) && took < Duration::from_secs(8),
            "closed after {took:?}"
        );
        // The burst (less REGISTER's frame), then at most 10 a second by
        // each clock.
        let most = 9 + (2.0 * 10.0 * took.as_secs_f64()).ceil() as u64;
        assert!(
            scored <= most && refused > scored,
            "spacing {spacing}: {scored} SCOREs taken (at most {most}), {refused} refused"
        );
        flood.abort();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_but_a_prompt_one_is_not() {
    let server = TestServer::start_with(|c| c.limits.first_command_secs = 1).await;
    let mut silent = server.client().await;
    let mut chatty = server.client().await;
    let mut prompt = server.client().await;
    prompt.register(None).await;
    let started = Instant::now();
    // Refused commands do not count: the connection must take a role.
    assert!(chatty
        .ask("HELLO")
        .await
        .starts_with("ERROR unknown command"));
    assert_eq!(close_code(&silent.expect_close().await), CLOSE_NO_COMMAND);
    assert_eq!(close_code(&chatty.expect_close().await), CLOSE_NO_COMMAND);
    assert!(started.elapsed() < Duration::from_secs(3));
    // The registered clicker is still served after the deadline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(prompt.ask("SCORE 1 1").await, "SCORED 1");
    server.shutdown().await;
}

#[tokio::test]
async fn registrations_beyond_the_budget_of_an_address_are_refused() {
    let server = TestServer::start_with(|c| {
        c.limits.registrations_per_minute = 1;
        c.limits.registration_burst = 2;
    })
    .await;
    let mut first = clicker_from(server.addr, HOME).await.unwrap();
    let (_, secret) = first.register(None).await;
    let mut second = clicker_from(server.addr, HOME).await.unwrap();
    second.register(None).await;
    // The third REGISTER from that address is refused, whatever it carries,
    // and the connection stays usable.
    let mut third = clicker_from(server.addr, HOME).await.unwrap();
    let refused = third.ask("REGISTER").await;
    assert!(
        refused.starts_with("ERROR too many registrations from your address: at most 1 a minute"),
        "{refused}"
    );
    let again = third.ask(&format!("REGISTER {secret}")).await;
    assert!(again.starts_with("ERROR too many registrations"), "{again}");
    assert_eq!(third.ask("LISTEN").await, "CONNECT");
    // Another address has its own budget.
    let mut elsewhere = clicker_from(server.addr, NEIGHBOUR).await.unwrap();
    elsewhere.register(None).await;
    server.shutdown().await;
}
