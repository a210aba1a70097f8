//! `/healthz` and `/metrics`: what a load balancer and Prometheus ask of
//! a node.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::drain::Drain;
use crate::metrics::Metrics;
use crate::store::Database;

/// What health and metrics read.
pub struct Probes {
    pub store: Arc<dyn Database>,
    pub metrics: Arc<Metrics>,
    /// Draining (SIGTERM): unhealthy from then on, whatever storage says.
    pub drain: Drain,
}

/// What a draining node answers, so whoever reads the balancer's log or
/// runs `curl /healthz` sees why it left.
pub const DRAINING: &str =
    "draining: this node is shutting down (SIGTERM); new clients go to the other nodes\n";

/// 200 when the server can serve and storage accepts a write; 503 while
/// it drains before a stop.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    operation_id = "healthz",
    summary = "Health",
    description = "Public. 200 when the server can serve and storage accepts a write; 503 while it drains before a stop (SIGTERM).",
    responses(
        (status = 200, description = "Healthy: `ok`.", body = String, content_type = "text/plain"),
        (status = 503, description = "Draining before a stop (the body starts `draining:`), or storage is not writable or did not answer within 3 s.", body = String, content_type = "text/plain"),
    ),
)]
pub async fn healthz(State(app): State<Arc<Probes>>) -> Response {
    if app.drain.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, DRAINING).into_response();
    }
    match tokio::time::timeout(Duration::from_secs(3), app.store.check_writable()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("storage not writable: {e}\n"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "storage did not answer within 3 s\n",
        )
            .into_response(),
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "Public.",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format.", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
    ),
)]
pub async fn metrics(State(app): State<Arc<Probes>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
