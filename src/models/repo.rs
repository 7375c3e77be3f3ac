//! SQL for the catalogue and install jobs, run in the caller's transaction. Reads choose their
//! columns by role: users' column grant has no `source` or `location`, so asking for them as a
//! user would fail in the database, not leak.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::model::{InstallView, ModelView};
use crate::db::cached;

const PUBLIC: &str =
    "id, name, base, type, format, size_bytes, hash, defaults, description, created_at, updated_at";
const ADMIN: &str = "id, name, base, type, format, size_bytes, hash, defaults, description, created_at, updated_at, source, location";

fn columns(admin: bool) -> &'static str {
    if admin { ADMIN } else { PUBLIC }
}

/// Every model, by name.
pub async fn list(
    db: &impl GenericClient,
    admin: bool,
) -> Result<Vec<ModelView>, tokio_postgres::Error> {
    let sql = format!("select {} from models order by name", columns(admin));
    let rows = cached::query(db, &sql, &[]).await?;
    rows.iter().map(ModelView::from_row).collect()
}

/// One model by id.
pub async fn find(
    db: &impl GenericClient,
    id: Uuid,
    admin: bool,
) -> Result<Option<ModelView>, tokio_postgres::Error> {
    let sql = format!("select {} from models where id = $1", columns(admin));
    let row = cached::query_opt(db, &sql, &[&id]).await?;
    row.as_ref().map(ModelView::from_row).transpose()
}

/// One model by name or id (CLI arguments).
pub async fn find_by_name_or_id(
    db: &impl GenericClient,
    key: &str,
) -> Result<Option<ModelView>, tokio_postgres::Error> {
    let id = key.parse::<Uuid>().ok();
    let sql = format!("select {ADMIN} from models where name = $1 or id = $2");
    let row = cached::query_opt(db, &sql, &[&key, &id]).await?;
    row.as_ref().map(ModelView::from_row).transpose()
}

/// Whether a main model of this name is installed (for enqueue).
pub async fn main_model_exists(
    db: &impl GenericClient,
    name: &str,
) -> Result<bool, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select 1 from models where name = $1 and type = 'main'",
        &[&name],
    )
    .await?;
    Ok(row.is_some())
}

/// Whether a VAE of this name is installed that fits the main model `main` (same family, or
/// any).
pub async fn vae_fits(
    db: &impl GenericClient,
    vae: &str,
    main: &str,
) -> Result<bool, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select 1 from models v, models m
          where v.name = $1 and v.type = 'vae' and m.name = $2 and m.type = 'main'
            and (v.base = 'any' or v.base = m.base)",
        &[&vae, &main],
    )
    .await?;
    Ok(row.is_some())
}

