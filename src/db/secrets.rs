//! The embedded cluster's login passwords, generated at first start into
//! `data_dir/secrets/db.toml` (mode 0600).

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::secrets;

/// Passwords of the cluster's three logins.
#[derive(Clone, Serialize, Deserialize)]
pub struct DbSecrets {
    /// `atelier_super`: the bootstrap and nothing else.
    pub superuser: String,
    /// `atelier_owner`: migrations and `atelier db psql`.
    pub owner: String,
    /// `atelier_app`: the runtime pool.
    pub app: String,
}

impl std::fmt::Debug for DbSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSecrets(<redacted>)")
    }
}

impl DbSecrets {
    /// Reads `dir/db.toml`, or generates and stores new passwords.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("db.toml");
        let text = secrets::load_or_create(&path, || {
            let fresh = DbSecrets {
                superuser: secrets::random_hex(24),
                owner: secrets::random_hex(24),
                app: secrets::random_hex(24),
            };
            toml::to_string(&fresh).expect("three strings always serialize")
        })?;
        toml::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
    }
}
