//! `/api/v1/models`: everyone lists and reads the catalogue; admins install, edit, delete and
//! scan. Non-admin writes answer 403 `forbidden` (the catalogue itself is visible).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use uuid::Uuid;

use super::installs::{self, InstallRequest};
use super::model::{InstallView, ModelView};
use super::ops::{self, InstallOptions, ModelPatch, ScanReport, model_not_found};
use super::{files, repo};
use crate::app::App;
use crate::auth::{AdminUser, AuthUser};
use crate::db::{RoleClass, begin_as};
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{AppJson, AppQuery};

/// The routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/models", get(list_models))
        .route("/api/v1/models/install", post(install_model))
        .route(
            "/api/v1/models/upload",
            post(upload_model).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/models/scan", post(scan_models))
        .route("/api/v1/models/installs", get(list_installs))
        .route("/api/v1/models/installs/{install_id}", get(get_install))
        .route(
            "/api/v1/models/{model_id}",
            get(get_model).patch(update_model).delete(delete_model),
        )
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse().map_err(|_| model_not_found())
}

/// Lists the catalogue (admins also see sources and locations).
#[utoipa::path(get, path = "/api/v1/models", tag = "models",
    responses((status = 200, body = Vec<ModelView>)), security(("bearer" = [])))]
pub async fn list_models(
    State(app): State<Arc<App>>,
    auth: AuthUser,
) -> Result<Json<Vec<ModelView>>, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let models = repo::list(&tx, auth.caller.role == RoleClass::Admin).await?;
    tx.commit().await?;
    Ok(Json(models))
}

/// One model with its defaults.
#[utoipa::path(get, path = "/api/v1/models/{model_id}", tag = "models",
    responses((status = 200, body = ModelView), (status = 404, description = "model_not_found")),
    security(("bearer" = [])))]
pub async fn get_model(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ModelView>, ApiError> {
    let id = parse_id(&id)?;
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let model = repo::find(&tx, id, auth.caller.role == RoleClass::Admin)
        .await?
        .ok_or_else(model_not_found)?;
    tx.commit().await?;
    Ok(Json(model))
}

/// Starts installing from a path inside a models directory or an http(s) URL; follow the job at
/// `/api/v1/models/installs/{id}` or on the event socket (admins get `model_install` events).
#[utoipa::path(post, path = "/api/v1/models/install", tag = "models", request_body = InstallRequest,
    responses((status = 202, body = InstallView), (status = 403, description = "forbidden or model_path_outside"),
              (status = 422, description = "model_unsupported_format, model_corrupt or model_unrecognized")),
    security(("bearer" = [])))]
pub async fn install_model(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    AppJson(request): AppJson<InstallRequest>,
) -> Result<(StatusCode, Json<InstallView>), ApiError> {
    let view = installs::start(&app.models, &admin.caller, request).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// `?filename=&name=&description=` for uploads.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// The file's name (its extension matters: `.safetensors`).
    filename: String,
    /// The model's name (default: the file name without extension).
    name: Option<String>,
    /// A description.
    description: Option<String>,
}

/// Installs an uploaded `.safetensors` file, streamed to disk as it arrives (the body is the
/// file itself, not multipart).
#[utoipa::path(post, path = "/api/v1/models/upload", tag = "models", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = ModelView), (status = 409, description = "model_duplicate or model_name_taken"),
              (status = 413, description = "payload_too_large")),
    security(("bearer" = [])))]
pub async fn upload_model(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    AppQuery(query): AppQuery<UploadQuery>,
    body: Body,
) -> Result<(StatusCode, Json<ModelView>), ApiError> {
    if super::probe::has_pickle_extension(&query.filename) {
        return Err(super::probe::pickle_refused());
    }
    // Removed when this handler ends, also when the client aborts the upload midway.
    let staging = app.models.incoming();
    let path = staging.path().join(files::safe_file_name(&query.filename));
    let result = async {
        tokio::fs::create_dir_all(staging.path())
            .await
            .map_err(ApiError::internal)?;
        receive(body, &path, app.models.max_download_bytes).await?;
        let options = InstallOptions {
            name: query.name,
            description: query.description,
        };
        let source = format!("upload:{}", query.filename);
        ops::install(
            &app.models,
            &admin.caller,
            &path,
            false,
            &source,
            options,
            Arc::new(|_| {}),
        )
        .await
    }
    .await;
    drop(staging);
    Ok((StatusCode::CREATED, Json(result?)))
}

async fn receive(body: Body, path: &std::path::Path, max: u64) -> Result<(), ApiError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::validation(format!("the upload broke off: {e}")))?;
        written += chunk.len() as u64;
        if written > max {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the model is larger than the limit of {max} bytes"),
            ));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    if written == 0 {
        return Err(ApiError::new(ErrorCode::EmptyUpload, "the upload is empty"));
    }
    file.flush().await.map_err(ApiError::internal)
}

/// Registers, in place, the models found in the models directories.
#[utoipa::path(post, path = "/api/v1/models/scan", tag = "models",
    responses((status = 200, body = ScanReport)), security(("bearer" = [])))]
pub async fn scan_models(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
) -> Result<Json<ScanReport>, ApiError> {
    Ok(Json(ops::scan(&app.models, &admin.caller).await?))
}

/// Install jobs, newest first.
#[utoipa::path(get, path = "/api/v1/models/installs", tag = "models",
    responses((status = 200, body = Vec<InstallView>)), security(("bearer" = [])))]
pub async fn list_installs(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
) -> Result<Json<Vec<InstallView>>, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &admin.caller).await?;
    let installs = repo::list_installs(&tx).await?;
    tx.commit().await?;
    Ok(Json(installs))
}

/// One install job.
#[utoipa::path(get, path = "/api/v1/models/installs/{install_id}", tag = "models",
    responses((status = 200, body = InstallView), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
pub async fn get_install(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<InstallView>, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "install not found");
    let id: Uuid = id.parse().map_err(|_| not_found())?;
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &admin.caller).await?;
    let install = repo::find_install(&tx, id).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(Json(install))
}

/// Edits name, description and default settings.
#[utoipa::path(patch, path = "/api/v1/models/{model_id}", tag = "models", request_body = ModelPatch,
    responses((status = 200, body = ModelView), (status = 409, description = "model_name_taken")),
    security(("bearer" = [])))]
pub async fn update_model(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    AppJson(patch): AppJson<ModelPatch>,
) -> Result<Json<ModelView>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(
        ops::update(&app.models, &admin.caller, id, patch).await?,
    ))
}

/// `?force=true` cancels the jobs that use the model.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

/// What a delete did.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    canceled_jobs: u64,
}

/// Deletes a model (refused while jobs use it, unless forced).
#[utoipa::path(delete, path = "/api/v1/models/{model_id}", tag = "models", params(DeleteQuery),
    responses((status = 200, body = Deleted), (status = 409, description = "model_in_use")),
    security(("bearer" = [])))]
pub async fn delete_model(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    AppQuery(query): AppQuery<DeleteQuery>,
) -> Result<Json<Deleted>, ApiError> {
    let id = parse_id(&id)?;
    let canceled_jobs = ops::delete(&app.models, &admin.caller, id, query.force).await?;
    Ok(Json(Deleted { canceled_jobs }))
}
