//! The worker side of the queue, in SQL: fair claims, quantum ends (continue or yield), leases,
//! finishing, failing, and recovery of items whose worker died. Every statement runs in a
//! transaction opened as the worker role class.
//!
//! Fair dispatch is start-time fair queueing with its state in rows (V7): a user's tag lives in
//! `queue_users`, their head item carries it, and a claim takes the smallest tagged head in the
//! runnable band with `FOR UPDATE SKIP LOCKED`, charging one unit (a quantum or the rest) to the
//! tag; the unit's measured time is reconciled at its end. Every transaction here takes
//! `queue_lock()` first, which makes dispatch one decision at a time across all workers. The
//! arithmetic and the band rule come from `queue::scheduler`.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::scheduler::{self, Band};
use crate::db::cached;

/// How many failures (lost leases, retryable engine errors) fail an item for good. Preemption
/// and hand-over between workers are not failures and are not counted.
pub const MAX_ATTEMPTS: i32 = 3;

/// The dispatch policy: the scheduler's quantum and band caps.
pub type Policy = scheduler::Config;

/// A claimed unit of work.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The item.
    pub id: Uuid,
    /// Its owner: results are written as this user.
    pub owner_id: Uuid,
    /// The generation parameters.
    pub params: serde_json::Value,
    /// Estimated GPU-seconds of the whole item.
    pub est_cost: f64,
    /// How many times a run of it failed (a lost worker, a retryable error).
    pub attempts: i32,
    /// Its band.
    pub band: i16,
    /// Submit order.
    pub seq: i64,
    /// Start tag of the running unit.
    pub vstart: f64,
    /// Estimated GPU-seconds charged for the running unit.
    pub charge: f64,
    /// The owner's scheduler weight.
    pub weight: f64,
    /// Whether this worker suspended it before and may hold its state in memory.
    pub resumed: bool,
    /// Whether a checkpoint of it is stored (any worker can resume from it).
    pub checkpointed: bool,
    /// Denoising steps already done (the step it resumes from).
    pub step: i32,
}

/// What a quantum end decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitEnd {
    /// Run another unit (already charged).
    Continue,
    /// Suspend: stop at this step and give the item back with [`suspend`] (already
    /// reconciled).
    Yield,
    /// The item is no longer this worker's (cancelled, deleted, or its lease lapsed): stop.
    Lost,
}

/// A band row, locked, with its bucket refilled to now.
struct BandState {
    band: Band,
    tokens: f64,
    capped: bool,
    waiting: bool,
}

/// Locks the band rows (serialising dispatch decisions) and reads which bands have work.
async fn lock_bands(
    db: &impl GenericClient,
    policy: &Policy,
) -> Result<Vec<BandState>, tokio_postgres::Error> {
    let rows = cached::query(
        db,
        "select b.band, b.tokens, extract(epoch from now() - b.updated_at)::float8 as elapsed,
                exists (select 1 from queue_items q
                         where q.status = 'pending' and q.band = b.band and q.vstart is not null) as waiting
           from queue_bands b order by b.band desc for update of b",
        &[],
    )
    .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let band = Band::from_db(row.get("band"))?;
            let cap = policy.band_caps.iter().find(|c| c.0 == band);
            let tokens: f64 = row.get("tokens");
            let tokens = match cap {
                Some(&(_, share, window)) => {
                    scheduler::refill(tokens, share, share * window, row.get("elapsed"))
                }
                None => tokens,
            };
            Some(BandState {
                band,
                tokens,
                capped: cap.is_some(),
                waiting: row.get("waiting"),
            })
        })
        .collect())
}

fn runnable(bands: &[BandState]) -> Option<Band> {
    let waiting: Vec<Band> = bands.iter().filter(|b| b.waiting).map(|b| b.band).collect();
    scheduler::runnable_band(&waiting, |band| {
        bands
            .iter()
            .find(|b| b.band == band)
            .is_none_or(|b| !b.capped || b.tokens > 0.0)
    })
}

/// Records a dispatch in the band: its virtual time, and the charge against a capped bucket.
async fn charge_band(
    db: &impl GenericClient,
    bands: &[BandState],
    band: i16,
    vtime: f64,
    charge: f64,
) -> Result<(), tokio_postgres::Error> {
    let state = bands.iter().find(|b| b.band as i16 == band);
    let tokens = state.map_or(0.0, |b| if b.capped { b.tokens - charge } else { 0.0 });
    cached::execute(
        db,
        "update queue_bands set vtime = $2, tokens = $3, updated_at = now() where band = $1",
        &[&band, &vtime, &tokens],
    )
    .await?;
    Ok(())
}

