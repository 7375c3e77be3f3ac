//! `atelier user add|mod|del|list|adopt`: account management from the shell, acting as the
//! internal system user with admin rights, through the same code as the admin API.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};

use crate::config::Config;
use crate::db::{self, Caller, open::Purpose};
use crate::users::ops::{self, NewUser, UserPatch};
use crate::users::{SYSTEM_USER_ID, UserView};

/// User account commands.
#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Creates an account. The password is prompted for, or read from stdin.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Gives admin rights.
        #[arg(long)]
        admin: bool,
        /// Reads the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Changes an account.
    Mod {
        /// The account's email.
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Prompts for a new password.
        #[arg(long, conflicts_with = "password_stdin")]
        password: bool,
        /// Reads a new password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        admin: Option<OnOff>,
        #[arg(long)]
        active: Option<OnOff>,
        /// Storage quota in bytes.
        #[arg(long)]
        quota: Option<u64>,
        /// Scheduler weight: share of GPU time relative to others (default 1).
        #[arg(long)]
        weight: Option<f64>,
    },
    /// Deletes an account and everything it owns.
    Del {
        /// The account's email.
        email: String,
    },
    /// Lists accounts.
    List {
        /// Prints JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// S3 access keys (`atelier user keys add|list|rm EMAIL`).
    Keys {
        #[command(subcommand)]
        command: super::keys::KeysCommand,
    },
    /// Hands every item owned by one user (normally `system`, from single-user mode) to another.
    Adopt {
        /// `system`, or an email.
        #[arg(long)]
        from: String,
        /// The receiving account's email.
        #[arg(long)]
        to: String,
    },
}

/// A switch value for `--admin` and `--active`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum OnOff {
    On,
    Off,
}

impl OnOff {
    fn is_on(self) -> bool {
        matches!(self, OnOff::On)
    }
}

const SYSTEM_ADMIN: Caller = Caller::admin(SYSTEM_USER_ID);

impl UserCommand {
    pub(super) async fn run(self, config: Config) -> anyhow::Result<()> {
        let database = db::open(&config, Purpose::Cli).await?;
        let result = self.run_with(&database.pool, &config).await;
        database.close().await?;
        result
    }

    async fn run_with(self, pool: &deadpool_postgres::Pool, config: &Config) -> anyhow::Result<()> {
        let caller = &SYSTEM_ADMIN;
        match self {
            UserCommand::Add {
                email,
                name,
                admin,
                password_stdin,
            } => {
                let password = read_password(password_stdin)?;
                let new = NewUser {
                    email,
                    display_name: name,
                    password,
                    is_admin: admin,
                };
                let user = ops::create(pool, caller, new).await?;
                println!("created {} ({})", user.email, user.id);
            }
            UserCommand::Mod {
                email,
                name,
                password,
                password_stdin,
                admin,
                active,
                quota,
                weight,
            } => {
                let id = ops::id_by_email(pool, caller, &email).await?;
                let password = if password || password_stdin {
                    Some(read_password(password_stdin)?)
                } else {
                    None
                };
                let patch = UserPatch {
                    display_name: name,
                    password,
                    is_admin: admin.map(OnOff::is_on),
                    is_active: active.map(OnOff::is_on),
                    quota_bytes: match quota {
                        Some(q) => Some(Some(i64::try_from(q).context("--quota is too large")?)),
                        None => None,
                    },
                    sched_weight: weight,
                };
                let user = ops::update(pool, caller, id, patch).await?;
                println!("updated {}", user.email);
            }
            UserCommand::Del { email } => {
                let id = ops::id_by_email(pool, caller, &email).await?;
                ops::delete(pool, caller, id).await?;
                println!("deleted {email}");
            }
            UserCommand::List { json } => {
                let users = ops::list(pool, caller).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&users)?);
                } else {
                    print!("{}", table(&users));
                }
            }
            UserCommand::Keys { command } => command.run_with(pool, config).await?,
            UserCommand::Adopt { from, to } => {
                let from_id = match from.as_str() {
                    "system" => SYSTEM_USER_ID,
                    email => ops::id_by_email(pool, caller, email).await?,
                };
                let to_id = ops::id_by_email(pool, caller, &to).await?;
                let storage = crate::storage::Storage::from_config(config)?;
                let moved =
                    crate::images::ops::adopt(pool, &storage, caller, from_id, to_id).await?;
                println!("{moved} item(s) moved from {from} to {to}");
            }
        }
        Ok(())
    }
}

/// The password from stdin's first line, or from a prompt on the terminal (asked twice).
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("failed to read the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to prompt for a password: use --password-stdin");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(first)
}

/// A plain-text table of accounts.
fn table(users: &[UserView]) -> String {
    let headers = ["EMAIL", "NAME", "ADMIN", "ACTIVE", "CREATED"];
    let rows: Vec<[String; 5]> = users
        .iter()
        .map(|u| {
            [
                u.email.clone(),
                u.display_name.clone(),
                yes_no(u.is_admin),
                yes_no(u.is_active),
                u.created_at.format("%Y-%m-%d %H:%M").to_string(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&headers);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

fn yes_no(flag: bool) -> String {
    if flag { "yes".into() } else { "no".into() }
}
