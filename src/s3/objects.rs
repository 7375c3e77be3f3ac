//! Objects of the S3 view as images: finding the image a key names, and writing one (through
//! the same ingest as the upload endpoint) under the board and file name its key gives. All SQL
//! runs as the key's user, so row-level security decides what exists.

use uuid::Uuid;

use super::door::KeyUser;
use super::errors::{from_api, from_db};
use super::names::{self, BoardRef, ImageEntry, KeyError, ObjectRef};
use super::repo;
use crate::app::App;
use crate::boards::model::BoardName;
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode};
use crate::images::ingest::Staged;
use crate::images::model::Category;
use crate::images::ops::{self, Placement};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// The caller of a key's requests: always the ordinary user class, so an admin's key sees the
/// admin's own images and nobody else's.
pub fn caller(user: KeyUser) -> Caller {
    Caller::user(user.owner)
}

/// A key that cannot be written, as S3 reports it.
pub fn key_error(error: &KeyError) -> S3Error {
    match error {
        KeyError::TooLong => s3_error!(KeyTooLongError, "keys have at most 1024 bytes"),
        KeyError::Invalid(why) => S3Error::with_message(S3ErrorCode::InvalidArgument, *why),
    }
}

/// The image `key` names, or `NoSuchKey` (also for keys this scheme cannot make, and for
/// anything another user owns: the lookups run as the key's user).
pub async fn find(app: &App, user: KeyUser, key: &str) -> S3Result<ImageEntry> {
    let no_such_key = || s3_error!(NoSuchKey);
    let target = names::parse(key).map_err(|_| no_such_key())?;
    let mut client = app.db.get().await.map_err(from_db)?;
    let tx = begin_as(&mut client, &caller(user))
        .await
        .map_err(from_db)?;
    let found = match quick_find(&tx, user.owner, &target)
        .await
        .map_err(from_db)?
    {
        Some(found) => Some(found),
        None => match existing_board(&tx, user.owner, &target.board)
            .await
            .map_err(from_db)?
        {
            Some(board) => find_in(&tx, user.owner, board, &target)
                .await
                .map_err(from_db)?,
            None => None,
        },
    };
    tx.commit().await.map_err(from_db)?;
    found.ok_or_else(no_such_key)
}

/// The common case in one statement: a plain board name (or `uncategorized`) and a file name.
async fn quick_find(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: Uuid,
    target: &ObjectRef,
) -> Result<Option<ImageEntry>, tokio_postgres::Error> {
    let board = match &target.board {
        BoardRef::Uncategorized => None,
        BoardRef::Named { name, .. } => Some(name.as_str()),
    };
    repo::image_at(tx, owner, board, &target.file_name).await
}

async fn find_in(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: Uuid,
    board: Option<Uuid>,
    target: &ObjectRef,
) -> Result<Option<ImageEntry>, tokio_postgres::Error> {
    let named = repo::images_named(tx, owner, board, &target.file_name).await?;
    if let Some(newest) = named.into_iter().next() {
        return Ok(Some(newest));
    }
    match target.id {
        Some(id) => repo::image_in(tx, owner, board, id).await,
        None => Ok(None),
    }
}

/// The board a key's segment names, if it exists: `Some(None)` is Uncategorized.
async fn existing_board(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: Uuid,
    board: &BoardRef,
) -> Result<Option<Option<Uuid>>, tokio_postgres::Error> {
    match board {
        BoardRef::Uncategorized => Ok(Some(None)),
        BoardRef::Named { name, id } => {
            if let Some(found) = repo::board_named(tx, owner, name).await? {
                return Ok(Some(Some(found)));
            }
            match id {
                Some(id) if crate::boards::repo::is_owned_by(tx, *id, owner).await? => {
                    Ok(Some(Some(*id)))
                }
                _ => Ok(None),
            }
        }
    }
}

