//! `atelier migrate`, `atelier db psql`, and the `db dump`/`db restore` commands (in `backup`).

use std::process::Command;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::config::Config;
use crate::db::{self, OWNER_LOGIN, open::Purpose};

/// Database administration commands.
#[derive(Debug, Subcommand)]
pub(super) enum DbCommand {
    /// Opens psql on the database as the schema owner (who sees every row, as an admin).
    Psql {
        /// Extra arguments for psql, after `--`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Writes a consistent snapshot of the database (pg_dump's custom format) to FILE, as the
    /// schema owner; the server may keep running. Back up the object store and
    /// data_dir/secrets too.
    Dump {
        /// Where the dump goes.
        file: std::path::PathBuf,
        /// A managed database: a login that bypasses row-level security (superuser or
        /// BYPASSRLS); the embedded cluster's superuser is used otherwise.
        #[arg(long)]
        url: Option<String>,
    },
    /// Replaces the database's contents with a dump from `db dump` (stop the server first).
    Restore {
        /// The dump.
        file: std::path::PathBuf,
        /// Restore even though the database already has accounts (they are replaced).
        #[arg(long)]
        replace: bool,
        /// A managed database: a superuser login (it assigns the dump's ownership and
        /// bypasses row-level security); the embedded cluster's superuser is used otherwise.
        #[arg(long)]
        url: Option<String>,
    },
}

impl DbCommand {
    pub(super) async fn run(self, config: Config) -> anyhow::Result<()> {
        match self {
            DbCommand::Psql { args } => psql(config, args).await,
            DbCommand::Dump { file, url } => super::backup::dump(config, file, url).await,
            DbCommand::Restore { file, replace, url } => {
                super::backup::restore(config, file, replace, url).await
            }
        }
    }
}

/// `atelier db psql`: psql as the schema owner.
async fn psql(config: Config, args: Vec<String>) -> anyhow::Result<()> {
    if config.database.url.is_some() {
        let url = config
            .database
            .owner_url
            .clone()
            .or(config.database.url.clone())
            .expect("url is set");
        let status = managed_psql(&url, &args)?
            .status()
            .context("failed to run psql")?;
        return exit_status(status);
    }
    let database = db::open(&config, Purpose::Cli).await?;
    let cluster = database
        .cluster
        .clone()
        .expect("the embedded database has a cluster");
    let psql = cluster.bin_dir().join("psql");
    let program = if psql.is_file() { psql } else { "psql".into() };
    let mut command = Command::new(program);
    command
        .arg("-h")
        .arg(cluster.socket_dir())
        .args([
            "-p",
            &db::embedded::PORT.to_string(),
            "-U",
            OWNER_LOGIN,
            "-d",
            db::DATABASE,
        ])
        .args(&args)
        .env("PGPASSWORD", &cluster.secrets.owner);
    // Ctrl-C belongs to psql (it cancels the query); atelier must survive it to stop the
    // cluster afterwards, so it listens for SIGINT itself while psql runs.
    let ignore_interrupts = tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
    let status = tokio::task::spawn_blocking(move || command.status())
        .await?
        .context("failed to run psql");
    ignore_interrupts.abort();
    database.close().await?;
    exit_status(status?)
}

/// `atelier migrate`: applies migrations as the owner, then exits.
pub(super) async fn migrate(config: Config) -> anyhow::Result<()> {
    crate::telemetry::init(&config.log.format, &config.log.filter);
    let database = db::open(&config, Purpose::Cli).await?;
    let result = match &database.owner {
        Some(owner) => db::migrate::run(owner).await.map(|n| {
            println!("the schema is up to date ({n} migration(s) applied by this command)")
        }),
        None => Err(anyhow::anyhow!(
            "set database.owner_url to migrate a managed database"
        )),
    };
    database.close().await?;
    result
}

/// psql for a managed database.
fn managed_psql(url: &str, args: &[String]) -> anyhow::Result<Command> {
    let config: tokio_postgres::Config = url.parse().context("database URL is not valid")?;
    let mut command = Command::new("psql");
    connection_args(&mut command, &config);
    command.args(args);
    Ok(command)
}

/// Points a PostgreSQL client program at `config`: host, port, user and database as
/// arguments; the password in `PGPASSWORD`, never on the command line, where other local users
/// could read it from the process list.
pub(super) fn connection_args(command: &mut Command, config: &tokio_postgres::Config) {
    for host in config.get_hosts() {
        match host {
            tokio_postgres::config::Host::Tcp(name) => command.args(["-h", name]),
            tokio_postgres::config::Host::Unix(path) => command.arg("-h").arg(path),
        };
    }
    if let Some(port) = config.get_ports().first() {
        command.args(["-p", &port.to_string()]);
    }
    if let Some(user) = config.get_user() {
        command.args(["-U", user]);
    }
    if let Some(dbname) = config.get_dbname() {
        command.args(["-d", dbname]);
    }
    if let Some(password) = config.get_password() {
        command.env("PGPASSWORD", String::from_utf8_lossy(password).into_owned());
    }
}

fn exit_status(status: std::process::ExitStatus) -> anyhow::Result<()> {
    if !status.success() {
        bail!("psql exited with {status}");
    }
    Ok(())
}
