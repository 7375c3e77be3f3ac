//! `/api/v1/auth/users`: admin-only account management (InvokeAI's shape).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::UserView;
use super::ops::{self, NewUser, UserPatch};
use crate::app::App;
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::http::extract::AppJson;

/// The admin user-management routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/auth/users", get(list_users).post(create_user))
        .route(
            "/api/v1/auth/users/{user_id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    email: String,
    display_name: String,
    password: String,
    #[serde(default)]
    is_admin: bool,
}

/// Lists every account (admins only).
#[utoipa::path(get, path = "/api/v1/auth/users", tag = "users",
    responses((status = 200, body = Vec<UserView>), (status = 403, description = "forbidden")), security(("bearer" = [])))]
pub async fn list_users(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(ops::list(&app.db, &admin.caller).await?))
}

/// Creates an account (admins only).
#[utoipa::path(post, path = "/api/v1/auth/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 409, description = "email_taken")), security(("bearer" = [])))]
pub async fn create_user(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    AppJson(body): AppJson<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let new = NewUser {
        email: body.email,
        display_name: body.display_name,
        password: body.password,
        is_admin: body.is_admin,
    };
    let user = ops::create(&app.db, &admin.caller, new).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// One account (admins only).
#[utoipa::path(get, path = "/api/v1/auth/users/{user_id}", tag = "users",
    responses((status = 200, body = UserView), (status = 404, description = "user_not_found")), security(("bearer" = [])))]
pub async fn get_user(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        ops::get(&app.db, &admin.caller, parse_id(&user_id)?).await?,
    ))
}

/// Changes name, password, admin flag or active flag (admins only).
#[utoipa::path(patch, path = "/api/v1/auth/users/{user_id}", tag = "users", request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 409, description = "last_admin")), security(("bearer" = [])))]
pub async fn update_user(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    Path(user_id): Path<String>,
    AppJson(patch): AppJson<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        ops::update(&app.db, &admin.caller, parse_id(&user_id)?, patch).await?,
    ))
}

/// Deletes an account and everything it owns (admins only).
#[utoipa::path(delete, path = "/api/v1/auth/users/{user_id}", tag = "users",
    responses((status = 204), (status = 409, description = "last_admin")), security(("bearer" = [])))]
pub async fn delete_user(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    ops::delete(&app.db, &admin.caller, parse_id(&user_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A malformed id names no user: the same 404 as a missing one.
fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ops::user_not_found())
}
