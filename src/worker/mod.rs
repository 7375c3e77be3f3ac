//! The generation worker: claims items fairly from the PostgreSQL queue, runs them on an
//! [`engine::Engine`], writes results as each item's owner, and recovers items whose worker
//! died. Runs inside `atelier serve` when an engine device is configured, or alone as
//! `atelier worker` (any number of them, on any machines, sharing one queue).

pub mod engine;
mod init_image;
mod job;
mod preview;
pub mod registry;
pub mod results;
pub mod routes;

use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

use tokio::sync::Notify;
use uuid::Uuid;

use crate::app::App;
use crate::db::health::Outage;
use crate::db::{Caller, begin_as};
use crate::queue::claims::{self, Claimed, Policy};
use crate::queue::scheduler::Band;
use engine::Engine;

/// How often a worker returns dead workers' items to the queue.
const RECOVER_EVERY: Duration = Duration::from_secs(5);
/// Suspended runs a worker keeps in memory (fewer than the tch engine keeps, so the engine never
/// drops one the worker still holds); older ones resume from their checkpoints.
const MAX_HELD: usize = 8;

/// Engine states of items this worker suspended, oldest first.
type Held = VecDeque<(Uuid, Box<dyn Any + Send>)>;

/// What every part of a worker shares.
pub(crate) struct Ctx {
    app: Arc<App>,
    engine: Arc<dyn Engine>,
    name: String,
    policy: Policy,
    lease_secs: f64,
    poll: Duration,
    watch_every: Duration,
    stopping: AtomicBool,
    wake: Notify,
    /// The database as this worker meets it: an outage is logged once, not at every poll.
    db: Outage,
}

/// A worker, ready to run.
pub struct Worker {
    ctx: Arc<Ctx>,
    /// Engine states of items this worker suspended (a mutex only to make the worker `Sync`).
    held: Mutex<Held>,
}

/// A handle that stops a running worker: it finishes nothing new, and gives its current item
/// back at the next step boundary.
#[derive(Clone)]
pub struct StopHandle(Arc<Ctx>);

impl StopHandle {
    /// Asks the worker to stop.
    pub fn stop(&self) {
        self.0.stopping.store(true, Ordering::SeqCst);
        self.0.wake.notify_waiters();
    }
}

impl Worker {
    /// A worker named by `worker.name` (default `hostname-pid`) with the configured policy.
    pub fn new(app: Arc<App>, engine: Arc<dyn Engine>) -> Self {
        let name = app.config.worker.name.clone().unwrap_or_else(default_name);
        Self::named(app, engine, name)
    }

    /// A worker with an explicit name (several workers in one process need distinct names).
    pub fn named(app: Arc<App>, engine: Arc<dyn Engine>, name: String) -> Self {
        let config = &app.config.worker;
        let quantum = (config.quantum_secs > 0.0).then_some(config.quantum_secs);
        let policy = Policy {
            quantum,
            affinity_slack: 0.0,
            band_caps: vec![(Band::Admin, config.admin_band_share, 600.0)],
        };
        let poll = Duration::from_millis(config.poll_ms.max(10));
        let ctx = Ctx {
            lease_secs: config.lease_secs,
            watch_every: poll.min(Duration::from_millis(250)),
            poll,
            app,
            engine,
            name,
            policy,
            stopping: AtomicBool::new(false),
            wake: Notify::new(),
            db: Outage::new("the worker's database"),
        };
        Self {
            ctx: Arc::new(ctx),
            held: Mutex::new(VecDeque::new()),
        }
    }

    /// The name this worker writes into leases.
    pub fn name(&self) -> &str {
        &self.ctx.name
    }

