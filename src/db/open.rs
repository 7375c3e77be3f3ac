//! Opens the database a process runs against: the embedded cluster under `data_dir` (started,
//! bootstrapped and migrated here) or a managed PostgreSQL given by `database.url`.

use std::fs::File;
use std::sync::Arc;

use anyhow::{Context, bail};

use super::embedded::{EmbeddedCluster, SUPERUSER};
use super::{APP_LOGIN, DATABASE, OWNER_LOGIN, bootstrap, connect_one, migrate, preflight};
use crate::config::Config;

/// Why the database is opened: a server must own the data directory; a CLI command may share
/// the cluster of a running server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// `atelier serve`.
    Serve,
    /// A CLI command such as `atelier user add`.
    Cli,
    /// `atelier worker`: it uses a running server's embedded cluster and never starts one
    /// (a long-lived worker holding the data directory would keep the server from starting).
    Worker,
}

/// An open database: the runtime pool plus what is needed to administer and close it.
pub struct Database {
    /// The runtime pool (`atelier_app`).
    pub pool: deadpool_postgres::Pool,
    /// The runtime login's settings, for connections outside the pool (LISTEN).
    pub app_config: tokio_postgres::Config,
    /// Owner login settings, when known (embedded cluster, or `database.owner_url`).
    pub owner: Option<tokio_postgres::Config>,
    /// The embedded cluster, if this process uses one.
    pub cluster: Option<Arc<EmbeddedCluster>>,
    /// Whether this process started the cluster and must stop it.
    owns_cluster: bool,
    /// Held while this process owns the data directory.
    _lock: Option<File>,
}

impl Database {
    /// The embedded cluster if this process started it (and so restarts it when it dies).
    pub fn owned_cluster(&self) -> Option<Arc<EmbeddedCluster>> {
        self.cluster.clone().filter(|_| self.owns_cluster)
    }

    /// Stops the embedded cluster if this process started it.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close();
        if let (true, Some(cluster)) = (self.owns_cluster, self.cluster) {
            tokio::task::spawn_blocking(move || cluster.stop()).await??;
        }
        Ok(())
    }
}

/// Opens (and for the embedded cluster, starts, bootstraps and migrates) the database.
pub async fn open(config: &Config, purpose: Purpose) -> anyhow::Result<Database> {
    let pool_size = config.database.pool_size.unwrap_or(16);
    let Some(url) = &config.database.url else {
        return open_embedded(config, purpose, pool_size).await;
    };
    let app: tokio_postgres::Config = url
        .parse()
        .context("database.url is not a valid PostgreSQL URL")?;
    let owner = match &config.database.owner_url {
        Some(owner_url) => Some(
            owner_url
                .parse()
                .context("database.owner_url is not valid")?,
        ),
        None => None,
    };
    if let Some(owner) = &owner {
        migrate::run(owner).await?;
    } else if purpose == Purpose::Serve {
        tracing::warn!("database.owner_url is not set: not migrating; run `atelier migrate` first");
    }
    let pool = super::pool(app.clone(), pool_size)?;
    check_pool(&pool).await?;
    Ok(Database {
        pool,
        app_config: app,
        owner,
        cluster: None,
        owns_cluster: false,
        _lock: None,
    })
}

async fn open_embedded(
    config: &Config,
    purpose: Purpose,
    pool_size: usize,
) -> anyhow::Result<Database> {
    // The lock comes first: two first starts must not both generate secrets or run initdb.
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("failed to create {}", config.data_dir.display()))?;
    let lock = try_lock_data_dir(config)?;
    let owns_cluster = lock.is_some();
    if owns_cluster && purpose == Purpose::Worker {
        bail!(
            "no atelier server runs on {}: a worker on the embedded database uses the server's \
             cluster, so start `atelier serve` first (or set database.url)",
            config.data_dir.display()
        );
    }
    let data_dir = config.data_dir.clone();
    let os_user = config.database.os_user.clone();
    let cluster = tokio::task::spawn_blocking(move || {
        EmbeddedCluster::prepare(&data_dir, os_user.as_deref())
    })
    .await??;
    let cluster = Arc::new(cluster);
    if owns_cluster {
        let starting = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || starting.start(None)).await??;
        let secrets = &cluster.secrets;
        let superuser =
            connect_one(&cluster.pg_config(SUPERUSER, &secrets.superuser, "postgres")).await?;
        bootstrap::run(&superuser, secrets).await?;
    } else if purpose == Purpose::Serve {
        bail!(
            "another atelier process is serving {}; stop it first",
            config.data_dir.display()
        );
    } else if !cluster.is_running() {
        bail!(
            "the data directory is locked by another atelier process, but its database is not running"
        );
    }
    let owner = cluster.pg_config(OWNER_LOGIN, &cluster.secrets.owner, DATABASE);
    let app = cluster.pg_config(APP_LOGIN, &cluster.secrets.app, DATABASE);
    if owns_cluster {
        migrate::run(&owner).await?;
    }
    let pool = super::pool(app.clone(), pool_size)?;
    let database = Database {
        pool,
        app_config: app,
        owner: Some(owner),
        cluster: Some(cluster),
        owns_cluster,
        _lock: lock,
    };
    if let Err(error) = check_pool(&database.pool).await {
        database.close().await?;
        return Err(error);
    }
    Ok(database)
}

async fn check_pool(pool: &deadpool_postgres::Pool) -> anyhow::Result<()> {
    let client = pool
        .get()
        .await
        .context("failed to connect to the database")?;
    preflight::check_runtime_login(&client).await
}

/// Takes `data_dir/atelier.lock`; None when another process holds it. The OS releases the lock
/// when the holder dies, even by kill -9, so a crash never blocks the next start.
fn try_lock_data_dir(config: &Config) -> anyhow::Result<Option<File>> {
    let path = config.data_dir.join("atelier.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).context("failed to lock the data directory")
        }
    }
}
