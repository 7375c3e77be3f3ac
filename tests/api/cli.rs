//! The real `atelier` binary, used the way an administrator would: `serve` with the embedded
//! database and no configuration, setup from the log's token, `user add/list/mod`, `db psql`,
//! SIGTERM leaving no postgres behind, and recovery after kill -9.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::PASSWORD;

const BIN: &str = env!("CARGO_BIN_EXE_atelier");

pub fn atelier(data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("ATELIER__MULTIUSER", "true")
        .env("ATELIER__DATA_DIR", data_dir)
        .env("ATELIER__LOG__FORMAT", "json")
        .env_remove("ATELIER__DATABASE__URL");
    command
}

fn run(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = atelier(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    pub async fn start(data_dir: &Path, port: u16) -> Self {
        Self::start_with(data_dir, port, &[]).await
    }

    /// Starts `serve` with extra environment settings.
    pub async fn start_with(data_dir: &Path, port: u16, env: &[(&str, &str)]) -> Self {
        let log = data_dir.with_extension(format!("{port}.log"));
        let child = atelier(data_dir)
            .envs(env.iter().copied())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready().await;
        server
    }

    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(response) = reqwest::get(format!("{}/readyz", self.base)).await
                && response.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "server did not become ready: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }

    fn kill_hard(mut self) {
        self.child.kill().unwrap(); // SIGKILL: no chance to stop PostgreSQL
        self.child.wait().unwrap();
    }
}

/// Whether any postgres process serves the cluster in `data_dir` (its postmaster's argv names
/// the cluster directory; the backends die with it).
pub fn postgres_running_for(data_dir: &Path) -> bool {
    let pgdata = data_dir.join("pg");
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        let mut args = cmdline.split('\0');
        let is_postgres = args.next().is_some_and(|argv0| argv0.ends_with("postgres"));
        is_postgres && args.any(|arg| Path::new(arg) == pgdata)
    })
}

