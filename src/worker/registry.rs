//! The `workers` table: workers report themselves (device, loaded models, memory) every few
//! seconds as `atelier_worker`; admins read the reports (served by `worker::routes`) with
//! whether each worker is online and what it is running, and may forget a dead one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::engine::EngineMemory;
use crate::app::App;
use crate::db::{Caller, begin_as};

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
    crate::metrics::record_heartbeat(memory.models.iter().map(|m| m.bytes).sum());
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

/// Seconds without a report after which a worker is shown offline.
fn offline_after() -> f64 {
    3.0 * REPORT_EVERY.as_secs_f64()
}

/// Every report, by name (admins).
pub async fn list(db: &impl GenericClient) -> Result<Vec<WorkerView>, tokio_postgres::Error> {
    let rows = db
        .query(
            "select w.name, w.device, w.started_at, w.last_seen, w.memory,
                    w.last_seen > now() - $1 * interval '1 second' as online,
                    (select q.id from queue_items q
                      where q.worker = w.name and q.status = 'in_progress' limit 1) as running
               from workers w order by w.name",
            &[&offline_after()],
        )
        .await?;
    rows.iter()
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
        .collect()
}

/// How many workers reported within the last three periods.
pub async fn online_count(db: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    Ok(db
        .query_one(
            "select count(*) from workers where last_seen > now() - $1 * interval '1 second'",
            &[&offline_after()],
        )
        .await?
        .get(0))
}

/// Whether the worker called `name` is online (None: it never reported or was forgotten).
pub async fn is_online(
    db: &impl GenericClient,
    name: &str,
) -> Result<Option<bool>, tokio_postgres::Error> {
    Ok(db
        .query_opt(
            "select last_seen > now() - $2 * interval '1 second' from workers where name = $1",
            &[&name, &offline_after()],
        )
        .await?
        .map(|row| row.get(0)))
}

/// Deletes the report of the worker called `name`.
pub async fn delete(db: &impl GenericClient, name: &str) -> Result<(), tokio_postgres::Error> {
    db.execute("delete from workers where name = $1", &[&name])
        .await
        .map(drop)
}
