//! The embedded PostgreSQL cluster: finds the server binaries, runs initdb on first start,
//! starts and stops the postmaster on a Unix socket inside `data_dir`, and recovers after a crash.
//!
//! Everything here is synchronous (it spawns `initdb` and `pg_ctl`); async callers use
//! `spawn_blocking`. It never talks SQL: `db::bootstrap` creates roles once the cluster is up.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use super::secrets::DbSecrets;

/// The superuser that initdb creates; used only for the bootstrap and the test harness.
pub const SUPERUSER: &str = "atelier_super";
/// The port number only names the socket file (`.s.PGSQL.5432`); no TCP port is opened.
pub const PORT: u16 = 5432;
const SOCKET_PATH_MAX: usize = 107;

/// An OS account to run the cluster as, when `atelier` itself runs as root.
#[derive(Clone, Debug)]
pub struct OsUser {
    /// Login name.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// A private cluster under `data_dir`.
#[derive(Debug)]
pub struct EmbeddedCluster {
    bin_dir: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    run_as: Option<OsUser>,
    /// The generated passwords of the cluster's logins.
    pub secrets: DbSecrets,
}

impl EmbeddedCluster {
    /// Locates binaries, prepares directories and secrets, and runs initdb if the cluster is new.
    pub fn prepare(data_dir: &Path, os_user: Option<&str>) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        let run_as = if running_as_root()? {
            let name = os_user.unwrap_or("postgres");
            let user = lookup_os_user(name)?;
            tracing::info!(os_user = %user.name, uid = user.uid,
                "running as root: the embedded PostgreSQL runs as an unprivileged OS user");
            Some(user)
        } else {
            None
        };
        let data_dir = absolute_dir(data_dir, run_as.is_some())?;
        let secrets = DbSecrets::load_or_create(&data_dir.join("secrets"))?;
        let cluster = Self {
            bin_dir,
            pgdata: data_dir.join("pg"),
            socket_dir: data_dir.join("run"),
            log_file: data_dir.join("log").join("postgres.log"),
            run_as,
            secrets,
        };
        cluster.check_socket_path()?;
        for dir in [&cluster.socket_dir, &data_dir.join("log")] {
            cluster.make_private_dir(dir)?;
        }
        if !cluster.pgdata.join("PG_VERSION").is_file() {
            cluster.initdb()?;
        }
        Ok(cluster)
    }

    /// The directory holding the Unix socket; pass it as `host` to libpq-style clients.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The directory holding the PostgreSQL binaries in use.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Connection settings for `user` on `dbname` over the private socket.
    pub fn pg_config(&self, user: &str, password: &str, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(PORT)
            .user(user)
            .password(password)
            .dbname(dbname)
            .application_name("atelier");
        config
    }

    /// Whether a live postmaster serves this cluster.
    pub fn is_running(&self) -> bool {
        live_postmaster_pid(&self.pgdata).is_some()
    }

    /// Starts the postmaster, recovering from a crash first, and arms a watchdog that stops it if
    /// this process dies without stopping it (kill -9). With `remove_dir`, the watchdog also
    /// deletes that directory afterwards (used by the test harness for its throwaway clusters).
    pub fn start(&self, remove_dir: Option<&Path>) -> anyhow::Result<()> {
        self.recover_after_crash()?;
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(&self.log_file)
            // No JIT: it writes code to executable memory, which the systemd unit's
            // MemoryDenyWriteExecute= forbids, and this app's queries are too small to gain.
            .args(["-o", "-c jit=off"])
            .args(["-w", "-t", "120", "start"])
            .stdout(Stdio::null())
            .status()
            .context("failed to run pg_ctl start")?;
        if !status.success() {
            bail!(
                "the embedded PostgreSQL did not start (pg_ctl exited with {status}); see {}",
                self.log_file.display()
            );
        }
        self.spawn_watchdog(remove_dir)?;
        tracing::info!(socket_dir = %self.socket_dir.display(), "embedded PostgreSQL started");
        Ok(())
    }

