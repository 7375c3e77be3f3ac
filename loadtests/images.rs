//! Boards and images under load, with the request mix of the InvokeAI figures in
//! `../shared/notes/invokeai.md`: 64x64 PNG uploads from 8 clients, a board page of 100, the
//! board list, and full-image fetches. Then 1,000 users x 1,000 image records are seeded with SQL
//! and the listings are measured again, to show that a user's page does not slow down as the
//! instance grows. Loopback only; bounded counts.
//!
//! Run: `cargo build --release && cargo run --release --example loadtest_images`
//! Options (environment): USERS (10), IMAGES (200 per user), CLIENTS (8), REQUESTS (2000 per
//! list measurement), SEED_USERS (1000), SEED_IMAGES (1000 per seeded user).

#[path = "common.rs"]
mod common;

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Server, create_users, env_or, login, percentile, psql, setup_admin, start_server};
use serde_json::{Value, json};

/// One measured phase.
struct Phase {
    name: String,
    per_sec: f64,
    p50: f64,
    p99: f64,
    invokeai_per_sec: Option<f64>,
}

/// Runs `total` requests from `clients` workers; `request(i)` sends request number i.
async fn measure<F, Fut>(
    name: &str,
    clients: usize,
    total: usize,
    invokeai: Option<f64>,
    request: F,
) -> Phase
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (request, next) = (Arc::clone(&request), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return latencies;
                }
                let t = Instant::now();
                assert!(request(i).await, "request {i} failed");
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    Phase {
        name: name.to_owned(),
        per_sec: total as f64 / elapsed,
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        invokeai_per_sec: invokeai,
    }
}

fn png_64() -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 128]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

struct Artist {
    token: String,
    board: String,
    images: Vec<String>,
}

async fn prepare(server: &Server, http: &reqwest::Client, users: usize) -> Vec<Artist> {
    let admin = setup_admin(server, http).await;
    let emails = create_users(server, http, &admin, "artist", users).await;
    let mut artists = Vec::new();
    for email in emails {
        let token = login(http, &server.base, &email).await.expect("login");
        let response = http
            .post(format!("{}/api/v1/boards", server.base))
            .bearer_auth(&token)
            .json(&json!({"name": "bench"}))
            .send()
            .await
            .unwrap();
        let board: Value = response.json().await.unwrap();
        artists.push(Artist {
            token,
            board: board["id"].as_str().unwrap().to_owned(),
            images: Vec::new(),
        });
    }
    artists
}

/// Seeds users, boards and image records with SQL through `atelier db psql`.
fn seed(server: &Server, users: usize, images: usize) -> Duration {
    let sql = format!(
        "alter table images disable trigger images_track_used_bytes;
         insert into users (id, email, display_name)
           select gen_random_uuid(), 'seed' || g || '@example.com', 'Seed ' || g from generate_series(1, {users}) g;
         insert into boards (id, owner_id, name)
           select gen_random_uuid(), id, 'seed' from users where email like 'seed%';
         insert into images (id, owner_id, board_id, category, content_type, width, height, byte_size, created_at)
           select gen_random_uuid(), b.owner_id, case when g % 2 = 0 then b.id end, 'general', 'image/png',
                  64, 64, 1000, now() - make_interval(secs => g)
           from boards b cross join generate_series(1, {images}) g where b.name = 'seed';
         alter table images enable trigger images_track_used_bytes;
         update users u set used_bytes = coalesce((select sum(byte_size) from images i where i.owner_id = u.id), 0);
         analyze;"
    );
    let started = Instant::now();
    psql(server, &sql);
    started.elapsed()
}

