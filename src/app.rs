//! `App`: everything a request needs, built once per process and shared behind an `Arc`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Semaphore;

use crate::auth::jwt::Keys;
use crate::auth::password;
use crate::auth::ratelimit::Limiter;
use crate::auth::setup::SetupGate;
use crate::config::Config;
use crate::secrets;
use crate::storage::Storage;

/// Shared state of the server.
pub struct App {
    /// The runtime pool (`atelier_app`).
    pub db: deadpool_postgres::Pool,
    /// Whether the database is reachable (kept by `db::health::supervise`).
    pub db_health: Arc<crate::db::health::DbHealth>,
    /// The effective configuration.
    pub config: Arc<Config>,
    /// JWT keys.
    pub jwt: Keys,
    /// Login attempts per client address.
    pub logins_by_address: Limiter,
    /// Failed logins per account and client address: the address guessing gets 429, nobody else.
    pub failures_by_pair: Limiter,
    /// Failed logins per account from anywhere: past the limit, the account is paced.
    pub failures_by_account: Limiter,
    /// One login attempt per second per account, for accounts past their failure limit.
    pub account_pace: Limiter,
    /// Wrong current passwords per user on `PATCH /auth/me`.
    pub password_checks: Limiter,
    /// Event-socket tickets already used (each opens one socket).
    pub used_tickets: Limiter,
    /// Open event sockets per user in this process.
    pub sockets: crate::events::slots::SocketSlots,
    /// Proxies whose forwarded-for headers name the client.
    pub trusted_proxies: crate::http::client_addr::Proxies,
    /// The one-time setup token, while no admin exists.
    pub setup: SetupGate,
    /// The object store for image bytes.
    pub storage: Storage,
    /// Where uploads are staged before they are checked (`data_dir/staging/serve`).
    pub staging_dir: PathBuf,
    /// Bounds concurrent image decoding (memory), one permit per core.
    pub image_work: Semaphore,
    /// A real argon2id hash, verified for unknown emails so timing reveals nothing.
    pub dummy_hash: String,
    /// Live events for this process's sockets (fed by `Hub::spawn_listener`).
    pub events: crate::events::Hub,
    /// The model catalogue's directories.
    pub models: crate::models::ops::Catalogue,
    /// Keys result image ids (derived from the JWT secret, which every replica and worker
    /// shares), so they cannot be computed from a queue item's public id.
    pub result_id_key: [u8; 32],
    /// Seals S3 access keys' secrets at rest (`s3::seal`).
    pub s3_seal: crate::s3::seal::Sealer,
}

impl App {
    /// Builds the state. The JWT secret comes from config, or from `data_dir/secrets/jwt_secret`.
    pub fn new(
        config: Config,
        db: deadpool_postgres::Pool,
        setup: SetupGate,
        storage: Storage,
    ) -> anyhow::Result<Self> {
        Self::with_staging(config, db, setup, storage, "serve")
    }

    /// Builds the state with its own staging directory `data_dir/staging/{name}`, so that a
    /// worker process sharing the data directory never clears the server's staged uploads.
    pub fn with_staging(
        config: Config,
        db: deadpool_postgres::Pool,
        setup: SetupGate,
        storage: Storage,
        name: &str,
    ) -> anyhow::Result<Self> {
        let staging_dir = config.data_dir.join("staging").join(name);
        let _ = std::fs::remove_dir_all(&staging_dir); // leftovers of a crash
        secrets::ensure_private_dir(&staging_dir)?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let secret = match &config.auth.jwt_secret {
            Some(secret) => secret.clone(),
            None => {
                secrets::load_or_create(&config.data_dir.join("secrets").join("jwt_secret"), || {
                    secrets::random_hex(32)
                })
                .context("failed to load the JWT secret")?
            }
        };
        let window = Duration::from_secs(config.auth.rate_window_secs);
        let models = crate::models::ops::Catalogue::new(db.clone(), &config)?;
        let unhealthy_after = Duration::from_secs(config.database.unhealthy_after_secs);
        let s3_seal =
            crate::s3::seal::Sealer::load(config.s3.seal_key.as_deref(), &config.data_dir)
                .context("failed to load the S3 seal key")?;
        Ok(Self {
            s3_seal,
            models,
            db,
            db_health: Arc::new(crate::db::health::DbHealth::new(unhealthy_after)),
            result_id_key: blake3::derive_key("atelier 2026 result image ids", secret.as_bytes()),
            jwt: Keys::new(secret.as_bytes()),
            logins_by_address: Limiter::new(
                "address",
                config.auth.max_attempts_per_address,
                window,
            ),
            failures_by_pair: Limiter::new("pair", config.auth.max_failures_per_account, window),
            failures_by_account: Limiter::new(
                "account",
                config.auth.max_failures_per_account,
                window,
            ),
            account_pace: Limiter::new("pace", 1, Duration::from_secs(1)),
            password_checks: Limiter::new(
                "password_check",
                config.auth.max_failures_per_account,
                window,
            ),
            trusted_proxies: config.trusted_proxies(),
            used_tickets: Limiter::new("ticket", 1, Duration::from_secs(60)),
            sockets: crate::events::slots::SocketSlots::default(),
            setup,
            storage,
            staging_dir,
            image_work: Semaphore::new(cores),
            dummy_hash: password::hash_blocking("dummy password for unknown accounts")?,
            config: Arc::new(config),
            events: crate::events::Hub::new(),
        })
    }
}