    /// Stops the postmaster (fast shutdown: rolls back open transactions, then exits cleanly).
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.pgdata)
            .args(["-w", "-t", "60", "-m", "fast", "stop"])
            .stdout(Stdio::null())
            .status()
            .context("failed to run pg_ctl stop")?;
        // pg_ctl fails when the postmaster finished stopping on its own in between (the watchdog
        // of a killed server stops it too); a cluster that is down is what was asked for.
        if !status.success() && self.is_running() {
            bail!("pg_ctl stop exited with {status}");
        }
        tracing::info!("embedded PostgreSQL stopped");
        Ok(())
    }

    /// A `Command` for one of the cluster's binaries, run as the cluster's OS user.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        command
            .current_dir("/")
            .env_remove("PGDATA")
            .process_group(0);
        for name in crate::systemd::PRIVATE_ENV {
            command.env_remove(name);
        }
        if let Some(user) = &self.run_as {
            command
                .uid(user.uid)
                .gid(user.gid)
                .env("HOME", "/")
                .env("USER", &user.name);
        }
        command
    }

    fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(pgdata = %self.pgdata.display(), "initialising the embedded PostgreSQL cluster");
        self.make_private_dir(&self.pgdata)?;
        let pwfile = self.socket_dir.join("initdb.pw");
        self.write_private_file(&pwfile, self.secrets.superuser.as_bytes())?;
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&self.pgdata)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--no-locale"])
            .args(["--auth-local=scram-sha-256", "--auth-host=reject"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .context("failed to run initdb")?;
        let _ = fs::remove_file(&pwfile);
        if !output.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let settings = format!(
            "\n# Written by atelier: a private cluster reachable only through its Unix socket.\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n\
             fsync = on\n",
            self.socket_dir.display()
        );
        let mut conf = fs::OpenOptions::new()
            .append(true)
            .open(self.pgdata.join("postgresql.conf"))
            .context("failed to open postgresql.conf")?;
        conf.write_all(settings.as_bytes())
            .context("failed to write postgresql.conf")?;
        Ok(())
    }

    /// After a crash: stop an orphaned postmaster of this cluster, or clear a stale pid file.
    fn recover_after_crash(&self) -> anyhow::Result<()> {
        let pid_file = self.pgdata.join("postmaster.pid");
        if !pid_file.exists() {
            return Ok(());
        }
        if let Some(pid) = live_postmaster_pid(&self.pgdata) {
            tracing::warn!(
                pid,
                "an orphaned postmaster serves this cluster; restarting it"
            );
            return self.stop();
        }
        tracing::warn!("removing the stale postmaster.pid left by a crash");
        match fs::remove_file(&pid_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).context("failed to remove stale postmaster.pid");
            }
            _ => {}
        }
        let lock = self.socket_dir.join(format!(".s.PGSQL.{PORT}.lock"));
        let _ = fs::remove_file(lock);
        Ok(())
    }

    fn spawn_watchdog(&self, remove_dir: Option<&Path>) -> anyhow::Result<()> {
        // The watchdog runs as this process's user (root may own what it must delete). It stops
        // only the postmaster it was armed for ($4), by pid: SIGINT is PostgreSQL's fast
        // shutdown, and a newer postmaster started on the same cluster after a restart has
        // another pid, so it is left alone. `[ -d /proc/PID ]` waits without needing signals.
        // Without a directory to delete, it also ends when its postmaster is gone (it died and
        // the supervisor started another, which has its own watchdog).
        let script = r#"while [ -d "/proc/$0" ]; do
  if [ -z "$3" ] && [ ! -d "/proc/$4" ]; then exit 0; fi
  sleep 1
done
if [ "$(head -n 1 "$2/postmaster.pid" 2>/dev/null)" = "$4" ]; then
  kill -INT "$4" 2>/dev/null
  while [ -d "/proc/$4" ]; do sleep 0.2; done
fi
if [ -n "$3" ]; then rm -rf "$3"; fi"#;
        let postmaster =
            live_postmaster_pid(&self.pgdata).context("the postmaster vanished after start")?;
        Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .arg(std::process::id().to_string())
            .arg(&self.bin_dir)
            .arg(&self.pgdata)
            .arg(
                remove_dir
                    .map(|p| p.as_os_str().to_owned())
                    .unwrap_or_default(),
            )
            .arg(postmaster.to_string())
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("failed to start the PostgreSQL watchdog")?;
        Ok(())
    }

    fn check_socket_path(&self) -> anyhow::Result<()> {
        let len = self
            .socket_dir
            .join(format!(".s.PGSQL.{PORT}"))
            .as_os_str()
            .len();
        if len > SOCKET_PATH_MAX {
            bail!(
                "data_dir {} is too deep: the PostgreSQL socket path would be {len} bytes, and Unix \
                 sockets allow {SOCKET_PATH_MAX}. Choose a shorter data_dir",
                self.socket_dir
                    .parent()
                    .unwrap_or(&self.socket_dir)
                    .display()
            );
        }
        Ok(())
    }

    fn make_private_dir(&self, dir: &Path) -> anyhow::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        if let Some(user) = &self.run_as {
            chown(dir, Some(user.uid), Some(user.gid))
                .with_context(|| format!("failed to hand {} to {}", dir.display(), user.name))?;
        }
        Ok(())
    }

    fn write_private_file(&self, path: &Path, contents: &[u8]) -> anyhow::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("failed to write {}", path.display()))?;
        file.write_all(contents)?;
        if let Some(user) = &self.run_as {
            chown(path, Some(user.uid), Some(user.gid))?;
        }
        Ok(())
    }
}

