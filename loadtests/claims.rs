//! PostgreSQL claim latency: 10,000 queued items, 4 concurrent workers claiming (the fair claim:
//! band rows locked, smallest start tag, FOR UPDATE SKIP LOCKED, in a worker-role transaction) and completing items until the queue is empty, against
//! the embedded cluster of a real `atelier serve` (release build). Loopback and a private socket.
//!
//! Run: `cargo build --release && cargo run --release --example loadtest_claims`
//! Options (environment): ITEMS (10000), CLAIMERS (4).

#[path = "common.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use atelier::db::{self, Caller, begin_as};
use atelier::queue::claims;
use common::{env_or, percentile, setup_admin, start_server};

#[tokio::main]
async fn main() {
    let items: usize = env_or("ITEMS", 10_000);
    let claimers: usize = env_or("CLAIMERS", 4);
    let server = start_server(&[]).await;
    setup_admin(&server, &reqwest::Client::new()).await;
    let sql = format!(
        "insert into queue_items (id, owner_id, params, est_cost)
         select gen_random_uuid(), (select id from users where is_admin limit 1), '{{}}', 1
         from generate_series(1, {items}); analyze queue_items;"
    );
    let bin = std::env::var("ATELIER_BIN").unwrap_or_else(|_| "target/release/atelier".into());
    let status = Command::new(bin)
        .args([
            "db",
            "psql",
            "--",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            &sql,
        ])
        .env("ATELIER__DATA_DIR", &server.data_dir)
        .status()
        .expect("seed with atelier db psql");
    assert!(status.success());

    let secrets = std::fs::read_to_string(server.data_dir.join("secrets/db.toml")).unwrap();
    let secrets: toml::Value = toml::from_str(&secrets).unwrap();
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(server.data_dir.canonicalize().unwrap().join("run"))
        .port(5432)
        .user(db::APP_LOGIN)
        .password(secrets["app"].as_str().unwrap())
        .dbname(db::DATABASE);
    let pool = db::pool(config, claimers).unwrap();

    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..claimers {
        let pool = pool.clone();
        workers.push(tokio::spawn(async move {
            let worker = format!("bench-{w}");
            let mut latencies: Vec<Duration> = Vec::new();
            loop {
                let t = Instant::now();
                let mut client = pool.get().await.unwrap();
                let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
                let policy = claims::Policy::default();
                let claimed = claims::claim_next(&tx, &worker, 60.0, &policy, &[])
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                let Some(item) = claimed else {
                    return latencies;
                };
                latencies.push(t.elapsed());
                let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
                assert!(
                    claims::finish(&tx, &item, &worker, &[], item.charge)
                        .await
                        .unwrap()
                );
                tx.commit().await.unwrap();
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    assert_eq!(all.len(), items, "every item was claimed exactly once");
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| items claimed and completed | {} by {claimers} workers in {elapsed:.1} s ({:.0}/s) |",
        all.len(),
        all.len() as f64 / elapsed
    );
    println!(
        "| claim latency p50 / p99 (begin, claim, commit) | {:.2} / {:.2} ms |",
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
}
