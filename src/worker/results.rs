//! Storing a job's images as the job's owner: under the owner's row-level-security identity,
//! in the owner's object prefix and board. Image ids derive from the job id, so storing the
//! results of a job twice (a retry after a lost lease) keeps one copy.

use uuid::Uuid;

use crate::app::App;
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode};
use crate::images::ingest::{self, Staged};
use crate::images::model::Category;
use crate::images::{ops, repo};
use crate::queue::model::GenerationParams;

/// The id of image `index` of job `job`: the same for every attempt (so a retried job stores
/// no duplicates) but not computable without the server's key, so nobody can learn a result's
/// id from the public item id.
pub fn image_id(key: &[u8; 32], job: Uuid, index: usize) -> Uuid {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(job.as_bytes());
    hasher.update(&(index as u64).to_le_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Stores `pngs` for the job's owner; returns their ids. An image already stored by an earlier
/// attempt is kept as it is. A destination board deleted meanwhile falls back to Uncategorized.
pub async fn store(
    app: &App,
    job: Uuid,
    owner: Uuid,
    params: &GenerationParams,
    pngs: Vec<Vec<u8>>,
) -> Result<Vec<Uuid>, ApiError> {
    let caller = Caller::user(owner);
    let mut ids = Vec::with_capacity(pngs.len());
    for (index, png) in pngs.into_iter().enumerate() {
        let id = image_id(&app.result_id_key, job, index);
        if !exists(app, &caller, id).await? {
            store_one(app, &caller, id, params.board_id, png).await?;
        }
        ids.push(id);
    }
    tracing::info!(item = %job, images = ?ids, "results stored");
    Ok(ids)
}

async fn exists(app: &App, caller: &Caller, id: Uuid) -> Result<bool, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let found = repo::find(&tx, id, true).await?.is_some();
    tx.commit().await?;
    Ok(found)
}

async fn store_one(
    app: &App,
    caller: &Caller,
    id: Uuid,
    board: Option<Uuid>,
    png: Vec<u8>,
) -> Result<(), ApiError> {
    let staged = Staged::from_bytes(png.into(), Some("image/png".into()));
    let max_pixels = app.config.storage.max_pixels;
    let source = staged.source.clone();
    let probe = move || ingest::probe(&source, Some("image/png"), max_pixels);
    let probed = tokio::task::spawn_blocking(probe.clone())
        .await
        .map_err(ApiError::internal)??;
    match ops::store(app, caller, id, board, Category::General, &staged, probed).await {
        Err(error) if board.is_some() && error.code() == ErrorCode::BoardNotFound => {
            let probed = tokio::task::spawn_blocking(probe)
                .await
                .map_err(ApiError::internal)??;
            ops::store(app, caller, id, None, Category::General, &staged, probed)
                .await
                .map(drop)
        }
        other => other.map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_ids_are_stable_per_key_and_unguessable_without_it() {
        let job = Uuid::now_v7();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(image_id(&a, job, 0), image_id(&a, job, 0));
        assert_ne!(image_id(&a, job, 0), image_id(&a, job, 1));
        assert_ne!(image_id(&a, job, 0), image_id(&b, job, 0));
        assert_ne!(image_id(&a, job, 0), Uuid::new_v5(&job, b"0"));
        assert_eq!(image_id(&a, job, 3).get_version_num(), 4);
    }
}
