//! `/api/v1/auth`: status, first-run setup, login, logout and the caller's own account.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::header::{SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::session::{self, LoginResponse};
use super::{AuthUser, cookie, password};
use crate::app::App;
use crate::db::{Caller, RoleClass, begin_as};
use crate::error::{ApiError, ErrorCode, on_db_error};
use crate::http::client_addr::{client_ip, is_https};
use crate::http::extract::AppJson;
use crate::users::model::{DisplayName, Email};
use crate::users::{UserView, repo};

/// "Remember me" sessions last this long, whatever `session_ttl_secs` says.
const REMEMBER_ME_SECS: u64 = 7 * 24 * 3600;

/// The routes under `/api/v1/auth` (the admin user routes live in `users::routes`).
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/auth/status", get(status))
        .route("/api/v1/auth/setup", post(setup))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(get_me).patch(update_me))
}

/// Whether the server is in multiuser mode and still needs its first admin.
#[derive(Serialize, ToSchema)]
pub struct AuthStatus {
    multiuser_enabled: bool,
    setup_required: bool,
    /// The S3 door's port on this host, or null when it is off.
    s3_port: Option<u16>,
    /// The S3 door's address as clients should use it (`s3.public_url`), when configured.
    s3_public_url: Option<String>,
}

/// Says whether login is on and whether the first admin must still be created.
#[utoipa::path(get, path = "/api/v1/auth/status", tag = "auth", responses((status = 200, body = AuthStatus)))]
pub async fn status(State(app): State<Arc<App>>) -> Result<Json<AuthStatus>, ApiError> {
    let setup_required = app.config.multiuser && !admin_exists(&app).await?;
    Ok(Json(AuthStatus {
        multiuser_enabled: app.config.multiuser,
        setup_required,
        s3_port: app.config.s3.listen.map(|a| a.port()),
        s3_public_url: app.config.s3.public_url.clone(),
    }))
}

/// The first admin, created with the setup token from the server log.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    setup_token: String,
    email: String,
    display_name: String,
    password: String,
}

/// Creates the first admin; works only while none exists, and only with the setup token.
#[utoipa::path(post, path = "/api/v1/auth/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 201, body = UserView), (status = 403, description = "invalid_setup_token"),
              (status = 409, description = "setup_already_done")))]
pub async fn setup(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AppJson(body): AppJson<SetupRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    require_multiuser(&app)?;
    let client = client_ip(peer.ip(), &headers, &app.trusted_proxies);
    throttle_address(&app, client).await?;
    if admin_exists(&app).await? {
        return Err(setup_already_done());
    }
    if !app.setup.accepts(body.setup_token.trim()) {
        // A racing setup may have closed the gate since the check above.
        if admin_exists(&app).await? {
            return Err(setup_already_done());
        }
        return Err(ApiError::new(
            ErrorCode::InvalidSetupToken,
            "the setup token is wrong; it is in the server log",
        ));
    }
    let email = Email::parse(&body.email)?;
    let name = DisplayName::parse(&body.display_name)?;
    password::check_policy(&body.password, email.as_str())?;
    let hash = password::hash(body.password)
        .await
        .map_err(ApiError::internal)?;
    let id = Uuid::now_v7();
    let client = app.db.get().await?;
    let created: bool = client
        .query_one(
            "select auth_setup_admin($1, $2, $3, $4)",
            &[&id, &email.as_str(), &name.as_str(), &hash],
        )
        .await
        .map_err(|e| {
            on_db_error(
                e,
                &[(
                    "users_email_key",
                    ErrorCode::EmailTaken,
                    "another account uses this email",
                )],
            )
        })?
        .get(0);
    if !created {
        return Err(setup_already_done());
    }
    app.setup.close();
    tracing::info!(user.id = %id, "first admin created");
    let admin = Caller::admin(id);
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &admin).await?;
    let user = repo::find(&tx, id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("admin vanished")))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Email and password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
    #[serde(default)]
    remember_me: bool,
}

/// Logs in and returns a bearer token bound to a new server-side session.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, description = "invalid_credentials"),
              (status = 429, description = "rate_limited, with Retry-After")))]
