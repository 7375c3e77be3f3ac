//! Account operations shared by the admin API and the `atelier user` CLI: validation, hashing,
//! one transaction as the caller, and the mapping of database refusals to error codes.

use deadpool_postgres::Pool;
use uuid::Uuid;

use super::model::{DisplayName, Email, UserView};
use super::repo;
use crate::auth::password;
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode, on_db_error};

/// SQLSTATE raised by the last-admin trigger (V1).
const LAST_ADMIN_SQLSTATE: &str = "AT001";

/// Database refusals that are the client's doing.
const REFUSALS: &[(&str, ErrorCode, &str)] = &[
    (
        "users_email_key",
        ErrorCode::EmailTaken,
        "another account already uses this email",
    ),
    (
        LAST_ADMIN_SQLSTATE,
        ErrorCode::LastAdmin,
        "the last active admin cannot be removed, demoted or deactivated",
    ),
    (
        "users_system_not_admin_check",
        ErrorCode::SystemUserProtected,
        "the system user cannot be an admin",
    ),
    ("42501", ErrorCode::Forbidden, "admin rights required"),
    (
        "boards_owner_id_name_key",
        ErrorCode::BoardNameTaken,
        "the receiving user already has a board with the same name as one being adopted; rename one first",
    ),
];

/// A new account as given by an admin.
#[derive(Debug)]
pub struct NewUser {
    /// Login email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Initial password (checked against the policy).
    pub password: String,
    /// Admin rights.
    pub is_admin: bool,
}

/// Changes to an account; None leaves a field as it is.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New password; ends all of the user's sessions.
    pub password: Option<String>,
    /// Grant or revoke admin rights.
    pub is_admin: Option<bool>,
    /// Activate or deactivate; deactivating ends all sessions.
    pub is_active: Option<bool>,
    /// Storage quota in bytes (0 or more); `null` restores the server's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub quota_bytes: Option<Option<i64>>,
    /// Scheduler weight: the user's share of GPU time relative to others (0 < w <= 100).
    pub sched_weight: Option<f64>,
}

/// Tells an absent field (None) from an explicit null (Some(None)).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

/// Creates an account.
pub async fn create(pool: &Pool, caller: &Caller, new: NewUser) -> Result<UserView, ApiError> {
    let email = Email::parse(&new.email)?;
    let name = DisplayName::parse(&new.display_name)?;
    password::check_policy(&new.password, email.as_str())?;
    let hash = password::hash(new.password)
        .await
        .map_err(ApiError::internal)?;
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let user = repo::insert(
        &tx,
        Uuid::now_v7(),
        email.as_str(),
        name.as_str(),
        &hash,
        new.is_admin,
    )
    .await
    .map_err(|e| on_db_error(e, REFUSALS))?;
    tx.commit().await?;
    Ok(user)
}

/// Lists accounts visible to the caller.
pub async fn list(pool: &Pool, caller: &Caller) -> Result<Vec<UserView>, ApiError> {
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let users = repo::list(&tx).await?;
    tx.commit().await?;
    Ok(users)
}

/// One account, or `user_not_found` (also for accounts the caller may not see).
pub async fn get(pool: &Pool, caller: &Caller, id: Uuid) -> Result<UserView, ApiError> {
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let user = repo::find(&tx, id).await?.ok_or_else(user_not_found)?;
    tx.commit().await?;
    Ok(user)
}

/// Resolves an email to an account id, for the CLI.
pub async fn id_by_email(pool: &Pool, caller: &Caller, email: &str) -> Result<Uuid, ApiError> {
    let email = Email::parse(email)?;
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    let user = repo::find_by_email(&tx, email.as_str())
        .await?
        .ok_or_else(user_not_found)?;
    tx.commit().await?;
    Ok(user.id)
}

/// Applies an admin's changes to an account in one transaction.
pub async fn update(
    pool: &Pool,
    caller: &Caller,
    id: Uuid,
    patch: UserPatch,
) -> Result<UserView, ApiError> {
    let name = patch
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    if repo::is_system(&tx, id).await? {
        return Err(system_protected());
    }
    let current = repo::find(&tx, id).await?.ok_or_else(user_not_found)?;
    let hash = match patch.password {
        Some(password) => {
            password::check_policy(&password, &current.email)?;
            Some(password::hash(password).await.map_err(ApiError::internal)?)
        }
        None => None,
    };
    let refuse = |e| on_db_error(e, REFUSALS);
    if let Some(name) = &name {
        repo::set_display_name(&tx, id, name.as_str())
            .await
            .map_err(refuse)?;
    }
    if let Some(is_admin) = patch.is_admin {
        repo::set_admin(&tx, id, is_admin).await.map_err(refuse)?;
    }
    if let Some(is_active) = patch.is_active {
        repo::set_active(&tx, id, is_active).await.map_err(refuse)?;
        if !is_active {
            repo::delete_sessions_of(&tx, id).await?;
            crate::queue::repo::cancel_all_of(&tx, id).await?;
        }
    }
    if let Some(weight) = patch.sched_weight {
        if !(weight.is_finite() && weight > 0.0 && weight <= 100.0) {
            return Err(ApiError::validation(
                "sched_weight must be above 0 and at most 100",
            ));
        }
        repo::set_weight(&tx, id, weight).await.map_err(refuse)?;
    }
    if let Some(quota) = patch.quota_bytes {
        if quota.is_some_and(|q| q < 0) {
            return Err(ApiError::validation("quota_bytes must be 0 or more"));
        }
        repo::set_quota(&tx, id, quota).await.map_err(refuse)?;
    }
    if let Some(hash) = &hash {
        repo::set_password_hash(&tx, id, hash)
            .await
            .map_err(refuse)?;
        repo::delete_sessions_of(&tx, id).await?;
    }
    let user = repo::find(&tx, id).await?.ok_or_else(user_not_found)?;
    tx.commit().await?;
    Ok(user)
}

/// Deletes an account and everything it owns.
pub async fn delete(pool: &Pool, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    if repo::is_system(&tx, id).await? {
        return Err(system_protected());
    }
    if !repo::delete(&tx, id)
        .await
        .map_err(|e| on_db_error(e, REFUSALS))?
    {
        return Err(user_not_found());
    }
    tx.commit().await?;
    Ok(())
}

/// Hands everything owned by `from` to `to`; returns the number of rows moved.
pub async fn adopt(pool: &Pool, caller: &Caller, from: Uuid, to: Uuid) -> Result<i64, ApiError> {
    let mut client = pool.get().await?;
    let tx = begin_as(&mut client, caller).await?;
    if repo::find(&tx, to).await?.is_none() {
        return Err(user_not_found());
    }
    let moved = repo::adopt(&tx, from, to)
        .await
        .map_err(|e| on_db_error(e, REFUSALS))?;
    tx.commit().await?;
    Ok(moved)
}

/// The 404 for a missing or invisible account.
pub fn user_not_found() -> ApiError {
    ApiError::new(ErrorCode::UserNotFound, "user not found")
}

fn system_protected() -> ApiError {
    ApiError::new(
        ErrorCode::SystemUserProtected,
        "the internal system user cannot be changed or deleted",
    )
}