pub async fn login(base: &str, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_runs_the_real_binary_from_first_start_to_crash_recovery() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    let port = free_port();
    let http = reqwest::Client::new();

    // First start with no configuration but the data directory: setup from the log's token.
    let server = Server::start(&data_dir, port).await;
    let status: Value = http
        .get(format!("{}/api/v1/auth/status", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["setup_required"], true);
    let token = std::fs::read_to_string(data_dir.join("secrets/setup_token")).unwrap();
    assert!(
        std::fs::read_to_string(&server.log)
            .unwrap()
            .contains(token.trim()),
        "the token is in the log"
    );
    // A restart before setup: the token still works, but only the first start logged it.
    assert!(server.terminate().success());
    let server = Server::start(&data_dir, port).await;
    let second_log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!second_log.contains(token.trim()), "{second_log}");
    assert!(second_log.contains("setup token in this file"));
    let setup = json!({"setup_token": token.trim(), "email": "admin@example.com", "display_name": "Admin", "password": PASSWORD});
    let response = http
        .post(format!("{}/api/v1/auth/setup", server.base))
        .json(&setup)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // The CLI works against the running server's embedded database.
    let added = run(
        &data_dir,
        &[
            "user",
            "add",
            "--email",
            "joe@example.com",
            "--name",
            "Joe",
            "--password-stdin",
        ],
        Some("joe's long password\n"),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let list = run(&data_dir, &["user", "list"], None);
    let table = String::from_utf8_lossy(&list.stdout);
    assert!(
        table.starts_with("EMAIL") && table.contains("joe@example.com"),
        "{table}"
    );
    let json_list: Value =
        serde_json::from_slice(&run(&data_dir, &["user", "list", "--json"], None).stdout).unwrap();
    assert_eq!(json_list.as_array().unwrap().len(), 2);
    let joe: Value = login(&server.base, "joe@example.com", "joe's long password")
        .await
        .json()
        .await
        .unwrap();
    let joe_token = joe["token"].as_str().unwrap().to_owned();

    let psql = run(
        &data_dir,
        &[
            "db",
            "psql",
            "--",
            "-tAc",
            "select count(*) from users where not is_system",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&psql.stdout).trim(),
        "2",
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );

    let modded = run(
        &data_dir,
        &["user", "mod", "joe@example.com", "--active", "off"],
        None,
    );
    assert!(
        modded.status.success(),
        "{}",
        String::from_utf8_lossy(&modded.stderr)
    );
    let me = http
        .get(format!("{}/api/v1/auth/me", server.base))
        .bearer_auth(&joe_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "the CLI's change applies on the next request"
    );
    let weak = run(
        &data_dir,
        &[
            "user",
            "add",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 10 characters"));

    let swept = run(&data_dir, &["storage", "sweep", "--grace-secs", "0"], None);
    assert!(
        String::from_utf8_lossy(&swept.stdout).contains("deleted 0 orphan(s)"),
        "{}",
        String::from_utf8_lossy(&swept.stderr)
    );

    // SIGTERM: a clean exit that leaves no postgres behind.
    assert!(
        postgres_running_for(&data_dir),
        "the probe sees the running cluster"
    );
    assert!(server.terminate().success());
    assert!(
        !postgres_running_for(&data_dir),
        "postgres survived SIGTERM"
    );

    // kill -9, then a restart recovers (orphaned postmaster or stale pid file).
    Server::start(&data_dir, port).await.kill_hard();
    let server = Server::start(&data_dir, port).await;
    assert_eq!(
        login(&server.base, "admin@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(server.terminate().success());
    assert!(!postgres_running_for(&data_dir));

    // A stale postmaster.pid (its process is long gone) does not stop the next start.
    std::fs::write(data_dir.join("pg/postmaster.pid"), "999999\n").unwrap();
    let server = Server::start(&data_dir, port).await;
    assert_eq!(
        login(&server.base, "admin@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn print_config_redacts_secrets_and_single_user_mode_refuses_the_lan() {
    let root = tempfile::tempdir().unwrap();
    let secret = "s".repeat(40);
    let output = Command::new(BIN)
        .args(["serve", "--print-config"])
        .env("ATELIER__AUTH__JWT_SECRET", &secret)
        .env("ATELIER__AUTH__SETUP_TOKEN", "a-setup-token-never-printed")
        .env("ATELIER__DATA_DIR", root.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.contains("<redacted>") && !text.contains(&secret),
        "{text}"
    );
    assert!(!text.contains("never-printed"), "{text}");
    let short = Command::new(BIN)
        .args(["serve", "--print-config"])
        .env("ATELIER__AUTH__SETUP_TOKEN", "short")
        .env("ATELIER__DATA_DIR", root.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&short.stderr).contains("auth.setup_token must be"));
    assert!(text.contains("listen = \"127.0.0.1:9090\""), "{text}");

    let refused = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env("ATELIER__DATA_DIR", root.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("single-user mode"));
}

#[tokio::test]
async fn with_database_url_set_nothing_is_spawned_and_the_server_uses_it() {
    let dbname = crate::helpers::fresh_database().await;
    let cluster = &crate::helpers::cluster().cluster;
    let url = format!(
        "host={} port=5432 user=atelier_app password={} dbname={dbname}",
        cluster.socket_dir().display(),
        cluster.secrets.app
    );
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    let port = free_port();
    let child = atelier(&data_dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("ATELIER__DATABASE__URL", &url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let log = data_dir.with_extension("log");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    server.wait_ready().await;

    let status: Value = reqwest::get(format!("{}/api/v1/auth/status", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["setup_required"], true);
    assert!(
        !data_dir.join("pg").exists(),
        "no embedded cluster was created"
    );
    let printed = Command::new(BIN)
        .args(["serve", "--print-config"])
        .env("ATELIER__DATABASE__URL", &url)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert!(
        printed.contains("password=<redacted>") && !printed.contains(&cluster.secrets.app),
        "{printed}"
    );
    let psql = Command::new(BIN)
        .args(["db", "psql", "--", "-tAc", "select current_user"])
        .env("ATELIER__DATABASE__URL", &url)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&psql.stdout).trim(),
        "atelier_app",
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_worker_without_a_usable_device_refuses_to_start_and_says_why() {
    let root = tempfile::tempdir().unwrap();
    let mut cases = vec![
        ("none", "worker.device is \"none\""),
        ("tpu", "worker.device must be none, cpu, cuda or cuda:N"),
    ];
    if !tch::Cuda::is_available() {
        cases.push(("cuda", "CUDA is not available"));
    }
    for (device, reason) in cases {
        let output = atelier(root.path())
            .arg("worker")
            .env("ATELIER__WORKER__DEVICE", device)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{device}");
        assert!(stderr.contains(reason), "{device}: {stderr}");
    }
    assert!(
        !root.path().join("pg").exists(),
        "it refused before starting a database"
    );
}

#[tokio::test]
async fn an_admin_manages_models_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("my model.safetensors");
    crate::helpers::tiny_checkpoint(&file, 768, 9);
    let file_arg = file.to_str().unwrap();

    let added = run(
        root.path(),
        &["model", "add", file_arg, "--name", "Mine"],
        None,
    );
    let stdout = String::from_utf8_lossy(&added.stdout);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(stdout.contains("installed Mine (sd-1, main"), "{stdout}");

    let listed = run(root.path(), &["model", "list", "--json"], None);
    let models: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(models.as_array().unwrap().len(), 1, "{models}");
    let location = std::path::PathBuf::from(models[0]["location"].as_str().unwrap());
    assert!(
        location.starts_with(root.path().join("models")) && location.is_file(),
        "an explicit path outside the models directory is copied in: {location:?}"
    );

    let again = run(root.path(), &["model", "add", file_arg], None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("installed already"));
    let pickle = elsewhere.path().join("old.ckpt");
    std::fs::write(&pickle, b"\x80\x02").unwrap();
    let refused = run(
        root.path(),
        &["model", "add", pickle.to_str().unwrap()],
        None,
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pickle"));

    let removed = run(root.path(), &["model", "rm", "Mine"], None);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    let listed = run(root.path(), &["model", "list", "--json"], None);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&listed.stdout).unwrap(),
        serde_json::json!([])
    );
    assert!(!location.exists());
}
