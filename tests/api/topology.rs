//! The Helm chart's topology as real processes on this machine: one managed PostgreSQL (the
//! harness's private cluster, reached through `database.url` only), the migrate step, two API
//! processes and two workers (CPU, the tiny model) on one S3 store (in-process). Two users
//! generate through either API; live events reach each user on whichever replica holds their
//! socket; killing one API process and one worker mid-job loses nothing and runs no job twice.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::cli::free_port;
use crate::helpers::{PASSWORD, cluster, superuser_client};

const BIN: &str = env!("CARGO_BIN_EXE_atelier");

/// `auth.setup_token`, shared by the release's API processes.
const SETUP_TOKEN: &str = "release-setup-token-0123456789";

/// One `atelier` process of the topology, killed (SIGKILL) when dropped.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What every process of the release shares: the database, the store, the signing secret and
/// the models directory (the chart's ConfigMap and Secrets).
struct Release {
    root: PathBuf,
    env: Vec<(String, String)>,
}

impl Release {
    fn command(&self, name: &str) -> Command {
        let mut command = Command::new(BIN);
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("ATELIER__DATA_DIR", self.root.join(name))
            .env("OMP_NUM_THREADS", "1");
        command
    }

    fn run(&self, name: &str, args: &[&str], extra: &[(&str, &str)]) {
        let out = self
            .command(name)
            .envs(extra.iter().copied())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn spawn(&self, name: &str, args: &[&str], extra: &[(&str, &str)]) -> Process {
        let log = self.root.join(format!("{name}.log"));
        let child = self
            .command(name)
            .envs(extra.iter().copied())
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Process { child, log }
    }

    async fn api(&self, name: &str) -> (Process, String) {
        let port = free_port();
        let process = self.spawn(
            name,
            &["serve", "--listen", &format!("127.0.0.1:{port}")],
            &[],
        );
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
                && r.status() == StatusCode::OK
            {
                return (process, base);
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not become ready: {}",
                std::fs::read_to_string(&process.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A database URL for the harness's cluster over its Unix socket.
fn url(login: &str, password: &str, dbname: &str) -> String {
    let socket = cluster().cluster.socket_dir().display().to_string();
    let port = atelier::db::embedded::PORT;
    format!("postgresql://{login}:{password}@localhost/{dbname}?host={socket}&port={port}")
}

async fn call(method: reqwest::Method, url: String, token: &str, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, &url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {value}");
    value
}

async fn login(base: &str, email: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD});
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let value: Value = response.json().await.unwrap();
    value["token"].as_str().unwrap().to_owned()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(base: &str, token: &str) -> Socket {
    let ticket = call(
        reqwest::Method::POST,
        format!("{base}/api/v1/events/ticket"),
        token,
        Some(json!({})),
    )
    .await;
    let ws = base.replace("http://", "ws://");
    let url = format!(
        "{ws}/api/v1/events?ticket={}",
        ticket["ticket"].as_str().unwrap()
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Every event a socket receives until one is `job_completed` for `item`.
async fn events_until_done(socket: &mut Socket, item: &str) -> Vec<Value> {
    use futures::StreamExt;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match tokio::time::timeout(left, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                let done = event["type"] == "job_completed" && event["item_id"] == item;
                seen.push(event);
                if done {
                    return seen;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("the socket ended before {item} completed: {other:?} after {seen:?}"),
        }
    }
    panic!("{item} did not complete: {seen:?}");
}

async fn enqueue(base: &str, token: &str, steps: u32) -> String {
    let body = json!({"model": "tiny", "prompt": "a harbour", "width": 64, "height": 64,
                      "steps": steps, "seed": 1});
    let created = call(
        reqwest::Method::POST,
        format!("{base}/api/v1/queue/items"),
        token,
        Some(body),
    )
    .await;
    created["item_ids"][0].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn two_apis_and_two_workers_on_one_database_and_store_survive_losing_one_of_each() {
    let root = tempfile::tempdir().unwrap();
    let dbname = format!("topology_{}", uuid::Uuid::new_v4().simple());
    let postgres = superuser_client("postgres").await;
    atelier::db::bootstrap::ensure_database(&postgres, &dbname, None)
        .await
        .unwrap();
    let secrets = &cluster().cluster.secrets;
    let store = crate::s3::start_s3(&root.path().join("s3")).await;
    let models = root.path().join("models");
    let env = [
        ("ATELIER__MULTIUSER", "true".to_owned()),
        (
            "ATELIER__DATABASE__URL",
            url(atelier::db::APP_LOGIN, &secrets.app, &dbname),
        ),
        (
            "ATELIER__AUTH__JWT_SECRET",
            "a-shared-signing-secret-of-the-release-0123".into(),
        ),
        ("ATELIER__STORAGE__BACKEND", "s3".into()),
        ("ATELIER__STORAGE__S3__ENDPOINT", store),
        ("ATELIER__STORAGE__S3__BUCKET", crate::s3::BUCKET.into()),
        ("ATELIER__STORAGE__S3__REGION", "us-east-1".into()),
        (
            "ATELIER__STORAGE__S3__ACCESS_KEY_ID",
            crate::s3::ACCESS_KEY.into(),
        ),
        (
            "ATELIER__STORAGE__S3__SECRET_ACCESS_KEY",
            crate::s3::SECRET_KEY.into(),
        ),
        ("ATELIER__STORAGE__S3__PATH_STYLE", "true".into()),
        ("ATELIER__MODELS__DIR", models.display().to_string()),
        ("ATELIER__WORKER__LEASE_SECS", "3".into()),
        ("ATELIER__LOG__FORMAT", "json".into()),
        ("ATELIER__AUTH__SETUP_TOKEN", SETUP_TOKEN.into()),
    ];
    let release = Release {
        root: root.path().to_owned(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    };

    // The chart's pre-install hook: migrations with the owner login; nothing else has it.
    let owner = url(atelier::db::OWNER_LOGIN, &secrets.owner, &dbname);
    release.run(
        "migrate",
        &["migrate"],
        &[("ATELIER__DATABASE__OWNER_URL", &owner)],
    );
    let tiny = root.path().join("tiny");
    release.run(
        "cli",
        &["model", "write-tiny", tiny.to_str().unwrap(), "--sd15"],
        &[],
    );
    release.run(
        "cli",
        &["model", "add", tiny.to_str().unwrap(), "--name", "tiny"],
        &[],
    );

    let (api1, base1) = release.api("api1").await;
    let (_api2, base2) = release.api("api2").await;
    let worker = |name: &str| {
        release.spawn(
            name,
            &["worker"],
            &[
                ("ATELIER__WORKER__DEVICE", "cpu"),
                ("ATELIER__WORKER__NAME", name),
            ],
        )
    };
    let w1 = worker("w1");
    let _w2 = worker("w2");

    // Setup with the release's token through either API (the chart's Secret gives every
    // replica the same one); once done, the other replica refuses it.
    let setup = json!({"setup_token": SETUP_TOKEN, "email": "admin@example.com",
                       "display_name": "Admin", "password": PASSWORD});
    let post_setup = |base: String| {
        let setup = setup.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/api/v1/auth/setup"))
                .json(&setup)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(post_setup(base2.clone()).await, StatusCode::CREATED);
    assert_ne!(post_setup(base1.clone()).await, StatusCode::CREATED);
    let admin = login(&base2, "admin@example.com").await;
    for name in ["joe", "jane"] {
        let body = json!({"email": format!("{name}@example.com"), "display_name": name,
                          "password": PASSWORD, "is_admin": false});
        call(
            reqwest::Method::POST,
            format!("{base2}/api/v1/auth/users"),
            &admin,
            Some(body),
        )
        .await;
    }
    let joe = login(&base1, "joe@example.com").await;
    let jane = login(&base2, "jane@example.com").await;

    // Each enqueues through one replica while their socket is on the other.
    let mut joe_socket = socket(&base2, &joe).await;
    let mut jane_socket = socket(&base1, &jane).await;
    let joe_item = enqueue(&base1, &joe, 4).await;
    let jane_item = enqueue(&base2, &jane, 4).await;
    let joe_saw = events_until_done(&mut joe_socket, &joe_item).await;
    let jane_saw = events_until_done(&mut jane_socket, &jane_item).await;
    for (saw, mine, theirs) in [
        (&joe_saw, &joe_item, &jane_item),
        (&jane_saw, &jane_item, &joe_item),
    ] {
        assert!(
            saw.iter()
                .any(|e| e["type"] == "progress" && e["item_id"] == mine.as_str()),
            "{saw:?}"
        );
        // Others' items reach them only as the redacted `queue_changed` (id and status).
        let leaked = saw
            .iter()
            .any(|e| e["item_id"] == theirs.as_str() && e["type"] != "queue_changed");
        assert!(!leaked, "another user's job events: {saw:?}");
    }

    // Losing one API process and one worker mid-job: w1 is killed while it runs an item.
    let mut items = Vec::new();
    for _ in 0..3 {
        items.push((enqueue(&base2, &joe, 60).await, joe.clone()));
        items.push((enqueue(&base2, &jane, 60).await, jane.clone()));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let workers = call(
            reqwest::Method::GET,
            format!("{base2}/api/v1/workers"),
            &admin,
            None,
        )
        .await;
        let busy = workers
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["name"] == "w1" && !w["running_item_id"].is_null());
        if busy {
            break;
        }
        assert!(Instant::now() < deadline, "w1 never ran an item: {workers}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(w1);
    drop(api1);

    // Everything completes through what is left, once each.
    for (item, token) in &items {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let state = call(
                reqwest::Method::GET,
                format!("{base2}/api/v1/queue/items/{item}"),
                token,
                None,
            )
            .await;
            if state["status"] == "completed" {
                assert_eq!(
                    state["result_image_ids"].as_array().unwrap().len(),
                    1,
                    "{state}"
                );
                break;
            }
            assert!(
                state["status"] != "failed" && state["status"] != "canceled",
                "{state}"
            );
            assert!(Instant::now() < deadline, "not completed: {state}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    for token in [&joe, &jane] {
        let page = call(
            reqwest::Method::GET,
            format!("{base2}/api/v1/images?category=general&limit=50"),
            token,
            None,
        )
        .await;
        let images = page["items"].as_array().unwrap();
        assert_eq!(images.len(), 4, "one image per job, none twice: {page}");
        let first = images[0]["id"].as_str().unwrap();
        let bytes = reqwest::Client::new()
            .get(format!("{base2}/api/v1/images/{first}/full"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(bytes.status(), StatusCode::OK);
    }
}
