//! The worker side of the queue, in SQL: claim the next pending item with a lease
//! (`FOR UPDATE SKIP LOCKED`, so several workers on several machines share one queue), extend
//! the lease, finish or fail an item, and return items whose worker died to `pending` with
//! their place kept. Every statement runs in a transaction opened as the worker role class.
//!
//! Claim order is band, then submit order. The fair-share order (`queue::scheduler`) is applied
//! by a dispatcher that picks the item id; that dispatcher is not built yet.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::db::cached;

/// How often an item may be claimed before a lost lease fails it.
pub const MAX_ATTEMPTS: i32 = 3;

/// A claimed item.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The item.
    pub id: Uuid,
    /// Its owner: results are written as this user.
    pub owner_id: Uuid,
    /// The generation parameters.
    pub params: serde_json::Value,
    /// Estimated GPU-seconds.
    pub est_cost: f64,
    /// How many times it has been claimed, this time included.
    pub attempts: i32,
}

/// Claims the next pending item for `worker` with a lease of `lease_secs`, unless the queue is
/// paused or empty.
pub async fn claim_next(
    db: &impl GenericClient,
    worker: &str,
    lease_secs: f64,
) -> Result<Option<Claimed>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "with next as (
             select q.id from queue_items q
             where q.status = 'pending' and not exists (select 1 from queue_control where paused)
             order by q.band desc, q.seq
             for update skip locked
             limit 1)
         update queue_items q
            set status = 'in_progress', worker = $1, attempts = q.attempts + 1,
                lease_until = now() + make_interval(secs => $2),
                started_at = coalesce(q.started_at, now())
           from next where q.id = next.id
         returning q.id, q.owner_id, q.params, q.est_cost, q.attempts",
        &[&worker, &lease_secs],
    )
    .await?;
    Ok(row.map(|r| Claimed {
        id: r.get("id"),
        owner_id: r.get("owner_id"),
        params: r.get("params"),
        est_cost: r.get("est_cost"),
        attempts: r.get("attempts"),
    }))
}

/// Extends the lease; false if the item is no longer this worker's (cancelled or requeued).
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

/// Completes the item with its result images. Idempotent by item id: only the worker holding
/// the lease can complete it, once; a second call changes nothing and returns false.
pub async fn finish(
    db: &impl GenericClient,
    id: Uuid,
    worker: &str,
    images: &[Uuid],
    measured_secs: f64,
) -> Result<bool, tokio_postgres::Error> {
    let n = cached::execute(
        db,
        "update queue_items
            set status = 'completed', result_image_ids = $3, measured_cost = $4,
                finished_at = now(), lease_until = null
          where id = $1 and worker = $2 and status = 'in_progress'",
        &[&id, &worker, &images, &measured_secs],
    )
    .await?;
    Ok(n == 1)
}

/// Fails the item; a retryable failure with attempts left puts it back in its place.
pub async fn fail(
    db: &impl GenericClient,
    id: Uuid,
    worker: &str,
    error: &str,
    retryable: bool,
) -> Result<bool, tokio_postgres::Error> {
    let n = cached::execute(
        db,
        "update queue_items
            set status = case when $4 and attempts < $5 then 'pending' else 'failed' end,
                error = $3, worker = null, lease_until = null,
                finished_at = case when $4 and attempts < $5 then null else now() end
          where id = $1 and worker = $2 and status = 'in_progress'",
        &[&id, &worker, &error, &retryable, &MAX_ATTEMPTS],
    )
    .await?;
    Ok(n == 1)
}

/// Returns items whose lease expired (their worker died) to `pending`, keeping their place;
/// items out of attempts fail. Also cancels pending items of deactivated owners. Returns the
/// number of items changed.
pub async fn recover(db: &impl GenericClient) -> Result<u64, tokio_postgres::Error> {
    let requeued = cached::execute(
        db,
        "update queue_items
            set status = case when attempts < $1 then 'pending' else 'failed' end,
                error = case when attempts < $1 then error else 'the worker was lost too often' end,
                finished_at = case when attempts < $1 then null else now() end,
                worker = null, lease_until = null
          where status = 'in_progress' and lease_until < now()",
        &[&MAX_ATTEMPTS],
    )
    .await?;
    let rejected = cached::execute(
        db,
        "update queue_items q set status = 'canceled', error = 'the owner is deactivated', finished_at = now()
          where q.status in ('pending', 'in_progress')
            and exists (select 1 from users u where u.id = q.owner_id and not u.is_active)",
        &[],
    )
    .await?;
    Ok(requeued + rejected)
}
