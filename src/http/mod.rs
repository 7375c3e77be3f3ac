//! The HTTP surface: router composition, health probes, the OpenAPI document, JSON 404/405
//! fallbacks, request tracing and metrics (`observe`), and the `serve` loop with graceful
//! shutdown.

pub mod client_addr;
pub mod extract;
pub mod observe;
pub mod openapi;
pub mod origin;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use tokio::net::TcpListener;

use crate::app::App;
use crate::error::{ApiError, ErrorCode};
use crate::{auth, boards, events, images, models, queue, users, web, worker};

/// JSON request bodies above this size are refused (uploads get their own limits).
const JSON_BODY_LIMIT: usize = 256 * 1024;

/// The whole application router.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(auth::routes::router())
        .merge(users::routes::router())
        .merge(boards::routes::router())
        .merge(queue::routes::router())
        .merge(queue::prompt_tokens::router())
        .merge(events::socket::router())
        .merge(models::routes::router())
        .merge(images::routes::router(app.config.storage.max_upload_bytes))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(web::state::router())
        .merge(worker::routes::router())
        .merge(crate::s3::routes::router())
        .fallback(web::assets::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            origin::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            count_database_refusals,
        ))
        // 5xx answers are not logged here: internal errors log their cause once (`error`), and
        // outages once per outage (`db::health`), not once per request.
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(app)
}

/// Serves `router` on `listener` until `shutdown` completes, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    // No Nagle: a streamed body is written after its headers, and with Nagle on that second
    // small write waits for the client's delayed ACK (measured: 40 ms per image on keep-alive).
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "failed to set TCP_NODELAY");
        }
    });
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn openapi_json() -> Json<&'static serde_json::Value> {
    Json(openapi::document())
}

/// Liveness: fails only when the database has been unreachable for longer than
/// `database.unhealthy_after_secs`, which a restart of this process might cure.
async fn healthz(State(app): State<Arc<App>>) -> Result<&'static str, ApiError> {
    if app.db_health.is_unhealthy() {
        return Err(ApiError::database_unavailable());
    }
    Ok("ok")
}

/// Readiness: the database answers now.
async fn readyz(State(app): State<Arc<App>>) -> Result<&'static str, ApiError> {
    if app.db_health.is_down() {
        return Err(ApiError::database_unavailable());
    }
    let client = app.db.get().await?;
    client.simple_query("select 1").await?;
    Ok("ready")
}

/// Counts responses refused for an unavailable database (logged once when it recovers).
async fn count_database_refusals(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    if response
        .extensions()
        .get::<crate::error::RefusedForDatabase>()
        .is_some()
    {
        app.db_health.refused_one();
        crate::metrics::record_db_refused();
    }
    response
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not accept that method",
    )
}
