//! SQL for queue items, run in the caller's transaction. Listing goes through `queue_list`,
//! which redacts other users' items in the database.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::model::QueueItemView;
use crate::db::cached;

/// Inserts a pending item for `owner` in `band` (2, the admin band, needs the admin role).
pub async fn insert(
    db: &impl GenericClient,
    id: Uuid,
    owner: Uuid,
    band: i16,
    params: &serde_json::Value,
    est_cost: f64,
) -> Result<(), tokio_postgres::Error> {
    // The user band is the column's default; users may not write `band` at all (V16).
    if band == 1 {
        cached::execute(
            db,
            "insert into queue_items (id, owner_id, params, est_cost) values ($1, $2, $3, $4)",
            &[&id, &owner, params, &est_cost],
        )
        .await?;
        return Ok(());
    }
    cached::execute(
        db,
        "insert into queue_items (id, owner_id, band, params, est_cost) values ($1, $2, $3, $4, $5)",
        &[&id, &owner, &band, params, &est_cost],
    )
    .await?;
    Ok(())
}

/// How many unfinished items `owner` has, counted under a per-owner transaction lock so that
/// parallel enqueues by one user are counted one after another (the cap is exact).
pub async fn unfinished_of(
    db: &impl GenericClient,
    owner: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    let lock = "select pg_advisory_xact_lock(7401, hashtext($1::uuid::text))";
    cached::execute(db, lock, &[&owner]).await?;
    let count = "select count(*) from queue_items
                 where owner_id = $1 and status in ('pending', 'in_progress')";
    Ok(cached::query_one(db, count, &[&owner]).await?.get(0))
}

const LIST: &str =
    "select id, owner_id, owner_name, is_mine, status, queue_position, params, error,
    result_image_ids, created_at, started_at, finished_at, seq from queue_list($1, $2, $3, $4)";

/// A page of the queue, in queue order: the items after sequence number `after` (every
/// unfinished item and the newest `finished` finished ones), at most `limit`, redacted for the
/// caller.
pub async fn list(
    db: &impl GenericClient,
    finished: i32,
    after: Option<i64>,
    limit: i32,
) -> Result<Vec<QueueItemView>, tokio_postgres::Error> {
    let rows = cached::query(db, LIST, &[&None::<Uuid>, &finished, &after, &limit]).await?;
    rows.iter().map(QueueItemView::try_from).collect()
}

/// One item, redacted for the caller.
pub async fn find(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<Option<QueueItemView>, tokio_postgres::Error> {
    let row = cached::query_opt(db, LIST, &[&Some(id), &0i32, &None::<i64>, &1i32]).await?;
    row.as_ref().map(QueueItemView::try_from).transpose()
}

/// Cancels an unfinished item the caller may change; returns whether it did. Takes the
/// dispatch lock first, as everything that moves items out of `pending` does.
pub async fn cancel(db: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    cached::execute(db, "select queue_lock()", &[]).await?;
    let n = cached::execute(
        db,
        "update queue_items set status = 'canceled', finished_at = now()
         where id = $1 and status in ('pending', 'in_progress')",
        &[&id],
    )
    .await?;
    Ok(n == 1)
}

/// Cancels every unfinished item of `owner` (a deactivated user), with that reason.
pub async fn cancel_all_of(
    db: &impl GenericClient,
    owner: Uuid,
) -> Result<u64, tokio_postgres::Error> {
    cancel_where(
        db,
        "owner_id = $1::text::uuid",
        &owner.to_string(),
        "the owner is deactivated",
    )
    .await
}

/// The items that use the catalogue entry named `$1`: as their model, their VAE, or one of
/// their LoRAs (names are unique across types).
pub const USES_MODEL: &str = "(params->>'model' = $1 or params->>'vae' = $1
      or params->'loras' @> jsonb_build_array(jsonb_build_object('name', $1::text)))";

/// Cancels every unfinished item that uses `model` (a forced delete).
pub async fn cancel_all_using(
    db: &impl GenericClient,
    model: &str,
) -> Result<u64, tokio_postgres::Error> {
    cancel_where(db, USES_MODEL, model, "the model was deleted").await
}

/// Cancels the unfinished items matching `filter` (on `$1`), after the dispatch lock.
async fn cancel_where(
    db: &impl GenericClient,
    filter: &'static str,
    value: &str,
    reason: &str,
) -> Result<u64, tokio_postgres::Error> {
    cached::execute(db, "select queue_lock()", &[]).await?;
    let sql = format!(
        "update queue_items set status = 'canceled', error = $2, finished_at = now()
          where status in ('pending', 'in_progress') and {filter}"
    );
    cached::execute(db, &sql, &[&value, &reason]).await
}

/// The parameters and band of an item the caller may see in full.
pub async fn params_of(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<Option<(serde_json::Value, i16, f64, String)>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select params, band, est_cost, status from queue_items where id = $1",
        &[&id],
    )
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))))
}

/// Deletes finished items (the caller's own, or with `everyone` all of them, for admins).
pub async fn clear_finished(
    db: &impl GenericClient,
    owner: Uuid,
    everyone: bool,
) -> Result<u64, tokio_postgres::Error> {
    cached::execute(
        db,
        "delete from queue_items where status in ('completed', 'failed', 'canceled') and ($2 or owner_id = $1)",
        &[&owner, &everyone],
    )
    .await
}

/// (mine pending, mine running, total pending, total running).
pub async fn counts(
    db: &impl GenericClient,
) -> Result<(i64, i64, i64, i64), tokio_postgres::Error> {
    let row = cached::query_one(db, "select * from queue_counts()", &[]).await?;
    Ok((row.get(0), row.get(1), row.get(2), row.get(3)))
}

/// Whether processing is paused.
pub async fn paused(db: &impl GenericClient) -> Result<bool, tokio_postgres::Error> {
    let row = cached::query_opt(db, "select paused from queue_control", &[]).await?;
    Ok(row.is_some_and(|r| r.get(0)))
}

/// Pauses or resumes processing (admins only, by policy and grant).
pub async fn set_paused(
    db: &impl GenericClient,
    paused: bool,
) -> Result<u64, tokio_postgres::Error> {
    cached::execute(
        db,
        "update queue_control set paused = $1, updated_at = now()",
        &[&paused],
    )
    .await
}