/// The board a write to `target` goes to, created when its segment names none yet.
async fn board_for_write(app: &App, user: KeyUser, target: &ObjectRef) -> S3Result<Option<Uuid>> {
    let lookup = async {
        let mut client = app.db.get().await?;
        let tx = begin_as(&mut client, &caller(user)).await?;
        let found = existing_board(&tx, user.owner, &target.board).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(found)
    };
    if let Some(board) = lookup.await.map_err(from_api)? {
        return Ok(board);
    }
    let raw = names::board_name_of(&target.board).unwrap_or_default();
    let name = BoardName::parse(raw).map_err(from_api)?;
    if name.as_str() != raw {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "board names have no leading or trailing spaces",
        ));
    }
    match crate::boards::ops::create(app, &caller(user), name.as_str()).await {
        Ok(board) => Ok(Some(board.id)),
        // Another request created it first.
        Err(error) if error.code() == ErrorCode::BoardNameTaken => {
            Box::pin(board_for_write(app, user, target)).await
        }
        Err(error) => Err(from_api(error)),
    }
}

/// Stores a staged upload as the image at `key`: ingest (type, pixel limit, thumbnail, PNG
/// text, quota) as the upload endpoint does, then the older images that had this key are
/// deleted, so a second write to a key replaces the first.
pub async fn write(app: &App, user: KeyUser, key: &str, staged: &Staged) -> S3Result<ImageEntry> {
    let as_user = caller(user);
    place_at(app, user, key, |place| {
        ops::ingest(app, &as_user, place, staged)
    })
    .await
}

/// Copies the user's image `source` to `key` (server-side; `aws s3 mv` is a copy and a delete),
/// replacing what `key` named before.
pub async fn copy(app: &App, user: KeyUser, source: Uuid, key: &str) -> S3Result<ImageEntry> {
    let as_user = caller(user);
    place_at(app, user, key, |place| {
        ops::copy(app, &as_user, source, place)
    })
    .await
}

/// Makes the image at `key` with `store`, in the board the key names (created if needed) and
/// under its file name, then deletes what the key named before.
async fn place_at<F, Fut>(app: &App, user: KeyUser, key: &str, store: F) -> S3Result<ImageEntry>
where
    F: FnOnce(Placement) -> Fut,
    Fut: std::future::Future<Output = Result<crate::images::model::ImageView, ApiError>>,
{
    let target = names::parse(key).map_err(|e| key_error(&e))?;
    let board = board_for_write(app, user, &target).await?;
    let replaced = find(app, user, key).await.ok();
    let place = Placement {
        id: Uuid::now_v7(),
        board,
        category: Category::User,
        file_name: Some(target.file_name.clone()),
    };
    let stored = store(place).await.map_err(from_api)?;
    replace_older(app, user, board, &target.file_name, replaced, stored.id).await?;
    Ok(entry_of(&stored))
}

/// Deletes the images that had the key a new image now has.
async fn replace_older(
    app: &App,
    user: KeyUser,
    board: Option<Uuid>,
    file_name: &str,
    replaced: Option<ImageEntry>,
    new: Uuid,
) -> S3Result<()> {
    let mut older: Vec<Uuid> = {
        let mut client = app.db.get().await.map_err(from_db)?;
        let tx = begin_as(&mut client, &caller(user))
            .await
            .map_err(from_db)?;
        let named = repo::images_named(&tx, user.owner, board, file_name)
            .await
            .map_err(from_db)?;
        named.into_iter().map(|i| i.id).collect()
    };
    older.extend(replaced.map(|r| r.id));
    older.retain(|id| *id != new);
    if !older.is_empty() {
        ops::delete(app, &caller(user), &older)
            .await
            .map_err(from_api)?;
    }
    Ok(())
}

fn entry_of(stored: &crate::images::model::ImageView) -> ImageEntry {
    ImageEntry {
        id: stored.id,
        board_id: stored.board_id,
        file_name: stored.file_name.clone(),
        extension: stored.image_type().extension(),
        byte_size: stored.byte_size,
        created_at: stored.created_at,
    }
}

/// The ETag of an image's bytes: its id (images never change), in the multipart form, so that
/// clients do not take it for an MD5.
pub fn etag(id: Uuid) -> s3s::dto::ETag {
    s3s::dto::ETag::Strong(format!("{}-1", id.simple()))
}
