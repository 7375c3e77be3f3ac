//! `/api/v1/queue`: enqueue, list (redacted for other users' items), get, cancel, retry, clear,
//! status counts, and admin pause/resume.
//!
//! Cancel semantics: every item is listed to everyone, so another user's item is not hidden;
//! cancelling it answers 403 `queue_item_not_owned` (admins may cancel any item). A missing id
//! answers 404 `queue_item_not_found`, a finished item 409 `queue_item_finished`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{GenerationParams, QueueItemView};
use super::repo;
use crate::app::App;
use crate::auth::{AdminUser, AuthUser};
use crate::db::{RoleClass, begin_as};
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{AppJson, AppQuery};

/// The queue routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/api/v1/queue/items",
            get(list_items).post(enqueue).delete(clear_items),
        )
        .route("/api/v1/queue/items/{item_id}", get(get_item))
        .route("/api/v1/queue/items/{item_id}/cancel", post(cancel_item))
        .route("/api/v1/queue/items/{item_id}/retry", post(retry_item))
        .route("/api/v1/queue/status", get(queue_status))
        .route("/api/v1/queue/pause", post(pause_queue))
        .route("/api/v1/queue/resume", post(resume_queue))
}

/// The ids of the new items.
#[derive(Serialize, ToSchema)]
pub struct Enqueued {
    item_ids: Vec<Uuid>,
}

/// Queues a generation after validating its parameters.
#[utoipa::path(post, path = "/api/v1/queue/items", tag = "queue", request_body = GenerationParams,
    responses((status = 201, body = Enqueued), (status = 422, description = "validation_failed")), security(("bearer" = [])))]
pub async fn enqueue(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppJson(mut params): AppJson<GenerationParams>,
) -> Result<(StatusCode, Json<Enqueued>), ApiError> {
    params.validate()?;
    require_memory(&app, &params)?;
    let id = Uuid::now_v7();
    let value = serde_json::to_value(&params).map_err(ApiError::internal)?;
    let band = if auth.caller.role == RoleClass::Admin {
        2
    } else {
        1
    };
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    require_room(&app, &tx, &auth, auth.user_id()).await?;
    require_model(&tx, &params.model, params.vae.as_deref()).await?;
    let loras: Vec<String> = params.loras.iter().map(|l| l.name.clone()).collect();
    require_loras(&tx, &params.model, &loras).await?;
    if let Some(board) = params.board_id
        && !crate::boards::repo::is_owned_by(&tx, board, auth.user_id()).await?
    {
        return Err(crate::boards::ops::board_not_found());
    }
    for image in [params.init_image_id, params.mask_image_id]
        .into_iter()
        .flatten()
    {
        require_own_image(&tx, image, auth.user_id()).await?;
    }
    repo::insert(
        &tx,
        id,
        auth.user_id(),
        band,
        &value,
        params.estimated_cost(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(item = %id, band, "enqueued");
    Ok((StatusCode::CREATED, Json(Enqueued { item_ids: vec![id] })))
}

/// Which page of the queue, and how much finished history it includes.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListItems {
    /// The newest finished items to include, 0 to 1000 (default 200); every unfinished item is
    /// listed, page by page.
    finished_limit: Option<i32>,
    /// Items per page, 1 to 500 (default 500).
    limit: Option<i32>,
    /// The `seq` of the previous page's last item (the `Link: rel="next"` header gives it).
    after: Option<i64>,
}

/// Items per page unless the client asks for fewer.
const PAGE: i32 = 500;

/// A page of the queue in queue order: unfinished items and the newest finished ones; other
/// users' parameters show as `<hidden>`. A full page carries `Link: <…>; rel="next"`.
#[utoipa::path(get, path = "/api/v1/queue/items", tag = "queue", params(ListItems),
    responses((status = 200, body = Vec<QueueItemView>,
               headers(("Link" = String, description = "the next page, when there may be one")))),
    security(("bearer" = [])))]
