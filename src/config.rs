//! The configuration tree: defaults, then an optional TOML file, then `ATELIER__SECTION__KEY`
//! environment variables. Validated once at start; printed only through [`Config::redacted`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The effective configuration of one `atelier` process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Absent or false: single-user mode (no login, everything acts as `system`).
    pub multiuser: bool,
    /// The HTTP listen address.
    pub listen: SocketAddr,
    /// Lets a single-user server listen on a non-loopback address. Dangerous: there is no login.
    pub allow_unauthenticated_lan: bool,
    /// Where the embedded cluster, local objects and generated secrets live; default
    /// `$STATE_DIRECTORY` (systemd) or `data`.
    pub data_dir: PathBuf,
    /// The database: embedded (default) or managed.
    pub database: DatabaseConfig,
    /// Tokens, passwords and login limits.
    pub auth: AuthConfig,
    /// Where image bytes live, and upload limits.
    pub storage: StorageConfig,
    /// Log format and filter.
    pub log: LogConfig,
    /// The generation worker and its fair-share dispatch.
    pub worker: WorkerConfig,
    /// Where installed models live.
    pub models: ModelsConfig,
    /// The browser UI's built assets.
    pub web: WebConfig,
    /// Proxies, host names and connection limits of the HTTP listener.
    pub http: HttpConfig,
    /// Per-user limits of the queue.
    pub queue: QueueConfig,
    /// The S3 door: each user's images through S3 clients (`docs/s3.md`).
    pub s3: S3DoorConfig,
    /// The Prometheus endpoint (`docs/operations.md`).
    pub metrics: MetricsConfig,
}

/// Prometheus metrics on a listener of their own.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served, e.g. `127.0.0.1:9464`; unset: no metrics are kept.
    /// Both `serve` and `worker` honour it (give each process its own port).
    pub listen: Option<SocketAddr>,
}

/// The S3 door (not the object store: that is `storage.s3`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3DoorConfig {
    /// Where it listens, e.g. `127.0.0.1:9091`; unset: no S3 door.
    pub listen: Option<SocketAddr>,
    /// The door's address as clients reach it (behind a proxy or ingress), shown on the Profile
    /// page; unset: this host at the listen port.
    pub public_url: Option<String>,
    /// The region clients sign for.
    pub region: String,
    /// The key that seals access keys' secrets at rest, 64 hex digits (redacted when printed);
    /// unset: `data_dir/secrets/s3_seal_key`, made on first start. Replicas must share it.
    pub seal_key: Option<String>,
    /// Access keys one user may hold.
    pub max_keys_per_user: u32,
}

impl Default for S3DoorConfig {
    fn default() -> Self {
        Self {
            listen: None,
            public_url: None,
            region: "us-east-1".into(),
            seal_key: None,
            max_keys_per_user: 10,
        }
    }
}

/// What the HTTP listener trusts and how much one user may hold open.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Peers (addresses or CIDR ranges) whose `Forwarded` / `X-Forwarded-For` headers name the
    /// client; empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies write: `x-forwarded-for` (default) or `forwarded`. Only
    /// that one is read (a proxy passes the other through from the client untouched).
    pub forwarded_header: String,
    /// Host names (with an optional `:port`) the server answers to besides loopback addresses
    /// and the listen address; requests for other `Host`s are refused (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Live-event sockets one user may hold open at once (all their tabs and devices).
    pub max_sockets_per_user: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            forwarded_header: "x-forwarded-for".into(),
            allowed_hosts: Vec::new(),
            max_sockets_per_user: 16,
        }
    }
}

/// Per-user limits of the queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Unfinished (pending or running) items one user may have; admins are not limited.
    pub max_pending_per_user: u32,
    /// The engine working memory one job may need (its estimate, weights aside), in MiB; jobs
    /// estimated above it are refused at enqueue. Set it to what a worker can spare.
    pub max_job_memory_mib: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_pending_per_user: 200,
            max_job_memory_mib: 16 * 1024,
        }
    }
}

/// Where the browser UI's built files are served from.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// The directory `npm run build` wrote (`web/dist` in the repository); served at `/`.
    pub dir: PathBuf,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("web/dist"),
        }
    }
}

