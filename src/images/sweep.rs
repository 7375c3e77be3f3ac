//! The orphan sweeper: deletes image objects that have no record and are older than a grace
//! period (a crash between writing bytes and the record, or a failed delete of bytes), and the
//! partial files a crash mid-write leaves in the local store (or the unfinished multipart uploads
//! it leaves in S3). Runs
//! hourly inside `atelier serve` and on demand as `atelier storage sweep`.

use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use object_store::path::Path;
use uuid::Uuid;

use super::{keys, repo};
use crate::db::{Caller, begin_as};
use crate::storage::Storage;
use crate::users::SYSTEM_USER_ID;

/// What a sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Objects looked at.
    pub scanned: u64,
    /// Orphans deleted.
    pub deleted: u64,
    /// Partial files of interrupted writes deleted (local backend), or unfinished multipart
    /// uploads aborted (S3).
    pub partial: u64,
}

const BATCH: usize = 500;

/// Deletes orphaned objects older than `grace`. Reads records as the system admin, because an
/// orphan's owner is unknown until its record is found missing.
pub async fn run(
    storage: &Storage,
    pool: &deadpool_postgres::Pool,
    grace: Duration,
) -> anyhow::Result<SweepReport> {
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(grace).context("grace period too long")?;
    let mut report = SweepReport::default();
    let mut batch: Vec<(Path, (Uuid, Uuid))> = Vec::new();
    let mut listing = storage.list(&Path::from(keys::USERS_PREFIX));
    while let Some(meta) = listing.next().await {
        let meta = meta.context("failed to list objects")?;
        report.scanned += 1;
        let Some(named) = keys::parse(&meta.location) else {
            continue;
        };
        if meta.last_modified < cutoff {
            batch.push((meta.location, named));
        }
        if batch.len() >= BATCH {
            report.deleted += delete_orphans(storage, pool, std::mem::take(&mut batch)).await?;
        }
    }
    report.deleted += delete_orphans(storage, pool, batch).await?;
    let sweeper = storage.clone();
    report.partial = tokio::task::spawn_blocking(move || sweeper.sweep_partial_files(grace))
        .await?
        .context("failed to sweep partial files")?;
    report.partial += storage
        .sweep_uploads(grace)
        .await
        .context("failed to sweep unfinished uploads")?;
    Ok(report)
}

/// An object is an orphan unless a record has its image id *and* its owner (after an adoption,
/// the old owner's copy is an orphan even though the id lives on).
async fn delete_orphans(
    storage: &Storage,
    pool: &deadpool_postgres::Pool,
    batch: Vec<(Path, (Uuid, Uuid))>,
) -> anyhow::Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = batch.iter().map(|(_, (_, id))| *id).collect();
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, &Caller::admin(SYSTEM_USER_ID)).await?;
    let existing = repo::existing(&tx, &ids).await?;
    tx.commit().await?;
    let mut deleted = 0;
    for (key, (owner, id)) in batch {
        if !existing.contains(&(id, owner)) {
            storage
                .delete(&key)
                .await
                .with_context(|| format!("failed to delete {key}"))?;
            tracing::info!(%key, "deleted an orphaned object");
            deleted += 1;
        }
    }
    Ok(deleted)
}
