//! The one-time setup token. While no admin exists, a multiuser server writes a random token to
//! `data_dir/secrets/setup_token` and its log; only a request carrying it may create the first
//! admin. Whoever reaches a fresh server first cannot take it over (InvokeAI's flaw).

use std::path::PathBuf;
use std::sync::Mutex;

use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::secrets;

/// Holds the current setup token, if setup is still possible.
pub struct SetupGate {
    // std Mutex: held only to compare or clear, never across an await.
    token: Mutex<Option<String>>,
    file: Option<PathBuf>,
}

impl SetupGate {
    /// A gate that accepts no token (single-user mode, or an admin exists).
    pub fn closed() -> Self {
        Self {
            token: Mutex::new(None),
            file: None,
        }
    }

    /// A gate with a known token and no file (tests).
    pub fn with_token(token: String) -> Self {
        Self {
            token: Mutex::new(Some(token)),
            file: None,
        }
    }

    /// Loads or creates the token file when setup is needed, and logs the token; removes a
    /// leftover file when it is not.
    pub fn prepare(config: &Config, admin_exists: bool) -> anyhow::Result<Self> {
        let file = config.data_dir.join("secrets").join("setup_token");
        if !config.multiuser || admin_exists {
            let _ = std::fs::remove_file(&file);
            return Ok(Self::closed());
        }
        if let Some(token) = &config.auth.setup_token {
            let _ = std::fs::remove_file(&file);
            tracing::warn!(
                "no admin exists yet: open the web UI (or POST /api/v1/auth/setup) with the setup token from auth.setup_token"
            );
            return Ok(Self {
                token: Mutex::new(Some(token.trim().to_owned())),
                file: None,
            });
        }
        let first_start = !file.exists();
        let token = secrets::load_or_create(&file, || secrets::random_hex(16))?;
        // The token itself at INFO (the default level shows it) and only at the start that
        // made it (a journal keeps every restart's lines); the call to act at WARN without
        // it: a log shipped to a WARN-and-above sink never carries the secret.
        tracing::warn!(
            file = %file.display(),
            "no admin exists yet: open the web UI (or POST /api/v1/auth/setup) with the setup token in this file"
        );
        if first_start {
            tracing::info!(setup_token = %token, "the one-time setup token");
        }
        Ok(Self {
            token: Mutex::new(Some(token)),
            file: Some(file),
        })
    }

    /// The token, for the test harness.
    pub fn token(&self) -> Option<String> {
        self.token
            .lock()
            .expect("setup lock is never poisoned")
            .clone()
    }

    /// Whether `candidate` is the token (constant-time).
    pub fn accepts(&self, candidate: &str) -> bool {
        let guard = self.token.lock().expect("setup lock is never poisoned");
        guard
            .as_deref()
            .is_some_and(|token| bool::from(token.as_bytes().ct_eq(candidate.as_bytes())))
    }

    /// Forgets the token once the first admin exists.
    pub fn close(&self) {
        self.token
            .lock()
            .expect("setup lock is never poisoned")
            .take();
        if let Some(file) = &self.file {
            let _ = std::fs::remove_file(file);
            tracing::info!("setup done: the setup token no longer works");
        }
    }
}
