//! Runs one claimed item on the engine. The engine blocks on its own thread and calls back at
//! each step boundary; there the worker reports progress, stops a cancelled item, and at the
//! end of each quantum asks the database whether to continue or yield (preemption). A watcher
//! task keeps the lease alive and notices cancellation, deletion and higher-band work.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Ctx;
use super::engine::{Control, EngineJob, GrayImage, Outcome, Preview, Resume, RgbImage, Steps};
use super::init_image;
use super::results;
use crate::db::{Caller, begin_as};
use crate::events::audience::Notice;
use crate::queue::claims::{self, Claimed, UnitEnd};
use crate::queue::model::GenerationParams;

/// Signals between the watcher, the step hook and the job's owner task.
#[derive(Default)]
struct Flags {
    /// The item is no longer this worker's: stop.
    lost: AtomicBool,
    /// A higher band has work: end the quantum now.
    higher: AtomicBool,
    /// The worker task is gone (the job future was dropped): stop, write nothing.
    dead: AtomicBool,
}

/// Sets `dead` when the job future is dropped without finishing, as when its worker dies.
struct DeadOnDrop(Arc<Flags>);

impl Drop for DeadOnDrop {
    fn drop(&mut self) {
        self.0.dead.store(true, Ordering::SeqCst);
    }
}

/// Aborts a helper task when the job ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The running unit, when it started, and the steps done.
struct Clock {
    unit: Claimed,
    started: Instant,
    step: i32,
}

/// Runs `unit` until it finishes, fails, is cancelled or yields: from `held` (this worker's
/// in-memory state of it), else from its stored checkpoint, else from the first step. Returns
/// the engine state to keep when it yielded and this worker is staying.
pub(super) async fn run(
    ctx: Arc<Ctx>,
    unit: Claimed,
    held: Option<Box<dyn Any + Send>>,
) -> anyhow::Result<Option<Box<dyn Any + Send>>> {
    let (job, resume) = match prepare(&ctx, &unit, held).await {
        Ok(prepared) => prepared,
        Err(ending) => {
            conclude(&ctx, &unit, ending, 0.0).await?;
            return Ok(None);
        }
    };
    execute(ctx, unit, job, resume).await
}

/// Everything the engine needs from the database: the parameters, the catalogue's locations
/// of the model and its adapters, where to resume from, and the init image and mask. A failure
/// here is the job's ending (retryable where the database was the trouble).
async fn prepare(
    ctx: &Ctx,
    unit: &Claimed,
    held: Option<Box<dyn Any + Send>>,
) -> Result<(EngineJob, Option<Resume>), End> {
    let params: GenerationParams = serde_json::from_value(unit.params.clone())
        .map_err(|e| End::Fail(format!("the job's parameters are invalid: {e}"), false))?;
    let unread = |e: anyhow::Error| End::Fail(format!("the job could not be read: {e:#}"), true);
    let resume = match held {
        Some(held) => Some(Resume::Held(held)),
        None if unit.checkpointed => checkpoint(ctx, unit.id)
            .await
            .map_err(unread)?
            .map(Resume::Checkpoint),
        None => None,
    };
    let model_location = location(ctx, &params.model, "main").await.map_err(unread)?;
    let vae_location = match &params.vae {
        Some(vae) => Some(location(ctx, vae, "vae").await.map_err(unread)?),
        None => None,
    };
    let mut lora_locations = Vec::new();
    for lora in &params.loras {
        let found = location(ctx, &lora.name, "lora").await.map_err(unread)?;
        lora_locations.push((found, lora.weight));
    }
    let from_memory = matches!(resume, Some(Resume::Held(_)));
    let (init_image, mask) = images(ctx, unit.owner_id, &params, from_memory)
        .await
        .map_err(|message| End::Fail(message, false))?;
    let job = EngineJob {
        id: unit.id,
        params,
        model_location,
        vae_location,
        lora_locations,
        init_image,
        mask,
    };
    Ok((job, resume))
}

