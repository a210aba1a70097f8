//! The accept loop under the router: binds the port, tunes each accepted
//! socket, tells TLS from plain text by the first byte, bounds how long a
//! client may take to finish its TLS handshake and to send request headers,
//! serves HTTP/1.1 (with upgrades, for WebSocket) and shuts down gracefully.
//!
//! It replaces `axum::serve`, which can do neither TLS nor a bound on slow
//! headers. One port carries both: a connection whose first byte is a TLS
//! handshake record (0x16, which no HTTP method starts with) is served over
//! TLS when a certificate is configured; anything else as plain HTTP, so
//! clickers that cannot do TLS keep `ws://` on the same address as judges'
//! phones use `https://`.
//!
//! With TLS on, a browser asking for a web page over plain HTTP is
//! redirected (308) to the same address over HTTPS; the clicker WebSocket,
//! socket.io and the API stay available in plain text for devices that
//! cannot do TLS.
//!
//! With the PROXY protocol on (behind HAProxy), every connection must start
//! with the balancer's header ([`crate::proxy_protocol`]), read within the
//! same time bound before anything else; the client it names is the peer
//! address every handler, limit and log line sees from then on.
//!
//! HTTP/2 is not offered (plain or over TLS): every Podium client speaks
//! HTTP/1.1, WebSocket upgrades are HTTP/1.1, and hyper's header-read bound
//! exists only there.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

/// The first byte of every TLS connection: a handshake record (ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

/// How connections are accepted.
pub struct Settings {
    /// Time to finish the TLS handshake, and to send each request's headers.
    pub header_timeout: Duration,
    /// Kernel send buffer per connection.
    pub tcp_send_buffer: usize,
    /// Idle time before TCP keepalive probes a connection; probes follow at
    /// a third of it, and three unanswered ones end the connection.
    pub keepalive: Duration,
    /// Present when a certificate is configured.
    pub tls: Option<TlsAcceptor>,
    /// Every connection starts with a PROXY protocol header naming the client.
    pub proxy_protocol: bool,
}

