//! The operator's numbers, from the real binary: `/metrics` on its own listener moves during a
//! real generation (the tiny model on the CPU), labels carry route templates and never ids,
//! admins see each user's GPU-seconds, and JSON request logs name the route and the user.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::{Server, atelier, free_port};
use crate::drills::admin_token;

/// The value of the sample `name{labels}` (labels as printed, e.g. `outcome="completed"`),
/// summed over every series that has all of them.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            let series = line.rsplit_once(' ').map_or("", |(s, _)| s);
            let bare = series.split('{').next().unwrap_or("");
            bare == name && labels.iter().all(|l| series.contains(l))
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

async fn get_json(url: &str, token: &str) -> Value {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await;
    response.unwrap().json().await.unwrap()
}

async fn scrape(port: u16) -> String {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_move_during_a_real_generation_and_admins_see_gpu_seconds_per_user() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    let model = data_dir.join("models/tiny");
    for args in [
        vec!["model", "write-tiny", model.to_str().unwrap(), "--sd15"],
        vec!["model", "add", model.to_str().unwrap(), "--name", "tiny"],
    ] {
        let out = atelier(&data_dir).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (port, metrics_port) = (free_port(), free_port());
    let metrics_listen = format!("127.0.0.1:{metrics_port}");
    let server = Server::start_with(
        &data_dir,
        port,
        &[
            ("ATELIER__WORKER__DEVICE", "cpu"),
            ("ATELIER__METRICS__LISTEN", &metrics_listen),
            ("RUST_LOG", "atelier=info,atelier::http::access=debug"),
        ],
    )
    .await;
    let token = admin_token(&server, &data_dir).await;
    let http = reqwest::Client::new();
    let before = scrape(metrics_port).await;
    assert_eq!(sample(&before, "atelier_build_info", &[]), 1.0, "{before}");
    assert!(sample(&before, "atelier_db_pool_connections", &["state=\"max\""]) >= 1.0);

    // A wrong password counts; the request metrics name the route template.
    let wrong = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"email": "admin@example.com", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let body = json!({"model": "tiny", "prompt": "a lighthouse", "width": 64, "height": 64,
                      "steps": 4, "seed": 3});
    let created: Value = http
        .post(format!("{}/api/v1/queue/items", server.base))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["item_ids"][0].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let item = get_json(&format!("{}/api/v1/queue/items/{id}", server.base), &token).await;
        if item["status"] == "completed" {
            break;
        }
        assert!(item["status"] != "failed", "{item}");
        assert!(Instant::now() < deadline, "not completed: {item}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let after = scrape(metrics_port).await;
    let moved = |name: &str, labels: &[&str]| {
        let (b, a) = (sample(&before, name, labels), sample(&after, name, labels));
        assert!(a > b, "{name}{labels:?} did not move: {b} -> {a}\n{after}");
    };
    moved("atelier_jobs_total", &["outcome=\"completed\""]);
    moved("atelier_gpu_seconds_count", &["band=\"admin\""]);
    moved("atelier_gpu_seconds_sum", &["band=\"admin\""]);
    moved("atelier_queue_wait_seconds_count", &["band=\"admin\""]);
    moved("atelier_engine_step_seconds_count", &[]);
    moved("atelier_worker_heartbeats_total", &[]);
    moved("atelier_login_failures_total", &[]);
    moved(
        "atelier_http_requests_total",
        &[
            "route=\"/api/v1/queue/items/{item_id}\"",
            "status=\"200\"",
            "method=\"GET\"",
        ],
    );
    moved(
        "atelier_http_request_duration_seconds_count",
        &["route=\"/api/v1/queue/items\"", "method=\"POST\""],
    );
    assert!(
        sample(&after, "atelier_workers_online", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        after.contains("atelier_queue_items{band=\"interactive\",status=\"pending\"}"),
        "{after}"
    );
    assert!(!after.contains(&id), "an item id in a label:\n{after}");
    assert!(!after.contains("admin@example.com"));

    // Admins see who used the GPU, over the last day and week.
    let users = get_json(&format!("{}/api/v1/auth/users", server.base), &token).await;
    let admin = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "admin@example.com")
        .unwrap();
    let day = admin["gpu_seconds_day"].as_f64().unwrap();
    assert!(day > 0.0, "{admin}");
    assert!(admin["gpu_seconds_week"].as_f64().unwrap() >= day);

    // JSON request logs: the route template, the user id, the status; no colour codes.
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        !log.contains('\u{1b}'),
        "ANSI codes in a log written to a file"
    );
    let access = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| {
            l["target"] == "atelier::http::access"
                && l["span"]["route"] == "/api/v1/queue/items/{item_id}"
        })
        .unwrap_or_else(|| panic!("no access line for the item route:\n{log}"));
    let user_id = admin["id"].as_str().unwrap();
    assert_eq!(access["span"]["user_id"], user_id, "{access}");
    assert_eq!(access["span"]["status"], 200, "{access}");
    assert!(!log.contains("not the password"));
    // One item id joins the enqueue request, the worker's job span and the stored result.
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    let with_message = |message: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == message && l["fields"]["item"] == id.as_str())
            .unwrap_or_else(|| panic!("no {message:?} line for {id}:\n{log}"))
    };
    let enqueued = with_message("enqueued");
    assert_eq!(enqueued["span"]["route"], "/api/v1/queue/items");
    assert_eq!(enqueued["span"]["user_id"], user_id);
    let stored = with_message("results stored");
    assert_eq!(stored["span"]["name"], "job");
    assert_eq!(stored["span"]["item"], id.as_str());
    assert!(server.terminate().success());
}
