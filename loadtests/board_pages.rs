//! One board that grows to a million images: the first page of the gallery (newest first, and
//! starred first) at 1k, 10k, 100k and 1M images, with the V19 gallery indexes and, side by side
//! in the same run, without them (dropped for the measurement, then made again). One image in
//! ten is an inpainting mask, which the gallery leaves out. Rows are seeded with SQL.
//!
//! Run: `cargo build --release && cargo run --release --example loadtest_board_pages`
//! Options (environment): MAX (1000000 images), REQUESTS (400 per measurement), CLIENTS (4).

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{
    Server, create_users, env_or, get_json, login, percentile, post_json, psql, setup_admin,
    start_server,
};
use serde_json::{Value, json};

/// The V19 indexes, as `(name, definition)`.
const GALLERY_INDEXES: [(&str, &str); 4] = [
    (
        "images_gallery_board_created_idx",
        "(owner_id, board_id, created_at desc, id desc)",
    ),
    (
        "images_gallery_board_starred_idx",
        "(owner_id, board_id, starred desc, created_at desc, id desc)",
    ),
    (
        "images_gallery_created_idx",
        "(owner_id, created_at desc, id desc)",
    ),
    (
        "images_gallery_starred_idx",
        "(owner_id, starred desc, created_at desc, id desc)",
    ),
];

/// Grows the board from `from` to `to` image records (one in ten a mask, one in fifty starred).
fn grow(server: &Server, owner: &str, board: &str, from: usize, to: usize) {
    psql(
        server,
        &format!(
            "alter table images disable trigger images_track_used_bytes;
             insert into images (id, owner_id, board_id, category, content_type, width, height,
                                 byte_size, starred, created_at)
               select gen_random_uuid(), '{owner}', '{board}',
                      case when g % 10 = 0 then 'mask' else 'general' end, 'image/png', 64, 64,
                      1000, g % 50 = 0, now() - make_interval(secs => g)
               from generate_series({}, {to}) g;
             alter table images enable trigger images_track_used_bytes;
             analyze images;",
            from + 1
        ),
    );
}

fn set_indexes(server: &Server, present: bool) {
    let sql: Vec<String> = GALLERY_INDEXES
        .iter()
        .map(|(name, columns)| {
            if present {
                format!("create index {name} on images {columns} where category <> 'mask';")
            } else {
                format!("drop index {name};")
            }
        })
        .collect();
    psql(server, &format!("{} analyze images;", sql.join(" ")));
}

/// p50 and p99 in ms of `requests` GETs of `path` from `clients` clients.
async fn measure(
    base: &str,
    token: &str,
    path: &str,
    clients: usize,
    requests: usize,
) -> (f64, f64) {
    let http = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, next) = (http.clone(), Arc::clone(&next));
        let url = format!("{base}{path}");
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let started = Instant::now();
                let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                let page: Value = response.json().await.unwrap();
                assert_eq!(page["items"].as_array().map(Vec::len), Some(100));
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    (percentile(&all, 0.5), percentile(&all, 0.99))
}

#[tokio::main]
async fn main() {
    let max: usize = env_or("MAX", 1_000_000);
    let requests: usize = env_or("REQUESTS", 400);
    let clients: usize = env_or("CLIENTS", 4);
    let server = start_server(&[]).await;
    let http = reqwest::Client::new();
    let admin = setup_admin(&server, &http).await;
    let email = create_users(&server, &http, &admin, "artist", 1)
        .await
        .remove(0);
    let token = login(&http, &server.base, &email).await.expect("login");
    let base = server.base.as_str();
    let body = json!({"name": "everything"});
    let board = post_json(&http, base, "/api/v1/boards", &token, &body).await;
    let board = board["id"].as_str().unwrap().to_owned();
    let me = get_json(&http, base, "/api/v1/auth/me", &token).await;
    let owner = me["id"].as_str().unwrap().to_owned();

    println!(
        "| images in the board | page | with V19 p50 / p99 ms | without p50 / p99 ms | p99 ratio |"
    );
    println!("|---|---|---|---|---|");
    let mut have = 0;
    let mut first_p99: Option<f64> = None;
    let mut last_p99 = 0.0;
    for size in [1_000, 10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|s| *s <= max)
    {
        let started = Instant::now();
        grow(&server, &owner, &board, have, size);
        have = size;
        eprintln!("seeded {size} in {:.1} s", started.elapsed().as_secs_f64());
        for (page, query) in [("newest", ""), ("starred first", "&starred_first=true")] {
            let path = format!("/api/v1/images?board_id={board}&limit=100{query}");
            // Warm up, then measure with and without the indexes.
            measure(&server.base, &token, &path, clients, 50).await;
            let with = measure(&server.base, &token, &path, clients, requests).await;
            set_indexes(&server, false);
            let without = measure(&server.base, &token, &path, clients, requests).await;
            set_indexes(&server, true);
            println!(
                "| {size} | {page} | {:.2} / {:.2} | {:.2} / {:.2} | {:.1}x |",
                with.0,
                with.1,
                without.0,
                without.1,
                without.1 / with.1
            );
            if page == "newest" {
                first_p99.get_or_insert(with.1);
                last_p99 = with.1;
            }
        }
    }
    if let Some(first) = first_p99 {
        println!(
            "newest page p99 at {have} images / at 1000: {:.2} (goal: within 1.2)",
            last_p99 / first
        );
    }
}