/// Measures authenticated GETs of `path(artist)`, cycling through the artists.
async fn get_phase(
    name: String,
    artists: &Arc<Vec<Artist>>,
    base: &str,
    (clients, requests): (usize, usize),
    invokeai: Option<f64>,
    path: fn(&Artist) -> String,
) -> Phase {
    let (http, artists, base) = (reqwest::Client::new(), Arc::clone(artists), base.to_owned());
    measure(&name, clients, requests, invokeai, move |i| {
        let (http, artists, base) = (http.clone(), Arc::clone(&artists), base.clone());
        async move {
            let artist = &artists[i % artists.len()];
            let url = format!("{base}{}", path(artist));
            http.get(url)
                .bearer_auth(&artist.token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await
}

async fn list_phases(
    base: &str,
    artists: &Arc<Vec<Artist>>,
    clients: usize,
    requests: usize,
    label: &str,
) -> Vec<Phase> {
    let load = (clients, requests);
    vec![
        get_phase(
            format!("list a board, page of 100 ({label})"),
            artists,
            base,
            load,
            Some(147.0),
            |a| format!("/api/v1/images?board_id={}&limit=100", a.board),
        )
        .await,
        get_phase(
            format!("list Uncategorized, page of 100 ({label})"),
            artists,
            base,
            load,
            None,
            |_| "/api/v1/images?board_id=none&limit=100".to_owned(),
        )
        .await,
        get_phase(
            format!("list boards ({label})"),
            artists,
            base,
            load,
            Some(370.0),
            |_| "/api/v1/boards".to_owned(),
        )
        .await,
    ]
}

#[tokio::main]
async fn main() {
    let users: usize = env_or("USERS", 10);
    let per_user: usize = env_or("IMAGES", 200);
    let clients: usize = env_or("CLIENTS", 8);
    let requests: usize = env_or("REQUESTS", 2000);
    let seed_users: usize = env_or("SEED_USERS", 1000);
    let seed_images: usize = env_or("SEED_IMAGES", 1000);
    let server = start_server(&[("ATELIER__STORAGE__DEFAULT_QUOTA_BYTES", "1000000000000")]).await;
    let http = reqwest::Client::new();
    let mut artists = prepare(&server, &http, users).await;
    let png = Arc::new(png_64());
    let mut phases = Vec::new();

    let ids = Arc::new(std::sync::Mutex::new(vec![Vec::new(); users]));
    let targets: Arc<Vec<(String, String)>> = Arc::new(
        artists
            .iter()
            .map(|a| (a.token.clone(), a.board.clone()))
            .collect(),
    );
    let (h, b, p, t, ids2) = (
        http.clone(),
        server.base.clone(),
        Arc::clone(&png),
        Arc::clone(&targets),
        Arc::clone(&ids),
    );
    phases.push(
        measure(
            "upload a 64x64 PNG",
            clients,
            users * per_user,
            Some(130.0),
            move |i| {
                let (h, b, p, t, ids) = (
                    h.clone(),
                    b.clone(),
                    Arc::clone(&p),
                    Arc::clone(&t),
                    Arc::clone(&ids2),
                );
                async move {
                    let user = i % t.len();
                    let part = reqwest::multipart::Part::bytes(p.as_ref().clone())
                        .file_name("a.png")
                        .mime_str("image/png")
                        .unwrap();
                    let form = reqwest::multipart::Form::new().part("file", part);
                    let url = format!("{b}/api/v1/images?board_id={}", t[user].1);
                    let Ok(response) = h
                        .post(url)
                        .bearer_auth(&t[user].0)
                        .multipart(form)
                        .send()
                        .await
                    else {
                        return false;
                    };
                    let Ok(body) = response.json::<Value>().await else {
                        return false;
                    };
                    let Some(id) = body["id"].as_str() else {
                        return false;
                    };
                    ids.lock().unwrap()[user].push(id.to_owned());
                    true
                }
            },
        )
        .await,
    );
    for (artist, images) in artists.iter_mut().zip(ids.lock().unwrap().drain(..)) {
        artist.images = images;
    }
    let artists = Arc::new(artists);
    phases.extend(list_phases(&server.base, &artists, clients, requests, "before seeding").await);
    let (h, a, b) = (http.clone(), Arc::clone(&artists), server.base.clone());
    phases.push(
        measure(
            "fetch a full image",
            clients,
            requests,
            Some(490.0),
            move |i| {
                let (h, a, b) = (h.clone(), Arc::clone(&a), b.clone());
                async move {
                    let artist = &a[i % a.len()];
                    let id = &artist.images[(i * 7919) % artist.images.len()];
                    match h
                        .get(format!("{b}/api/v1/images/{id}/full"))
                        .bearer_auth(&artist.token)
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                        _ => false,
                    }
                }
            },
        )
        .await,
    );

    let seeded_in = seed(&server, seed_users, seed_images);
    phases.extend(list_phases(&server.base, &artists, clients, requests, "after seeding").await);

    println!(
        "seeded {seed_users} users x {seed_images} image records in {:.1} s",
        seeded_in.as_secs_f64()
    );
    println!("| measure | req/s | p50 ms | p99 ms | InvokeAI req/s (best) | ratio |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for phase in &phases {
        let (invokeai, ratio) = match phase.invokeai_per_sec {
            Some(v) => (format!("{v:.0}"), format!("{:.1}x", phase.per_sec / v)),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {invokeai} | {ratio} |",
            phase.name, phase.per_sec, phase.p50, phase.p99
        );
    }
    for measure in [
        "list a board, page of 100",
        "list Uncategorized, page of 100",
        "list boards",
    ] {
        let before = phases
            .iter()
            .find(|p| p.name.starts_with(measure) && p.name.contains("before seeding"));
        let after = phases
            .iter()
            .find(|p| p.name.starts_with(measure) && p.name.contains("after seeding"));
        if let (Some(before), Some(after)) = (before, after) {
            println!(
                "{measure}: p99 after / before growth = {:.2}",
                after.p99 / before.p99
            );
        }
    }
}