/// The first of `loras` that is not an installed LoRA of the main model `main`'s family.
pub async fn first_unfit_lora(
    db: &impl GenericClient,
    loras: &[String],
    main: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = cached::query_opt(
        db,
        "select n from unnest($1::text[]) with ordinality as l(n, i)
          where not exists (select 1 from models a, models m
                             where a.name = l.n and a.type = 'lora' and m.name = $2
                               and m.type = 'main' and a.base = m.base)
          order by i limit 1",
        &[&loras, &main],
    )
    .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The name of the model with this content hash, if any.
pub async fn name_by_hash(
    db: &impl GenericClient,
    hash: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = cached::query_opt(db, "select name from models where hash = $1", &[&hash]).await?;
    Ok(row.map(|r| r.get(0)))
}

/// Every stored location (for scans).
pub async fn locations(db: &impl GenericClient) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = cached::query(db, "select location from models", &[]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A new catalogue entry.
pub struct NewModel<'a> {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: &'a str,
    /// The probe's findings.
    pub probed: super::probe::Probed,
    /// Path or URL it came from.
    pub source: &'a str,
    /// Where it is stored.
    pub location: &'a str,
    /// Bytes.
    pub size_bytes: i64,
    /// BLAKE3 hex.
    pub hash: &'a str,
    /// Free text.
    pub description: &'a str,
}

/// Inserts a model (admins only, by policy and grant).
pub async fn insert(
    db: &impl GenericClient,
    new: &NewModel<'_>,
) -> Result<ModelView, tokio_postgres::Error> {
    let sql = format!(
        "insert into models (id, name, base, type, format, source, location, size_bytes, hash, description)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning {ADMIN}"
    );
    let row = cached::query_one(
        db,
        &sql,
        &[
            &new.id,
            &new.name,
            &new.probed.base.as_str(),
            &new.probed.kind.as_str(),
            &new.probed.format.as_str(),
            &new.source,
            &new.location,
            &new.size_bytes,
            &new.hash,
            &new.description,
        ],
    )
    .await?;
    ModelView::from_row(&row)
}

/// Edits name, description and defaults; absent fields stay.
pub async fn update(
    db: &impl GenericClient,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
    defaults: Option<&serde_json::Value>,
) -> Result<Option<ModelView>, tokio_postgres::Error> {
    let sql = format!(
        "update models set name = coalesce($2, name), description = coalesce($3, description),
                defaults = coalesce($4, defaults)
          where id = $1 returning {ADMIN}"
    );
    let row = cached::query_opt(db, &sql, &[&id, &name, &description, &defaults]).await?;
    row.as_ref().map(ModelView::from_row).transpose()
}

/// Unfinished queue items that use the model (as model, VAE or LoRA).
pub async fn jobs_using(db: &impl GenericClient, name: &str) -> Result<i64, tokio_postgres::Error> {
    let sql = format!(
        "select count(*) from queue_items
          where status in ('pending', 'in_progress') and {}",
        crate::queue::repo::USES_MODEL
    );
    let row = cached::query_one(db, &sql, &[&name]).await?;
    Ok(row.get(0))
}

/// Deletes a model; returns whether it existed.
pub async fn delete(db: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    Ok(cached::execute(db, "delete from models where id = $1", &[&id]).await? == 1)
}

const INSTALL: &str =
    "id, source, status, bytes_done, bytes_total, error, error_code, model_id, created_at";

/// Records a new install job.
pub async fn insert_install(
    db: &impl GenericClient,
    id: Uuid,
    source: &str,
) -> Result<InstallView, tokio_postgres::Error> {
    let sql =
        format!("insert into model_installs (id, source) values ($1, $2) returning {INSTALL}");
    let row = cached::query_one(db, &sql, &[&id, &source]).await?;
    InstallView::try_from(&row)
}

/// Updates an install job's progress or outcome.
pub async fn update_install(
    db: &impl GenericClient,
    id: Uuid,
    status: &str,
    bytes: (i64, Option<i64>),
    error: Option<(&str, &str)>,
    model: Option<Uuid>,
) -> Result<(), tokio_postgres::Error> {
    let (code, message) = error.unzip();
    cached::execute(
        db,
        "update model_installs
            set status = $2, bytes_done = $3, bytes_total = $4, error_code = $5, error = $6, model_id = $7
          where id = $1",
        &[&id, &status, &bytes.0, &bytes.1, &code, &message, &model],
    )
    .await
    .map(drop)
}

/// Install jobs, newest first (admins only).
pub async fn list_installs(
    db: &impl GenericClient,
) -> Result<Vec<InstallView>, tokio_postgres::Error> {
    let sql = format!("select {INSTALL} from model_installs order by created_at desc limit 200");
    let rows = cached::query(db, &sql, &[]).await?;
    rows.iter().map(InstallView::try_from).collect()
}

/// One install job (admins only).
pub async fn find_install(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<Option<InstallView>, tokio_postgres::Error> {
    let sql = format!("select {INSTALL} from model_installs where id = $1");
    let row = cached::query_opt(db, &sql, &[&id]).await?;
    row.as_ref().map(InstallView::try_from).transpose()
}
