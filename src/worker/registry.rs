//! Workers report themselves to the `workers` table (device, loaded models, memory) every few
//! seconds, as `atelier_worker`; admins list them at `/api/v1/workers` with whether each is
//! online and what it is running.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::engine::EngineMemory;
use crate::app::App;
use crate::auth::AdminUser;
use crate::db::{Caller, begin_as};
use crate::error::{ApiError, ErrorCode};

/// How often a worker reports; a worker unheard of for three periods is shown offline.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Rows of workers unheard of for this long (killed, not stopped) are deleted by the others.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Writes (or refreshes) this worker's row.
pub async fn report(app: &App, name: &str, memory: &EngineMemory) -> anyhow::Result<()> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    tx.execute(
        "insert into workers (name, device, memory) values ($1, $2, $3)
         on conflict (name) do update
             set device = excluded.device, memory = excluded.memory, last_seen = now()",
        &[&name, &memory.device, &tokio_postgres::types::Json(memory)],
    )
    .await?;
    tx.execute(
        "delete from workers where last_seen < now() - $1 * interval '1 second'",
        &[&FORGET_AFTER.as_secs_f64()],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes this worker's row (a clean stop).
pub async fn forget(app: &App, name: &str) -> anyhow::Result<()> {
    let mut client = app.db.get().await?;
    let tx = begin_as(&mut client, &Caller::worker()).await?;
    tx.execute("delete from workers where name = $1", &[&name])
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The admin route.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/workers", get(list_workers))
        .route(
            "/api/v1/workers/{name}",
            axum::routing::delete(forget_worker),
        )
}

/// A worker as admins see it.
#[derive(Serialize, ToSchema)]
pub struct WorkerView {
    /// `worker.name`, or `host-pid`.
    pub name: String,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// When it first reported.
    pub started_at: DateTime<Utc>,
    /// Its last report.
    pub last_seen: DateTime<Utc>,
    /// Whether it reported within the last three periods.
    pub online: bool,
    /// Bytes of model weights it holds now.
    pub loaded_bytes: i64,
    /// Its budget and loaded models.
    pub memory: EngineMemory,
    /// The queue item it is running, if any.
    pub running_item_id: Option<Uuid>,
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
    let rows = tx
        .query(
            "select w.name, w.device, w.started_at, w.last_seen, w.memory,
                    w.last_seen > now() - $1 * interval '1 second' as online,
                    (select q.id from queue_items q
                      where q.worker = w.name and q.status = 'in_progress' limit 1) as running
               from workers w order by w.name",
            &[&(3.0 * REPORT_EVERY.as_secs_f64())],
        )
        .await?;
    tx.commit().await?;
    let workers = rows
        .iter()
        .map(|row| {
            let memory: EngineMemory = row
                .try_get::<_, tokio_postgres::types::Json<EngineMemory>>("memory")
                .map(|json| json.0)
                .unwrap_or_default();
            Ok(WorkerView {
                name: row.try_get("name")?,
                device: row.try_get("device")?,
                started_at: row.try_get("started_at")?,
                last_seen: row.try_get("last_seen")?,
                online: row.try_get("online")?,
                loaded_bytes: memory.models.iter().map(|m| m.bytes).sum(),
                memory,
                running_item_id: row.try_get("running")?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    Ok(Json(workers))
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
    let online = tx
        .query_opt(
            "select last_seen > now() - $2 * interval '1 second' from workers where name = $1",
            &[&name, &(3.0 * REPORT_EVERY.as_secs_f64())],
        )
        .await?
        .map(|row| row.get::<_, bool>(0));
    match online {
        None => Err(ApiError::new(
            ErrorCode::WorkerNotFound,
            format!("no worker named {name:?} has reported"),
        )),
        Some(true) => Err(ApiError::new(
            ErrorCode::WorkerOnline,
            format!("worker {name:?} is still reporting; stop it first"),
        )),
        Some(false) => {
            tx.execute("delete from workers where name = $1", &[&name])
                .await?;
            tx.commit().await?;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}