pub async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Response, ApiError> {
    require_multiuser(&app)?;
    let email = body.email.trim().to_lowercase();
    let client = client_ip(peer.ip(), &headers, &app.trusted_proxies);
    throttle_login(&app, &email, client).await?;
    // An email PostgreSQL cannot even store (NUL, absurd length) names no account.
    let plausible = email.len() <= 254 && !email.chars().any(char::is_control);
    let account = if plausible {
        find_login(&app, &email).await?
    } else {
        None
    };
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    let password_ok = body.password.len() <= 4 * password::MAX_LEN
        && password::verify(body.password, hash, &app.dummy_hash)
            .await
            .map_err(ApiError::internal)?;
    let Some(account) = account.filter(|_| password_ok) else {
        crate::metrics::record_login_failure();
        return Err(ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    };
    if !account.is_active {
        return Err(ApiError::new(
            ErrorCode::AccountDisabled,
            "this account is deactivated",
        ));
    }
    app.failures_by_pair
        .clear(&app.db, &pair_key(&email, client))
        .await?;
    app.failures_by_account.clear(&app.db, &email).await?;
    let ttl = if body.remember_me {
        REMEMBER_ME_SECS
    } else {
        app.config.auth.session_ttl_secs
    };
    let caller = Caller {
        user_id: account.user_id,
        role: RoleClass::from_is_admin(account.is_admin),
    };
    let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    let login = session::start(&app, &caller, ttl, user_agent).await?;
    let secure =
        app.config.auth.secure_cookies || is_https(peer.ip(), &headers, &app.trusted_proxies);
    let cookie = cookie::set(&login.media_token, login.expires_in, secure);
    Ok(([(SET_COOKIE, cookie)], Json(login)).into_response())
}

/// Ends the caller's session: the token stops working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)),
    security(("bearer" = [])))]
pub async fn logout(State(app): State<Arc<App>>, auth: AuthUser) -> Result<Response, ApiError> {
    let Some(session_id) = auth.session_id else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    repo::delete_session(&tx, session_id).await?;
    tx.commit().await?;
    Ok(([(SET_COOKIE, cookie::clear())], StatusCode::NO_CONTENT).into_response())
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = UserView)),
    security(("bearer" = [])))]
pub async fn get_me(
    State(app): State<Arc<App>>,
    auth: AuthUser,
) -> Result<Json<UserView>, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let user = repo::find_self(&tx, auth.user_id())
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    tx.commit().await?;
    Ok(Json(user))
}

/// Changes to the caller's own account. A password change needs the current password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    display_name: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
}

/// The updated account; after a password change, also a new token (all others are revoked).
#[derive(Serialize, ToSchema)]
pub struct UpdateMeResponse {
    user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
}

/// Changes the caller's display name and/or password.
#[utoipa::path(patch, path = "/api/v1/auth/me", tag = "auth", request_body = UpdateMe,
    responses((status = 200, body = UpdateMeResponse), (status = 403, description = "wrong_password")),
    security(("bearer" = [])))]
