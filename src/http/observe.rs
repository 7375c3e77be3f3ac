//! One span per request (method, route template, caller's user id, status, latency) and the
//! request metrics. The route is the matched template (`/api/v1/images/{id}`), never the raw
//! path; the user is an id, never an email. An access line is logged at `debug` on the
//! `atelier::http::access` target.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

/// The route label of requests no route matched (static files, 404s).
const UNMATCHED: &str = "unmatched";

/// Wraps the request in its span and records it.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        user_id = Empty,
        status = Empty,
        latency_ms = Empty,
    );
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.record("status", status);
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::debug!(target: "atelier::http::access", "request done"));
    crate::metrics::record_http(method.as_str(), &route, status, elapsed);
    response
}

/// Names the caller on the current request's span (called once the session is resolved).
pub fn record_user(user_id: uuid::Uuid) {
    tracing::Span::current().record("user_id", tracing::field::display(user_id));
}