/// Creates `dir` if needed and returns it absolute. When the cluster runs as another OS user,
/// that user must be able to traverse (not list) `data_dir`, hence 0711 instead of 0700.
fn absolute_dir(dir: &Path, traversable: bool) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let mode = if traversable { 0o711 } else { 0o700 };
    fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("failed to set permissions on {}", dir.display()))?;
    Ok(dir)
}

/// The pid of a live postmaster that serves `pgdata`, read from its `postmaster.pid`. A pid
/// reused by another process, also another cluster's postgres (another Atelier's on the same
/// machine), is not it: the process must be `postgres` and work in this data directory.
fn live_postmaster_pid(pgdata: &Path) -> Option<u32> {
    let text = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline);
    let is_postgres = cmdline
        .split('\0')
        .next()
        .is_some_and(|argv0| argv0.ends_with("postgres"));
    (is_postgres && serves(pid, pgdata, &cmdline)).then_some(pid)
}

/// Whether process `pid` works in `pgdata`: the postmaster changes into its data directory at
/// start, so its working directory is it; where that cannot be read, its `-D` argument.
fn serves(pid: u32, pgdata: &Path, cmdline: &str) -> bool {
    let Ok(ours) = pgdata.canonicalize() else {
        return false;
    };
    if let Ok(cwd) = fs::read_link(format!("/proc/{pid}/cwd")) {
        return cwd == ours;
    }
    let args: Vec<&str> = cmdline.split('\0').collect();
    args.windows(2)
        .any(|w| w[0] == "-D" && Path::new(w[1]).canonicalize().is_ok_and(|d| d == ours))
}

fn running_as_root() -> anyhow::Result<bool> {
    let meta = fs::metadata("/proc/self").context("cannot read /proc/self")?;
    Ok(meta.uid() == 0)
}

/// Finds the directory with `initdb`, `pg_ctl` and `postgres`: `PATH`, then the highest
/// `/usr/lib/postgresql/*/bin`, then `pg_config --bindir`.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_all(&dir) {
                // Debian puts symlinks on PATH; resolve them so sibling binaries are found too.
                let real = dir.join("initdb").canonicalize().ok();
                return Ok(real
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .unwrap_or(dir));
            }
        }
    }
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, dir)| has_all(dir))
        .collect();
    versioned.sort();
    if let Some((_, dir)) = versioned.pop() {
        return Ok(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_all(&dir) {
            return Ok(dir);
        }
    }
    bail!(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH, in \
         /usr/lib/postgresql/*/bin, or via pg_config. Install them (Debian/Ubuntu: \
         `apt-get install postgresql`), or set database.url to use an existing server"
    )
}

/// Reads an account from /etc/passwd.
fn lookup_os_user(name: &str) -> anyhow::Result<OsUser> {
    let passwd = fs::read_to_string("/etc/passwd").context("cannot read /etc/passwd")?;
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() >= 4 && fields[0] == name {
            let uid = fields[2].parse().context("bad uid in /etc/passwd")?;
            let gid = fields[3].parse().context("bad gid in /etc/passwd")?;
            if uid == 0 {
                bail!("database.os_user {name} is root; PostgreSQL refuses to run as root");
            }
            return Ok(OsUser {
                name: name.to_owned(),
                uid,
                gid,
            });
        }
    }
    bail!(
        "atelier runs as root, and PostgreSQL refuses to run as root, so the embedded cluster needs \
         an unprivileged OS user, but `{name}` does not exist. Install Debian's postgresql package \
         (it creates `postgres`), create a user, or set database.os_user"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_serves_only_its_own_directory() {
        let me = std::process::id();
        let here = std::env::current_dir().unwrap();
        assert!(serves(me, &here, ""));
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(!serves(me, elsewhere.path(), ""));
        assert!(!serves(me, &elsewhere.path().join("missing"), ""));
    }

    #[test]
    fn finds_postgresql_binaries_on_this_machine() {
        let dir = find_bin_dir().expect("PostgreSQL is installed on dev and CI machines");
        assert!(dir.join("postgres").is_file());
    }

    #[test]
    fn a_missing_os_user_gets_a_clear_message() {
        let err = lookup_os_user("no-such-user-atelier")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
