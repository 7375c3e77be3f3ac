//! PostgreSQL access: the embedded cluster, the bootstrap of roles, migrations, the runtime pool
//! and the per-transaction identity that row-level security keys on.
//!
//! Every user-scoped statement runs inside [`begin_as`]. The pool logs in as `atelier_app`,
//! which owns nothing and inherits nothing, so a transaction without an identity fails closed.

pub mod bootstrap;
pub mod cached;
pub mod embedded;
pub mod health;
mod identity;
pub mod migrate;
pub mod open;
pub mod preflight;
pub mod secrets;

pub use identity::{Caller, RoleClass, begin_as};
pub use open::{Database, open};

/// The login that owns the schema and runs migrations.
pub const OWNER_LOGIN: &str = "atelier_owner";
/// The runtime pool login.
pub const APP_LOGIN: &str = "atelier_app";
/// The NOLOGIN role class of ordinary users.
pub const USER_ROLE: &str = "atelier_user";
/// The NOLOGIN role class of admins.
pub const ADMIN_ROLE: &str = "atelier_admin";
/// The NOLOGIN role class of queue workers.
pub const WORKER_ROLE: &str = "atelier_worker";
/// The application database of the embedded cluster.
pub const DATABASE: &str = "atelier";

/// Opens one connection outside the pool (migrations, bootstrap, CLI) and drives it on a task.
pub async fn connect_one(
    config: &tokio_postgres::Config,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "database connection closed");
        }
    });
    Ok(client)
}

/// Builds the runtime pool. Connections carry a statement timeout as a backstop.
pub fn pool(
    mut config: tokio_postgres::Config,
    size: usize,
) -> anyhow::Result<deadpool_postgres::Pool> {
    config.options("-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000");
    // Fast recycling is safe only because no code ever issues session-level SET (rls.md pitfall 3):
    // identity lives in transaction-local settings that COMMIT or ROLLBACK discard.
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?;
    Ok(pool)
}
