//! `/api/v1/images`: upload, list, metadata, media, star, move, delete and bulk actions.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ingest::{self, multipart_error};
use super::keys;
use super::media::{self, Media};
use super::model::{Category, ImageView};
use super::ops::{self, image_not_found};
use super::repo::{self, BoardFilter, Cursor, ListQuery};
use crate::app::App;
use crate::auth::{AuthUser, MediaUser};
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode, on_db_error};
use crate::http::extract::{AppJson, AppMultipart, AppQuery};

/// At most this many ids in one bulk request.
const MAX_BULK: usize = 1000;

/// The image routes; uploads get a body limit from `storage.max_upload_bytes`.
pub fn router(max_upload_bytes: u64) -> Router<Arc<App>> {
    let upload_limit = usize::try_from(max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    Router::new()
        .route(
            "/api/v1/images",
            get(list_images)
                .post(upload_image)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/v1/images/bulk", post(bulk_images))
        .route(
            "/api/v1/images/{image_id}",
            get(get_image).patch(update_image).delete(delete_image),
        )
        .route("/api/v1/images/{image_id}/full", get(get_full))
        .route("/api/v1/images/{image_id}/thumbnail", get(get_thumbnail))
}

/// Where an upload goes.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// A board of the caller's; absent: Uncategorized.
    board_id: Option<String>,
    /// `user` (an asset, the default) or `mask` (an inpainting mask: in no board, listed only
    /// when asked for, and deleted a day after no unfinished job or image of the owner's
    /// names it).
    category: Option<Category>,
}

/// Uploads a PNG, JPEG or WebP as an asset or a mask (multipart field `file`).
#[utoipa::path(post, path = "/api/v1/images", tag = "images", params(UploadQuery),
    responses((status = 201, body = ImageView), (status = 413, description = "payload_too_large or quota_exceeded"),
              (status = 415, description = "unsupported_image or content_type_mismatch")),
    security(("bearer" = [])))]
pub async fn upload_image(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppQuery(query): AppQuery<UploadQuery>,
    AppMultipart(mut multipart): AppMultipart,
) -> Result<(StatusCode, Json<ImageView>), ApiError> {
    let board = query.board_id.as_deref().map(parse_board_id).transpose()?;
    let category = query.category.unwrap_or(Category::User);
    match category {
        Category::General => {
            return Err(ApiError::validation(
                "category must be user or mask: generated images come from the queue",
            ));
        }
        Category::Mask if board.is_some() => {
            return Err(ApiError::validation("masks belong to no board"));
        }
        _ => {}
    }
    let max = app.config.storage.max_upload_bytes;
    let (staged, file_name) = loop {
        let field = multipart.next_field().await.map_err(multipart_error)?;
        let field = field.ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidUpload,
                "the multipart body has no `file` part",
            )
        })?;
        if field.name() == Some("file") {
            let file_name = field.file_name().and_then(ops::file_name);
            break (
                ingest::stage(field, &app.staging_dir, max).await?,
                file_name,
            );
        }
    };
    let place = ops::Placement {
        id: Uuid::now_v7(),
        board,
        category,
        file_name,
    };
    let image = ops::ingest(&app, &auth.caller, place, &staged).await?;
    Ok((StatusCode::CREATED, Json(image)))
}

/// A page of images.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// A board id, `none` for Uncategorized, or absent for everything.
    board_id: Option<String>,
    /// `general` (generated), `user` (assets) or `mask` (inpainting masks); absent: generated
    /// images and assets.
    category: Option<Category>,
    /// Whose images (admins; defaults to the caller). Ignored with a board id.
    owner_id: Option<Uuid>,
    /// Starred images first.
    #[serde(default)]
    starred_first: bool,
    /// 1 to 200 (default 50).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page and where the next one starts.
#[derive(Serialize, ToSchema)]
pub struct ImagePage {
    items: Vec<ImageView>,
    next_cursor: Option<String>,
}

