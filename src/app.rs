//! `App`: everything a request needs, built once per process and shared behind an `Arc`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::auth::jwt::Keys;
use crate::auth::password;
use crate::auth::ratelimit::Limiter;
use crate::auth::setup::SetupGate;
use crate::config::Config;
use crate::secrets;

/// Shared state of the server.
pub struct App {
    /// The runtime pool (`atelier_app`).
    pub db: deadpool_postgres::Pool,
    /// The effective configuration.
    pub config: Arc<Config>,
    /// JWT keys.
    pub jwt: Keys,
    /// Login attempts per client address.
    pub logins_by_address: Limiter,
    /// Failed logins per account.
    pub failures_by_account: Limiter,
    /// The one-time setup token, while no admin exists.
    pub setup: SetupGate,
    /// A real argon2id hash, verified for unknown emails so timing reveals nothing.
    pub dummy_hash: String,
}

impl App {
    /// Builds the state. The JWT secret comes from config, or from `data_dir/secrets/jwt_secret`.
    pub fn new(
        config: Config,
        db: deadpool_postgres::Pool,
        setup: SetupGate,
    ) -> anyhow::Result<Self> {
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
        Ok(Self {
            db,
            jwt: Keys::new(secret.as_bytes()),
            logins_by_address: Limiter::new(config.auth.max_attempts_per_address, window),
            failures_by_account: Limiter::new(config.auth.max_failures_per_account, window),
            setup,
            dummy_hash: password::hash_blocking("dummy password for unknown accounts")?,
            config: Arc::new(config),
        })
    }
}
