//! Failure drills against the real binary: the embedded PostgreSQL killed under load heals by
//! itself (503 `database_unavailable` meanwhile, never a 500, nothing acknowledged lost, one log
//! line per outage), and `/healthz` fails when it cannot heal, so a supervisor restarts it.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::cli::{Server, free_port};
use crate::helpers::PASSWORD;

/// Sets up the first admin from the setup token and returns a session token.
pub async fn admin_token(server: &Server, data_dir: &Path) -> String {
    let http = reqwest::Client::new();
    let token = std::fs::read_to_string(data_dir.join("secrets/setup_token")).unwrap();
    let setup = json!({"setup_token": token.trim(), "email": "admin@example.com",
                       "display_name": "Admin", "password": PASSWORD});
    let response = http
        .post(format!("{}/api/v1/auth/setup", server.base))
        .json(&setup)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let login: Value = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"email": "admin@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"].as_str().unwrap().to_owned()
}

/// GETs a probe (`/healthz`, `/readyz`): its status and the error code, if any.
async fn probe(server: &Server, path: &str) -> (StatusCode, String) {
    let response = reqwest::get(format!("{}{path}", server.base))
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

/// Kills the embedded cluster's postmaster with SIGKILL; returns its pid.
fn kill_postmaster(data_dir: &Path) -> String {
    let pid_file = std::fs::read_to_string(data_dir.join("pg/postmaster.pid")).unwrap();
    let pid = pid_file.lines().next().unwrap().trim().to_owned();
    let status = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    assert!(status.success());
    pid
}

/// What the load saw: (seconds since the start, status, error code) per answer, and the boards
/// whose creation was acknowledged.
#[derive(Default)]
struct Seen {
    answers: Vec<(f64, u16, String)>,
    created: Vec<String>,
}

async fn load(
    base: String,
    token: String,
    client: usize,
    start: Instant,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let name = format!("c{client}-{n}");
        let response = http
            .post(format!("{base}/api/v1/boards"))
            .bearer_auth(&token)
            .json(&json!({"name": name}))
            .send()
            .await;
        let at = start.elapsed().as_secs_f64();
        let Ok(response) = response else {
            seen.lock().await.answers.push((at, 0, "no answer".into()));
            continue;
        };
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        let mut seen = seen.lock().await;
        seen.answers.push((at, status.as_u16(), code));
        if status == StatusCode::CREATED {
            seen.created.push(name);
        }
        drop(seen);
        if status != StatusCode::CREATED {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn the_embedded_database_killed_under_load_heals_within_seconds_and_loses_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    let port = free_port();
    let server = Server::start_with(&data_dir, port, &[("RUST_BACKTRACE", "1")]).await;
    let token = admin_token(&server, &data_dir).await;

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            tokio::spawn(load(
                server.base.clone(),
                token.clone(),
                c,
                start,
                Arc::clone(&stop),
                Arc::clone(&seen),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log_before = std::fs::read_to_string(&server.log)
        .unwrap()
        .lines()
        .count();
    let killed_at = start.elapsed().as_secs_f64();
    kill_postmaster(&data_dir);

    // Liveness holds through a short outage; readiness comes back.
    let http = reqwest::Client::new();
    let health = probe(&server, "/healthz").await;
    assert_eq!(
        health.0,
        StatusCode::OK,
        "a short outage is no reason to restart"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = probe(&server, "/readyz").await;
        if ready.0 == StatusCode::OK {
            break;
        }
        assert_eq!(
            ready,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable".into()
            )
        );
        assert!(Instant::now() < deadline, "the database never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }

    let seen = seen.lock().await;
    let after: Vec<_> = seen.answers.iter().filter(|a| a.0 > killed_at).collect();
    let failures: Vec<_> = after.iter().filter(|a| a.1 != 201).collect();
    assert!(
        !failures.is_empty(),
        "the load met the outage (or the kill did nothing)"
    );
    for (_, status, code) in &failures {
        assert!(
            *status == 503 && code == "database_unavailable",
            "during the outage: {status} {code}"
        );
    }
    // Old connections may serve a few requests after the kill; healed means no refusal since.
    let last_refusal = failures.last().unwrap().0;
    let healed = after
        .iter()
        .filter(|a| a.1 == 201 && a.0 > last_refusal)
        .map(|a| a.0)
        .next()
        .expect("requests succeed again");
    assert!(
        healed - killed_at <= 10.0,
        "requests succeeded again {:.1} s after the kill",
        healed - killed_at
    );

    // Every acknowledged board is there.
    let boards: Value = http
        .get(format!("{}/api/v1/boards", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = boards["boards"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    for name in &seen.created {
        assert!(
            names.contains(&name.as_str()),
            "acknowledged board {name} was lost"
        );
    }

    // The outage is logged once when it starts and once when it ends, without backtraces.
    let log = std::fs::read_to_string(&server.log).unwrap();
    let during: Vec<&str> = log.lines().skip(log_before).collect();
    eprintln!(
        "drill: healed {:.2} s after the kill; {} requests refused (503), {} acknowledged in all, {} log lines",
        healed - killed_at,
        failures.len(),
        seen.created.len(),
        during.len()
    );
    assert!(
        during.len() <= 40,
        "{} log lines for one outage ({} requests refused):\n{}",
        during.len(),
        failures.len(),
        during.join("\n")
    );
    assert!(!log.contains("stack backtrace") && !log.contains("Stack backtrace"));
    assert!(
        during
            .iter()
            .any(|l| l.contains("requests refused while the database was unavailable")),
        "the recovery line counts the refusals:\n{}",
        during.join("\n")
    );
    server.terminate();
}

#[tokio::test]
async fn healthz_fails_when_the_database_cannot_come_back_and_recovers_with_it() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    let port = free_port();
    let server = Server::start_with(
        &data_dir,
        port,
        &[("ATELIER__DATABASE__UNHEALTHY_AFTER_SECS", "2")],
    )
    .await;
    // A broken setting that PostgreSQL reads at start: the supervisor's restarts fail.
    let auto_conf = data_dir.join("pg/postgresql.auto.conf");
    let good = std::fs::read(&auto_conf).unwrap();
    std::fs::write(&auto_conf, "shared_buffers = 'not a size'\n").unwrap();
    kill_postmaster(&data_dir);

    let unavailable = (
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable".to_owned(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe(&server, "/healthz").await != unavailable {
        assert!(Instant::now() < deadline, "healthz never failed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    std::fs::write(&auto_conf, good).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while probe(&server, "/healthz").await.0 != StatusCode::OK
        || probe(&server, "/readyz").await.0 != StatusCode::OK
    {
        assert!(Instant::now() < deadline, "the server never healed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.terminate();
}

/// A small tmpfs mounted for one test, unmounted when dropped. None where mounting is not
/// allowed (not root); CI runs as root, so there the tests below always run.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        if !status.success() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Every file below `dir`.
fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walkdir(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A PNG of noise (it does not compress): about `side * side * 3` bytes.
fn noise_png(side: u32, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let image = image::RgbImage::from_fn(side, side, |_, _| {
        let mut px = [0u8; 3];
        for channel in &mut px {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *channel = x as u8;
        }
        image::Rgb(px)
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn a_full_disk_answers_507_keeps_serving_reads_and_recovers_when_space_returns() {
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let objects = disk.path().to_path_buf();
    let app =
        crate::helpers::TestApp::spawn_with(move |c| c.storage.local_dir = Some(objects)).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let mut stored = Vec::new();
    let refused = loop {
        let png = noise_png(300, stored.len() as u32 + 1);
        let response = app
            .upload(Some(&joe.token), png.clone(), "image/png", None)
            .await;
        if response.status() != StatusCode::CREATED {
            break response;
        }
        let record: Value = response.json().await.unwrap();
        stored.push((record["id"].as_str().unwrap().to_owned(), png));
        assert!(stored.len() < 20, "a 3 MiB disk never filled");
    };
    assert_eq!(refused.status(), StatusCode::INSUFFICIENT_STORAGE);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "storage_full");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disk is full"),
        "{body}"
    );
    assert!(!stored.is_empty());
    let partial: Vec<_> = walkdir(disk.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains('#'))
        .collect();
    assert!(partial.is_empty(), "the refused write left {partial:?}");

    // Reads go on; the refused upload left no record behind.
    for (id, png) in &stored {
        let full = app
            .get(&format!("/api/v1/images/{id}/full"), Some(&joe.token))
            .await;
        assert_eq!(full.status(), StatusCode::OK);
        assert_eq!(&full.bytes().await.unwrap()[..], &png[..]);
    }
    let listed: Value = app
        .get("/api/v1/images?limit=100", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), stored.len());

    // Space comes back: uploads work again.
    for (id, _) in stored.drain(..2) {
        let deleted = app
            .delete(&format!("/api/v1/images/{id}"), Some(&joe.token))
            .await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    }
    let again = app
        .upload(Some(&joe.token), noise_png(300, 99), "image/png", None)
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_full_database_disk_is_storage_full_not_internal() {
    let Some(disk) = SmallDisk::mount("1m") else {
        return;
    };
    let dbname = crate::helpers::fresh_database().await;
    let db = crate::helpers::superuser_client(&dbname).await;
    // The tablespace directory belongs to the cluster's OS user (the owner of its data).
    let cluster_dir = crate::helpers::cluster().cluster.socket_dir().to_path_buf();
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&cluster_dir).unwrap());
    let group = std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(&cluster_dir).unwrap());
    std::os::unix::fs::chown(disk.path(), Some(owner), Some(group)).unwrap();
    let space = format!("tiny_{}", dbname.replace('-', "_"));
    let location = disk.path().display();
    db.batch_execute(&format!("create tablespace {space} location '{location}'"))
        .await
        .unwrap();
    db.batch_execute(&format!("create table filler (b bytea) tablespace {space}"))
        .await
        .unwrap();
    let full = loop {
        let inserted = db
            .execute(
                "insert into filler select decode(string_agg(md5(random()::text), ''), 'hex')
                   from generate_series(1, 20000)",
                &[],
            )
            .await;
        if let Err(error) = inserted {
            break error;
        }
    };
    assert_eq!(
        full.code(),
        Some(&tokio_postgres::error::SqlState::DISK_FULL),
        "{full}"
    );
    let answer = atelier::error::ApiError::from(full);
    assert_eq!(answer.code(), atelier::error::ErrorCode::StorageFull);
    assert_eq!(answer.code().status(), StatusCode::INSUFFICIENT_STORAGE);
    db.batch_execute("drop table filler").await.unwrap();
    db.batch_execute(&format!("drop tablespace {space}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_managed_database_dropping_every_connection_costs_no_500_and_heals_at_once() {
    let app = crate::helpers::TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let db = crate::helpers::superuser_client(&app.dbname).await;
    let terminate = "select count(pg_terminate_backend(pid)) from pg_stat_activity
                      where datname = $1 and usename = 'atelier_app'";
    let mut statuses = std::collections::BTreeMap::new();
    for round in 0..5 {
        // A failover: the server ends every connection of the app, the event listener's too.
        let ended: i64 = db
            .query_one(terminate, &[&app.dbname])
            .await
            .unwrap()
            .get(0);
        assert!(ended > 0 || round > 0, "the app had connections to end");
        for i in 0..20 {
            let name = format!("r{round}-{i}");
            let response = app
                .post("/api/v1/boards", Some(&admin.token), &json!({"name": name}))
                .await;
            *statuses.entry(response.status().as_u16()).or_insert(0) += 1;
            if response.status() != StatusCode::CREATED {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
            }
        }
    }
    eprintln!("failover drill: {statuses:?}");
    assert!(!statuses.contains_key(&500), "{statuses:?}");
    // The pool replaced its dead connections: nearly every request succeeded.
    assert!(
        statuses.get(&201).copied().unwrap_or(0) >= 90,
        "{statuses:?}"
    );
}
