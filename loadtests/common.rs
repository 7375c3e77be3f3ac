//! Shared by the load tests: start a release `atelier serve` on loopback with its embedded
//! database in a temporary directory, create the first admin, and summarise latencies.

#![allow(dead_code, reason = "each load test uses a different subset")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Every load-test account's password.
pub(crate) const PASSWORD: &str = "load test passphrase";

/// Reads a number from the environment.
pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A running server, stopped with SIGTERM when dropped.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    _dir: tempfile::TempDir,
    /// The server's data directory.
    pub(crate) data_dir: PathBuf,
}

impl Server {
    /// CPU time (user and system) the server process has used so far, in seconds.
    pub(crate) fn cpu_secs(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may contain spaces) start at ") ".
        let rest = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// The server process's resident memory in MiB (`VmRSS`), or 0 if it cannot be read.
    pub(crate) fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Starts `ATELIER_BIN` (default target/release/atelier) in multiuser mode.
pub(crate) async fn start_server(extra_env: &[(&str, &str)]) -> Server {
    let bin = std::env::var("ATELIER_BIN").unwrap_or_else(|_| "target/release/atelier".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(&bin);
    command
        .args([
            "serve",
            "--multiuser",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("ATELIER__DATA_DIR", &data_dir)
        .env("ATELIER__AUTH__MAX_ATTEMPTS_PER_ADDRESS", "100000000")
        .env("ATELIER__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e} (cargo build --release)"));
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
        data_dir,
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if reqwest::get(format!("{}/readyz", server.base))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the server did not become ready");
}

/// Creates the first admin with the setup token and returns the admin's token.
pub(crate) async fn setup_admin(server: &Server, http: &reqwest::Client) -> String {
    let token = std::fs::read_to_string(server.data_dir.join("secrets/setup_token")).unwrap();
    let setup = json!({"setup_token": token.trim(), "email": "admin@example.com", "display_name": "Admin", "password": PASSWORD});
    let response = http
        .post(format!("{}/api/v1/auth/setup", server.base))
        .json(&setup)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "setup failed");
    login(http, &server.base, "admin@example.com")
        .await
        .expect("admin login")
}

/// Creates `count` users named `{prefix}{i}` and returns their emails.
pub(crate) async fn create_users(
    server: &Server,
    http: &reqwest::Client,
    admin: &str,
    prefix: &str,
    count: usize,
) -> Vec<String> {
    let mut emails = Vec::new();
    for i in 0..count {
        let email = format!("{prefix}{i}@example.com");
        let body =
            json!({"email": email, "display_name": format!("{prefix} {i}"), "password": PASSWORD});
        let response = http
            .post(format!("{}/api/v1/auth/users", server.base))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "user creation failed");
        emails.push(email);
    }
    emails
}

/// GETs `path` with a bearer token and parses the JSON answer.
pub(crate) async fn get_json(http: &reqwest::Client, base: &str, path: &str, token: &str) -> Value {
    http.get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POSTs `body` to `path` with a bearer token and parses the JSON answer.
pub(crate) async fn post_json(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> Value {
    http.post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Logs in; the token, or None on failure.
pub(crate) async fn login(http: &reqwest::Client, base: &str, email: &str) -> Option<String> {
    let body = json!({"email": email, "password": PASSWORD});
    let response = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    body["token"].as_str().map(str::to_owned)
}

/// Runs `sql` through `atelier db psql` (the owner login) against the server's embedded
/// database; stops on the first error.
pub(crate) fn psql(server: &Server, sql: &str) {
    let bin = std::env::var("ATELIER_BIN").unwrap_or_else(|_| "target/release/atelier".into());
    let output = Command::new(bin)
        .args(["db", "psql", "--", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .env("ATELIER__DATA_DIR", &server.data_dir)
        .output()
        .expect("run atelier db psql");
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `p` quantile of sorted latencies, in milliseconds.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}
