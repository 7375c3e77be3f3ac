//! The `metrics.listen` endpoint: `GET /metrics` in Prometheus' text format, on its own
//! listener (keep it off the public network). Gauges that describe the shared queue are read
//! from the database at each scrape, as a worker (which sees every item, redacted of nothing
//! it exports: only counts).

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::gauge;
use tokio::net::TcpListener;

use super::{DB_POOL, QUEUE_ITEMS, QUEUE_OLDEST, WORKERS_ONLINE, band_label};
use crate::app::App;
use crate::db::{Caller, begin_as};

/// With `metrics.listen` set: installs the recorder, binds, and serves `/metrics` in the
/// background until `shutdown` completes.
pub async fn spawn(
    app: &Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Option<tokio::task::JoinHandle<std::io::Result<()>>>> {
    let Some(address) = app.config.metrics.listen else {
        return Ok(None);
    };
    super::install()?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to listen for metrics on {address}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving metrics");
    Ok(Some(tokio::spawn(serve(
        listener,
        Arc::clone(app),
        shutdown,
    ))))
}

/// Serves `/metrics` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = Router::new().route("/metrics", get(scrape)).with_state(app);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn scrape(State(app): State<Arc<App>>) -> Response {
    let Ok(handle) = super::install() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    pool_gauges(&app);
    if let Err(error) = queue_gauges(&app).await {
        // The rest still answers: an outage is what an operator most needs numbers for.
        tracing::debug!(error = %format!("{error:#}"), "queue gauges unavailable for this scrape");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

fn pool_gauges(app: &App) {
    let status = app.db.status();
    let waiting = status.waiting as f64;
    gauge!(DB_POOL, "state" => "size").set(status.size as f64);
    gauge!(DB_POOL, "state" => "available").set(status.available as f64);
    gauge!(DB_POOL, "state" => "waiting").set(waiting);
    gauge!(DB_POOL, "state" => "max").set(status.max_size as f64);
}

async fn queue_gauges(app: &App) -> anyhow::Result<()> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    for depth in crate::queue::usage::depth(&tx).await? {
        let band = band_label(depth.band);
        gauge!(QUEUE_ITEMS, "band" => band, "status" => "pending").set(depth.pending as f64);
        gauge!(QUEUE_ITEMS, "band" => band, "status" => "in_progress")
            .set(depth.in_progress as f64);
        gauge!(QUEUE_OLDEST, "band" => band).set(depth.oldest_pending_secs);
    }
    let online = crate::worker::registry::online_count(&tx).await?;
    gauge!(WORKERS_ONLINE).set(online as f64);
    tx.commit().await?;
    Ok(())
}
