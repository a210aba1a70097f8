//! `GET /api/events`: the live updates socket.io subscribers get, as
//! Server-Sent Events: first `update-full` with `{database}`, then
//! `update-partial` with `{diff}` for every committed change the caller may
//! see, in commit order, scoped to the caller like `GET /api/state`.
//!
//! Every update carries `id: <epoch>:<sequence>`, its place in the change
//! log (`crate::store::log`). A client that reconnects with that id in
//! `Last-Event-ID` (`EventSource` does so by itself) gets exactly the
//! changes after it, scoped like live ones and with no new `update-full`,
//! when the id is of the database's current epoch and the log still holds
//! what followed it; any other id (unknown or old epoch, too old, malformed)
//! gets a fresh `update-full`, never an error.
//!
//! Credentials come in the `Authorization` header, or in `?secret=` because
//! a browser's `EventSource` cannot set headers (a URL can end up in proxy
//! logs: prefer the header where the client allows it). A client that stops
//! reading until its queue of updates is full has its stream ended;
//! `EventSource` then reconnects by itself and resumes from the last id it
//! got. A comment line every 15 s keeps idle proxies from closing
//! the stream. `?preview=N` cuts hack descriptions as `GET /api/state` does.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::Deserialize;

use super::caller::{bearer_secret, identify, ClientIp};
use super::query;
use crate::http_error::ApiError;
use crate::server::App;
use crate::sledge::sync::EventId;
use crate::sledge::SEND_BUFFER;

/// The id a reconnecting client last got; `None` when absent or not an id
/// this server could have sent (the client then starts over).
fn last_event_id(headers: &HeaderMap) -> Option<EventId> {
    let value = headers.get("last-event-id")?.to_str().ok()?;
    EventId::parse(value)
}

/// How often an idle stream gets a comment line.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    secret: Option<String>,
    preview: Option<usize>,
}

pub async fn events(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query::parse(
        query,
        "the query parameters are secret=<secret> and preview=<characters>",
    )?;
    let secret = bearer_secret(&headers)?.or(query.secret);
    let who = identify(&app, ip, secret.as_deref()).await?;
    let resume = last_event_id(&headers);
    // The same queue length as a socket.io subscriber's send buffer.
    let subscription = app
        .sledge
        .state
        .subscribe_channel(who, SEND_BUFFER, query.preview, resume)
        .await?;
    let updates = stream::unfold(subscription, |mut subscription| async move {
        let update = subscription.updates.recv().await?;
        let event = Event::default()
            .event(update.event)
            .id(&*update.id)
            .data(&*update.data);
        Some((Ok::<_, Infallible>(event), subscription))
    });
    let sse = Sse::new(updates).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    // Tells nginx not to buffer the stream.
    let no_buffering = (
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(([no_buffering], sse).into_response())
}
