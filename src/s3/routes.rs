//! `/api/v1/s3/keys`: a user's S3 access keys (create, list, relabel, revoke); admins list and
//! revoke anyone's.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::keys::{self, NewKey};
use super::repo::KeyView;
use crate::app::App;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::http::extract::{AppJson, AppQuery};

/// The key routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/s3/keys", get(list_keys).post(create_key))
        .route(
            "/api/v1/s3/keys/{access_key_id}",
            patch(update_key).delete(revoke_key),
        )
}

/// Whose keys to list.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListKeys {
    /// Admins: another user's keys. Absent: the caller's.
    owner_id: Option<Uuid>,
}

/// Lists access keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/s3/keys", tag = "s3", params(ListKeys),
    responses((status = 200, body = Vec<KeyView>)), security(("bearer" = [])))]
pub async fn list_keys(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppQuery(query): AppQuery<ListKeys>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let owner = query.owner_id.unwrap_or(auth.user_id());
    Ok(Json(keys::list(&app.db, &auth.caller, owner).await?))
}

/// A new key's settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A label of the owner's (at most 100 characters).
    #[serde(default)]
    label: String,
    /// Only list and read.
    #[serde(default)]
    read_only: bool,
}

/// Creates an access key for the caller; the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/s3/keys", tag = "s3", request_body = CreateKey,
    responses((status = 201, body = NewKey), (status = 409, description = "too_many_keys")),
    security(("bearer" = [])))]
pub async fn create_key(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppJson(body): AppJson<CreateKey>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    let request = keys::KeyRequest {
        label: body.label,
        read_only: body.read_only,
        max_keys: app.config.s3.max_keys_per_user,
    };
    let key = keys::create(&app.db, &app.s3_seal, &auth.caller, request).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// A key's new label.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    /// The label.
    label: String,
}

/// Relabels a key.
#[utoipa::path(patch, path = "/api/v1/s3/keys/{access_key_id}", tag = "s3",
    params(("access_key_id" = String, Path, description = "The access key id")),
    request_body = UpdateKey,
    responses((status = 200, body = KeyView), (status = 404, description = "s3_key_not_found")),
    security(("bearer" = [])))]
pub async fn update_key(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(access_key_id): Path<String>,
    AppJson(body): AppJson<UpdateKey>,
) -> Result<Json<KeyView>, ApiError> {
    let key = keys::relabel(&app.db, &auth.caller, &access_key_id, &body.label).await?;
    Ok(Json(key))
}

/// Revokes a key: the next S3 request signed with it is refused.
#[utoipa::path(delete, path = "/api/v1/s3/keys/{access_key_id}", tag = "s3",
    params(("access_key_id" = String, Path, description = "The access key id")),
    responses((status = 204), (status = 404, description = "s3_key_not_found")),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    Path(access_key_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    keys::revoke(&app.db, &auth.caller, &access_key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
