//! `atelier user keys add|list|rm EMAIL`: a user's S3 access keys from the shell, through the
//! same code as `/api/v1/s3/keys`. New keys are made as the user (they are the user's); listing
//! and revoking run as the system admin.

use clap::Subcommand;

use crate::config::Config;
use crate::db::Caller;
use crate::s3::keys::{self, KeyRequest};
use crate::s3::seal::Sealer;
use crate::users::SYSTEM_USER_ID;
use crate::users::ops::id_by_email;

/// S3 access key commands.
#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Makes a key and prints its secret (once).
    Add {
        /// The account's email.
        email: String,
        /// A label.
        #[arg(long, default_value = "")]
        label: String,
        /// The key may only list and read.
        #[arg(long)]
        read_only: bool,
    },
    /// Lists a user's keys (never their secrets).
    List {
        /// The account's email.
        email: String,
        /// Prints JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revokes a key: the next S3 request signed with it is refused.
    Rm {
        /// The account's email.
        email: String,
        /// The access key id.
        access_key_id: String,
    },
}

const SYSTEM_ADMIN: Caller = Caller::admin(SYSTEM_USER_ID);

impl KeysCommand {
    pub(super) async fn run_with(
        self,
        pool: &deadpool_postgres::Pool,
        config: &Config,
    ) -> anyhow::Result<()> {
        match self {
            KeysCommand::Add {
                email,
                label,
                read_only,
            } => {
                let owner = id_by_email(pool, &SYSTEM_ADMIN, &email).await?;
                let seal = Sealer::load(config.s3.seal_key.as_deref(), &config.data_dir)?;
                let request = KeyRequest {
                    label,
                    read_only,
                    max_keys: config.s3.max_keys_per_user,
                };
                let key = keys::create(pool, &seal, &Caller::user(owner), request).await?;
                println!("access key id:     {}", key.key.access_key_id);
                println!("secret access key: {}", key.secret_access_key);
                println!("(the secret is shown only now)");
            }
            KeysCommand::List { email, json } => {
                let owner = id_by_email(pool, &SYSTEM_ADMIN, &email).await?;
                let keys = keys::list(pool, &SYSTEM_ADMIN, owner).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&keys)?);
                } else {
                    println!(
                        "{:<22} {:<10} {:<20} LABEL",
                        "ACCESS KEY ID", "ACCESS", "CREATED"
                    );
                    for key in keys {
                        let access = if key.read_only { "read" } else { "read-write" };
                        let created = key.created_at.format("%Y-%m-%d %H:%M");
                        println!(
                            "{:<22} {access:<10} {created:<20} {}",
                            key.access_key_id, key.label
                        );
                    }
                }
            }
            KeysCommand::Rm {
                email,
                access_key_id,
            } => {
                let owner = id_by_email(pool, &SYSTEM_ADMIN, &email).await?;
                let held = keys::list(pool, &SYSTEM_ADMIN, owner).await?;
                if !held.iter().any(|k| k.access_key_id == access_key_id) {
                    anyhow::bail!("{email} has no access key {access_key_id}");
                }
                keys::revoke(pool, &SYSTEM_ADMIN, &access_key_id).await?;
                println!("revoked {access_key_id}");
            }
        }
        Ok(())
    }
}