/// Claims the next unit for `worker` with a lease of `lease_secs`, unless the queue is paused
/// or empty: the smallest start tag in the runnable band, preferring this worker's own
/// suspended item on a tie. `held`: the items whose suspended state this worker still has in
/// memory (any other item resumes from its checkpoint, or starts over).
pub async fn claim_next(
    db: &impl GenericClient,
    worker: &str,
    lease_secs: f64,
    policy: &Policy,
    held: &[Uuid],
) -> Result<Option<Claimed>, tokio_postgres::Error> {
    lock(db).await?;
    if cached::query_opt(db, "select 1 from queue_control where paused", &[])
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let bands = lock_bands(db, policy).await?;
    let Some(band) = runnable(&bands) else {
        return Ok(None);
    };
    let band = band as i16;
    let Some(row) = cached::query_opt(
        db,
        "select q.id, q.owner_id, q.est_cost, q.remaining_cost, q.step, coalesce(u.weight, 1) as weight,
                coalesce(q.suspended_by = $2 and q.id = any($3), false) as resumed,
                c.step as checkpoint_step, q.started_at is null as first_start,
                extract(epoch from now() - q.created_at)::float8 as waited
           from queue_items q left join queue_users u on u.user_id = q.owner_id
                left join queue_checkpoints c on c.item_id = q.id
          where q.status = 'pending' and q.band = $1 and q.vstart is not null
          order by q.vstart, q.suspended_by is distinct from $2, q.seq
          for update of q skip locked limit 1",
        &[&band, &worker, &held],
    )
    .await?
    else {
        return Ok(None);
    };
    let id: Uuid = row.get("id");
    if row.get::<_, bool>("first_start") {
        crate::metrics::record_queue_wait(band, row.get("waited"));
    }
    let weight: f64 = row.get("weight");
    let resumed: bool = row.get("resumed");
    let checkpoint_step: Option<i32> = row.get("checkpoint_step");
    let mut remaining: f64 = row.get::<_, Option<f64>>("remaining_cost").unwrap_or(0.0);
    let step = if resumed {
        row.get("step")
    } else {
        checkpoint_step.unwrap_or(0)
    };
    if !resumed && checkpoint_step.is_none() {
        // A restart from the first step: the owner is refunded what the lost progress cost.
        let estimate: f64 = row.get("est_cost");
        if remaining < estimate {
            charge_user(
                db,
                row.get("owner_id"),
                band,
                -(estimate - remaining) / weight,
            )
            .await?;
            remaining = estimate;
        }
    }
    let charge = unit_charge(remaining, policy);
    let row = cached::query_one(
        db,
        "update queue_items q
            set status = 'in_progress', worker = $2, step = $5,
                lease_until = now() + make_interval(secs => $3),
                started_at = coalesce(q.started_at, now()),
                charged = $4, remaining_cost = greatest($6::float8 - $4::float8, 0),
                suspended_by = null
          where q.id = $1
         returning q.id, q.owner_id, q.params, q.est_cost, q.attempts, q.band, q.seq, q.vstart",
        &[&id, &worker, &lease_secs, &charge, &step, &remaining],
    )
    .await?;
    let owner_id: Uuid = row.get("owner_id");
    let vstart: f64 = row.get::<_, Option<f64>>("vstart").unwrap_or(0.0);
    charge_user(db, owner_id, band, charge / weight).await?;
    charge_band(db, &bands, band, vstart, charge).await?;
    Ok(Some(Claimed {
        id,
        owner_id,
        params: row.get("params"),
        est_cost: row.get("est_cost"),
        attempts: row.get("attempts"),
        band,
        seq: row.get("seq"),
        vstart,
        charge,
        weight,
        resumed,
        checkpointed: checkpoint_step.is_some(),
        step,
    }))
}

/// Takes the dispatch lock for the rest of the transaction.
async fn lock(db: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    cached::execute(db, "select queue_lock()", &[])
        .await
        .map(drop)
}

/// Moves the owner's tag (and their head item) by `delta`.
async fn charge_user(
    db: &impl GenericClient,
    owner: Uuid,
    band: i16,
    delta: f64,
) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "select queue_charge($1, $2, $3)",
        &[&owner, &band, &delta],
    )
    .await
    .map(drop)
}

