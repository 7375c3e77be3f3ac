//! Figures about the queue's use: the GPU-seconds ledger (`gpu_usage`: what each unit of a
//! user's job measured, summed by the hour, so admins see who uses the box over the last day
//! and week), and the depth of each band for the metrics endpoint.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::db::cached;

/// Hourly rows older than this are deleted by the periodic sweep.
pub const KEEP_DAYS: f64 = 35.0;

/// Adds `seconds` measured for `owner`'s job in `band` to this hour's row (as a worker).
pub async fn record(
    db: &impl GenericClient,
    owner: Uuid,
    band: i16,
    seconds: f64,
) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "insert into gpu_usage (user_id, hour, band, seconds)
         values ($1, date_trunc('hour', now()), $2, $3)
         on conflict (user_id, hour, band) do update set seconds = gpu_usage.seconds + excluded.seconds",
        &[&owner, &band, &seconds],
    )
    .await
    .map(drop)
}

/// Deletes rows older than [`KEEP_DAYS`] (as a worker); returns how many.
pub async fn prune(db: &impl GenericClient) -> Result<u64, tokio_postgres::Error> {
    cached::execute(
        db,
        "delete from gpu_usage where hour < now() - make_interval(secs => $1 * 86400)",
        &[&KEEP_DAYS],
    )
    .await
}

/// One band's load now.
pub struct BandDepth {
    /// 0 background, 1 interactive, 2 admin.
    pub band: i16,
    /// Items waiting.
    pub pending: i64,
    /// Items running.
    pub in_progress: i64,
    /// Seconds the oldest waiting item has waited (0 when none waits).
    pub oldest_pending_secs: f64,
}

/// Every band's depth (as a worker or admin, who see every item).
pub async fn depth(db: &impl GenericClient) -> Result<Vec<BandDepth>, tokio_postgres::Error> {
    let rows = cached::query(
        db,
        "select b.band,
                count(q.id) filter (where q.status = 'pending'),
                count(q.id) filter (where q.status = 'in_progress'),
                coalesce(extract(epoch from now() - min(q.created_at) filter (where q.status = 'pending')), 0)::float8
           from (values (0::smallint), (1::smallint), (2::smallint)) b(band)
                left join queue_items q on q.band = b.band and q.status in ('pending', 'in_progress')
          group by b.band order by b.band",
        &[],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| BandDepth {
            band: row.get(0),
            pending: row.get(1),
            in_progress: row.get(2),
            oldest_pending_secs: row.get(3),
        })
        .collect())
}
