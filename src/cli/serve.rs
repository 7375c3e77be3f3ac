//! `atelier serve`: open the database, build the app, listen, and shut down cleanly on
//! SIGINT/SIGTERM (which also stops the embedded PostgreSQL).

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::app::App;
use crate::auth::setup::SetupGate;
use crate::config::Config;
use crate::db::{self, open::Purpose};
use crate::storage::Storage;
use crate::worker::{self, Worker};
use crate::{http, images, telemetry};

/// Runs the server until a shutdown signal.
pub(super) async fn run(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config.log.format, &config.log.filter);
    tracing::info!(multiuser = config.multiuser, data_dir = %config.data_dir.display(), "starting atelier");
    let database = db::open(&config, Purpose::Serve).await?;
    let result = serve_with(&config, &database).await;
    database.close().await?;
    result
}

async fn serve_with(config: &Config, database: &db::Database) -> anyhow::Result<()> {
    let admin_exists = {
        let client = database.pool.get().await?;
        client
            .query_one("select auth_admin_exists()", &[])
            .await?
            .get::<_, bool>(0)
    };
    let setup = SetupGate::prepare(config, admin_exists)?;
    let storage = Storage::from_config(config)?;
    let app = Arc::new(App::new(
        config.clone(),
        database.pool.clone(),
        setup,
        storage,
    )?);
    tokio::spawn(sweep_periodically(Arc::clone(&app)));
    let supervisor = db::health::Supervisor::spawn(
        database.app_config.clone(),
        database.owned_cluster(),
        Arc::clone(&app.db_health),
    );
    let listener_task = app.events.spawn_listener(database.app_config.clone());
    let served = serve_app(config, app).await;
    listener_task.abort();
    // Before the caller stops the cluster: the supervisor must not start it again.
    supervisor.stop().await;
    served
}

/// Runs the in-process worker (if a device is configured) and the HTTP server until a shutdown
/// signal or an error, then stops the worker either way.
async fn serve_app(config: &Config, app: Arc<App>) -> anyhow::Result<()> {
    let worker = match worker::engine::for_device(
        &config.worker.device,
        config.worker.model_memory_bytes(),
    )? {
        Some(engine) => {
            let worker = Worker::new(Arc::clone(&app), engine);
            let stop = worker.stop_handle();
            Some((tokio::spawn(worker.run()), stop))
        }
        None => None,
    };
    let served = async {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("failed to listen on {}", config.listen))?;
        tracing::info!(address = %listener.local_addr()?, "listening");
        crate::systemd::spawn_watchdog(Arc::clone(&app.db_health));
        let s3 = match config.s3.listen {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("failed to listen for S3 on {address}"))?;
                tracing::info!(address = %listener.local_addr()?, "listening for S3");
                let app = Arc::clone(&app);
                Some(tokio::spawn(crate::s3::serve::serve(
                    listener,
                    app,
                    shutdown_signal(),
                )))
            }
            None => None,
        };
        let metrics = crate::metrics::listener::spawn(&app, shutdown_signal()).await?;
        let shutdown = shutdown_signal();
        crate::systemd::ready("serving");
        let served = http::serve(listener, app, shutdown)
            .await
            .context("server error");
        if let Some(s3) = s3 {
            let _ = s3.await;
        }
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        served
    }
    .await;
    tracing::info!("shutting down");
    crate::systemd::stopping();
    if let Some((running, stop)) = worker {
        stop.stop();
        let _ = running.await;
    }
    served
}

/// Collects orphaned objects and unused masks every hour (see `images::sweep` and
/// `images::mask_sweep`), expired sessions, GPU usage older than `queue::usage::KEEP_DAYS`, and
/// transfers that crashed processes left behind.
async fn sweep_periodically(app: Arc<App>) {
    let grace = std::time::Duration::from_secs(app.config.storage.orphan_grace_secs);
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        interval.tick().await;
        match images::sweep::run(&app.storage, &app.db, grace).await {
            Ok(report) => tracing::info!(
                scanned = report.scanned,
                deleted = report.deleted,
                partial = report.partial,
                "storage sweep done"
            ),
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "storage sweep failed"),
        }
        match images::mask_sweep::run(&app.storage, &app.db, images::mask_sweep::KEEP).await {
            Ok(deleted) => tracing::info!(deleted, "unused masks swept"),
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "mask sweep failed"),
        }
        match crate::s3::multipart::sweep(&app.db, &app.storage, crate::s3::multipart::STALE_AFTER)
            .await
        {
            Ok(aborted) => tracing::info!(aborted, "stale S3 multipart uploads aborted"),
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "S3 upload sweep failed"),
        }
        match prune_gpu_usage(&app).await {
            Ok(deleted) => tracing::info!(deleted, "old GPU usage rows pruned"),
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "GPU usage pruning failed"),
        }
        match crate::auth::session::prune_expired(&app.db).await {
            Ok(deleted) => tracing::info!(deleted, "expired sessions pruned"),
            Err(error) => tracing::warn!(error = %error, "session pruning failed"),
        }
        app.models.clean_incoming();
    }
}

async fn prune_gpu_usage(app: &App) -> anyhow::Result<u64> {
    let mut client = app.db.get().await?;
    let tx = crate::db::begin_as(&mut client, &crate::db::Caller::worker()).await?;
    let deleted = crate::queue::usage::prune(&tx).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Completes on SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// the future is first polled: a signal that arrives right after READY=1 must not find the
/// default action (which kills the process without a clean stop).
pub(super) fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut term =
        signal(SignalKind::terminate()).expect("installing a SIGTERM handler cannot fail");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler cannot fail");
    async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    }
}