/// The owner's tag now.
async fn tag_of(db: &impl GenericClient, owner: Uuid) -> Result<f64, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select finish_tag from queue_users where user_id = $1",
        &[&owner],
    )
    .await?;
    Ok(row.map_or(0.0, |r| r.get(0)))
}

/// One unit's charge; a job that outlived its estimate is still charged at least a quantum
/// (or a second), and reconciled with the measured time as usual.
fn unit_charge(remaining: f64, policy: &Policy) -> f64 {
    let floor = policy.quantum.unwrap_or(1.0);
    if remaining > 0.0 {
        scheduler::unit_charge(remaining, policy.quantum)
    } else {
        floor
    }
}

/// Reconciles the running unit's charge with the measured GPU-seconds: the owner's tag moves by
/// `(measured - charged) / weight`. Runs once per unit, whatever the item's status now is.
async fn reconcile(
    db: &impl GenericClient,
    unit: &Claimed,
    worker: &str,
    measured: f64,
) -> Result<(), tokio_postgres::Error> {
    lock(db).await?;
    let measured = if measured.is_finite() && measured >= 0.0 {
        measured
    } else {
        unit.charge
    };
    let n = cached::execute(
        db,
        "update queue_items set charged = null where id = $1 and worker = $2 and charged is not null",
        &[&unit.id, &worker],
    )
    .await?;
    if n == 1 {
        let delta = (measured - unit.charge) / unit.weight;
        charge_user(db, unit.owner_id, unit.band, delta).await?;
        super::usage::record(db, unit.owner_id, unit.band, measured).await?;
        crate::metrics::record_gpu_seconds(unit.band, measured);
    }
    Ok(())
}

/// At the end of a quantum: reconciles the unit, then either charges another unit (nobody with
/// a smaller tag, and no higher band, is waiting) or tells the worker to yield, which it does
/// with [`suspend`] once the engine has stopped and written its checkpoint. `unit` is updated to
/// the new unit on `Continue`.
pub async fn end_unit(
    db: &impl GenericClient,
    unit: &mut Claimed,
    worker: &str,
    lease_secs: f64,
    measured: f64,
    step: i32,
    policy: &Policy,
) -> Result<UnitEnd, tokio_postgres::Error> {
    lock(db).await?;
    let bands = lock_bands(db, policy).await?;
    let mine = cached::query_opt(
        db,
        "select remaining_cost from queue_items
          where id = $1 and worker = $2 and status = 'in_progress' for update",
        &[&unit.id, &worker],
    )
    .await?;
    reconcile(db, unit, worker, measured).await?;
    let Some(mine) = mine else {
        return Ok(UnitEnd::Lost);
    };
    let remaining: f64 = mine.get::<_, Option<f64>>(0).unwrap_or(0.0);
    let tag = tag_of(db, unit.owner_id).await?;
    let higher = runnable(&bands).is_some_and(|b| b as i16 > unit.band);
    let smaller = cached::query_opt(
        db,
        "select 1 from queue_items
          where status = 'pending' and vstart is not null and band = $1 and owner_id <> $2
            and vstart < $3 limit 1",
        &[&unit.band, &unit.owner_id, &tag],
    )
    .await?
    .is_some();
    if policy.quantum.is_some() && (higher || smaller) {
        return Ok(UnitEnd::Yield);
    }
    let charge = unit_charge(remaining, policy);
    cached::execute(
        db,
        "update queue_items
            set vstart = $2, charged = $3, remaining_cost = greatest(coalesce(remaining_cost, 0) - $3, 0),
                step = $4, lease_until = now() + make_interval(secs => $5)
          where id = $1",
        &[&unit.id, &tag, &charge, &step, &lease_secs],
    )
    .await?;
    charge_user(db, unit.owner_id, unit.band, charge / unit.weight).await?;
    charge_band(db, &bands, unit.band, tag, charge).await?;
    unit.vstart = tag;
    unit.charge = charge;
    Ok(UnitEnd::Continue)
}

/// Extends the lease. Returns false if the item is no longer this worker's (cancelled,
/// deleted, requeued), which tells the worker to stop at the next step boundary.
pub async fn heartbeat(
    db: &impl GenericClient,
    id: Uuid,
    worker: &str,
    lease_secs: f64,
) -> Result<bool, tokio_postgres::Error> {
    let n = cached::execute(
        db,
        "update queue_items set lease_until = now() + make_interval(secs => $3)
         where id = $1 and worker = $2 and status = 'in_progress'",
        &[&id, &worker, &lease_secs],
    )
    .await?;
    Ok(n == 1)
}

