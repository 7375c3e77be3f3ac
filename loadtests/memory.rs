//! The server's memory under hostile bursts, against a real `atelier serve` with its embedded
//! PostgreSQL, on loopback only, bounded in count and time:
//! - a burst of concurrent logins (argon2id, 19 MiB of work memory each) and wrong current
//!   passwords on `PATCH /auth/me`: the peak, and what is left after it (the goal: within 50 MiB
//!   of idle);
//! - concurrent uploads of a PNG whose zTXt chunk inflates to 1 GiB (about 1 MiB on the wire):
//!   the growth (the goal: under 64 MiB), and what was stored.
//!
//! Run: `cargo build --release && cargo run --release --example loadtest_memory`
//! Options (environment): ATELIER_BIN (default target/release/atelier), USERS (50), ROUNDS (4),
//! BOMBS (4).

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Server, create_users, env_or, login, setup_admin, start_server};
use serde_json::json;

/// Samples the server's RSS every 20 ms until `stop`; returns the largest.
fn sample_peak(server: &Server, stop: &AtomicBool) -> f64 {
    let mut peak = 0.0f64;
    while !stop.load(Ordering::Relaxed) {
        peak = peak.max(server.rss_mib());
        std::thread::sleep(Duration::from_millis(20));
    }
    peak.max(server.rss_mib())
}

/// RSS after the server has been quiet for a few seconds.
async fn settled(server: &Server) -> f64 {
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.rss_mib()
}

async fn login_burst(server: &Server, emails: &[String], rounds: usize) -> usize {
    let mut tasks = Vec::new();
    for _ in 0..rounds {
        for email in emails {
            let (base, email) = (server.base.clone(), email.clone());
            tasks.push(tokio::spawn(async move {
                login(&reqwest::Client::new(), &base, &email)
                    .await
                    .is_some()
            }));
        }
    }
    let mut ok = 0;
    for task in tasks {
        ok += usize::from(task.await.unwrap());
    }
    ok
}

async fn wrong_password_burst(server: &Server, tokens: &[String]) -> Vec<u16> {
    let mut tasks = Vec::new();
    for token in tokens {
        for i in 0..4 {
            let url = format!("{}/api/v1/auth/me", server.base);
            let body = json!({"current_password": format!("wrong guess {i}"), "new_password": "a brand new passphrase"});
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let response = reqwest::Client::new()
                    .patch(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await;
                response.map_or(0, |r| r.status().as_u16())
            }));
        }
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

/// A valid 4x4 PNG with one zTXt chunk ("parameters") that inflates to `size` bytes.
fn text_bomb(size: usize) -> Vec<u8> {
    use atelier::images::crafted::{with_chunks, ztxt};
    let image = image::RgbImage::from_pixel(4, 4, image::Rgb([9, 9, 9]));
    let mut plain = std::io::Cursor::new(Vec::new());
    image.write_to(&mut plain, image::ImageFormat::Png).unwrap();
    with_chunks(&plain.into_inner(), &[(b"zTXt", ztxt("parameters", size))])
}

async fn bomb_burst(server: &Server, token: &str, count: usize) -> Vec<u16> {
    let bomb = text_bomb(1 << 30);
    println!(
        "# the bomb: {} bytes on the wire, 1 GiB of text",
        bomb.len()
    );
    let mut tasks = Vec::new();
    for _ in 0..count {
        let (url, token, bomb) = (
            format!("{}/api/v1/images", server.base),
            token.to_owned(),
            bomb.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let part = reqwest::multipart::Part::bytes(bomb)
                .file_name("bomb.png")
                .mime_str("image/png")
                .unwrap();
            let form = reqwest::multipart::Form::new().part("file", part);
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .multipart(form)
                .send()
                .await;
            response.map_or(0, |r| r.status().as_u16())
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

/// Runs `burst` while sampling the server's RSS; returns (its result, peak MiB).
async fn measured<T>(
    server: &Arc<Server>,
    burst: impl std::future::Future<Output = T>,
) -> (T, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (server, stop) = (Arc::clone(server), Arc::clone(&stop));
        std::thread::spawn(move || sample_peak(&server, &stop))
    };
    let result = burst.await;
    stop.store(true, Ordering::Relaxed);
    (result, sampler.join().unwrap())
}

#[tokio::main]
async fn main() {
    let users = env_or("USERS", 50usize);
    let rounds = env_or("ROUNDS", 4usize);
    let bombs = env_or("BOMBS", 4usize);
    let server = Arc::new(start_server(&[]).await);
    let http = reqwest::Client::new();
    let admin = setup_admin(&server, &http).await;
    let emails = create_users(&server, &http, &admin, "mem", users).await;
    login(&http, &server.base, &emails[0])
        .await
        .expect("a login works");
    let idle = settled(&server).await;
    println!("idle after setup and {users} users: {idle:.0} MiB");

    let (ok, peak) = measured(&server, login_burst(&server, &emails, rounds)).await;
    let after = settled(&server).await;
    println!(
        "logins: {} concurrent, {ok} ok; peak {peak:.0} MiB, after {after:.0} MiB ({:+.0} MiB from idle)",
        users * rounds,
        after - idle
    );

    let mut tokens = Vec::new();
    for email in emails.iter().take(50) {
        tokens.push(login(&http, &server.base, email).await.expect("login"));
    }
    let (statuses, peak) = measured(&server, wrong_password_burst(&server, &tokens)).await;
    let after = settled(&server).await;
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let wrong = statuses.iter().filter(|s| **s == 403).count();
    println!(
        "wrong current passwords: {} concurrent, {wrong} x 403, {limited} x 429; peak {peak:.0} MiB, after {after:.0} MiB ({:+.0} MiB from idle)",
        statuses.len(),
        after - idle
    );

    let before = settled(&server).await;
    let (statuses, peak) = measured(&server, bomb_burst(&server, &admin, bombs)).await;
    let after = settled(&server).await;
    println!(
        "text bombs: {bombs} concurrent, statuses {statuses:?}; peak {peak:.0} MiB ({:+.0} MiB), after {after:.0} MiB",
        peak - before
    );
    let listed = common::get_json(&http, &server.base, "/api/v1/images?limit=10", &admin).await;
    let stored = listed["items"].as_array().map_or(0, Vec::len);
    println!("stored images: {stored}");
}
