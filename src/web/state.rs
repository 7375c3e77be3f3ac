//! `/api/v1/ui/state`: one JSON object per user (the Generate form's last parameters and the
//! like), so a reload or another browser restores them. Personal, also towards admins (V9).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::AuthUser;
use crate::db::begin_as;
use crate::error::{ApiError, ErrorCode};
use crate::http::extract::AppJson;

/// The largest state accepted, in bytes of compact JSON.
pub const MAX_STATE_BYTES: usize = 64 * 1024;

/// The UI state routes.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/api/v1/ui/state", get(get_state).put(put_state))
}

/// A user's saved UI state: any JSON object; `{}` until the first save.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct UiState {
    /// What the UI chose to keep.
    #[schema(value_type = Object)]
    pub state: Map<String, Value>,
}

/// Returns the caller's saved UI state.
#[utoipa::path(get, path = "/api/v1/ui/state", tag = "ui",
    responses((status = 200, body = UiState)), security(("bearer" = [])))]
pub async fn get_state(
    State(app): State<Arc<App>>,
    auth: AuthUser,
) -> Result<Json<UiState>, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    // RLS limits the table to the caller's row; the WHERE is the app's own check on top.
    let row = tx
        .query_opt(
            "select state from ui_state where user_id = $1",
            &[&auth.user_id()],
        )
        .await?;
    tx.commit().await?;
    let state = match row.map(|row| row.try_get::<_, Value>("state")) {
        Some(Ok(Value::Object(map))) => map,
        // A row `put_state` would refuse today (see there) reads as no state, not as a 500
        // on every page load.
        Some(Err(error)) => {
            tracing::warn!(%error, "a saved UI state does not read back; sending none");
            Map::new()
        }
        Some(Ok(_)) | None => Map::new(),
    };
    Ok(Json(UiState { state }))
}

/// Replaces the caller's saved UI state (a JSON object of at most 64 KiB).
#[utoipa::path(put, path = "/api/v1/ui/state", tag = "ui", request_body = UiState,
    responses((status = 200, body = UiState), (status = 422, description = "not an object, or over 64 KiB")),
    security(("bearer" = [])))]
pub async fn put_state(
    State(app): State<Arc<App>>,
    auth: AuthUser,
    AppJson(body): AppJson<UiState>,
) -> Result<Json<UiState>, ApiError> {
    let size = serde_json::to_vec(&body.state).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_STATE_BYTES {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            format!("the UI state is {size} bytes; at most {MAX_STATE_BYTES} are kept"),
        ));
    }
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &auth.caller).await?;
    let row = tx
        .query_one(
            "insert into ui_state (user_id, state) values ($1, $2) \
             on conflict (user_id) do update set state = excluded.state, updated_at = now() \
             returning state",
            &[&auth.user_id(), &tokio_postgres::types::Json(&body.state)],
        )
        .await?;
    // PostgreSQL keeps numbers as exact decimals: one at the edge of a double (1.7976931348623157e308)
    // comes back as 309 digits that JSON readers cannot take. Refuse what would not read back.
    let Ok(Value::Object(state)) = row.try_get::<_, Value>("state") else {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "the UI state holds a number too large to store and read back",
        ));
    };
    tx.commit().await?;
    Ok(Json(UiState { state }))
}
