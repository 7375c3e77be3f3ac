//! Board operations shared by the routes: create, rename, and delete (moving or deleting the
//! board's images).

use uuid::Uuid;

use super::model::{BoardName, BoardView};
use super::repo;
use crate::app::App;
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode, on_db_error};
use crate::images;

const REFUSALS: &[(&str, ErrorCode, &str)] = &[(
    "boards_owner_id_name_key",
    ErrorCode::BoardNameTaken,
    "you already have a board with this name",
)];

/// The 404 for a missing or invisible board.
pub fn board_not_found() -> ApiError {
    ApiError::new(ErrorCode::BoardNotFound, "board not found")
}

/// Creates a board owned by the caller.
pub async fn create(app: &App, caller: &Caller, name: &str) -> Result<BoardView, ApiError> {
    let name = BoardName::parse(name)?;
    let id = Uuid::now_v7();
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    repo::insert(&tx, id, caller.user_id, name.as_str())
        .await
        .map_err(|e| on_db_error(e, REFUSALS))?;
    let board = repo::find(&tx, id).await?.ok_or_else(board_not_found)?;
    tx.commit().await?;
    Ok(board)
}

/// Renames a visible board.
pub async fn rename(
    app: &App,
    caller: &Caller,
    id: Uuid,
    name: &str,
) -> Result<BoardView, ApiError> {
    let name = BoardName::parse(name)?;
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    if !repo::rename(&tx, id, name.as_str())
        .await
        .map_err(|e| on_db_error(e, REFUSALS))?
    {
        return Err(board_not_found());
    }
    let board = repo::find(&tx, id).await?.ok_or_else(board_not_found)?;
    tx.commit().await?;
    Ok(board)
}

/// Deletes a visible board. Its images move to the owner's Uncategorized, or with
/// `delete_images` are deleted too (records first, then bytes).
pub async fn delete(
    app: &App,
    caller: &Caller,
    id: Uuid,
    delete_images: bool,
) -> Result<(), ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let deleted = if delete_images {
        images::repo::delete_in_board(&tx, id).await?
    } else {
        Vec::new()
    };
    if !repo::delete(&tx, id).await? {
        return Err(board_not_found());
    }
    tx.commit().await?;
    images::ops::remove_objects(&app.storage, &deleted).await;
    Ok(())
}