/// The model catalogue's directories and limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelsConfig {
    /// Where installs are copied to; default `data_dir/models`.
    pub dir: Option<PathBuf>,
    /// More directories whose models are registered in place (by `scan` or a path install).
    pub extra_dirs: Vec<PathBuf>,
    /// Largest download or upload, in bytes.
    pub max_download_bytes: u64,
    /// Lets URL installs reach loopback, private and link-local addresses (a mirror on the
    /// admin's own network); off, only public addresses are fetched (SSRF).
    pub allow_private_urls: bool,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self {
            dir: None,
            extra_dirs: Vec::new(),
            max_download_bytes: 20 << 30,
            allow_private_urls: false,
        }
    }
}

impl Config {
    /// The parsed `http.trusted_proxies` and `http.forwarded_header` (validated at start; a bad
    /// entry is skipped here).
    pub fn trusted_proxies(&self) -> crate::http::client_addr::Proxies {
        use crate::http::client_addr::{Cidr, ForwardedHeader, Proxies};
        Proxies {
            ranges: self
                .http
                .trusted_proxies
                .iter()
                .filter_map(|p| Cidr::parse(p))
                .collect(),
            header: if self.http.forwarded_header.eq_ignore_ascii_case("forwarded") {
                ForwardedHeader::Forwarded
            } else {
                ForwardedHeader::XForwardedFor
            },
        }
    }

    /// The directory installs are copied to.
    pub fn models_dir(&self) -> PathBuf {
        self.models
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("models"))
    }
}

/// The generation worker: the engine device, its leases, and the dispatch policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// `none` (default: `serve` runs no in-process worker), `cpu` or `cuda`.
    pub device: String,
    /// The worker's name in leases; default `hostname-pid`.
    pub name: Option<String>,
    /// Lease length; a worker that misses heartbeats for this long loses its job.
    pub lease_secs: f64,
    /// Preemption quantum in estimated GPU-seconds; 0 runs jobs to completion.
    pub quantum_secs: f64,
    /// Share of GPU-seconds the admin band may take while others wait (0 < share <= 1).
    pub admin_band_share: f64,
    /// How often an idle worker looks for work, in milliseconds.
    pub poll_ms: u64,
    /// Weights the engine keeps loaded (least recently used models are unloaded), in MiB.
    pub model_memory_mib: u64,
}

impl WorkerConfig {
    /// `model_memory_mib` in bytes.
    pub fn model_memory_bytes(&self) -> i64 {
        i64::try_from(self.model_memory_mib.saturating_mul(1 << 20)).unwrap_or(i64::MAX)
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            device: "none".into(),
            name: None,
            lease_secs: 30.0,
            quantum_secs: 1.5,
            admin_band_share: 0.5,
            poll_ms: 500,
            model_memory_mib: 12 * 1024,
        }
    }
}

/// Which object store holds image bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A directory on this machine (`storage.local_dir`, default `data_dir/objects`).
    #[default]
    Local,
    /// Any S3-compatible store (`storage.s3`).
    S3,
}

/// An S3-compatible object store.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// For example `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// The bucket holding every user's prefix.
    pub bucket: String,
    /// The region (`us-east-1` for most self-hosted stores).
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (redacted when printed).
    pub secret_access_key: String,
    /// Path-style addressing (`endpoint/bucket/key`), which self-hosted stores need.
    pub path_style: bool,
}

/// Object storage and upload limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `local` or `s3`.
    pub backend: StorageBackend,
    /// The directory of the local backend. None: `data_dir/objects`.
    pub local_dir: Option<PathBuf>,
    /// The S3 backend's settings.
    pub s3: S3Config,
    /// Bytes each user may store unless an admin sets another quota.
    pub default_quota_bytes: u64,
    /// The largest accepted upload.
    pub max_upload_bytes: u64,
    /// The largest accepted image in pixels (width x height), checked before decoding.
    pub max_pixels: u64,
    /// Objects without a record are deleted by the sweeper once they are this old.
    pub orphan_grace_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            local_dir: None,
            s3: S3Config::default(),
            default_quota_bytes: 10 << 30,
            max_upload_bytes: 64 << 20,
            max_pixels: 64 << 20,
            orphan_grace_secs: 3600,
        }
    }
}

/// Where PostgreSQL lives.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// A managed PostgreSQL for the runtime login (`atelier_app`). None: start the embedded cluster.
    pub url: Option<String>,
    /// The owner login for migrations on a managed PostgreSQL. None: `serve` does not migrate.
    pub owner_url: Option<String>,
    /// Connections in the runtime pool.
    pub pool_size: Option<usize>,
    /// The unprivileged OS user that runs the embedded cluster when `atelier` runs as root.
    pub os_user: Option<String>,
    /// `/healthz` fails once the database has been unreachable for this long (seconds), so that
    /// systemd or Kubernetes restarts a process that did not heal by itself.
    pub unhealthy_after_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            owner_url: None,
            pool_size: None,
            os_user: None,
            unhealthy_after_secs: 60,
        }
    }
}

