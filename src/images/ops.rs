//! Image operations that touch both the database and the object store, in the order that keeps
//! them consistent: bytes first, then the record (deleting the bytes if the record fails); the
//! record first, then the bytes on deletion. The sweeper collects whatever a crash leaves.

use uuid::Uuid;

use super::ingest::{Probed, Source, Staged};
use super::keys;
use super::model::{Category, ImageType, ImageView};
use super::repo::{self, NewImage};
use crate::app::App;
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode, on_db_error};

/// Database refusals of image writes that are the client's doing.
pub const REFUSALS: &[(&str, ErrorCode, &str)] = &[
    (
        "images_board_same_owner_fkey",
        ErrorCode::BoardNotFound,
        "board not found",
    ),
    ("42501", ErrorCode::ImageNotFound, "image not found"),
];

/// The 404 for a missing or invisible image.
pub fn image_not_found() -> ApiError {
    ApiError::new(ErrorCode::ImageNotFound, "image not found")
}

/// Stores an uploaded or generated image: bytes, thumbnail, then the record. The record's
/// transaction checks the board (same-owner foreign key) and the quota; if either refuses, the
/// bytes are deleted again, so a refused upload stores nothing. `id` is new: uploads take a
/// fresh one, generated results one derived from their job, which makes them idempotent.
pub async fn store(
    app: &App,
    caller: &Caller,
    id: Uuid,
    board: Option<Uuid>,
    category: Category,
    staged: &Staged,
    probed: Probed,
) -> Result<ImageView, ApiError> {
    let place = Placement {
        id,
        board,
        category,
        file_name: None,
    };
    store_at(app, caller, place, staged, probed).await
}

/// Where a new image goes and what it is called.
#[derive(Clone, Debug)]
pub struct Placement {
    /// The new image's id.
    pub id: Uuid,
    /// Its board, or None for Uncategorized.
    pub board: Option<Uuid>,
    /// Generated, uploaded or a mask.
    pub category: Category,
    /// The name it was uploaded under (checked by `file_name`), if any.
    pub file_name: Option<String>,
}

/// Checks a client's file name for an image: the last path segment of what a browser sent,
/// 1 to 255 characters, none hidden; anything else is dropped (the image is then unnamed).
pub fn file_name(raw: &str) -> Option<String> {
    let name = raw.rsplit(['/', '\\']).next()?.trim();
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.chars().count() <= 255
        && !name.chars().any(crate::text::is_hidden);
    ok.then(|| name.to_owned())
}

/// Probes a staged upload (on a blocking thread, under the image-work semaphore) and stores it.
pub async fn ingest(
    app: &App,
    caller: &Caller,
    place: Placement,
    staged: &Staged,
) -> Result<ImageView, ApiError> {
    let permit = app.image_work.acquire().await.map_err(ApiError::internal)?;
    let source = staged.source.clone();
    let (declared, max_pixels) = (staged.declared_type.clone(), app.config.storage.max_pixels);
    let probed = tokio::task::spawn_blocking(move || {
        super::ingest::probe(&source, declared.as_deref(), max_pixels)
    })
    .await
    .map_err(ApiError::internal)??;
    drop(permit);
    store_at(app, caller, place, staged, probed).await
}

/// `store` with a file name.
pub async fn store_at(
    app: &App,
    caller: &Caller,
    place: Placement,
    staged: &Staged,
    probed: Probed,
) -> Result<ImageView, ApiError> {
    let Placement {
        id,
        board,
        category,
        file_name,
    } = place;
    let owner = caller.user_id;
    let image_key = keys::image(owner, id, probed.kind);
    let thumbnail_key = keys::thumbnail(owner, id);
    let written = match &staged.source {
        Source::Memory(bytes) => app
            .storage
            .put_bytes(&image_key, bytes.clone())
            .await
            .map_err(ApiError::internal),
        Source::File(path) => app
            .storage
            .put_file(&image_key, path)
            .await
            .map_err(ApiError::internal),
    };
    written?;
    let new = NewImage {
        id,
        owner_id: owner,
        board_id: board,
        category,
        kind: probed.kind,
        width: probed.width,
        height: probed.height,
        byte_size: staged.size,
        metadata: probed.metadata,
        file_name,
    };
    let stored = match app
        .storage
        .put_bytes(&thumbnail_key, probed.thumbnail.into())
        .await
    {
        Ok(()) => record(app, caller, &new).await,
        Err(error) => Err(ApiError::internal(error)),
    };
    if stored.is_err() {
        remove_objects(&app.storage, &[(id, owner, probed.kind)]).await;
    }
    stored
}

