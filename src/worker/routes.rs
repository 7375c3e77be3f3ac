//! `/api/v1/workers` (admins): the GPU fleet as the workers report it, and forgetting a worker
//! that died without stopping.

use std::sync::Arc;

use super::registry::{self, WorkerView};
use crate::app::App;
use crate::auth::AdminUser;
use crate::db::begin_as;
use crate::error::{ApiError, ErrorCode};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

/// The admin routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/workers", get(list_workers))
        .route(
            "/api/v1/workers/{name}",
            axum::routing::delete(forget_worker),
        )
}

/// Lists the workers that have reported (admins only).
#[utoipa::path(get, path = "/api/v1/workers", tag = "workers",
    responses((status = 200, body = Vec<WorkerView>), (status = 403, description = "not an admin")),
    security(("bearer" = [])))]
pub async fn list_workers(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
) -> Result<Json<Vec<WorkerView>>, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &admin.caller).await?;
    let reports = registry::list(&tx).await?;
    tx.commit().await?;
    Ok(Json(reports))
}

/// Forgets a worker that stopped reporting (killed rather than stopped; admins only). An online
/// worker is refused: its next report would bring it back.
#[utoipa::path(delete, path = "/api/v1/workers/{name}", tag = "workers",
    params(("name" = String, Path, description = "the worker's name")),
    responses((status = 204, description = "forgotten"), (status = 403, description = "not an admin"),
        (status = 404, description = "worker_not_found"), (status = 409, description = "worker_online")),
    security(("bearer" = [])))]
pub async fn forget_worker(
    State(app): State<Arc<App>>,
    AdminUser(admin): AdminUser,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &admin.caller).await?;
    match registry::is_online(&tx, &name).await? {
        None => Err(ApiError::new(
            ErrorCode::WorkerNotFound,
            format!("no worker named {name:?} has reported"),
        )),
        Some(true) => Err(ApiError::new(
            ErrorCode::WorkerOnline,
            format!("worker {name:?} is still reporting; stop it first"),
        )),
        Some(false) => {
            registry::delete(&tx, &name).await?;
            tx.commit().await?;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}
