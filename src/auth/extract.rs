//! Request authentication: the `AuthUser` and `AdminUser` extractors. A bearer token is verified,
//! then its session and user are re-read from the database on every request, so logout,
//! password changes, deactivation and demotion take effect on the next request.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::app::App;
use crate::db::{Caller, RoleClass};
use crate::error::{ApiError, ErrorCode};
use crate::users::SYSTEM_USER_ID;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct AuthUser {
    /// Identity for `begin_as`.
    pub caller: Caller,
    /// The session behind the token (None in single-user mode).
    pub session_id: Option<Uuid>,
}

impl AuthUser {
    /// The user id.
    pub fn user_id(&self) -> Uuid {
        self.caller.user_id
    }

    /// Single-user mode: every request acts as the system user with admin rights.
    fn single_user() -> Self {
        Self {
            caller: Caller::admin(SYSTEM_USER_ID),
            session_id: None,
        }
    }
}

impl FromRequestParts<Arc<App>> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        if !app.config.multiuser {
            return Ok(Self::single_user());
        }
        let token = bearer_token(parts).ok_or_else(ApiError::unauthenticated)?;
        resolve(app, token).await
    }
}

/// The caller of a media request (`<img src>`): a bearer token, or the HttpOnly media cookie
/// that login sets for `/api/v1/images`. The cookie carries the session's token, so logout or
/// expiry ends it like any token.
#[derive(Clone, Debug)]
pub struct MediaUser(pub AuthUser);

impl FromRequestParts<Arc<App>> for MediaUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        if !app.config.multiuser {
            return Ok(Self(AuthUser::single_user()));
        }
        if let Some(token) = bearer_token(parts) {
            return Ok(Self(resolve(app, token).await?));
        }
        let token =
            cookie(parts, super::cookie::MEDIA_COOKIE).ok_or_else(ApiError::unauthenticated)?;
        let claims = app
            .jwt
            .verify_media(token)
            .ok_or_else(ApiError::unauthenticated)?;
        Ok(Self(resolve_session(app, &claims).await?))
    }
}

/// Verifies a token and re-reads its session and user.
async fn resolve(app: &App, token: &str) -> Result<AuthUser, ApiError> {
    let claims = app
        .jwt
        .verify(token)
        .ok_or_else(ApiError::unauthenticated)?;
    resolve_session(app, &claims).await
}

/// Re-reads the session and user that verified claims name: unauthenticated if the session
/// ended or the account is inactive.
pub async fn resolve_session(app: &App, claims: &super::jwt::Claims) -> Result<AuthUser, ApiError> {
    let client = app.db.get().await?;
    let stmt = client
        .prepare_cached("select user_id, is_admin from auth_resolve_session($1, $2)")
        .await?;
    let row = client.query_opt(&stmt, &[&claims.sid, &claims.sub]).await?;
    let row = row.ok_or_else(ApiError::unauthenticated)?;
    let caller = Caller {
        user_id: row.get("user_id"),
        role: RoleClass::from_is_admin(row.get("is_admin")),
    };
    crate::http::observe::record_user(caller.user_id);
    Ok(AuthUser {
        caller,
        session_id: Some(claims.sid),
    })
}

fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    for value in parts.headers.get_all(axum::http::header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((key, value)) = pair.trim().split_once('=')
                && key == name
            {
                return Some(value);
            }
        }
    }
    None
}

/// An authenticated caller whose account has admin rights right now.
#[derive(Clone, Debug)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<Arc<App>> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, app).await?;
        if user.caller.role != RoleClass::Admin {
            return Err(ApiError::new(ErrorCode::Forbidden, "admin rights required"));
        }
        Ok(Self(user))
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