/// Whether the item is still this worker's, and whether a higher band has work waiting (a
/// reason to end the quantum early). Cheap: polled while a unit runs.
pub async fn watch(
    db: &impl GenericClient,
    id: Uuid,
    worker: &str,
    band: i16,
) -> Result<(bool, bool), tokio_postgres::Error> {
    let row = cached::query_one(
        db,
        "select exists (select 1 from queue_items where id = $1 and worker = $2 and status = 'in_progress'),
                exists (select 1 from queue_items where status = 'pending' and band > $3)",
        &[&id, &worker, &band],
    )
    .await?;
    Ok((row.get(0), row.get(1)))
}

/// Completes the item with its result images, reconciling the last unit. Idempotent by item
/// id: only the worker holding the lease completes it, once; otherwise nothing changes and the
/// result is false.
pub async fn finish(
    db: &impl GenericClient,
    unit: &Claimed,
    worker: &str,
    images: &[Uuid],
    measured: f64,
) -> Result<bool, tokio_postgres::Error> {
    reconcile(db, unit, worker, measured).await?;
    let n = cached::execute(
        db,
        "update queue_items
            set status = 'completed', result_image_ids = $3, finished_at = now(), lease_until = null
          where id = $1 and worker = $2 and status = 'in_progress'",
        &[&unit.id, &worker, &images],
    )
    .await?;
    Ok(n == 1)
}

/// Ends a unit that stopped because the item was cancelled: reconciles its charge only.
pub async fn abandon(
    db: &impl GenericClient,
    unit: &Claimed,
    worker: &str,
    measured: f64,
) -> Result<(), tokio_postgres::Error> {
    reconcile(db, unit, worker, measured).await
}

/// Puts a suspended item back into the queue at its owner's tag, with `step` steps done and the
/// engine's `checkpoint` (when it wrote one) stored for whichever worker claims it next. The
/// worker that suspended it stays its `suspended_by` (it may resume from memory, and wins ties)
/// unless it is leaving (`holding` false). Reconciles the unit if the quantum end did not.
/// Returns whether the item was still this worker's.
pub async fn suspend(
    db: &impl GenericClient,
    unit: &Claimed,
    worker: &str,
    measured: f64,
    step: i32,
    holding: bool,
    checkpoint: Option<&[u8]>,
) -> Result<bool, tokio_postgres::Error> {
    reconcile(db, unit, worker, measured).await?;
    if let Some(data) = checkpoint {
        cached::execute(
            db,
            "insert into queue_checkpoints (item_id, step, remaining, data)
             select q.id, $2, coalesce(q.remaining_cost, 0), $3 from queue_items q
              where q.id = $1 and q.worker = $4 and q.status = 'in_progress'
             on conflict (item_id) do update
                set step = excluded.step, remaining = excluded.remaining, data = excluded.data,
                    created_at = now()",
            &[&unit.id, &step, &data, &worker],
        )
        .await?;
    }
    let holder = holding.then_some(worker);
    let n = cached::execute(
        db,
        "update queue_items
            set status = 'pending', suspended_by = $3, worker = null, lease_until = null, step = $4
          where id = $1 and worker = $2 and status = 'in_progress'",
        &[&unit.id, &worker, &holder, &step],
    )
    .await?;
    Ok(n == 1)
}

/// The stored checkpoint of an item, if any.
pub async fn checkpoint(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select data from queue_checkpoints where item_id = $1",
        &[&id],
    )
    .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Gives the item back in its place without a checkpoint (this worker is shutting down and its
/// engine stopped without one): it starts over elsewhere, and the owner is refunded. Not a
/// failure.
pub async fn release(
    db: &impl GenericClient,
    unit: &Claimed,
    worker: &str,
    measured: f64,
) -> Result<(), tokio_postgres::Error> {
    reconcile(db, unit, worker, measured).await?;
    let n = cached::execute(
        db,
        "update queue_items
            set status = 'pending', worker = null, lease_until = null, suspended_by = null
          where id = $1 and worker = $2 and status = 'in_progress'",
        &[&unit.id, &worker],
    )
    .await?;
    if n == 1 {
        drop_checkpoint(db, unit.id).await?;
    }
    Ok(())
}

/// Deletes an item's checkpoint: it starts over at its next claim, whose owner is refunded
/// what the lost progress cost (see `claim_next`).
async fn drop_checkpoint(db: &impl GenericClient, id: Uuid) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "delete from queue_checkpoints where item_id = $1",
        &[&id],
    )
    .await
    .map(drop)
}

