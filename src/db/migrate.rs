//! Schema migrations: the `migrations/V{n}__name.sql` files embedded by refinery, applied by the
//! owner login under a `pg_advisory_lock`, so that concurrent `serve`/`migrate` runs never race.

use anyhow::Context;

use super::connect_one;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The advisory lock key that serialises migration runs across processes and machines.
const MIGRATION_LOCK: i64 = 7_406_283_500;

/// Applies pending migrations as the owner login and returns how many were applied.
pub async fn run(owner: &tokio_postgres::Config) -> anyhow::Result<usize> {
    let mut client = connect_one(owner)
        .await
        .context("failed to connect as the schema owner")?;
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let report = embedded::migrations::runner().run_async(&mut client).await;
    client
        .execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    let report = report.context("failed to apply migrations")?;
    let applied = report.applied_migrations().len();
    for migration in report.applied_migrations() {
        tracing::info!(migration = %migration, "applied migration");
    }
    Ok(applied)
}

/// A hash of the embedded migrations, naming test templates so a changed schema gets a new one.
pub fn fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for migration in embedded::migrations::runner().get_migrations() {
        hasher.update(migration.to_string().as_bytes());
        hasher.update(migration.checksum().to_le_bytes());
    }
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
