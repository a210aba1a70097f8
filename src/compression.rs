//! Response compression: gzip or brotli (whichever the client prefers) for
//! pages, JSON, CSV exports and the event stream, so a hall of phones on
//! the venue's wifi moves a fraction of the bytes. WebSocket upgrades and
//! socket.io never pass through it (see `server::router`).
//!
//! tower-http leaves `text/event-stream` out by default because an encoder
//! that waits for more input holds events back. The encoder in use
//! (async-compression 0.4.52, pinned by Cargo.lock) flushes whenever the
//! body has nothing more ready, so each event leaves at once in its own
//! flush; `tests/big_event.rs` checks that an update still arrives within
//! 100 ms, and the event stream is compressed too.

use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;

/// Smaller bodies gain less than the encoding's own framing costs.
const MIN_SIZE: u16 = 256;

/// The compression every HTTP response but the protocols' goes through.
pub fn layer() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .no_deflate()
        .no_zstd()
        .compress_when(SizeAbove::new(MIN_SIZE).and(NotForContentType::IMAGES))
}
