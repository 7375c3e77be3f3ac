//! Login throughput and authenticated-request latency against a real `atelier serve` (release
//! build) with its embedded PostgreSQL, on loopback only, bounded in count and time.
//!
//! Run: `cargo build --release && cargo run --release --example loadtest_auth`
//! Options (environment): ATELIER_BIN (default target/release/atelier), LOGIN_SECS (10),
//! CLIENTS (8), REQUESTS (4000).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "load test passphrase";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

async fn start_server() -> Server {
    let bin = std::env::var("ATELIER_BIN").unwrap_or_else(|_| "target/release/atelier".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&bin)
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
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {bin}: {e} (build it with cargo build --release)")
        });
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

async fn prepare_users(
    server: &Server,
    http: &reqwest::Client,
    count: usize,
) -> (String, Vec<String>) {
    let token = std::fs::read_to_string(server.data_dir.join("secrets/setup_token")).unwrap();
    let setup = json!({"setup_token": token.trim(), "email": "admin@example.com", "display_name": "Admin", "password": PASSWORD});
    let response = http
        .post(format!("{}/api/v1/auth/setup", server.base))
        .json(&setup)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "setup failed");
    let admin = login(http, &server.base, "admin@example.com")
        .await
        .expect("admin login");
    let mut emails = Vec::new();
    for i in 0..count {
        let email = format!("user{i}@example.com");
        let body =
            json!({"email": email, "display_name": format!("User {i}"), "password": PASSWORD});
        let response = http
            .post(format!("{}/api/v1/auth/users", server.base))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "user creation failed");
        emails.push(email);
    }
    (admin, emails)
}

async fn login(http: &reqwest::Client, base: &str, email: &str) -> Option<String> {
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

/// Logins per second over `secs` with `clients` concurrent clients, each on its own account.
async fn login_throughput(
    base: &str,
    emails: &[String],
    clients: usize,
    secs: u64,
) -> (f64, usize) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for email in emails.iter().take(clients) {
        let email = email.clone();
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let (mut ok, mut failed) = (0usize, 0usize);
            while Instant::now() < deadline {
                match login(&http, &base, &email).await {
                    Some(_) => ok += 1,
                    None => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        let (o, f) = task.await.unwrap();
        ok += o;
        failed += f;
    }
    (ok as f64 / started.elapsed().as_secs_f64(), failed)
}

/// Sequential latencies of `GET /api/v1/auth/me` (authenticated) and `GET /healthz` (no auth,
/// no database), interleaved so both see the same machine noise.
async fn latencies(base: &str, token: &str, requests: usize) -> (Vec<Duration>, Vec<Duration>) {
    let http = reqwest::Client::new();
    let (mut me, mut health) = (Vec::with_capacity(requests), Vec::with_capacity(requests));
    for _ in 0..requests {
        let t = Instant::now();
        let response = http
            .get(format!("{base}/api/v1/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        response.bytes().await.unwrap();
        me.push(t.elapsed());
        let t = Instant::now();
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        health.push(t.elapsed());
    }
    me.sort();
    health.sort();
    (me, health)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let clients: usize = env_or("CLIENTS", 8);
    let login_secs: u64 = env_or("LOGIN_SECS", 10);
    let requests: usize = env_or("REQUESTS", 4000);
    let server = start_server().await;
    let http = reqwest::Client::new();
    let (admin, emails) = prepare_users(&server, &http, clients).await;

    let (per_sec, failed) = login_throughput(&server.base, &emails, clients, login_secs).await;
    let (me, health) = latencies(&server.base, &admin, requests).await;

    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| logins/s ({clients} clients, {login_secs} s, argon2id default params) | {per_sec:.1} (failed: {failed}) |"
    );
    println!(
        "| GET /auth/me p50 / p99 ms ({requests} sequential) | {:.3} / {:.3} |",
        percentile(&me, 0.5),
        percentile(&me, 0.99)
    );
    println!(
        "| GET /healthz p50 / p99 ms (interleaved) | {:.3} / {:.3} |",
        percentile(&health, 0.5),
        percentile(&health, 0.99)
    );
    println!(
        "| ratio auth/me to healthz, p50 | {:.2} |",
        percentile(&me, 0.5) / percentile(&health, 0.5)
    );
}