/// Authentication settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The HS256 secret. None: generated at first start into `data_dir/secrets/jwt_secret`.
    /// Set it for several replicas behind one load balancer.
    pub jwt_secret: Option<String>,
    /// Lifetime of a login session and of its token, in seconds.
    pub session_ttl_secs: u64,
    /// Failed logins allowed per account before it is throttled (per window).
    pub max_failures_per_account: u32,
    /// Login attempts allowed per client address (per window).
    pub max_attempts_per_address: u32,
    /// The rate-limit window in seconds.
    pub rate_window_secs: u64,
    /// Marks the media cookie `Secure` (set it when serving over HTTPS).
    pub secure_cookies: bool,
    /// The one-time setup token, at least 16 characters (redacted when printed); unset: made
    /// at first start into `data_dir/secrets/setup_token`. Set it when several API replicas
    /// serve one database, so that whichever answers the setup request accepts it.
    pub setup_token: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            session_ttl_secs: 24 * 3600,
            max_failures_per_account: 5,
            max_attempts_per_address: 30,
            rate_window_secs: 300,
            secure_cookies: false,
            setup_token: None,
        }
    }
}

/// Logging settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` or `json`.
    pub format: String,
    /// A tracing filter, overridden by `RUST_LOG`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "pretty".into(),
            filter: "atelier=info,tower_http=info".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            multiuser: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            allow_unauthenticated_lan: false,
            data_dir: default_data_dir(),
            database: DatabaseConfig::default(),
            auth: AuthConfig::default(),
            storage: StorageConfig::default(),
            log: LogConfig::default(),
            worker: WorkerConfig::default(),
            models: ModelsConfig::default(),
            web: WebConfig::default(),
            http: HttpConfig::default(),
            queue: QueueConfig::default(),
            s3: S3DoorConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// `$STATE_DIRECTORY` under systemd (`StateDirectory=`; the first one if it names several),
/// otherwise `data` in the working directory.
fn default_data_dir() -> PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .and_then(|dirs| {
            let first = dirs.to_string_lossy().split(':').next()?.to_owned();
            (!first.is_empty()).then(|| PathBuf::from(first))
        })
        .unwrap_or_else(|| PathBuf::from("data"))
}

const REDACTED: &str = "<redacted>";

