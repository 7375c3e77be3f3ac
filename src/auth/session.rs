//! Login sessions: a row in `sessions` plus a signed token naming it.

use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use crate::app::App;
use crate::db::{Caller, begin_as};
use crate::error::ApiError;
use crate::users::{UserView, repo};

/// What a successful login returns (the shape of InvokeAI's `/auth/login`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Bearer token for the `Authorization` header.
    pub token: String,
    /// The account.
    pub user: UserView,
    /// Seconds until the token and its session expire.
    pub expires_in: u64,
    /// The media token for the cookie (read images only); never in the body.
    #[serde(skip)]
    pub media_token: String,
}

/// Starts a session for `caller` in its own transaction and signs a token for it.
pub async fn start(
    app: &App,
    caller: &Caller,
    ttl_secs: u64,
    user_agent: Option<&str>,
) -> Result<LoginResponse, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let response = start_in(app, &tx, caller, ttl_secs, user_agent).await?;
    tx.commit().await?;
    Ok(response)
}

/// Starts a session inside an existing transaction opened as `caller`.
pub async fn start_in(
    app: &App,
    tx: &deadpool_postgres::Transaction<'_>,
    caller: &Caller,
    ttl_secs: u64,
    user_agent: Option<&str>,
) -> Result<LoginResponse, ApiError> {
    let session_id = Uuid::now_v7();
    let now = Utc::now();
    let ttl = i64::try_from(ttl_secs).map_err(ApiError::internal)?;
    let expires_at = now + chrono::Duration::seconds(ttl);
    let user_agent = user_agent.map(|ua| ua.chars().take(512).collect::<String>());
    repo::insert_session(
        tx,
        session_id,
        caller.user_id,
        expires_at,
        user_agent.as_deref(),
    )
    .await?;
    let user = repo::find(tx, caller.user_id)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let token = app
        .jwt
        .issue(
            caller.user_id,
            session_id,
            now.timestamp(),
            expires_at.timestamp(),
        )
        .map_err(ApiError::internal)?;
    let media_token = app
        .jwt
        .issue_media(
            caller.user_id,
            session_id,
            now.timestamp(),
            expires_at.timestamp(),
        )
        .map_err(ApiError::internal)?;
    Ok(LoginResponse {
        token,
        user,
        expires_in: ttl_secs,
        media_token,
    })
}

/// Deletes expired sessions (the hourly sweep); returns how many.
pub async fn prune_expired(db: &deadpool_postgres::Pool) -> Result<u64, ApiError> {
    let mut client = db.get().await?;
    let tx = begin_as(&mut client, &Caller::admin(crate::users::SYSTEM_USER_ID)).await?;
    let deleted = repo::delete_expired_sessions(&tx).await?;
    tx.commit().await?;
    Ok(deleted)
}