    /// A handle that stops this worker.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(Arc::clone(&self.ctx))
    }

    /// Claims and runs items until stopped.
    pub async fn run(self) {
        tracing::info!(worker = %self.ctx.name, "worker started");
        let reporter = tokio::spawn(report_every_period(Arc::clone(&self.ctx)));
        let mut last_recover: Option<Instant> = None;
        while !self.ctx.stopping.load(Ordering::SeqCst) {
            if last_recover.is_none_or(|at| at.elapsed() >= RECOVER_EVERY) {
                last_recover = Some(Instant::now());
                if let Err(error) = self.recover().await {
                    self.ctx
                        .db
                        .failed(&format!("recovering lost items: {error:#}"));
                }
            }
            match self.claim().await {
                Ok(Some(unit)) => {
                    self.ctx.db.recovered();
                    self.run_unit(unit).await;
                    // A unit may have loaded or unloaded models: report at once.
                    let memory = self.ctx.engine.memory();
                    if let Err(error) =
                        registry::report(&self.ctx.app, &self.ctx.name, &memory).await
                    {
                        self.ctx
                            .db
                            .failed(&format!("reporting this worker: {error:#}"));
                    }
                }
                Ok(None) => {
                    self.ctx.db.recovered();
                    self.idle().await;
                }
                Err(error) => {
                    self.ctx.db.failed(&format!("claiming: {error:#}"));
                    self.idle().await;
                }
            }
        }
        reporter.abort();
        if let Err(error) = registry::forget(&self.ctx.app, &self.ctx.name).await {
            tracing::warn!(error = %format!("{error:#}"), "removing this worker's report failed");
        }
        tracing::info!(worker = %self.ctx.name, "worker stopped");
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().expect("the held list is never poisoned")
    }

    /// Takes the in-memory state of `id`, if this worker holds it.
    fn take_held(&self, id: Uuid) -> Option<Box<dyn Any + Send>> {
        let mut held = self.held();
        let index = held.iter().position(|(item, _)| *item == id)?;
        held.remove(index).map(|(_, state)| state)
    }

    async fn idle(&self) {
        let notified = self.ctx.wake.notified();
        if self.ctx.stopping.load(Ordering::SeqCst) {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(self.ctx.poll) => {},
            () = notified => {},
        }
    }

    async fn claim(&self) -> anyhow::Result<Option<Claimed>> {
        let ctx = &self.ctx;
        let mut client = ctx.app.db.get().await?;
        let tx = begin_as(&mut client, &Caller::worker()).await?;
        let held: Vec<Uuid> = self.held().iter().map(|(id, _)| *id).collect();
        let unit = claims::claim_next(&tx, &ctx.name, ctx.lease_secs, &ctx.policy, &held).await?;
        tx.commit().await?;
        Ok(unit)
    }

    async fn recover(&self) -> anyhow::Result<()> {
        let mut client = self.ctx.app.db.get().await?;
        let tx = begin_as(&mut client, &Caller::worker()).await?;
        let changed = claims::recover(&tx).await?;
        tx.commit().await?;
        if changed > 0 {
            tracing::info!(items = changed, "returned or rejected lost items");
        }
        Ok(())
    }

    async fn run_unit(&self, unit: Claimed) {
        let state = self.take_held(unit.id);
        let held = if unit.resumed { state } else { None };
        let id = unit.id;
        tracing::info!(item = %id, held = held.is_some(), step = unit.step, charge = unit.charge, "running");
        let span = tracing::info_span!("job", item = %id, band = unit.band);
        match job::run(Arc::clone(&self.ctx), unit, held)
            .instrument(span)
            .await
        {
            Ok(Some(state)) => {
                let mut held = self.held();
                if held.len() >= MAX_HELD {
                    held.pop_front();
                }
                held.push_back((id, state));
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), item = %id, "recording the outcome failed")
            }
        }
    }
}

/// Reports the engine's device and memory to the `workers` table until aborted.
async fn report_every_period(ctx: Arc<Ctx>) {
    let mut ticks = tokio::time::interval(registry::REPORT_EVERY);
    loop {
        ticks.tick().await;
        if let Err(error) = registry::report(&ctx.app, &ctx.name, &ctx.engine.memory()).await {
            ctx.db.failed(&format!("reporting this worker: {error:#}"));
        }
    }
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}", std::process::id())
}
