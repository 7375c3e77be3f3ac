//! `atelier db dump FILE` and `atelier db restore FILE`: the database half of a backup, with
//! PostgreSQL's own `pg_dump -Fc` and `pg_restore`. Every user table forces row-level
//! security, even on its owner, so both run as a login that bypasses it: the embedded
//! cluster's superuser, or for a managed database the login given with `--url` (a superuser or
//! a BYPASSRLS role). The other half of a backup is a copy of the object store and of
//! `data_dir/secrets` (`docs/deploy-systemd.md`, "Backups and restore").

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::db::embedded::SUPERUSER;
use crate::db::{self, open::Purpose};

/// Writes a consistent snapshot of the database to `file` (the server may keep running).
pub(super) async fn dump(config: Config, file: PathBuf, url: Option<String>) -> anyhow::Result<()> {
    let database = db::open(&config, Purpose::Cli).await?;
    let result = async {
        let mut command = client_command(&database, "pg_dump", url.as_deref())?;
        // Password hashes, sessions and sealed keys: readable by this user only.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        command.args(["--format=custom", "--file"]).arg(&file);
        run(command).await?;
        println!("dumped the database to {}", file.display());
        Ok(())
    }
    .await;
    database.close().await?;
    result
}

/// Replaces the database's contents with the dump in `file`, in one transaction. Refuses a
/// database that has accounts unless `replace`, and an embedded cluster that a running server
/// uses (stop it first).
pub(super) async fn restore(
    config: Config,
    file: PathBuf,
    replace: bool,
    url: Option<String>,
) -> anyhow::Result<()> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    let database = db::open(&config, Purpose::Cli).await?;
    let result = async {
        if database.cluster.is_some() && database.owned_cluster().is_none() {
            bail!("a running atelier process uses this data directory: stop it, then restore");
        }
        let accounts = count_accounts(&database, url.as_deref()).await?;
        if accounts > 0 && !replace {
            bail!(
                "this database already has {accounts} account(s): restoring replaces everything \
                 in it; pass --replace if that is what you want"
            );
        }
        // Ownership comes from the dump (the schema owner), so the restoring login must be
        // able to assign it: a superuser, or a member of the owner role.
        let mut command = client_command(&database, "pg_restore", url.as_deref())?;
        command
            .args([
                "--clean",
                "--if-exists",
                "--single-transaction",
                "--exit-on-error",
            ])
            .arg(&file);
        run(command).await?;
        println!(
            "restored {}; the next start migrates it if it is older than this binary",
            file.display()
        );
        Ok(())
    }
    .await;
    database.close().await?;
    result
}

async fn count_accounts(database: &db::open::Database, url: Option<&str>) -> anyhow::Result<i64> {
    let login = backup_login(database, url)?;
    let client = db::connect_one(&login).await?;
    let row = client
        .query_one("select count(*) from users where not is_system", &[])
        .await?;
    Ok(row.get(0))
}

/// The login backups run as: `url`, else the embedded cluster's superuser.
fn backup_login(
    database: &db::open::Database,
    url: Option<&str>,
) -> anyhow::Result<tokio_postgres::Config> {
    if let Some(url) = url {
        return url.parse().context("--url is not a valid PostgreSQL URL");
    }
    match &database.cluster {
        Some(cluster) => Ok(cluster.pg_config(SUPERUSER, &cluster.secrets.superuser, db::DATABASE)),
        None => bail!(
            "a managed database needs --url: a login that bypasses row-level security (a \
             superuser or a BYPASSRLS role), which the schema owner is not"
        ),
    }
}

/// A PostgreSQL client program connected as the backup login: the cluster's own binary for
/// the embedded database, the one on `PATH` otherwise. The password goes in `PGPASSWORD`,
/// never on the command line (other local users can read the process list).
fn client_command(
    database: &db::open::Database,
    program: &str,
    url: Option<&str>,
) -> anyhow::Result<Command> {
    let login = backup_login(database, url)?;
    let local = database
        .cluster
        .as_ref()
        .map(|c| c.bin_dir().join(program))
        .filter(|p| p.is_file());
    let mut command = Command::new(local.as_deref().unwrap_or(Path::new(program)));
    super::db::connection_args(&mut command, &login);
    Ok(command)
}

async fn run(mut command: Command) -> anyhow::Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .with_context(|| format!("failed to run {program}"))?;
    if !output.status.success() {
        bail!(
            "{program} exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
