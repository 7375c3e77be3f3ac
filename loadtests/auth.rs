//! Login throughput and authenticated-request latency against a real `atelier serve` (release
//! build) with its embedded PostgreSQL, on loopback only, bounded in count and time.
//!
//! Run: `cargo build --release && cargo run --release --example loadtest_auth`
//! Options (environment): ATELIER_BIN (default target/release/atelier), LOGIN_SECS (10),
//! CLIENTS (8), REQUESTS (4000).

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Server, create_users, env_or, login, percentile, setup_admin, start_server};

async fn prepare_users(
    server: &Server,
    http: &reqwest::Client,
    count: usize,
) -> (String, Vec<String>) {
    let admin = setup_admin(server, http).await;
    let emails = create_users(server, http, &admin, "user", count).await;
    (admin, emails)
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

#[tokio::main]
async fn main() {
    let clients: usize = env_or("CLIENTS", 8);
    let login_secs: u64 = env_or("LOGIN_SECS", 10);
    let requests: usize = env_or("REQUESTS", 4000);
    let server = start_server(&[]).await;
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
