//! Opening client WebSockets: lean buffers, retries on transient failures,
//! and a bounded pace so ten thousand connects do not overrun the server's
//! accept backlog and get counted as the server's fault.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

const ATTEMPTS: u32 = 6;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Read buffer per connection. It is allocated up front, so the idle
/// scenario shrinks it (the 128 KiB default would cost 1.3 GiB at 10,000
/// connections). Bigger is not faster: tungstenite zeroes the buffer's
/// spare capacity before every read, and at 64 KiB that memset was 7% of
/// a fan-out listener's CPU; 8 KiB still takes a couple of hundred
/// broadcast frames per read.
static READ_BUFFER: AtomicUsize = AtomicUsize::new(8 * 1024);

pub fn set_read_buffer(bytes: usize) {
    READ_BUFFER.store(bytes.max(1024), Ordering::Relaxed);
}

fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER.load(Ordering::Relaxed))
        .write_buffer_size(16 * 1024)
}

async fn connect_once(host: &str, path: &str) -> Result<Ws, String> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(host))
        .await
        .map_err(|_| "tcp connect timed out".to_string())?
        .map_err(|e| format!("tcp connect: {e}"))?;
    // Latency is the thing measured; Nagle would add up to 40 ms to it.
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let url = format!("ws://{host}{path}");
    let handshake =
        tokio_tungstenite::client_async_with_config(url.as_str(), tcp, Some(client_config()));
    let (ws, _resp) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .map_err(|_| "websocket handshake timed out".to_string())?
        .map_err(|e| format!("websocket handshake: {e}"))?;
    Ok(ws)
}

/// Connects to `ws://host{path}`, retrying with backoff; the error of the
/// last attempt is returned when all fail.
pub async fn connect(host: &str, path: &str) -> Result<Ws, String> {
    let mut delay = Duration::from_millis(50);
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        match connect_once(host, path).await {
            Ok(ws) => return Ok(ws),
            Err(e) => last = e,
        }
        if attempt + 1 < ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
    Err(last)
}

/// Runs `open(i)` for `i in 0..n`, at most `batch` at a time, each batch
/// finishing before the next starts. Results come back in index order.
pub async fn open_paced<T, F, Fut>(n: usize, batch: usize, open: F) -> Vec<Result<T, String>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let batch = batch.max(1);
    let mut out: Vec<Option<Result<T, String>>> = (0..n).map(|_| None).collect();
    let mut start = 0;
    while start < n {
        let end = (start + batch).min(n);
        let mut set = JoinSet::new();
        for i in start..end {
            let fut = open(i);
            set.spawn(async move { (i, fut.await) });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, r)) => out[i] = Some(r),
                Err(e) => eprintln!("connection task failed: {e}"),
            }
        }
        start = end;
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err("connection task panicked".to_string())))
        .collect()
}