impl Config {
    /// Loads defaults, then `file` (if any), then `ATELIER__…` variables from the process
    /// environment. Call [`Config::validate`] after applying command-line overrides.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        let figment = figment.merge(Env::prefixed("ATELIER__").split("__"));
        figment.extract().context("invalid configuration")
    }

    /// Fails fast on settings that cannot work or would be unsafe.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.multiuser && !self.listen.ip().is_loopback() && !self.allow_unauthenticated_lan {
            bail!(
                "refusing to listen on {} in single-user mode: there is no login, so anyone on the \
                 network could use this server. Set multiuser = true, listen on 127.0.0.1, or set \
                 allow_unauthenticated_lan = true if you really mean it",
                self.listen
            );
        }
        if self.auth.session_ttl_secs < 60 {
            bail!("auth.session_ttl_secs must be at least 60");
        }
        if let Some(secret) = &self.auth.jwt_secret
            && secret.len() < 32
        {
            bail!("auth.jwt_secret must be at least 32 characters");
        }
        if let Some(token) = &self.auth.setup_token
            && (token.trim().len() < 16 || token.len() > 256)
        {
            bail!("auth.setup_token must be 16 to 256 characters");
        }
        if self.storage.backend == StorageBackend::S3
            && (self.storage.s3.endpoint.is_empty() || self.storage.s3.bucket.is_empty())
        {
            bail!("storage.backend = \"s3\" needs storage.s3.endpoint and storage.s3.bucket");
        }
        let device = self.worker.device.as_str();
        let gpu_index = device.strip_prefix("cuda:").map(str::parse::<u16>);
        if !(["none", "cpu", "cuda"].contains(&device) || matches!(gpu_index, Some(Ok(_)))) {
            bail!("worker.device must be none, cpu, cuda or cuda:N (a GPU index)");
        }
        if !(self.worker.lease_secs >= 2.0 && self.worker.quantum_secs >= 0.0) {
            bail!("worker.lease_secs must be at least 2 and worker.quantum_secs not negative");
        }
        if !(self.worker.admin_band_share > 0.0 && self.worker.admin_band_share <= 1.0) {
            bail!("worker.admin_band_share must be in (0, 1]");
        }
        for proxy in &self.http.trusted_proxies {
            if crate::http::client_addr::Cidr::parse(proxy).is_none() {
                bail!("http.trusted_proxies: {proxy:?} is not an address or CIDR range");
            }
        }
        if !["x-forwarded-for", "forwarded"]
            .contains(&self.http.forwarded_header.to_ascii_lowercase().as_str())
        {
            bail!("http.forwarded_header must be x-forwarded-for or forwarded");
        }
        if self.queue.max_pending_per_user == 0 || self.http.max_sockets_per_user == 0 {
            bail!("queue.max_pending_per_user and http.max_sockets_per_user must be at least 1");
        }
        if let Some(key) = &self.s3.seal_key {
            crate::s3::seal::Sealer::from_hex(key).context("s3.seal_key")?;
        }
        if self.s3.listen.is_some() && !self.multiuser {
            bail!("s3.listen needs multiuser = true: S3 access keys belong to users");
        }
        if self.database.owner_url.is_some() && self.database.url.is_none() {
            bail!("database.owner_url needs database.url as well");
        }
        Ok(())
    }

    /// This config, once [`Config::validate`] accepts it.
    pub fn validated(self) -> anyhow::Result<Self> {
        self.validate()?;
        Ok(self)
    }

    /// This config with every secret replaced, for printing and logging.
    pub fn redacted(&self) -> Config {
        let mut copy = self.clone();
        copy.database.url = copy.database.url.as_deref().map(redact_url);
        copy.database.owner_url = copy.database.owner_url.as_deref().map(redact_url);
        if copy.auth.jwt_secret.is_some() {
            copy.auth.jwt_secret = Some(REDACTED.into());
        }
        if copy.s3.seal_key.is_some() {
            copy.s3.seal_key = Some(REDACTED.into());
        }
        if copy.auth.setup_token.is_some() {
            copy.auth.setup_token = Some(REDACTED.into());
        }
        if !copy.storage.s3.secret_access_key.is_empty() {
            copy.storage.s3.secret_access_key = REDACTED.into();
        }
        copy
    }

    /// The redacted effective config as TOML.
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        toml::to_string_pretty(&self.redacted()).context("failed to render config")
    }
}

/// Masks the password in a PostgreSQL URL or keyword/value connection string.
fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.rsplit_once('@')
    {
        let user = userinfo.split(':').next().unwrap_or_default();
        return format!("{scheme}://{user}:{REDACTED}@{host}");
    }
    url.split_whitespace()
        .map(|part| {
            if part.starts_with("password=") {
                format!("password={REDACTED}")
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_user_mode_refuses_a_lan_address() {
        let config = Config {
            listen: "0.0.0.0:9090".parse().unwrap(),
            ..Config::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("single-user mode"), "{err}");
    }

    #[test]
    fn single_user_mode_accepts_a_lan_address_when_explicitly_allowed() {
        let config = Config {
            listen: "0.0.0.0:9090".parse().unwrap(),
            allow_unauthenticated_lan: true,
            ..Config::default()
        };
        config.validate().unwrap();
    }

    #[test]
    fn multiuser_mode_may_listen_on_the_lan() {
        let config = Config {
            listen: "0.0.0.0:9090".parse().unwrap(),
            multiuser: true,
            ..Config::default()
        };
        config.validate().unwrap();
    }

    #[test]
    fn redaction_hides_passwords_in_urls_and_the_jwt_secret() {
        let mut config = Config::default();
        config.database.url = Some("postgres://atelier_app:hunter2@db:5432/atelier".into());
        config.database.owner_url = Some("host=/run user=o password=s3cret".into());
        config.auth.jwt_secret = Some("x".repeat(40));
        let text = config.to_redacted_toml().unwrap();
        assert!(
            !text.contains("hunter2")
                && !text.contains("s3cret")
                && !text.contains(&"x".repeat(40))
        );
        assert!(
            text.contains("postgres://atelier_app:<redacted>@db:5432/atelier"),
            "{text}"
        );
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "a.toml",
                "multiuser = true\n[auth]\nsession_ttl_secs = 600\n",
            )?;
            jail.set_env("ATELIER__AUTH__SESSION_TTL_SECS", "900");
            let config = Config::load(Some(Path::new("a.toml"))).expect("loads");
            assert!(config.multiuser);
            assert_eq!(config.auth.session_ttl_secs, 900);
            assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 9090)));
            Ok(())
        });
    }
}