/// Lists images newest first, by keyset pagination.
#[utoipa::path(get, path = "/api/v1/images", tag = "images", params(ListParams),
    responses((status = 200, body = ImagePage)), security(("bearer" = [])))]
pub async fn list_images(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Json<ImagePage>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::validation("limit must be between 1 and 200"));
    }
    let after = match params.cursor.as_deref() {
        Some(text) => {
            Some(Cursor::decode(text).ok_or_else(|| ApiError::validation("cursor is not valid"))?)
        }
        None => None,
    };
    let board = match params.board_id.as_deref() {
        None => BoardFilter::Any,
        Some("none") => BoardFilter::Uncategorized,
        Some(id) => BoardFilter::Board(parse_board_id(id)?),
    };
    let owner = match board {
        BoardFilter::Board(_) => None,
        _ => Some(params.owner_id.unwrap_or(auth.user_id())),
    };
    let query = ListQuery {
        owner,
        board,
        category: params.category,
        starred_first: params.starred_first,
        after,
        limit: limit + 1,
    };
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    // A board the caller cannot see answers 404 like a missing one, not an empty page. Both
    // reads go out together (pipelined on the connection).
    let (visible, items) = tokio::join!(board_visible(&tx, board), repo::list(&tx, &query));
    if !visible? {
        return Err(ApiError::new(ErrorCode::BoardNotFound, "board not found"));
    }
    let mut items = items?;
    tx.commit().await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|last| Cursor::after(last).encode())
    } else {
        None
    };
    Ok(Json(ImagePage { items, next_cursor }))
}

async fn board_visible(
    tx: &impl deadpool_postgres::GenericClient,
    board: BoardFilter,
) -> Result<bool, tokio_postgres::Error> {
    match board {
        BoardFilter::Board(id) => crate::boards::repo::is_visible(tx, id).await,
        _ => Ok(true),
    }
}

/// One image's record, with its metadata (generation parameters, PNG text chunks).
#[utoipa::path(get, path = "/api/v1/images/{image_id}", tag = "images",
    responses((status = 200, body = ImageView), (status = 404, description = "image_not_found")), security(("bearer" = [])))]
pub async fn get_image(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(image_id): Path<String>,
) -> Result<Json<ImageView>, ApiError> {
    Ok(Json(
        find_visible(&app, &auth.caller, &image_id, true).await?,
    ))
}

/// The full image, streamed (bearer token or media cookie).
#[utoipa::path(get, path = "/api/v1/images/{image_id}/full", tag = "images",
    responses((status = 200, description = "the image bytes"), (status = 206, description = "a byte range")))]
pub async fn get_full(
    State(app): State<Arc<App>>,
    MediaUser(auth): MediaUser,
    Path(image_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let image = find_visible(&app, &auth.caller, &image_id, false).await?;
    let media = Media {
        key: keys::image(image.owner_id, image.id, image.image_type()),
        content_type: &image.content_type,
        etag: format!("\"{}\"", image.id),
        size: u64::try_from(image.byte_size).ok(),
    };
    media::respond(&app, media, &headers).await
}

/// The 256 px WebP thumbnail (bearer token or media cookie).
#[utoipa::path(get, path = "/api/v1/images/{image_id}/thumbnail", tag = "images",
    responses((status = 200, description = "the thumbnail bytes")))]
pub async fn get_thumbnail(
    State(app): State<Arc<App>>,
    MediaUser(auth): MediaUser,
    Path(image_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let image = find_visible(&app, &auth.caller, &image_id, false).await?;
    let media = Media {
        key: keys::thumbnail(image.owner_id, image.id),
        content_type: "image/webp",
        etag: format!("\"{}-thumbnail\"", image.id),
        size: None,
    };
    media::respond(&app, media, &headers).await
}

/// Star, and/or move to a board (`board_id: null` moves to Uncategorized).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateImage {
    starred: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    board_id: Option<Option<Uuid>>,
}

