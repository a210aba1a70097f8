//! `bare-forwarder`: the ceiling reference for Podium's clicker fan-out.
//!
//! The same WebSocket stack as Podium (axum 0.8 `WebSocketUpgrade` on
//! `/ws`) doing nothing but the protocol's happy path: REGISTER, LISTEN /
//! SUBSCRIBE, SCORE -> SCORED plus broadcast. No storage, no validation, no
//! duplicate detection. Whatever Podium does beyond this costs throughput;
//! this binary shows how much there is to lose.

mod hub;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use hub::{Draft, Hub};

#[derive(Parser)]
#[command(about = "Bare WebSocket forwarder speaking the clicker protocol (benchmark reference)")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
}

struct App {
    hub: Hub,
    next_conn: AtomicU64,
}

fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for both calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    raise_nofile();
    let app = Arc::new(App {
        hub: Hub::default(),
        next_conn: AtomicU64::new(0),
    });
    let router = Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app);
    let listener = bind(args.listen).unwrap_or_else(|e| panic!("bind {}: {e}", args.listen));
    eprintln!("bare-forwarder listening on {}", args.listen);
    // Replies and broadcasts are tiny frames; Nagle would hold them back
    // waiting for ACKs and add up to tens of milliseconds of latency.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).await.expect("serve");
}

/// A listen backlog of 4,096 rather than the 128 `TcpListener::bind` gives:
/// a burst of a few hundred connects would otherwise overflow the accept
/// queue and cost each dropped SYN a one-second retransmit.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

async fn upgrade(ws: WebSocketUpgrade, State(app): State<Arc<App>>) -> Response {
    // Frames are a few dozen bytes; the read buffer is allocated per socket
    // up front, so the 128 KiB default would dominate memory at 10,000
    // connections (1 KiB: ~5 KiB per idle connection; 4 KiB: ~8 KiB).
    ws.read_buffer_size(1024)
        .on_upgrade(move |socket| connection(socket, app))
}

async fn connection(socket: WebSocket, app: Arc<App>) {
    let conn = app.next_conn.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Utf8Bytes>();
    // One writer per socket: replies and broadcasts queue here, and a burst
    // goes out with one flush.
    let writer = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            if sink.feed(Message::Text(first)).await.is_err() {
                return;
            }
            while let Ok(more) = rx.try_recv() {
                if sink.feed(Message::Text(more)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });

    let mut device: Option<u32> = None;
    let mut listening: Vec<u32> = Vec::new();
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else {
            if matches!(msg, Message::Close(_)) {
                break;
            }
            continue;
        };
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let reply = match tokens.as_slice() {
            ["REGISTER", rest @ ..] => {
                let (id, secret) = app.hub.register(rest.first().copied());
                device = Some(id);
                Some(format!("REGISTERED {id:06} {secret}"))
            }
            [cmd @ ("LISTEN" | "SUBSCRIBE"), ids @ ..] => {
                let draft = if *cmd == "LISTEN" {
                    Draft::One
                } else {
                    Draft::Two
                };
                let ids: Vec<u32> = ids.iter().filter_map(|t| t.parse().ok()).collect();
                let connected = app.hub.subscribe(conn, draft, &tx, &ids);
                listening.extend(ids);
                let mut r = String::from("CONNECT");
                for id in connected {
                    r.push_str(&format!(" {id:06}"));
                }
                Some(r)
            }
            ["SCORE", ts, score] => device.map(|id| {
                app.hub.score(id, ts, score);
                format!("SCORED {ts}")
            }),
            ["SCORE", msg_id, ts, score] => device.map(|id| {
                app.hub.score(id, ts, score);
                format!("SCORED {msg_id} {ts}")
            }),
            _ => Some(format!("ERROR unknown command: {}", text.as_str())),
        };
        let reply = reply.unwrap_or_else(|| "ERROR not registered".to_string());
        if tx.send(Utf8Bytes::from(reply)).is_err() {
            break;
        }
    }
    if let Some(id) = device {
        app.hub.set_connected(id, false);
    }
    app.hub.unsubscribe(conn, &listening);
    drop(tx);
    writer.abort();
}
