//! The `/api/v1/events` WebSocket. Browsers cannot set headers on an upgrade, so a client first
//! gets a 30-second ticket (`POST /api/v1/events/ticket`, bearer-authenticated) and opens the
//! socket with `?ticket=`. Each socket re-reads its session every few seconds and closes
//! (code 4401) when the session ends; a `session_ended` notice closes it at once. A ticket
//! opens one socket, and one user holds at most `http.max_sockets_per_user` at once.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{State, rejection::QueryRejection};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;
use uuid::Uuid;

use super::audience::{Delivery, Viewer, route};
use crate::app::App;
use crate::auth::AuthUser;
use crate::auth::extract::resolve_session;
use crate::auth::jwt::Claims;
use crate::db::RoleClass;
use crate::error::{ApiError, ErrorCode};
use crate::users::SYSTEM_USER_ID;

/// How long a ticket opens the socket.
const TICKET_SECS: i64 = 30;
/// How often a socket re-reads its session and the user's admin flag.
const RECHECK: Duration = Duration::from_secs(5);
/// The close code for an ended session.
const SESSION_ENDED: u16 = 4401;
/// How often the server pings: proxies close idle connections, and a peer that vanished
/// without closing (a laptop lid) is noticed when it stops answering.
const PING_EVERY: Duration = Duration::from_secs(20);
/// A socket that has sent nothing (not even a pong) for this long is dropped.
const SILENCE_LIMIT: Duration = Duration::from_secs(65);

/// The routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/events/ticket", post(ticket))
        .route("/api/v1/events", get(connect))
}

/// A ticket for the event socket.
#[derive(Serialize, ToSchema)]
pub struct Ticket {
    /// Pass as `?ticket=` to `/api/v1/events`.
    pub ticket: String,
    /// Seconds it stays valid.
    pub expires_in: i64,
}

/// Issues a short-lived ticket that opens the event socket for the caller's session.
#[utoipa::path(post, path = "/api/v1/events/ticket", tag = "events",
    responses((status = 200, body = Ticket), (status = 401, description = "unauthenticated")),
    security(("bearer" = [])))]
pub async fn ticket(State(app): State<Arc<App>>, auth: AuthUser) -> Result<Json<Ticket>, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let session = auth.session_id.unwrap_or(Uuid::nil());
    let ticket = app
        .jwt
        .issue_ticket(auth.user_id(), session, now, now + TICKET_SECS)
        .map_err(ApiError::internal)?;
    Ok(Json(Ticket {
        ticket,
        expires_in: TICKET_SECS,
    }))
}

/// `?ticket=`.
#[derive(Deserialize)]
pub struct ConnectQuery {
    ticket: Option<String>,
}

/// Opens the event socket. Messages are JSON objects with a `type`: `hello` first, then
/// `progress`, `job_queued`, `job_started`, `job_suspended`, `job_completed`, `job_failed`,
/// `job_canceled`, `job_deleted`, `queue_changed`, and `resync` after a burst was dropped.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(("ticket" = String, Query, description = "from POST /api/v1/events/ticket")),
    responses((status = 101, description = "switching to WebSocket"),
              (status = 401, description = "unauthenticated")))]
pub async fn connect(
    State(app): State<Arc<App>>,
    query: Result<axum::extract::Query<ConnectQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ticket = query.ok().and_then(|q| q.0.ticket);
    let (viewer, claims) = authenticate(&app, ticket.as_deref()).await?;
    let upgrade = upgrade.map_err(|_| {
        ApiError::new(
            ErrorCode::ValidationFailed,
            "this endpoint needs a WebSocket upgrade",
        )
    })?;
    let slot = app
        .sockets
        .open(viewer.user_id, app.config.http.max_sockets_per_user)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::TooManyConnections,
                "too many live-event connections for this account; close some tabs",
            )
        })?;
    Ok(upgrade.on_upgrade(move |socket| async move {
        run(app, socket, viewer, claims).await;
        drop(slot);
    }))
}

async fn authenticate(
    app: &App,
    ticket: Option<&str>,
) -> Result<(Viewer, Option<Claims>), ApiError> {
    if !app.config.multiuser {
        let viewer = Viewer {
            user_id: SYSTEM_USER_ID,
            is_admin: true,
            session_id: None,
        };
        return Ok((viewer, None));
    }
    let claims = ticket
        .and_then(|t| app.jwt.verify_ticket(t))
        .ok_or_else(ApiError::unauthenticated)?;
    // One ticket, one socket: its id is counted once (shared by every replica) for as long as
    // the ticket could be valid.
    let id = claims.jti.ok_or_else(ApiError::unauthenticated)?;
    if app
        .used_tickets
        .hit(&app.db, &id.to_string())
        .await?
        .is_some()
    {
        return Err(ApiError::unauthenticated());
    }
    let user = resolve_session(app, &claims).await?;
    let viewer = Viewer {
        user_id: user.user_id(),
        is_admin: user.caller.role == RoleClass::Admin,
        session_id: Some(claims.sid),
    };
    Ok((viewer, Some(claims)))
}

/// Serves one socket until either side closes or the session ends.
async fn run(app: Arc<App>, mut socket: WebSocket, mut viewer: Viewer, claims: Option<Claims>) {
    let mut notices = app.events.subscribe();
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = std::time::Instant::now();
    let hello = serde_json::json!({
        "type": "hello", "user_id": viewer.user_id, "is_admin": viewer.is_admin,
    });
    if send(&mut socket, &hello).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            notice = notices.recv() => {
                let delivery = match notice {
                    Ok(notice) => route(&notice, &viewer),
                    Err(RecvError::Lagged(missed)) => {
                        Delivery::Send(serde_json::json!({"type": "resync", "missed": missed}))
                    }
                    Err(RecvError::Closed) => break,
                };
                match delivery {
                    Delivery::Send(message) => {
                        if send(&mut socket, &message).await.is_err() {
                            break;
                        }
                    }
                    Delivery::Close => return close(socket).await,
                    Delivery::Skip => {}
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => last_heard = std::time::Instant::now(),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT
                    || socket.send(Message::Ping(Vec::new().into())).await.is_err()
                {
                    break;
                }
            }
            _ = recheck.tick() => {
                let Some(claims) = &claims else { continue };
                match resolve_session(&app, claims).await {
                    Ok(user) => viewer.is_admin = user.caller.role == RoleClass::Admin,
                    Err(error) if error.code() == ErrorCode::Unauthenticated => {
                        return close(socket).await;
                    }
                    Err(error) => tracing::debug!(error = %error.message(), "session recheck failed"),
                }
            }
        }
    }
}

async fn send(socket: &mut WebSocket, message: &serde_json::Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(message.to_string().into())).await
}

async fn close(mut socket: WebSocket) {
    let frame = CloseFrame {
        code: SESSION_ENDED,
        reason: "session ended".into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
