//! SQL for users and sessions. Every function runs inside a caller's transaction (`begin_as`), so
//! row-level security decides what it may see; none of them adds a WHERE for isolation.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::db::cached;
use uuid::Uuid;

use super::model::UserView;

const COLUMNS: &str =
    "id, email, display_name, is_admin, is_active, created_at, quota_bytes, used_bytes,
    coalesce((select q.weight from queue_users q where q.user_id = users.id), 1) as sched_weight,
    (select coalesce(sum(g.seconds), 0) from gpu_usage g
      where g.user_id = users.id and g.hour > now() - interval '1 day') as gpu_seconds_day,
    (select coalesce(sum(g.seconds), 0) from gpu_usage g
      where g.user_id = users.id and g.hour > now() - interval '7 days') as gpu_seconds_week";

/// Inserts a user (admins only, by policy).
pub async fn insert(
    db: &impl GenericClient,
    id: Uuid,
    email: &str,
    display_name: &str,
    password_hash: &str,
    is_admin: bool,
) -> Result<UserView, tokio_postgres::Error> {
    let sql = format!(
        "insert into users (id, email, display_name, password_hash, is_admin)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    );
    let row = cached::query_one(
        db,
        &sql,
        &[&id, &email, &display_name, &password_hash, &is_admin],
    )
    .await?;
    UserView::try_from(&row)
}

/// Finds a visible, non-system user by id.
pub async fn find(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<Option<UserView>, tokio_postgres::Error> {
    let sql = format!("select {COLUMNS} from users where id = $1 and not is_system");
    cached::query_opt(db, &sql, &[&id])
        .await?
        .as_ref()
        .map(UserView::try_from)
        .transpose()
}

/// Finds a visible, non-system user by (lowercase) email.
pub async fn find_by_email(
    db: &impl GenericClient,
    email: &str,
) -> Result<Option<UserView>, tokio_postgres::Error> {
    let sql = format!("select {COLUMNS} from users where email = $1 and not is_system");
    cached::query_opt(db, &sql, &[&email])
        .await?
        .as_ref()
        .map(UserView::try_from)
        .transpose()
}

/// Lists the visible, non-system users, oldest first.
pub async fn list(db: &impl GenericClient) -> Result<Vec<UserView>, tokio_postgres::Error> {
    let sql = format!("select {COLUMNS} from users where not is_system order by created_at, id");
    cached::query(db, &sql, &[])
        .await?
        .iter()
        .map(UserView::try_from)
        .collect()
}

/// The stored password hash of a visible user.
pub async fn password_hash(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row =
        cached::query_opt(db, "select password_hash from users where id = $1", &[&id]).await?;
    Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
}

/// Sets the display name; returns the updated user, or None if not visible.
pub async fn set_display_name(
    db: &impl GenericClient,
    id: Uuid,
    name: &str,
) -> Result<Option<UserView>, tokio_postgres::Error> {
    let sql = format!(
        "update users set display_name = $2 where id = $1 and not is_system returning {COLUMNS}"
    );
    cached::query_opt(db, &sql, &[&id, &name])
        .await?
        .as_ref()
        .map(UserView::try_from)
        .transpose()
}

/// Sets the password hash; returns whether a row was updated.
pub async fn set_password_hash(
    db: &impl GenericClient,
    id: Uuid,
    hash: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(cached::execute(
        db,
        "update users set password_hash = $2 where id = $1",
        &[&id, &hash],
    )
    .await?
        == 1)
}

/// Sets the admin flag (admins only, by grant).
pub async fn set_admin(
    db: &impl GenericClient,
    id: Uuid,
    is_admin: bool,
) -> Result<bool, tokio_postgres::Error> {
    Ok(cached::execute(
        db,
        "update users set is_admin = $2 where id = $1",
        &[&id, &is_admin],
    )
    .await?
        == 1)
}

/// Sets the active flag (admins only, by grant).
pub async fn set_active(
    db: &impl GenericClient,
    id: Uuid,
    is_active: bool,
) -> Result<bool, tokio_postgres::Error> {
    Ok(cached::execute(
        db,
        "update users set is_active = $2 where id = $1",
        &[&id, &is_active],
    )
    .await?
        == 1)
}

/// Sets the storage quota (admins only, by grant); None restores the default.
pub async fn set_quota(
    db: &impl GenericClient,
    id: Uuid,
    quota: Option<i64>,
) -> Result<bool, tokio_postgres::Error> {
    Ok(cached::execute(
        db,
        "update users set quota_bytes = $2 where id = $1",
        &[&id, &quota],
    )
    .await?
        == 1)
}

/// Deletes a user and, by cascade, everything they own.
pub async fn delete(db: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    Ok(cached::execute(
        db,
        "delete from users where id = $1 and not is_system",
        &[&id],
    )
    .await?
        == 1)
}

/// Whether `id` is the internal system user.
pub async fn is_system(db: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    let row = cached::query_opt(db, "select is_system from users where id = $1", &[&id]).await?;
    Ok(row.is_some_and(|r| r.get(0)))
}

/// Starts a session for `user_id` that ends at `expires_at`.
pub async fn insert_session(
    db: &impl GenericClient,
    id: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    user_agent: Option<&str>,
) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "insert into sessions (id, user_id, expires_at, user_agent) values ($1, $2, $3, $4)",
        &[&id, &user_id, &expires_at, &user_agent],
    )
    .await?;
    Ok(())
}

/// Ends one session.
pub async fn delete_session(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(cached::execute(db, "delete from sessions where id = $1", &[&id]).await? == 1)
}

/// Ends every session of a user (password change, deactivation).
pub async fn delete_sessions_of(
    db: &impl GenericClient,
    user_id: Uuid,
) -> Result<u64, tokio_postgres::Error> {
    cached::execute(db, "delete from sessions where user_id = $1", &[&user_id]).await
}

/// Deletes sessions that have expired (their tokens stopped working already); needs the admin
/// role class.
pub async fn delete_expired_sessions(
    db: &impl GenericClient,
) -> Result<u64, tokio_postgres::Error> {
    cached::execute(db, "delete from sessions where expires_at < now()", &[]).await
}

/// Hands every row owned by `from` to `to` (see `atelier_adopt` in V1).
pub async fn adopt(
    db: &impl GenericClient,
    from: Uuid,
    to: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    Ok(
        cached::query_one(db, "select atelier_adopt($1, $2)", &[&from, &to])
            .await?
            .get(0),
    )
}

/// The caller's own row, including the system user (single-user mode's `me`).
pub async fn find_self(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<Option<UserView>, tokio_postgres::Error> {
    let sql = format!("select {COLUMNS} from users where id = $1");
    cached::query_opt(db, &sql, &[&id])
        .await?
        .as_ref()
        .map(UserView::try_from)
        .transpose()
}

/// Sets the user's scheduler weight (admins only, by policy and grant).
pub async fn set_weight(
    db: &impl GenericClient,
    id: Uuid,
    weight: f64,
) -> Result<(), tokio_postgres::Error> {
    cached::execute(
        db,
        "insert into queue_users (user_id, weight) values ($1, $2)
         on conflict (user_id) do update set weight = excluded.weight",
        &[&id, &weight],
    )
    .await?;
    Ok(())
}