/// Fails the item; a retryable failure with attempts left puts it back in its place, to start
/// over (its checkpoint is dropped: the failure may have come from it).
pub async fn fail(
    db: &impl GenericClient,
    unit: &Claimed,
    worker: &str,
    error: &str,
    retryable: bool,
    measured: f64,
) -> Result<bool, tokio_postgres::Error> {
    reconcile(db, unit, worker, measured).await?;
    let n = cached::execute(
        db,
        "update queue_items
            set status = case when $4 and attempts + 1 < $5 then 'pending' else 'failed' end,
                attempts = attempts + 1,
                error = $3, worker = null, lease_until = null, step = 0, suspended_by = null,
                finished_at = case when $4 and attempts + 1 < $5 then null else now() end
          where id = $1 and worker = $2 and status = 'in_progress'",
        &[&unit.id, &worker, &error, &retryable, &MAX_ATTEMPTS],
    )
    .await?;
    if n == 1 {
        drop_checkpoint(db, unit.id).await?;
    }
    Ok(n == 1)
}

/// Returns items whose lease expired (their worker died) to `pending`, keeping their place (their
/// tag) and resuming from their last checkpoint if they have one (the owner is refunded the
/// charges for the progress lost since); the loss counts as a failure, and items out of attempts
/// fail. Also cancels the unfinished items of deactivated owners. Returns the number of items
/// changed.
pub async fn recover(db: &impl GenericClient) -> Result<u64, tokio_postgres::Error> {
    lock(db).await?;
    let lost = cached::query(
        db,
        "with lost as (
             select q.id, q.remaining_cost, c.step as checkpoint_step, c.remaining as restored,
                    coalesce(u.weight, 1) as weight
               from queue_items q
               left join queue_checkpoints c on c.item_id = q.id
               left join queue_users u on u.user_id = q.owner_id
              where q.status = 'in_progress' and q.lease_until < now()
              for update of q
         )
         update queue_items q
            set status = case when q.attempts + 1 < $1 then 'pending' else 'failed' end,
                attempts = q.attempts + 1,
                error = case when q.attempts + 1 < $1 then q.error else 'the worker was lost too often' end,
                finished_at = case when q.attempts + 1 < $1 then null else now() end,
                worker = null, lease_until = null, charged = null, suspended_by = null,
                step = coalesce(l.checkpoint_step, 0),
                remaining_cost = coalesce(l.restored, q.remaining_cost)
           from lost l
          where q.id = l.id
         returning q.owner_id, q.band, q.status,
                   coalesce(l.restored, l.remaining_cost) - coalesce(l.remaining_cost, 0) as refund,
                   l.weight",
        &[&MAX_ATTEMPTS],
    )
    .await?;
    for row in &lost {
        let refund: f64 = row.get::<_, Option<f64>>("refund").unwrap_or(0.0);
        if row.get::<_, String>("status") == "pending" && refund > 0.0 {
            let weight: f64 = row.get("weight");
            charge_user(db, row.get("owner_id"), row.get("band"), -refund / weight).await?;
        }
    }
    let requeued = lost.len() as u64;
    let rejected = cached::execute(
        db,
        "update queue_items q set status = 'canceled', error = 'the owner is deactivated', finished_at = now()
          where q.status in ('pending', 'in_progress')
            and exists (select 1 from users u where u.id = q.owner_id and not u.is_active)",
        &[],
    )
    .await?;
    // A safety net for edits made outside the app (psql): every owner with pending items in a
    // band has a tagged head.
    let untagged = cached::query(
        db,
        "select distinct q.owner_id, q.band from queue_items q
          where q.status = 'pending'
            and not exists (select 1 from queue_items h
                             where h.owner_id = q.owner_id and h.band = q.band
                               and h.status = 'pending' and h.vstart is not null)",
        &[],
    )
    .await?;
    for row in &untagged {
        let (owner, band): (Uuid, i16) = (row.get(0), row.get(1));
        charge_user(db, owner, band, 0.0).await?;
    }
    Ok(requeued + rejected + untagged.len() as u64)
}