/// Copies a visible image as a new one of the caller's: the bytes and thumbnail server-side,
/// the same size and metadata, the source's category (the placement's is ignored), and the
/// quota checked as for any new image.
pub async fn copy(
    app: &App,
    caller: &Caller,
    source: Uuid,
    place: Placement,
) -> Result<ImageView, ApiError> {
    let view = {
        let mut client = app.db.get().await?;
        let tx = begin_as(&mut client, caller).await?;
        let view = repo::find(&tx, source, true).await?;
        tx.commit().await?;
        view.ok_or_else(image_not_found)?
    };
    let (kind, owner) = (view.image_type(), caller.user_id);
    let category = match view.category.as_str() {
        "general" => Category::General,
        "mask" => Category::Mask,
        _ => Category::User,
    };
    let copied = async {
        let storage = &app.storage;
        storage
            .copy(
                &keys::image(view.owner_id, source, kind),
                &keys::image(owner, place.id, kind),
            )
            .await?;
        storage
            .copy(
                &keys::thumbnail(view.owner_id, source),
                &keys::thumbnail(owner, place.id),
            )
            .await
    };
    let new = NewImage {
        id: place.id,
        owner_id: owner,
        board_id: place.board,
        category,
        kind,
        width: view.width as u32,
        height: view.height as u32,
        byte_size: view.byte_size as u64,
        metadata: view.metadata,
        file_name: place.file_name,
    };
    let stored = match copied.await {
        Ok(()) => record(app, caller, &new).await,
        Err(error) => Err(ApiError::internal(error)),
    };
    if stored.is_err() {
        remove_objects(&app.storage, &[(place.id, owner, kind)]).await;
    }
    stored
}

/// Inserts the record and re-checks the quota in one transaction.
async fn record(app: &App, caller: &Caller, new: &NewImage) -> Result<ImageView, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    repo::insert(&tx, new)
        .await
        .map_err(|e| on_db_error(e, REFUSALS))?;
    // Both reads go out together: tokio-postgres pipelines them on the connection.
    let (usage, view) = tokio::join!(
        quota_state(app, &tx, new.owner_id),
        repo::find(&tx, new.id, true)
    );
    let (used, quota) = usage?;
    if used > quota {
        return Err(quota_exceeded(used - new.byte_size as i64, quota));
    }
    let view = view?.ok_or_else(image_not_found)?;
    tx.commit().await?;
    Ok(view)
}

/// Deletes visible images: records first (one transaction), then their bytes.
pub async fn delete(app: &App, caller: &Caller, ids: &[Uuid]) -> Result<u64, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let deleted = repo::delete(&tx, ids).await?;
    tx.commit().await?;
    remove_objects(&app.storage, &deleted).await;
    Ok(deleted.len() as u64)
}

/// Deletes the bytes of records that are gone. A failure is logged; the sweeper retries.
pub async fn remove_objects(storage: &crate::storage::Storage, images: &[(Uuid, Uuid, ImageType)]) {
    for (id, owner, kind) in images {
        for key in [
            keys::image(*owner, *id, *kind),
            keys::thumbnail(*owner, *id),
        ] {
            if let Err(error) = storage.delete(&key).await {
                tracing::warn!(%key, %error, "failed to delete an object; the sweeper will retry");
            }
        }
    }
}

async fn quota_state(
    app: &App,
    tx: &deadpool_postgres::Transaction<'_>,
    owner: Uuid,
) -> Result<(i64, i64), ApiError> {
    let (used, quota) = repo::usage(tx, owner)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let default = i64::try_from(app.config.storage.default_quota_bytes).unwrap_or(i64::MAX);
    Ok((used, quota.unwrap_or(default)))
}

fn quota_exceeded(used: i64, quota: i64) -> ApiError {
    ApiError::new(
        ErrorCode::QuotaExceeded,
        format!("the upload does not fit in the storage quota ({used} of {quota} bytes used)"),
    )
}

/// Hands everything `from` owns to `to` (`atelier user adopt`): the rows (boards carry their
/// images along) and the bytes, whose keys name the owner. Bytes are copied first, the rows
/// move in one transaction, then the old bytes are deleted, so no record ever points at
/// missing bytes. If the rows cannot move, the copies are removed again.
pub async fn adopt(
    pool: &deadpool_postgres::Pool,
    storage: &crate::storage::Storage,
    caller: &Caller,
    from: Uuid,
    to: Uuid,
) -> Result<i64, ApiError> {
    use futures::TryStreamExt;
    let old_keys: Vec<object_store::path::Path> = storage
        .list(&keys::user_prefix(from))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(ApiError::internal)?;
    let mut copies = Vec::new();
    for old in &old_keys {
        let Some(new) = keys::with_owner(old, to) else {
            continue;
        };
        if let Err(error) = storage.copy(old, &new).await {
            delete_keys(storage, &copies).await;
            return Err(ApiError::internal(error));
        }
        copies.push(new);
    }
    match crate::users::ops::adopt(pool, caller, from, to).await {
        Ok(moved) => {
            delete_keys(storage, &old_keys).await;
            Ok(moved)
        }
        Err(error) => {
            delete_keys(storage, &copies).await;
            Err(error)
        }
    }
}

async fn delete_keys(storage: &crate::storage::Storage, keys: &[object_store::path::Path]) {
    for key in keys {
        if let Err(error) = storage.delete(key).await {
            tracing::warn!(%key, %error, "failed to delete an object; the sweeper will retry");
        }
    }
}
