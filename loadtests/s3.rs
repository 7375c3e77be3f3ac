//! The S3 door against the HTTP API on the same server, side by side in one run: GET of a full
//! image (S3 `GetObject` against `GET /api/v1/images/{id}/full`) and PUT of a small PNG (S3
//! `PutObject` against the multipart upload), in alternating rounds so that machine noise falls
//! on both; throughput, p50/p99 and the server process's CPU per request. Then `aws s3 sync` of
//! a folder of images up and down, timed.
//!
//! Run: `cargo build --release && cargo run --release --example loadtest_s3`
//! Options (environment): REQUESTS (1600 per side and operation), CLIENTS (8), IMAGES (50 full
//! images of about 300 KB to read), SYNC_IMAGES (500). `aws` comes from `.venv` (`.ci/setup`).

#[path = "common.rs"]
mod common;

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{
    Server, create_users, env_or, login, percentile, post_json, setup_admin, start_server,
};
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use rand::RngCore;

/// Which door a request goes through.
#[derive(Clone, Copy, PartialEq)]
enum Door {
    Http,
    S3,
}

/// What one side measured.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    wall: Duration,
    cpu_secs: f64,
}

struct Ctx {
    base: String,
    token: String,
    http: reqwest::Client,
    s3: AmazonS3,
    /// (image id, S3 key) of the full images.
    images: Vec<(String, String)>,
    small_png: Vec<u8>,
}

fn png(width: u32, height: u32, noise: bool) -> Vec<u8> {
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    if noise {
        rand::rng().fill_bytes(&mut pixels);
    } else {
        for (i, p) in pixels.iter_mut().enumerate() {
            *p = (i % 251) as u8;
        }
    }
    let image = image::RgbImage::from_raw(width, height, pixels).unwrap();
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload_http(ctx: &Ctx, bytes: Vec<u8>, name: &str, board: Option<&str>) -> String {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("image/png")
        .unwrap();
    let mut url = format!("{}/api/v1/images", ctx.base);
    if let Some(board) = board {
        url.push_str(&format!("?board_id={board}"));
    }
    let response = ctx
        .http
        .post(url)
        .bearer_auth(&ctx.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "upload: {}",
        response.status()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Numbers every PUT, so that no two write the same key.
static PUT_SEQ: AtomicUsize = AtomicUsize::new(0);

/// One request of `op` through `door`; `i` picks the image.
async fn one(ctx: &Ctx, op: &str, door: Door, i: usize) {
    match (op, door) {
        ("get", Door::Http) => {
            let (id, _) = &ctx.images[i % ctx.images.len()];
            let response = ctx
                .http
                .get(format!("{}/api/v1/images/{id}/full", ctx.base))
                .bearer_auth(&ctx.token)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap();
        }
        ("get", Door::S3) => {
            let (_, key) = &ctx.images[i % ctx.images.len()];
            let got = ctx.s3.get(&ObjectPath::from(key.as_str())).await.unwrap();
            got.bytes().await.unwrap();
        }
        ("put", Door::Http) => {
            let n = PUT_SEQ.fetch_add(1, Ordering::Relaxed);
            upload_http(ctx, ctx.small_png.clone(), &format!("h{n}.png"), None).await;
        }
        _ => {
            // A fresh key each time: a second write to a key would also delete the first.
            let n = PUT_SEQ.fetch_add(1, Ordering::Relaxed);
            let key = ObjectPath::from(format!("put/s{n}.png"));
            ctx.s3
                .put(&key, ctx.small_png.clone().into())
                .await
                .unwrap();
        }
    }
}

/// `requests` requests of `op` through `door` from `clients` clients.
async fn round(
    server: &Server,
    ctx: &Arc<Ctx>,
    op: &'static str,
    door: Door,
    requests: usize,
    clients: usize,
    tally: &mut Tally,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = server.cpu_secs();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (ctx, next) = (Arc::clone(ctx), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return mine;
                }
                let t = Instant::now();
                one(&ctx, op, door, i).await;
                mine.push(t.elapsed());
            }
        }));
    }
    for task in tasks {
        tally.latencies.extend(task.await.unwrap());
    }
    tally.wall += started.elapsed();
    tally.cpu_secs += server.cpu_secs() - cpu;
}

fn report(name: &str, http: &mut Tally, s3: &mut Tally) {
    println!("{name}:");
    println!(
        "  {:<6} {:>9} {:>9} {:>9} {:>14}",
        "door", "req/s", "p50 ms", "p99 ms", "server CPU ms"
    );
    for (door, tally) in [("http", &mut *http), ("s3", &mut *s3)] {
        tally.latencies.sort();
        let n = tally.latencies.len() as f64;
        println!(
            "  {door:<6} {:>9.0} {:>9.2} {:>9.2} {:>14.3}",
            n / tally.wall.as_secs_f64(),
            percentile(&tally.latencies, 0.5),
            percentile(&tally.latencies, 0.99),
            tally.cpu_secs * 1000.0 / n
        );
    }
    let cost = |t: &Tally| t.cpu_secs / t.latencies.len() as f64;
    println!(
        "  S3 / HTTP: server CPU per request {:.2}x, p50 {:.2}x",
        cost(s3) / cost(http),
        percentile(&s3.latencies, 0.5) / percentile(&http.latencies, 0.5)
    );
}