pub async fn list_items(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppQuery(query): AppQuery<ListItems>,
) -> Result<Response, ApiError> {
    let finished = query.finished_limit.unwrap_or(200);
    if !(0..=1000).contains(&finished) {
        return Err(ApiError::validation(
            "finished_limit must be between 0 and 1000",
        ));
    }
    let limit = query.limit.unwrap_or(PAGE);
    if !(1..=PAGE).contains(&limit) {
        return Err(ApiError::validation(format!(
            "limit must be between 1 and {PAGE}"
        )));
    }
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let items = repo::list(&tx, finished, query.after, limit).await?;
    tx.commit().await?;
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|i| i.seq))
        .flatten();
    let admin = is_admin(&auth);
    let items: Vec<QueueItemView> = items.into_iter().map(|i| i.for_caller(admin)).collect();
    let mut response = Json(items).into_response();
    if let Some(seq) = next {
        let link = format!(
            "</api/v1/queue/items?after={seq}&limit={limit}&finished_limit={finished}>; rel=\"next\""
        );
        if let Ok(value) = axum::http::HeaderValue::from_str(&link) {
            response
                .headers_mut()
                .insert(axum::http::header::LINK, value);
        }
    }
    Ok(response)
}

/// One item (redacted if it is another user's).
#[utoipa::path(get, path = "/api/v1/queue/items/{item_id}", tag = "queue",
    responses((status = 200, body = QueueItemView), (status = 404, description = "queue_item_not_found")), security(("bearer" = [])))]
pub async fn get_item(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(item_id): Path<String>,
) -> Result<Json<QueueItemView>, ApiError> {
    let id = parse_id(&item_id)?;
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let item = repo::find(&tx, id).await?.ok_or_else(item_not_found)?;
    tx.commit().await?;
    Ok(Json(item.for_caller(is_admin(&auth))))
}

/// Cancels an item: your own, or any for admins.
#[utoipa::path(post, path = "/api/v1/queue/items/{item_id}/cancel", tag = "queue",
    responses((status = 200, body = QueueItemView), (status = 403, description = "queue_item_not_owned"),
              (status = 409, description = "queue_item_finished")), security(("bearer" = [])))]
pub async fn cancel_item(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(item_id): Path<String>,
) -> Result<Json<QueueItemView>, ApiError> {
    let id = parse_id(&item_id)?;
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let item = repo::find(&tx, id).await?.ok_or_else(item_not_found)?;
    if !item.is_mine && auth.caller.role != RoleClass::Admin {
        return Err(ApiError::new(
            ErrorCode::QueueItemNotOwned,
            "you can cancel only your own items",
        ));
    }
    if !repo::cancel(&tx, id).await? {
        return Err(ApiError::new(
            ErrorCode::QueueItemFinished,
            "the item has already finished",
        ));
    }
    let item = repo::find(&tx, id).await?.ok_or_else(item_not_found)?;
    tx.commit().await?;
    Ok(Json(item.for_caller(is_admin(&auth))))
}

/// Queues a failed or canceled item of yours again, as a new item.
#[utoipa::path(post, path = "/api/v1/queue/items/{item_id}/retry", tag = "queue",
    responses((status = 201, body = Enqueued)), security(("bearer" = [])))]
