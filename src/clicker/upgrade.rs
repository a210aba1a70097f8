//! The `/ws` route: a connection place first (refusals end the connection,
//! so a retrying device starts afresh), then the WebSocket upgrade with
//! buffers sized for small text frames.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Clicker;
use crate::limits::Refused;

/// Tungstenite's default buffers cost about 90 KiB per idle connection;
/// clicker frames are tens of bytes, so these are sized for small text.
const WS_READ_BUFFER: usize = 1024;
const WS_WRITE_BUFFER: usize = 4 * 1024;
/// Frames above this end the connection with close code 1009; frames above
/// the configured command limit but below this get an `ERROR` reply.
const WS_TRANSPORT_LIMIT: usize = 64 * 1024;

/// Upgrades `/ws` for a clicker or a scoreboard.
pub async fn upgrade(
    State(app): State<Arc<Clicker>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    // A refused upgrade also ends the connection (`Connection: close`), so a
    // device that retries gets a fresh one rather than a half-used keep-alive.
    let close = [(header::CONNECTION, "close")];
    if app.closing.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, close, "shutting down").into_response();
    }
    // The place is held until the connection ends (or the upgrade fails).
    let permit = match app.connection_limits.admit(Some(peer.ip())) {
        Ok(permit) => permit,
        Err(refused) => {
            let status = match refused {
                Refused::Full { .. } => StatusCode::SERVICE_UNAVAILABLE,
                Refused::TooManyFromAddress { .. } => StatusCode::TOO_MANY_REQUESTS,
            };
            tracing::debug!(%peer, %refused, "clicker connection refused");
            return (status, close, format!("{refused}\n")).into_response();
        }
    };
    ws.read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(WS_WRITE_BUFFER)
        .max_message_size(WS_TRANSPORT_LIMIT)
        .max_frame_size(WS_TRANSPORT_LIMIT)
        .on_upgrade(move |socket| {
            let tracker = app.connections.clone();
            tracker.track_future(async move {
                super::connection::serve(socket, app, peer.ip()).await;
                drop(permit);
            })
        })
}