fn aws(s3_url: &str, key: &(String, String), args: &[&str]) -> Duration {
    let aws = std::path::Path::new(".venv/bin/aws");
    assert!(aws.exists(), ".venv/bin/aws is missing: run .ci/setup");
    let started = Instant::now();
    let output = std::process::Command::new(aws)
        .arg("--endpoint-url")
        .arg(s3_url)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &key.0)
        .env("AWS_SECRET_ACCESS_KEY", &key.1)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let requests: usize = env_or("REQUESTS", 1600);
    let clients: usize = env_or("CLIENTS", 8);
    let images: usize = env_or("IMAGES", 50);
    let sync_images: usize = env_or("SYNC_IMAGES", 500);
    let s3_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s3_listen = format!("127.0.0.1:{s3_port}");
    let server = start_server(&[
        ("ATELIER__S3__LISTEN", s3_listen.as_str()),
        ("ATELIER__STORAGE__DEFAULT_QUOTA_BYTES", "100000000000"),
    ])
    .await;
    let s3_url = format!("http://{s3_listen}");
    let http = reqwest::Client::new();
    let admin = setup_admin(&server, &http).await;
    let email = create_users(&server, &http, &admin, "s3bench", 1)
        .await
        .remove(0);
    let token = login(&http, &server.base, &email).await.unwrap();
    let key = post_json(
        &http,
        &server.base,
        "/api/v1/s3/keys",
        &token,
        &serde_json::json!({}),
    )
    .await;
    let key = (
        key["access_key_id"].as_str().unwrap().to_owned(),
        key["secret_access_key"].as_str().unwrap().to_owned(),
    );
    let board = post_json(
        &http,
        &server.base,
        "/api/v1/boards",
        &token,
        &serde_json::json!({"name": "bench"}),
    )
    .await;
    let board = board["id"].as_str().unwrap().to_owned();
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&s3_url)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_virtual_hosted_style_request(false)
        .with_bucket_name("images")
        .with_access_key_id(&key.0)
        .with_secret_access_key(&key.1)
        .build()
        .unwrap();
    let mut ctx = Ctx {
        base: server.base.clone(),
        token,
        http,
        s3,
        images: Vec::new(),
        small_png: png(64, 64, false),
    };
    let full = png(320, 320, true);
    for i in 0..images {
        let name = format!("img{i:03}.png");
        let id = upload_http(&ctx, full.clone(), &name, Some(&board)).await;
        ctx.images.push((id, format!("bench/{name}")));
    }
    println!(
        "# {} full images of {} bytes; {requests} requests per side and operation, {clients} clients",
        images,
        full.len()
    );
    let ctx = Arc::new(ctx);
    for op in ["get", "put"] {
        let (mut by_http, mut by_s3) = (Tally::default(), Tally::default());
        // Warm-up, then four alternating rounds per side.
        round(
            &server,
            &ctx,
            op,
            Door::Http,
            50,
            clients,
            &mut Tally::default(),
        )
        .await;
        round(
            &server,
            &ctx,
            op,
            Door::S3,
            50,
            clients,
            &mut Tally::default(),
        )
        .await;
        for r in 0..4 {
            let n = requests / 4;
            if r % 2 == 0 {
                round(&server, &ctx, op, Door::Http, n, clients, &mut by_http).await;
                round(&server, &ctx, op, Door::S3, n, clients, &mut by_s3).await;
            } else {
                round(&server, &ctx, op, Door::S3, n, clients, &mut by_s3).await;
                round(&server, &ctx, op, Door::Http, n, clients, &mut by_http).await;
            }
        }
        report(
            if op == "get" {
                "GET a full image"
            } else {
                "PUT a 64x64 PNG"
            },
            &mut by_http,
            &mut by_s3,
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up");
    std::fs::create_dir(&up).unwrap();
    for i in 0..sync_images {
        let mut bytes = png(64, 64, false);
        bytes.extend_from_slice(&(i as u32).to_be_bytes()); // distinct files (bytes after IEND)
        std::fs::write(up.join(format!("s{i:04}.png")), bytes).unwrap();
    }
    let up_path = up.to_str().unwrap();
    let down = dir.path().join("down");
    let down_path = down.to_str().unwrap();
    let sync = |from: &str, to: &str| {
        aws(
            &s3_url,
            &key,
            &["s3", "sync", "--only-show-errors", from, to],
        )
    };
    let took_up = sync(up_path, "s3://images/synced/");
    let took_again = sync(up_path, "s3://images/synced/");
    let took_down = sync("s3://images/synced/", down_path);
    let downloaded = std::fs::read_dir(&down).unwrap().count();
    assert_eq!(downloaded, sync_images);
    println!("aws s3 sync of {sync_images} images:");
    println!(
        "  up    {:>7.2} s ({:.0} images/s)",
        took_up.as_secs_f64(),
        sync_images as f64 / took_up.as_secs_f64()
    );
    println!(
        "  again {:>7.2} s (nothing to send)",
        took_again.as_secs_f64()
    );
    println!(
        "  down  {:>7.2} s ({:.0} images/s)",
        took_down.as_secs_f64(),
        sync_images as f64 / took_down.as_secs_f64()
    );
}
