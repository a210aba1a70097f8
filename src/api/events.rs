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
use futures_util::{stream, StreamExt};
use serde::Deserialize;

use super::caller::{bearer_secret, identify, ClientIp};
use super::query;
use super::Api;
use crate::core::SUBSCRIBER_BUFFER;
use crate::http_error::ApiError;

/// One event of the stream, as the OpenAPI document describes it (a
/// Server-Sent Event's fields); the stream itself is written by axum.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // only described, never built
pub struct UpdateEvent {
    #[schema(pattern = "^(update-full|update-partial)$")]
    event: String,
    /// JSON: `{"database": DataStore}` (update-full) or `{"diff": DataStore}` (update-partial).
    #[schema(content_media_type = "application/json")]
    data: String,
}
use crate::core::sync::EventId;

/// The id a reconnecting client last got; `None` when absent or not an id
/// this server could have sent (the client then starts over).
fn last_event_id(headers: &HeaderMap) -> Option<EventId> {
    let value = headers.get("last-event-id")?.to_str().ok()?;
    EventId::parse(value)
}

/// How often an idle stream gets a comment line.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The bearer secret, for clients that cannot set headers (see the security schemes).
    secret: Option<String>,
    /// Cut every hack description to this many characters (an ellipsis marks a cut).
    #[param(minimum = 0, maximum = 18446744073709551615_u64)]
    preview: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/events",
    tag = "state",
    operation_id = "events",
    summary = "Live updates (Server-Sent Events)",
    description = "First `event: update-full` with `data: {\"database\": DataStore}`, then `event: update-partial` with `data: {\"diff\": DataStore}` for every committed change the caller may see, in commit order, scoped like GET /api/state. Credentials in the Authorization header, or in `?secret=` for browsers' EventSource. A client that stops reading until 256 updates wait has its stream ended; reconnect for a new update-full. A comment line every 15 s keeps proxies from closing an idle stream.",
    params(EventsQuery),
    responses((status = 200, description = "The event stream; it does not end by itself. Each event is described by UpdateEvent.", content_type = "text/event-stream", body = UpdateEvent)),
    security(("bearer" = []), ("secretQuery" = [])),
)]
pub async fn events(
    State(app): State<Arc<Api>>,
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
        .core
        .subscribe_channel(who, SUBSCRIBER_BUFFER, query.preview, resume)
        .await?;
    // Ends when the server closes connections (a graceful stop): the
    // client's EventSource reconnects, through the balancer, elsewhere.
    let closing = app.shutdown.clone();
    let updates = stream::unfold(subscription, move |mut subscription| {
        let closing = closing.clone();
        async move {
            let update = tokio::select! {
                update = subscription.updates.recv() => update?,
                () = closing.cancelled_owned() => return None,
            };
            let event = Event::default()
                .event(update.event)
                .id(&*update.id)
                .data(&*update.data);
            Some((Ok::<_, Infallible>(event), subscription))
        }
    })
    // The body is polled once more after the stream ended when the server
    // stops (seen in tests/api.rs); fused, the stream keeps answering
    // "ended" rather than panicking, which broke the connection off
    // mid-body instead of ending the response.
    .fuse();
    let sse = Sse::new(updates).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    // Tells nginx not to buffer the stream.
    let no_buffering = (
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(([no_buffering], sse).into_response())
}