/// Runs the engine on its own thread with the step hook, a watcher (lease, cancellation,
/// higher bands) and a progress reporter, then records how the unit ended.
async fn execute(
    ctx: Arc<Ctx>,
    unit: Claimed,
    job: EngineJob,
    resume: Option<Resume>,
) -> anyhow::Result<Option<Box<dyn Any + Send>>> {
    let flags = Arc::new(Flags::default());
    let _dead = DeadOnDrop(Arc::clone(&flags));
    let clock = Arc::new(Mutex::new(Clock {
        unit: unit.clone(),
        started: Instant::now(),
        step: unit.step,
    }));
    let (progress_tx, progress_rx) = mpsc::channel(4);
    let _watcher = AbortOnDrop(tokio::spawn(watch(
        Arc::clone(&ctx),
        unit.id,
        unit.band,
        Arc::clone(&flags),
    )));
    let _reporter = AbortOnDrop(tokio::spawn(report(Arc::clone(&ctx), unit.id, progress_rx)));
    let mut hook = Hook {
        rt: Handle::current(),
        ctx: Arc::clone(&ctx),
        flags: Arc::clone(&flags),
        clock: Arc::clone(&clock),
        progress: progress_tx,
        last_step: None,
    };
    let params = job.params.clone();
    let engine = Arc::clone(&ctx.engine);
    let span = tracing::Span::current();
    let outcome = tokio::task::spawn_blocking(move || {
        let _job = span.enter();
        engine.generate(&job, resume, &mut hook)
    })
    .await;
    let (unit, measured, step) = {
        let clock = clock.lock().expect("the clock lock is never poisoned");
        (
            clock.unit.clone(),
            clock.started.elapsed().as_secs_f64(),
            clock.step,
        )
    };
    let ending = match outcome {
        Ok(Ok(Outcome::Suspended(state))) => {
            let staying = !ctx.stopping.load(Ordering::SeqCst);
            let checkpoint = state.checkpoint.as_deref();
            crate::metrics::record_job(if staying { "preempted" } else { "released" });
            let kept =
                persist(|| suspend(&ctx, &unit, measured, step, staying, checkpoint)).await?;
            return Ok((kept && staying).then_some(state.held));
        }
        Ok(Ok(Outcome::Finished(pngs))) => {
            match results::store(&ctx.app, unit.id, unit.owner_id, &params, pngs).await {
                Ok(ids) => End::Finish(ids),
                Err(error) => End::Fail(
                    format!("the images could not be stored: {}", error.message()),
                    false,
                ),
            }
        }
        Ok(Ok(Outcome::Canceled)) if ctx.stopping.load(Ordering::SeqCst) => End::Release,
        Ok(Ok(Outcome::Canceled)) => End::Abandon,
        Ok(Err(error)) => End::Fail(error.message, error.retryable),
        Err(panic) => End::Fail(format!("the engine crashed: {panic}"), true),
    };
    conclude(&ctx, &unit, ending, measured).await?;
    Ok(None)
}

/// Records how a unit ended, retrying while the database is unreachable (see `persist`).
async fn conclude(ctx: &Ctx, unit: &Claimed, ending: End, measured: f64) -> anyhow::Result<()> {
    if let End::Fail(message, _) = &ending {
        tracing::warn!(item = %unit.id, error = %message, "generation failed");
    }
    crate::metrics::record_job(match ending {
        End::Finish(_) => "completed",
        End::Fail(..) => "failed",
        End::Abandon => "canceled",
        End::Release => "released",
    });
    persist(|| end(ctx, unit, &ending, measured)).await
}