pub async fn update_me(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    auth: AuthUser,
    headers: HeaderMap,
    AppJson(body): AppJson<UpdateMe>,
) -> Result<Response, ApiError> {
    let name = body
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let new_hash = match body.new_password {
        Some(new_password) => Some(
            check_and_hash_new_password(&app, &auth, body.current_password, new_password).await?,
        ),
        None => None,
    };
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    if let Some(name) = &name {
        repo::set_display_name(&tx, auth.user_id(), name.as_str()).await?;
    }
    let mut media_token = None;
    let mut response = UpdateMeResponse {
        user: repo::find_self(&tx, auth.user_id())
            .await?
            .ok_or_else(ApiError::unauthenticated)?,
        token: None,
        expires_in: None,
    };
    if let Some(hash) = &new_hash {
        repo::set_password_hash(&tx, auth.user_id(), hash).await?;
        repo::delete_sessions_of(&tx, auth.user_id()).await?;
        let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
        let login = session::start_in(
            &app,
            &tx,
            &auth.caller,
            app.config.auth.session_ttl_secs,
            user_agent,
        )
        .await?;
        response.token = Some(login.token);
        response.expires_in = Some(login.expires_in);
        media_token = Some(login.media_token);
    }
    tx.commit().await?;
    let secure =
        app.config.auth.secure_cookies || is_https(peer.ip(), &headers, &app.trusted_proxies);
    let cookie = media_token
        .as_deref()
        .map(|token| cookie::set(token, app.config.auth.session_ttl_secs, secure));
    let mut http = Json(response).into_response();
    if let Some(cookie) = cookie {
        http.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(http)
}

async fn check_and_hash_new_password(
    app: &App,
    auth: &AuthUser,
    current: Option<String>,
    new_password: String,
) -> Result<String, ApiError> {
    if auth.session_id.is_none() {
        return Err(ApiError::new(
            ErrorCode::MultiuserDisabled,
            "there are no passwords in single-user mode",
        ));
    }
    let current = current.ok_or_else(|| {
        ApiError::validation("current_password is required to change the password")
    })?;
    // Throttled like logins (counted before the check, cleared on success), so a stolen
    // session cannot be used to guess the password that would let it take the account over.
    let key = auth.user_id().to_string();
    if let Some(secs) = app.password_checks.hit(&app.db, &key).await? {
        return Err(ApiError::rate_limited(secs));
    }
    let (stored, email) = {
        let mut client = app.db.get().await?;
        let tx = begin_as(&mut client, &auth.caller).await?;
        let stored = repo::password_hash(&tx, auth.user_id()).await?;
        let email = repo::find_self(&tx, auth.user_id())
            .await?
            .map(|u| u.email)
            .unwrap_or_default();
        tx.commit().await?;
        (stored, email)
    };
    // No pooled connection is held while waiting for a hashing slot.
    let bounded = current.len() <= 4 * password::MAX_LEN;
    if !(bounded
        && password::verify(current, stored, &app.dummy_hash)
            .await
            .map_err(ApiError::internal)?)
    {
        return Err(ApiError::new(
            ErrorCode::WrongPassword,
            "the current password is wrong",
        ));
    }
    app.password_checks.clear(&app.db, &key).await?;
    password::check_policy(&new_password, &email)?;
    password::hash(new_password)
        .await
        .map_err(ApiError::internal)
}

struct LoginAccount {
    user_id: Uuid,
    password_hash: String,
    is_admin: bool,
    is_active: bool,
}

async fn find_login(app: &App, email: &str) -> Result<Option<LoginAccount>, ApiError> {
    let client = app.db.get().await?;
    let stmt = client
        .prepare_cached(
            "select user_id, password_hash, is_admin, is_active from auth_login_lookup($1)",
        )
        .await?;
    let row = client.query_opt(&stmt, &[&email]).await?;
    Ok(row.map(|r| LoginAccount {
        user_id: r.get("user_id"),
        password_hash: r.get("password_hash"),
        is_admin: r.get("is_admin"),
        is_active: r.get("is_active"),
    }))
}

async fn admin_exists(app: &App) -> Result<bool, ApiError> {
    let client = app.db.get().await?;
    let stmt = client.prepare_cached("select auth_admin_exists()").await?;
    Ok(client.query_one(&stmt, &[]).await?.get(0))
}

fn setup_already_done() -> ApiError {
    ApiError::new(
        ErrorCode::SetupAlreadyDone,
        "setup is already done: an admin exists",
    )
}

fn require_multiuser(app: &App) -> Result<(), ApiError> {
    if app.config.multiuser {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::MultiuserDisabled,
        "login is off: this server runs in single-user mode",
    ))
}

/// The login throttle (see `docs/architecture.md`, "Accounts and setup"). Every check counts
/// before the password is verified, atomically, so parallel guesses are all counted:
/// - all attempts per client address (IPv6 by /64): 429;
/// - failures per account and address: 429 for that address only, so a stranger's wrong guesses
///   cannot keep the owner of the account out;
/// - failures per account from anywhere: past the limit, the account takes one attempt per
///   second from anyone (429 with `Retry-After: 1` to the rest): distributed guessing is paced,
///   and the owner is slowed down, never locked out.
async fn throttle_login(app: &App, email: &str, client: IpAddr) -> Result<(), ApiError> {
    let throttled = check_login_throttle(app, email, client).await;
    if matches!(&throttled, Err(e) if e.code() == ErrorCode::RateLimited) {
        crate::metrics::record_login_throttled();
    }
    throttled
}

async fn check_login_throttle(app: &App, email: &str, client: IpAddr) -> Result<(), ApiError> {
    throttle_address(app, client).await?;
    if let Some(secs) = app
        .failures_by_pair
        .hit(&app.db, &pair_key(email, client))
        .await?
    {
        return Err(ApiError::rate_limited(secs));
    }
    if app.failures_by_account.hit(&app.db, email).await?.is_some()
        && let Some(secs) = app.account_pace.hit(&app.db, email).await?
    {
        return Err(ApiError::rate_limited(secs));
    }
    Ok(())
}

/// All attempts (setup and login) per client address.
async fn throttle_address(app: &App, client: IpAddr) -> Result<(), ApiError> {
    match app
        .logins_by_address
        .hit(&app.db, &address_key(client))
        .await?
    {
        Some(secs) => Err(ApiError::rate_limited(secs)),
        None => Ok(()),
    }
}

/// An address as the throttle counts it: IPv4 whole, IPv6 by its /64 (one subscriber's
/// network, which holds more addresses than any limit could count one by one).
fn address_key(client: IpAddr) -> String {
    match client.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

fn pair_key(email: &str, client: IpAddr) -> String {
    format!("{email}\n{}", address_key(client))
}
