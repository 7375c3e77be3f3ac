//! `atelier worker`: a generation worker on its own, for scale-out. It needs the engine for
//! `worker.device` and the queue's database (`database.url`, or the embedded cluster of a
//! server running on this data directory: it never starts that cluster itself); SIGINT/SIGTERM
//! give its current item back.

use std::sync::Arc;

use crate::app::App;
use crate::auth::setup::SetupGate;
use crate::config::Config;
use crate::db::{self, open::Purpose};
use crate::storage::Storage;
use crate::telemetry;
use crate::worker::{Worker, engine};

/// Runs a worker until a shutdown signal.
pub(super) async fn run(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config.log.format, &config.log.filter);
    let Some(engine) =
        engine::for_device(&config.worker.device, config.worker.model_memory_bytes())?
    else {
        anyhow::bail!("worker.device is \"none\": set it to the engine's device to run a worker");
    };
    let database = db::open(&config, Purpose::Worker).await?;
    let storage = Storage::from_config(&config)?;
    let staging = format!("worker-{}", std::process::id());
    let app = App::with_staging(
        config,
        database.pool.clone(),
        SetupGate::closed(),
        storage,
        &staging,
    )?;
    app.events.spawn_listener(database.app_config.clone());
    let app = Arc::new(app);
    let supervisor = db::health::Supervisor::spawn(
        database.app_config.clone(),
        database.owned_cluster(),
        Arc::clone(&app.db_health),
    );
    crate::systemd::spawn_watchdog(Arc::clone(&app.db_health));
    crate::metrics::listener::spawn(&app, super::serve::shutdown_signal()).await?;
    let worker = Worker::new(app, engine);
    let stop = worker.stop_handle();
    let signalled = super::serve::shutdown_signal();
    tokio::spawn(async move {
        signalled.await;
        crate::systemd::stopping();
        stop.stop();
    });
    crate::systemd::ready("working");
    worker.run().await;
    supervisor.stop().await;
    database.close().await
}
