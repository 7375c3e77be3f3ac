//! `/api/v1/boards`: list (with counts, covers and Uncategorized), create, get, rename, delete.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{BoardView, UncategorizedView};
use super::ops::{self, board_not_found};
use super::repo;
use crate::app::App;
use crate::auth::AuthUser;
use crate::db::begin_as;
use crate::error::ApiError;
use crate::http::extract::{AppJson, AppQuery};

/// The board routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/boards", get(list_boards).post(create_board))
        .route(
            "/api/v1/boards/{board_id}",
            get(get_board).patch(rename_board).delete(delete_board),
        )
}

/// Whose boards to list.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListBoards {
    /// Admins: one user's boards and Uncategorized. Absent: every visible board, and the
    /// caller's own Uncategorized.
    owner_id: Option<Uuid>,
}

/// Boards plus one user's Uncategorized.
#[derive(Serialize, ToSchema)]
pub struct BoardList {
    boards: Vec<BoardView>,
    uncategorized: UncategorizedView,
}

/// Lists visible boards with image and asset counts and covers.
#[utoipa::path(get, path = "/api/v1/boards", tag = "boards", params(ListBoards),
    responses((status = 200, body = BoardList)), security(("bearer" = [])))]
pub async fn list_boards(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppQuery(query): AppQuery<ListBoards>,
) -> Result<Json<BoardList>, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let owner = query.owner_id.unwrap_or(auth.user_id());
    // Both queries go out together: tokio-postgres pipelines them on the connection.
    let (boards, uncategorized) = tokio::join!(
        repo::list(&tx, query.owner_id),
        repo::uncategorized(&tx, owner)
    );
    let (boards, uncategorized) = (boards?, uncategorized?);
    tx.commit().await?;
    Ok(Json(BoardList {
        boards,
        uncategorized,
    }))
}

/// A board name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardBody {
    name: String,
}

/// Creates a board.
#[utoipa::path(post, path = "/api/v1/boards", tag = "boards", request_body = BoardBody,
    responses((status = 201, body = BoardView), (status = 409, description = "board_name_taken")), security(("bearer" = [])))]
pub async fn create_board(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppJson(body): AppJson<BoardBody>,
) -> Result<(StatusCode, Json<BoardView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(ops::create(&app, &auth.caller, &body.name).await?),
    ))
}

/// One board.
#[utoipa::path(get, path = "/api/v1/boards/{board_id}", tag = "boards",
    responses((status = 200, body = BoardView), (status = 404, description = "board_not_found")), security(("bearer" = [])))]
pub async fn get_board(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(board_id): Path<String>,
) -> Result<Json<BoardView>, ApiError> {
    let id = parse_id(&board_id)?;
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let board = repo::find(&tx, id).await?.ok_or_else(board_not_found)?;
    tx.commit().await?;
    Ok(Json(board))
}

/// Renames a board.
#[utoipa::path(patch, path = "/api/v1/boards/{board_id}", tag = "boards", request_body = BoardBody,
    responses((status = 200, body = BoardView)), security(("bearer" = [])))]
pub async fn rename_board(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(board_id): Path<String>,
    AppJson(body): AppJson<BoardBody>,
) -> Result<Json<BoardView>, ApiError> {
    Ok(Json(
        ops::rename(&app, &auth.caller, parse_id(&board_id)?, &body.name).await?,
    ))
}

/// What happens to a deleted board's images.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct DeleteBoard {
    /// `move` (default: to Uncategorized) or `delete`.
    images: Option<String>,
}

/// Deletes a board, moving its images to Uncategorized or deleting them.
#[utoipa::path(delete, path = "/api/v1/boards/{board_id}", tag = "boards", params(DeleteBoard),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_board(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(board_id): Path<String>,
    AppQuery(query): AppQuery<DeleteBoard>,
) -> Result<StatusCode, ApiError> {
    let delete_images = match query.images.as_deref() {
        None | Some("move") => false,
        Some("delete") => true,
        Some(_) => return Err(ApiError::validation("images must be `move` or `delete`")),
    };
    ops::delete(&app, &auth.caller, parse_id(&board_id)?, delete_images).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| board_not_found())
}