/// How long a worker keeps trying to record the end of a unit while the database is
/// unreachable; after that the lease lapses and the item is recovered like a lost worker's.
const PERSIST_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `write` until it succeeds, retrying (200 ms, doubling to 5 s) while its error is the
/// database being unreachable, for up to `PERSIST_FOR`: the outcome of minutes of GPU work is
/// not dropped because PostgreSQL restarted meanwhile.
async fn persist<T, F, Fut>(mut write: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + PERSIST_FOR;
    let mut wait = std::time::Duration::from_millis(200);
    loop {
        match write().await {
            Ok(value) => return Ok(value),
            Err(error)
                if Instant::now() < deadline
                    && crate::db::health::is_unavailable(error.as_ref()) =>
            {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            Err(error) => return Err(error),
        }
    }
}

/// The init image and mask a run starts from, read as their owner (a run resumed from memory
/// already holds them; one resumed from a checkpoint rebuilds its inpainting state from them),
/// or the message that fails the job.
async fn images(
    ctx: &Ctx,
    owner: Uuid,
    params: &GenerationParams,
    from_memory: bool,
) -> Result<(Option<RgbImage>, Option<GrayImage>), String> {
    if from_memory {
        return Ok((None, None));
    }
    let (width, height) = (params.width, params.height);
    let init = match params.init_image_id {
        Some(id) => Some(init_image::load(&ctx.app, owner, id, width, height).await?),
        None => None,
    };
    let mask = match params.mask_image_id {
        Some(id) => Some(init_image::load_mask(&ctx.app, owner, id, width, height).await?),
        None => None,
    };
    Ok((init, mask))
}

/// Where the catalogue keeps the model of this name and type (workers may read `location`, not
/// `source`); None where it is not installed.
async fn location(ctx: &Ctx, name: &str, kind: &str) -> anyhow::Result<Option<String>> {
    let mut client = ctx.app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    let row = tx
        .query_opt(
            "select location from models where name = $1 and type = $2",
            &[&name, &kind],
        )
        .await?;
    tx.commit().await?;
    Ok(row.map(|r| r.get(0)))
}

/// The item's stored checkpoint.
async fn checkpoint(ctx: &Ctx, id: Uuid) -> anyhow::Result<Option<Vec<u8>>> {
    let mut client = ctx.app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    let bytes = claims::checkpoint(&tx, id).await?;
    tx.commit().await?;
    Ok(bytes)
}

/// Gives a suspended item back with its checkpoint; whether it was still this worker's.
async fn suspend(
    ctx: &Ctx,
    unit: &Claimed,
    measured: f64,
    step: i32,
    staying: bool,
    checkpoint: Option<&[u8]>,
) -> anyhow::Result<bool> {
    let mut client = ctx.app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    let name = ctx.name.as_str();
    let kept = claims::suspend(&tx, unit, name, measured, step, staying, checkpoint).await?;
    tx.commit().await?;
    Ok(kept)
}

/// How a unit ends in the database.
enum End {
    Finish(Vec<Uuid>),
    Fail(String, bool),
    /// Cancelled or deleted by someone else: reconcile the charge only.
    Abandon,
    /// This worker is shutting down and the engine stopped without a checkpoint: give the item
    /// back in its place.
    Release,
}

async fn end(ctx: &Ctx, unit: &Claimed, ending: &End, measured: f64) -> anyhow::Result<()> {
    let mut client = ctx.app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    let name = ctx.name.as_str();
    match ending {
        End::Finish(ids) => {
            if !claims::finish(&tx, unit, name, ids, measured).await? {
                tracing::info!(item = %unit.id, "item finished after it stopped being ours");
            }
        }
        End::Fail(message, retryable) => {
            claims::fail(&tx, unit, name, message, *retryable, measured).await?;
        }
        End::Abandon => claims::abandon(&tx, unit, name, measured).await?,
        End::Release => claims::release(&tx, unit, name, measured).await?,
    }
    tx.commit().await?;
    Ok(())
}

/// The step callback, on the engine's thread.
struct Hook {
    rt: Handle,
    ctx: Arc<Ctx>,
    flags: Arc<Flags>,
    clock: Arc<Mutex<Clock>>,
    progress: mpsc::Sender<(u32, u32, Option<Preview>)>,
    /// When the previous step ended (the first step also loads and encodes: not timed).
    last_step: Option<Instant>,
}

impl Steps for Hook {
    fn after_step(&mut self, done: u32, total: u32, preview: Option<Preview>) -> Control {
        let now = Instant::now();
        if let Some(last) = self.last_step.replace(now) {
            crate::metrics::record_step(now - last);
        }
        if self.flags.dead.load(Ordering::SeqCst) {
            return Control::Cancel;
        }
        let _ = self.progress.try_send((done, total, preview));
        if self.flags.lost.load(Ordering::SeqCst) {
            return Control::Cancel;
        }
        let mut clock = self.clock.lock().expect("the clock lock is never poisoned");
        clock.step = i32::try_from(done).unwrap_or(i32::MAX);
        if done >= total {
            return Control::Continue;
        }
        if self.ctx.stopping.load(Ordering::SeqCst) {
            // Leaving: hand the item over where it is.
            return Control::Suspend;
        }
        let elapsed = clock.started.elapsed().as_secs_f64();
        let higher = self.ctx.policy.quantum.is_some() && self.flags.higher.load(Ordering::SeqCst);
        if elapsed < clock.unit.charge && !higher {
            return Control::Continue;
        }
        let step = clock.step;
        let decided = self
            .rt
            .block_on(end_unit(&self.ctx, &mut clock.unit, elapsed, step));
        match decided {
            Ok(UnitEnd::Continue) => {
                clock.started = Instant::now();
                self.flags.higher.store(false, Ordering::SeqCst);
                Control::Continue
            }
            Ok(UnitEnd::Yield) => Control::Suspend,
            Ok(UnitEnd::Lost) => {
                self.flags.lost.store(true, Ordering::SeqCst);
                Control::Cancel
            }
            Err(error) => {
                // Tried again at the next step.
                self.ctx.db.failed(&format!("ending a quantum: {error:#}"));
                Control::Continue
            }
        }
    }
}

async fn end_unit(
    ctx: &Ctx,
    unit: &mut Claimed,
    measured: f64,
    step: i32,
) -> anyhow::Result<UnitEnd> {
    let mut client = ctx.app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    let decided = claims::end_unit(
        &tx,
        unit,
        &ctx.name,
        ctx.lease_secs,
        measured,
        step,
        &ctx.policy,
    )
    .await?;
    tx.commit().await?;
    Ok(decided)
}

/// Keeps the lease alive and watches for cancellation and higher-band work: at once when the
/// database announces a change (LISTEN/NOTIFY), and by polling as a fallback.
async fn watch(ctx: Arc<Ctx>, id: Uuid, band: i16, flags: Arc<Flags>) {
    let heartbeat_every = std::time::Duration::from_secs_f64(ctx.lease_secs / 3.0);
    let mut last_beat = Instant::now();
    let mut notices = ctx.app.events.subscribe();
    loop {
        tokio::select! {
            () = tokio::time::sleep(ctx.watch_every) => {}
            notice = notices.recv() => match notice.as_deref() {
                // A change to our item: look now (a cancel stops at the next step). The notice
                // itself may be stale (our own suspension of it, delivered after we claimed it
                // again), so the database decides.
                Ok(Notice::QueueItem { id: changed, status, .. }) if *changed == id => {
                    if status == "in_progress" {
                        continue;
                    }
                }
                // A new item may be in a higher band: look now.
                Ok(Notice::QueueItem { status, previous: None, .. }) if status == "pending" => {}
                Ok(_) => continue,
                Err(_) => {}
            },
        }
        let beat = last_beat.elapsed() >= heartbeat_every;
        match watch_once(&ctx, id, band, beat).await {
            Ok((mine, higher)) => {
                flags.lost.store(!mine, Ordering::SeqCst);
                flags.higher.store(higher, Ordering::SeqCst);
                if beat {
                    last_beat = Instant::now();
                }
            }
            Err(error) => ctx.db.failed(&format!("watching item {id}: {error:#}")),
        }
    }
}

async fn watch_once(ctx: &Ctx, id: Uuid, band: i16, beat: bool) -> anyhow::Result<(bool, bool)> {
    let mut client = ctx.app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    let (mut mine, higher) = claims::watch(&tx, id, &ctx.name, band).await?;
    if beat && mine {
        mine = claims::heartbeat(&tx, id, &ctx.name, ctx.lease_secs).await?;
    }
    tx.commit().await?;
    Ok((mine, higher))
}

/// Publishes progress, with a small JPEG preview, to the item's owner (via `queue_progress`).
async fn report(ctx: Arc<Ctx>, id: Uuid, mut rx: mpsc::Receiver<(u32, u32, Option<Preview>)>) {
    while let Some((done, total, preview)) = rx.recv().await {
        let preview = preview
            .and_then(|p| super::preview::data_url(&p))
            .unwrap_or_default();
        if let Err(error) = publish(&ctx, id, done, total, &preview).await {
            tracing::debug!(error = ?error, "progress not published");
        }
    }
}

async fn publish(ctx: &Ctx, id: Uuid, done: u32, total: u32, preview: &str) -> anyhow::Result<()> {
    let mut client = ctx.app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    let (done, total) = (i32::try_from(done)?, i32::try_from(total)?);
    tx.execute(
        "select queue_progress($1, $2, $3, $4)",
        &[&id, &done, &total, &preview],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
