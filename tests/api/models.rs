//! The model catalogue: who may do what (over HTTP and in SQL), installs from a path, a local
//! HTTP server and an upload, refusals that register nothing, deletion of models in use, admin-only
//! install events, and the `atelier model` CLI.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atelier::db::{Caller, begin_as};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    FIXTURE_MODEL, TestApp, TestUser, app_pool, assert_error, fresh_database, tiny_checkpoint,
};

fn models_dir(app: &TestApp) -> PathBuf {
    app.app.config.models_dir()
}

async fn model_count(app: &TestApp, admin: &TestUser) -> usize {
    let list: Value = app
        .get("/api/v1/models", Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    list.as_array().unwrap().len()
}

async fn install(app: &TestApp, admin: &TestUser, body: Value) -> reqwest::Response {
    app.post("/api/v1/models/install", Some(&admin.token), &body)
        .await
}

/// Starts an install and waits for its job to end.
async fn install_job(app: &TestApp, admin: &TestUser, body: Value) -> Value {
    let response = install(app, admin, body).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "{}",
        response.text().await.unwrap()
    );
    let job: Value = response.json().await.unwrap();
    let path = format!("/api/v1/models/installs/{}", job["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let job: Value = app
            .get(&path, Some(&admin.token))
            .await
            .json()
            .await
            .unwrap();
        if job["status"] == "completed" || job["status"] == "failed" {
            return job;
        }
        assert!(Instant::now() < deadline, "the install never ended: {job}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn model(app: &TestApp, user: &TestUser, id: &Value) -> Value {
    app.get(
        &format!("/api/v1/models/{}", id.as_str().unwrap()),
        Some(&user.token),
    )
    .await
    .json()
    .await
    .unwrap()
}

fn blake3_of(path: &Path) -> String {
    blake3::hash(&std::fs::read(path).unwrap())
        .to_hex()
        .to_string()
}

#[tokio::test]
async fn everyone_reads_the_catalogue_and_only_admins_write_it() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let list: Value = app
        .get("/api/v1/models", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    let fixture = &list[0];
    assert_eq!(fixture["name"], FIXTURE_MODEL);
    assert!(
        fixture.get("location").is_none() && fixture.get("source").is_none(),
        "{fixture}"
    );
    let id = fixture["id"].as_str().unwrap().to_owned();
    let as_admin = model(&app, &admin, &json!(id)).await;
    assert!(as_admin.get("location").is_some());

    let one = format!("/api/v1/models/{id}");
    let writes: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            "/api/v1/models/install".into(),
            json!({"source": "/etc/passwd"}),
        ),
        ("POST", "/api/v1/models/scan".into(), json!({})),
        (
            "POST",
            "/api/v1/models/upload?filename=m.safetensors".into(),
            json!({}),
        ),
        ("PATCH", one.clone(), json!({"description": "mine now"})),
        ("DELETE", one.clone(), Value::Null),
        ("GET", "/api/v1/models/installs".into(), Value::Null),
    ];
    for (method, path, body) in &writes {
        for (token, status, code) in [
            (None, StatusCode::UNAUTHORIZED, "unauthenticated"),
            (Some(joe.token.as_str()), StatusCode::FORBIDDEN, "forbidden"),
        ] {
            let response = match *method {
                "POST" => app.post(path, token, body).await,
                "PATCH" => app.patch(path, token, body).await,
                "DELETE" => app.delete(path, token).await,
                _ => app.get(path, token).await,
            };
            assert_error(response, status, code).await;
        }
    }
    for path in ["/api/v1/models", one.as_str()] {
        assert_error(
            app.get(path, None).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }
    assert_eq!(model(&app, &admin, &json!(id)).await["description"], "");
}

#[tokio::test]
async fn in_sql_a_user_identity_cannot_write_or_locate_models() {
    let dbname = fresh_database().await;
    let pool = app_pool(&dbname, 1);
    let mut client = pool.get().await.unwrap();
    let user = Caller::user(Uuid::now_v7());
    for sql in [
        "insert into models (id, name, base, type, format, source, location, size_bytes, hash)
         values (gen_random_uuid(), 'x', 'sd-1', 'main', 'single_file', 's', 'l', 0, 'h')",
        "update models set description = 'x'",
        "delete from models",
        "select location from models",
        "select source from models",
        "select * from model_installs",
    ] {
        let tx = begin_as(&mut client, &user).await.unwrap();
        let error = tx.batch_execute(sql).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}"
        );
    }
    let tx = begin_as(&mut client, &user).await.unwrap();
    tx.query("select id, name, base, defaults from models", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn installs_from_a_path_and_from_a_local_http_server_are_probed_and_hashed() {
    // The "remote" server is on loopback, which only this setting lets installs reach.
    let app = TestApp::spawn_with(|c| c.models.allow_private_urls = true).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let mut admin_socket = crate::events::connect(&app, &admin).await;
    let mut joe_socket = crate::events::connect(&app, &joe).await;

    let dir = models_dir(&app);
    let local = dir.join("tiny-sd1.safetensors");
    tiny_checkpoint(&local, 768, 1);
    let job = install_job(
        &app,
        &admin,
        json!({"source": local, "description": "tiny"}),
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    let installed = model(&app, &admin, &job["model_id"]).await;
    assert_eq!(installed["name"], "tiny-sd1");
    assert_eq!(
        (installed["base"].as_str(), installed["type"].as_str()),
        (Some("sd-1"), Some("main"))
    );
    assert_eq!(installed["format"], "single_file");
    assert_eq!(installed["hash"], blake3_of(&local));
    assert_eq!(
        installed["location"],
        json!(local),
        "inside the models directory: registered in place"
    );

    let served = tempfile::tempdir().unwrap();
    let remote = served.path().join("tiny-sd2.safetensors");
    tiny_checkpoint(&remote, 1024, 2);
    let bytes = std::fs::read(&remote).unwrap();
    let server = axum::Router::new().route(
        "/files/tiny-sd2.safetensors",
        axum::routing::get(move || {
            let bytes = bytes.clone();
            async move { bytes }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, server).await });
    let url = format!("http://{addr}/files/tiny-sd2.safetensors");
    let job = install_job(&app, &admin, json!({"source": url, "name": "Tiny SD2"})).await;
    assert_eq!(job["status"], "completed", "{job}");
    let downloaded = model(&app, &admin, &job["model_id"]).await;
    assert_eq!(
        (downloaded["name"].as_str(), downloaded["base"].as_str()),
        (Some("Tiny SD2"), Some("sd-2"))
    );
    assert_eq!(downloaded["hash"], blake3_of(&remote));
    let location = PathBuf::from(downloaded["location"].as_str().unwrap());
    assert!(
        location.starts_with(&dir) && location.is_file(),
        "{location:?}"
    );
    assert_eq!(downloaded["source"], json!(url));

    let missing = install_job(
        &app,
        &admin,
        json!({"source": format!("http://{addr}/nope.safetensors")}),
    )
    .await;
    assert_eq!(
        (missing["status"].as_str(), missing["error_code"].as_str()),
        (Some("failed"), Some("model_download_failed"))
    );

    let admin_saw = collect_types(&mut admin_socket).await;
    assert!(
        admin_saw
            .iter()
            .any(|m| m["type"] == "model_install" && m["status"] == "completed"),
        "{admin_saw:?}"
    );
    let joe_saw = collect_types(&mut joe_socket).await;
    assert!(
        joe_saw.iter().all(|m| m["type"] != "model_install"),
        "{joe_saw:?}"
    );
}

async fn collect_types(socket: &mut crate::events::Socket) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_millis(300), socket.next()).await
    {
        if let Ok(text) = message.to_text() {
            seen.push(serde_json::from_str(text).unwrap());
        }
    }
    seen
}

#[tokio::test]
async fn corrupt_pickle_outside_and_duplicate_installs_register_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let dir = models_dir(&app);
    let before = model_count(&app, &admin).await;

    let good = dir.join("good.safetensors");
    tiny_checkpoint(&good, 768, 3);
    let truncated = dir.join("truncated.safetensors");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    assert_error(
        install(&app, &admin, json!({"source": truncated})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "model_corrupt",
    )
    .await;

    let pickle = dir.join("old.ckpt");
    std::fs::write(&pickle, b"\x80\x02}q\x00.").unwrap();
    assert_error(
        install(&app, &admin, json!({"source": pickle})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "model_unsupported_format",
    )
    .await;
    let disguised = dir.join("disguised.safetensors");
    std::fs::write(&disguised, b"PK\x03\x04 a torch zip").unwrap();
    assert_error(
        install(&app, &admin, json!({"source": disguised})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "model_unsupported_format",
    )
    .await;

    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("outside.safetensors");
    tiny_checkpoint(&outside, 768, 4);
    assert_error(
        install(&app, &admin, json!({"source": outside})).await,
        StatusCode::FORBIDDEN,
        "model_path_outside",
    )
    .await;
    let sneaky = format!("{}/../../{}", dir.display(), outside.display());
    assert_error(
        install(&app, &admin, json!({"source": sneaky})).await,
        StatusCode::FORBIDDEN,
        "model_path_outside",
    )
    .await;

    assert_eq!(
        install_job(&app, &admin, json!({"source": good})).await["status"],
        "completed"
    );
    let copy = dir.join("copy-of-good.safetensors");
    std::fs::copy(&good, &copy).unwrap();
    let duplicate = install_job(&app, &admin, json!({"source": copy})).await;
    assert_eq!(duplicate["error_code"], "model_duplicate", "{duplicate}");
    assert!(
        duplicate["error"].as_str().unwrap().contains("\"good\""),
        "names the existing model: {duplicate}"
    );
    let upload = app
        .http
        .post(app.url("/api/v1/models/upload?filename=again.safetensors"))
        .bearer_auth(&admin.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_error(upload, StatusCode::CONFLICT, "model_duplicate").await;
    assert_eq!(
        model_count(&app, &admin).await,
        before + 1,
        "only the good file was registered"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.join(".incoming")).unwrap().collect();
    assert!(leftovers.is_empty(), "no staged upload is left behind");
}

#[tokio::test]
async fn uploads_edits_enqueue_checks_and_deleting_a_model_in_use() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("f.safetensors");
    tiny_checkpoint(&file, 768, 5);
    let upload = app
        .http
        .post(app.url("/api/v1/models/upload?filename=dreamy.safetensors&description=uploaded"))
        .bearer_auth(&admin.token)
        .body(std::fs::read(&file).unwrap())
        .send()
        .await
        .unwrap();
    let created = crate::helpers::expect_created(upload).await;
    assert_eq!(
        (created["name"].as_str(), created["base"].as_str()),
        (Some("dreamy"), Some("sd-1"))
    );
    let path = format!("/api/v1/models/{}", created["id"].as_str().unwrap());
    let location = PathBuf::from(created["location"].as_str().unwrap());
    assert!(location.is_file());

    let patched: Value = app
        .patch(
            &path,
            Some(&admin.token),
            &json!({"name": "Dreamy", "defaults": {"steps": 25, "cfg_scale": 6.5, "width": 640,
                                                   "clip_skip": 2}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        patched["defaults"],
        json!({"steps": 25, "cfg_scale": 6.5, "width": 640, "clip_skip": 2})
    );
    for defaults in [json!({"steps": 0}), json!({"clip_skip": 9})] {
        let bad = app
            .patch(&path, Some(&admin.token), &json!({ "defaults": defaults }))
            .await;
        assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let taken = app
        .patch(&path, Some(&admin.token), &json!({"name": FIXTURE_MODEL}))
        .await;
    assert_error(taken, StatusCode::CONFLICT, "model_name_taken").await;
    let joe_view = model(&app, &joe, &created["id"]).await;
    assert_eq!(joe_view["defaults"]["steps"], 25, "users read defaults");

    let unknown = app
        .post(
            "/api/v1/queue/items",
            Some(&joe.token),
            &json!({"model": "nope", "prompt": "x"}),
        )
        .await;
    let body = assert_error(
        unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not installed")
    );
    let job = app
        .enqueue(&joe, &json!({"model": "Dreamy", "prompt": "x"}))
        .await;

    assert_error(
        app.delete(&path, Some(&admin.token)).await,
        StatusCode::CONFLICT,
        "model_in_use",
    )
    .await;
    let forced: Value = app
        .delete(&format!("{path}?force=true"), Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(forced["canceled_jobs"], 1);
    let item: Value = app
        .get(&format!("/api/v1/queue/items/{job}"), Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (item["status"].as_str(), item["error"].as_str()),
        (Some("canceled"), Some("the model was deleted"))
    );
    assert!(!location.exists(), "the copied file is removed");
    assert_error(
        app.get(&path, Some(&admin.token)).await,
        StatusCode::NOT_FOUND,
        "model_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_scan_registers_what_is_new_and_explains_what_it_skips() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let dir = models_dir(&app);
    std::fs::create_dir_all(dir.join("family")).unwrap();
    tiny_checkpoint(&dir.join("family/one.safetensors"), 768, 6);
    tiny_checkpoint(&dir.join("two.safetensors"), 1024, 7);
    std::fs::write(dir.join("three.ckpt"), b"\x80\x02").unwrap();
    let report: Value = app
        .post("/api/v1/models/scan", Some(&admin.token), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let mut added: Vec<&str> = report["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    added.sort_unstable();
    assert_eq!(added, ["one", "two"]);
    assert_eq!(
        report["skipped"][0]["code"], "model_unsupported_format",
        "{report}"
    );
    let again: Value = app
        .post("/api/v1/models/scan", Some(&admin.token), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(again["added"].as_array().unwrap().is_empty(), "{again}");
}