pub async fn retry_item(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(item_id): Path<String>,
) -> Result<(StatusCode, Json<Enqueued>), ApiError> {
    let id = parse_id(&item_id)?;
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let item = repo::find(&tx, id).await?.ok_or_else(item_not_found)?;
    let is_admin = auth.caller.role == RoleClass::Admin;
    if !item.is_mine && !is_admin {
        return Err(ApiError::new(
            ErrorCode::QueueItemNotOwned,
            "you can retry only your own items",
        ));
    }
    // An admin's retry of another user's item queues it for that user again: their board, their
    // images, their share of the GPU.
    let owner = item.owner_id.unwrap_or(auth.user_id());
    let (params, _, est, status) = repo::params_of(&tx, id).await?.ok_or_else(item_not_found)?;
    // The band is the owner's now, not when the item was first queued: a demoted admin's retry
    // runs in the user band.
    let band = if owner_is_admin(&tx, &auth, owner).await? {
        2
    } else {
        1
    };
    if status != "failed" && status != "canceled" {
        return Err(ApiError::new(
            ErrorCode::QueueItemNotRetryable,
            "only failed or canceled items can be retried",
        ));
    }
    // The memory budget may have been lowered since the item was first queued.
    if let Ok(parsed) = serde_json::from_value::<GenerationParams>(params.clone()) {
        require_memory(&app, &parsed)?;
    }
    let model = params["model"].as_str().unwrap_or_default();
    require_model(&tx, model, params["vae"].as_str()).await?;
    let loras: Vec<String> = params["loras"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["name"].as_str().map(str::to_owned))
        .collect();
    require_loras(&tx, model, &loras).await?;
    require_room(&app, &tx, &auth, owner).await?;
    let new_id = Uuid::now_v7();
    repo::insert(&tx, new_id, owner, band, &params, est).await?;
    tx.commit().await?;
    tracing::info!(item = %new_id, band, "enqueued (retry)");
    Ok((
        StatusCode::CREATED,
        Json(Enqueued {
            item_ids: vec![new_id],
        }),
    ))
}

/// Which finished items to clear.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ClearQuery {
    /// Admins: clear every user's finished items.
    #[serde(default)]
    all: bool,
}

/// How many items were removed.
#[derive(Serialize, ToSchema)]
pub struct Cleared {
    deleted: u64,
}

/// Removes finished items: your own, or with `all=true` (admins) everyone's.
#[utoipa::path(delete, path = "/api/v1/queue/items", tag = "queue", params(ClearQuery),
    responses((status = 200, body = Cleared)), security(("bearer" = [])))]
pub async fn clear_items(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppQuery(query): AppQuery<ClearQuery>,
) -> Result<Json<Cleared>, ApiError> {
    if query.all && auth.caller.role != RoleClass::Admin {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "admin rights required to clear everyone's items",
        ));
    }
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let deleted = repo::clear_finished(&tx, auth.user_id(), query.all).await?;
    tx.commit().await?;
    Ok(Json(Cleared { deleted }))
}

/// The "X/Y" badge and the pause state.
#[derive(Serialize, ToSchema)]
pub struct QueueStatus {
    mine_pending: i64,
    mine_in_progress: i64,
    total_pending: i64,
    total_in_progress: i64,
    paused: bool,
}

/// Counts of unfinished items, yours and everyone's.
#[utoipa::path(get, path = "/api/v1/queue/status", tag = "queue",
    responses((status = 200, body = QueueStatus)), security(("bearer" = [])))]
pub async fn queue_status(
    State(app): State<Arc<App>>,
    auth: AuthUser,
) -> Result<Json<QueueStatus>, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let (mine_pending, mine_in_progress, total_pending, total_in_progress) =
        repo::counts(&tx).await?;
    let paused = repo::paused(&tx).await?;
    tx.commit().await?;
    Ok(Json(QueueStatus {
        mine_pending,
        mine_in_progress,
        total_pending,
        total_in_progress,
        paused,
    }))
}

/// Pauses processing (admins only).
#[utoipa::path(post, path = "/api/v1/queue/pause", tag = "queue", responses((status = 204)), security(("bearer" = [])))]
pub async fn pause_queue(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
) -> Result<StatusCode, ApiError> {
    set_paused(&app, &admin, true).await
}

/// Resumes processing (admins only).
#[utoipa::path(post, path = "/api/v1/queue/resume", tag = "queue", responses((status = 204)), security(("bearer" = [])))]
pub async fn resume_queue(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
) -> Result<StatusCode, ApiError> {
    set_paused(&app, &admin, false).await
}