/// Connections refused for a missing or bad PROXY protocol header are logged
/// as warnings at most this often (the others at debug): one is a
/// misconfiguration worth seeing, a thousand a minute would drown the log.
const HEADER_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Binds with a deep accept backlog: the default (128) overflows when a hall
/// full of clients reconnects at once after a Wi-Fi drop, and every
/// overflowed connect costs that client a one-second SYN retry.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Accepts and serves until `shutdown` is cancelled, then asks every HTTP
/// connection to finish its request in progress and waits for them.
/// Upgraded (WebSocket) connections have left hyper by then: their owners
/// close them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: Settings,
    shutdown: CancellationToken,
) {
    let settings = Arc::new(settings);
    let warnings = Arc::new(Warnings::default());
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // The peer gave up before we got to it: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors, most likely: retrying at once
                // would spin; a second lets connections close meanwhile.
                tracing::error!(error = %e, "cannot accept connections; retrying in 1 s");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        tune_socket(&stream, &settings);
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            settings.clone(),
            warnings.clone(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// When the last header warning was logged, in seconds since `start`.
struct Warnings {
    start: Instant,
    last: AtomicU64,
}

impl Default for Warnings {
    fn default() -> Self {
        Warnings {
            start: Instant::now(),
            last: AtomicU64::new(u64::MAX),
        }
    }
}

impl Warnings {
    /// Whether this refusal is the one to warn about in its interval.
    fn take(&self) -> bool {
        let now = self.start.elapsed().as_secs();
        let last = self.last.load(Ordering::Relaxed);
        let due = last == u64::MAX || now >= last + HEADER_WARNING_EVERY.as_secs();
        due && self
            .last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// One accepted connection, from its first byte to its end (or its upgrade).
async fn connection(
    mut stream: TcpStream,
    mut peer: SocketAddr,
    router: Router,
    settings: Arc<Settings>,
    warnings: Arc<Warnings>,
    shutdown: CancellationToken,
) {
    let deadline = Instant::now() + settings.header_timeout;
    if settings.proxy_protocol {
        let read = tokio::select! {
            _ = shutdown.cancelled() => return,
            read = tokio::time::timeout_at(deadline, crate::proxy_protocol::read(&mut stream)) => read,
        };
        match read {
            Ok(Ok(header)) => peer = header.client(peer),
            Ok(Err(e)) => {
                if warnings.take() {
                    tracing::warn!(%peer, error = %e, "closed a connection without a valid PROXY protocol header (is the balancer sending one? further ones within a minute are logged at debug)");
                } else {
                    tracing::debug!(%peer, error = %e, "closed a connection without a valid PROXY protocol header");
                }
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "closed a connection that sent no PROXY protocol header in time");
                return;
            }
        }
    }
    let Some(acceptor) = &settings.tls else {
        // hyper's header-read bound runs from the start: a silent client is
        // dropped without any help here.
        return serve_http(stream, peer, router, &settings, &shutdown, false).await;
    };
    let first = tokio::select! {
        _ = shutdown.cancelled() => return,
        first = tokio::time::timeout_at(deadline, first_byte(&stream)) => first,
    };
    match first {
        Ok(Some(TLS_HANDSHAKE)) => {}
        Ok(Some(_)) => return serve_http(stream, peer, router, &settings, &shutdown, true).await,
        Ok(None) => return,
        Err(_) => {
            tracing::debug!(%peer, "closed a connection that sent nothing in time");
            return;
        }
    }
    let accepted = tokio::select! {
        _ = shutdown.cancelled() => return,
        accepted = tokio::time::timeout_at(deadline, acceptor.accept(stream)) => accepted,
    };
    match accepted {
        Ok(Ok(tls)) => serve_http(tls, peer, router, &settings, &shutdown, false).await,
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake not finished in time"),
    }
}

/// The first byte the client sent, left in the socket for whoever reads
/// next; `None` when it closed (or failed) first.
async fn first_byte(stream: &TcpStream) -> Option<u8> {
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte).await {
        Ok(1) => Some(byte[0]),
        _ => None,
    }
}

/// HTTP/1.1 on a plain or TLS stream, until the client closes, a request
/// upgrades, or shutdown lets the request in progress finish.
/// `pages_to_https`: plain text on a server that has TLS.
async fn serve_http<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    settings: &Settings,
    shutdown: &CancellationToken,
    pages_to_https: bool,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // What `into_make_service_with_connect_info` did: handlers and the
    // connection limits find the client's address in the request.
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        let redirect = if pages_to_https {
            to_https(&request)
        } else {
            None
        };
        // A Router is always ready; cloning it is a reference count.
        let routed = router.clone().call(request);
        async move {
            match redirect {
                Some(response) => Ok(response),
                None => routed.await,
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The bound also runs while a kept-alive connection waits for its next
    // request, so it doubles as the idle timeout of keep-alive.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            tracing::debug!(%peer, "closed a connection that sent no request headers in time");
        } else {
            tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
        }
    }
}

/// A redirect to the same address over HTTPS, for a browser asking for a
/// web page in plain text.
fn to_https(request: &axum::extract::Request) -> Option<axum::response::Response> {
    use axum::http::{header, Method, StatusCode};
    let path = request.uri().path();
    if request.method() != Method::GET || !crate::ui::is_page(path) {
        return None;
    }
    let host = request.headers().get(header::HOST)?.to_str().ok()?;
    let target = request.uri().path_and_query().map_or(path, |p| p.as_str());
    let location = format!("https://{host}{target}");
    axum::response::Response::builder()
        .status(StatusCode::PERMANENT_REDIRECT)
        .header(header::LOCATION, location)
        .body(axum::body::Body::empty())
        .ok()
}

/// Small frames must not wait for Nagle; a fixed kernel send buffer bounds
/// the memory a peer that stops reading can pin (autotuning would let it grow
/// to megabytes per connection); and TCP keepalive finds peers that vanished
/// (a clicker switched off, out of Wi-Fi range) on connections where nothing
/// else would: a clicker that sends but never reads answers no WebSocket
/// ping, but its TCP stack answers keepalive probes.
fn tune_socket(tcp: &TcpStream, settings: &Settings) {
    let socket = socket2::SockRef::from(tcp);
    let _ = socket.set_tcp_nodelay(true);
    let _ = socket.set_send_buffer_size(settings.tcp_send_buffer);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(settings.keepalive)
        .with_interval((settings.keepalive / 3).max(Duration::from_secs(1)))
        .with_retries(3);
    let _ = socket.set_tcp_keepalive(&keepalive);
}
