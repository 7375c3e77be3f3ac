//! Deletes inpainting masks nobody needs any more: category `mask`, older than a day, named by
//! no unfinished queue item and by no image of the same owner (an inpainted result's parameters
//! name its mask, so "Use these parameters" keeps working while the result exists). Runs with
//! the orphan sweeper, hourly in `atelier serve` and in `atelier storage sweep`.

use std::time::Duration;

use anyhow::Context;

use super::repo;
use crate::db::{Caller, begin_as};
use crate::storage::Storage;
use crate::users::SYSTEM_USER_ID;

/// How long a mask is kept after it was uploaded, even when nothing names it yet (the user may
/// still be about to queue the job).
pub const KEEP: Duration = Duration::from_secs(24 * 3600);

const BATCH: i64 = 500;

/// Deletes unused masks uploaded more than `keep` ago, records first, then their bytes; returns
/// how many. Runs as the system admin, because masks of every user are looked at.
pub async fn run(
    storage: &Storage,
    pool: &deadpool_postgres::Pool,
    keep: Duration,
) -> anyhow::Result<u64> {
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(keep).context("keep too long")?;
    let mut deleted = 0;
    loop {
        let mut client = pool.get().await?;
        let tx = begin_as(&mut client, &Caller::admin(SYSTEM_USER_ID)).await?;
        let ids: Vec<uuid::Uuid> = tx
            .query(
                "select m.id from images m
                 where m.category = 'mask' and m.created_at < $1
                   and not exists (
                     select 1 from queue_items q
                     where q.owner_id = m.owner_id
                       and q.status in ('pending', 'in_progress')
                       and q.params->>'mask_image_id' = m.id::text)
                   and not exists (
                     select 1 from images i
                     where i.owner_id = m.owner_id
                       and i.metadata->'atelier'->>'mask_image_id' = m.id::text)
                 limit $2",
                &[&cutoff, &BATCH],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let gone = repo::delete(&tx, &ids).await?;
        tx.commit().await?;
        super::ops::remove_objects(storage, &gone).await;
        deleted += gone.len() as u64;
        if (ids.len() as i64) < BATCH {
            return Ok(deleted);
        }
    }
}