async fn set_paused(app: &App, admin: &AuthUser, paused: bool) -> Result<StatusCode, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &admin.caller).await?;
    repo::set_paused(&tx, paused).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Image to image starts from one of the caller's own images (not another user's, even for an
/// admin: the worker reads it as the job's owner).
async fn require_own_image(
    tx: &impl deadpool_postgres::GenericClient,
    image: Uuid,
    owner: Uuid,
) -> Result<(), ApiError> {
    match crate::images::repo::find(tx, image, false).await? {
        Some(found) if found.owner_id == owner => Ok(()),
        _ => Err(crate::images::ops::image_not_found()),
    }
}

/// Refuses a model that is not in the catalogue, and a VAE that is not or does not fit it.
async fn require_model(
    db: &impl deadpool_postgres::GenericClient,
    name: &str,
    vae: Option<&str>,
) -> Result<(), ApiError> {
    if !crate::models::repo::main_model_exists(db, name).await? {
        return Err(ApiError::validation(format!(
            "model {name:?} is not installed; GET /api/v1/models lists the installed models"
        )));
    }
    if let Some(vae) = vae
        && !crate::models::repo::vae_fits(db, vae, name).await?
    {
        return Err(ApiError::validation(format!(
            "vae {vae:?} is not an installed VAE that fits model {name:?}; GET /api/v1/models \
             lists them (type vae, base any or the model's)"
        )));
    }
    Ok(())
}

/// Refuses LoRAs that are not installed or are of another family than the model.
async fn require_loras(
    db: &impl deadpool_postgres::GenericClient,
    model: &str,
    loras: &[String],
) -> Result<(), ApiError> {
    if loras.is_empty() {
        return Ok(());
    }
    match crate::models::repo::first_unfit_lora(db, loras, model).await? {
        None => Ok(()),
        Some(lora) => Err(ApiError::validation(format!(
            "LoRA {lora:?} is not an installed LoRA of model {model:?}'s family; \
             GET /api/v1/models lists them (type lora)"
        ))),
    }
}

/// Refuses a job whose estimated working memory exceeds `queue.max_job_memory_mib`.
fn require_memory(app: &App, params: &GenerationParams) -> Result<(), ApiError> {
    let needed = params.estimated_memory_bytes() >> 20;
    let max = app.config.queue.max_job_memory_mib;
    if needed > max {
        return Err(ApiError::new(
            ErrorCode::JobTooLarge,
            format!(
                "this job needs about {needed} MiB of working memory and the workers allow {max} MiB; \
                 ask for fewer images or a smaller size"
            ),
        ));
    }
    Ok(())
}

/// Refuses a new item when `owner` already has `queue.max_pending_per_user` unfinished ones
/// (admins queueing are not limited).
async fn require_room(
    app: &App,
    tx: &impl deadpool_postgres::GenericClient,
    auth: &AuthUser,
    owner: Uuid,
) -> Result<(), ApiError> {
    if is_admin(auth) {
        return Ok(());
    }
    let max = app.config.queue.max_pending_per_user;
    if repo::unfinished_of(tx, owner).await? >= i64::from(max) {
        return Err(ApiError::new(
            ErrorCode::QueueFull,
            format!(
                "you have {max} unfinished items, the most allowed; wait for some to finish or cancel some"
            ),
        ));
    }
    Ok(())
}

/// Whether `owner` is an admin now (the caller's own role when it is theirs).
async fn owner_is_admin(
    tx: &impl deadpool_postgres::GenericClient,
    auth: &AuthUser,
    owner: Uuid,
) -> Result<bool, ApiError> {
    if owner == auth.user_id() {
        return Ok(is_admin(auth));
    }
    let user = crate::users::repo::find(tx, owner).await?;
    Ok(user.is_some_and(|u| u.is_admin))
}

fn is_admin(auth: &AuthUser) -> bool {
    auth.caller.role == RoleClass::Admin
}

fn item_not_found() -> ApiError {
    ApiError::new(ErrorCode::QueueItemNotFound, "queue item not found")
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| item_not_found())
}
