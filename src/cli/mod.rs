//! The `atelier` command line: `serve`, `worker`, `migrate`, `db psql`, `storage`, `model …` and
//! `user …`.

mod backup;
mod db;
mod keys;
mod model;
mod serve;
mod storage;
mod user;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Atelier: a multi-user image-generation server.
#[derive(Debug, Parser)]
#[command(name = "atelier", version, about)]
pub struct Cli {
    /// A TOML config file (then ATELIER__SECTION__KEY environment variables override it).
    #[arg(long, global = true, env = "ATELIER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the HTTP server (starting the embedded PostgreSQL unless database.url is set).
    Serve {
        /// Prints the effective configuration, secrets redacted, and exits.
        #[arg(long)]
        print_config: bool,
        /// Overrides `listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Turns on multiuser mode (login, setup token), whatever the config says.
        #[arg(long)]
        multiuser: bool,
    },
    /// Runs a generation worker on its own (scale-out): claims items from the shared queue.
    Worker,
    /// Applies database migrations and exits.
    Migrate,
    /// Database administration.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Object storage maintenance.
    Storage {
        #[command(subcommand)]
        command: storage::StorageCommand,
    },
    /// The model catalogue.
    Model {
        #[command(subcommand)]
        command: model::ModelCommand,
    },
    /// User accounts.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
}

impl Cli {
    /// Runs the chosen command.
    pub async fn run(self) -> anyhow::Result<()> {
        let mut config = Config::load(self.config.as_deref())?;
        match self.command {
            Command::Serve {
                print_config,
                listen,
                multiuser,
            } => {
                config.multiuser |= multiuser;
                if let Some(listen) = listen {
                    config.listen = listen;
                }
                config.validate()?;
                if print_config {
                    print!("{}", config.to_redacted_toml()?);
                    return Ok(());
                }
                serve::run(config).await
            }
            Command::Worker => worker::run(config.validated()?).await,
            Command::Migrate => db::migrate(config.validated()?).await,
            Command::Db { command } => command.run(config.validated()?).await,
            Command::Storage { command } => command.run(config.validated()?).await,
            Command::User { command } => command.run(config.validated()?).await,
            Command::Model { command } => command.run(config.validated()?).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