/// Stars or moves one image.
#[utoipa::path(patch, path = "/api/v1/images/{image_id}", tag = "images", request_body = UpdateImage,
    responses((status = 200, body = ImageView)), security(("bearer" = [])))]
pub async fn update_image(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(image_id): Path<String>,
    AppJson(body): AppJson<UpdateImage>,
) -> Result<Json<ImageView>, ApiError> {
    let id = parse_image_id(&image_id)?;
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    repo::find(&tx, id, false)
        .await?
        .ok_or_else(image_not_found)?;
    if let Some(starred) = body.starred {
        repo::set_starred(&tx, &[id], starred).await?;
    }
    if let Some(board) = body.board_id {
        repo::set_board(&tx, &[id], board)
            .await
            .map_err(|e| on_db_error(e, ops::REFUSALS))?;
    }
    let image = repo::find(&tx, id, true)
        .await?
        .ok_or_else(image_not_found)?;
    tx.commit().await?;
    Ok(Json(image))
}

/// Deletes one image: the record, then its bytes.
#[utoipa::path(delete, path = "/api/v1/images/{image_id}", tag = "images",
    responses((status = 204), (status = 404, description = "image_not_found")), security(("bearer" = [])))]
pub async fn delete_image(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(image_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_image_id(&image_id)?;
    if ops::delete(&app, &auth.caller, &[id]).await? == 0 {
        return Err(image_not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What a bulk request does.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    /// Delete the images.
    Delete,
    /// Move them to `board_id` (null: Uncategorized).
    Move,
    /// Star them.
    Star,
    /// Unstar them.
    Unstar,
}

/// A bulk action over up to 1000 images; ids the caller cannot see are skipped.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    image_ids: Vec<Uuid>,
    action: BulkAction,
    #[serde(default)]
    board_id: Option<Uuid>,
}

/// How many images the action changed.
#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    affected: u64,
}

/// Deletes, moves, stars or unstars many images at once.
#[utoipa::path(post, path = "/api/v1/images/bulk", tag = "images", request_body = BulkRequest,
    responses((status = 200, body = BulkResult)), security(("bearer" = [])))]
pub async fn bulk_images(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppJson(body): AppJson<BulkRequest>,
) -> Result<Json<BulkResult>, ApiError> {
    if body.image_ids.is_empty() || body.image_ids.len() > MAX_BULK {
        return Err(ApiError::validation("image_ids must hold 1 to 1000 ids"));
    }
    let affected = match body.action {
        BulkAction::Delete => ops::delete(&app, &auth.caller, &body.image_ids).await?,
        BulkAction::Star | BulkAction::Unstar | BulkAction::Move => {
            update_many(&app, &auth.caller, &body).await?
        }
    };
    Ok(Json(BulkResult { affected }))
}

async fn update_many(app: &App, caller: &Caller, body: &BulkRequest) -> Result<u64, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let affected = match body.action {
        BulkAction::Move => repo::set_board(&tx, &body.image_ids, body.board_id)
            .await
            .map_err(|e| on_db_error(e, ops::REFUSALS))?,
        BulkAction::Star => repo::set_starred(&tx, &body.image_ids, true).await?,
        _ => repo::set_starred(&tx, &body.image_ids, false).await?,
    };
    tx.commit().await?;
    Ok(affected)
}

async fn find_visible(
    app: &App,
    caller: &Caller,
    raw_id: &str,
    with_metadata: bool,
) -> Result<ImageView, ApiError> {
    let id = parse_image_id(raw_id)?;
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let image = repo::find(&tx, id, with_metadata)
        .await?
        .ok_or_else(image_not_found)?;
    tx.commit().await?;
    Ok(image)
}

/// A malformed id names nothing: the same 404 as a missing image.
fn parse_image_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| image_not_found())
}

fn parse_board_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| crate::boards::ops::board_not_found())
}

/// Tells an absent field (None) from an explicit null (Some(None)).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
