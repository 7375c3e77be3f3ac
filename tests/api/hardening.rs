//! A hostile user on a shared server: bad input that used to answer 500 (NUL characters, forged
//! cursors), decompression bombs in uploads, and boards of other users.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, TestUser, assert_error, png};

async fn two_users(app: &TestApp) -> (TestUser, TestUser) {
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    (admin, joe)
}

/// `plain` with one zTXt chunk (keyword, then `size` bytes of 'a', compressed) after IHDR.
fn with_ztxt(plain: &[u8], keyword: &str, size: usize) -> Vec<u8> {
    use atelier::images::crafted::{with_chunks, ztxt};
    with_chunks(plain, &[(b"zTXt", ztxt(keyword, size))])
}

#[tokio::test]
async fn a_png_text_bomb_is_stored_without_its_text_and_metadata_counts_in_the_quota() {
    let app = TestApp::spawn().await;
    let (admin, joe) = two_users(&app).await;
    let plain = png(4, 4, &[("Title", "kept")]);
    let bomb = with_ztxt(&plain, "parameters", 1 << 30);
    assert!(
        bomb.len() < 2 << 20,
        "a 1 GiB bomb is small: {}",
        bomb.len()
    );

    let response = app.upload(Some(&joe.token), bomb, "image/png", None).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let image: Value = response.json().await.unwrap();
    let id = image["id"].as_str().unwrap();
    let record = app.get_json(&format!("/api/v1/images/{id}"), &joe).await;
    assert_eq!(record["metadata"], json!({"Title": "kept"}));
    let metadata_len = serde_json::to_string(&record["metadata"]).unwrap().len() as i64;
    let user = app
        .get_json(&format!("/api/v1/auth/users/{}", joe.id), &admin)
        .await;
    let byte_size = image["byte_size"].as_i64().unwrap();
    // jsonb prints `{"Title": "kept"}` with a space after the colon.
    assert_eq!(
        user["used_bytes"].as_i64().unwrap(),
        byte_size + metadata_len + 1
    );
}

#[tokio::test]
async fn nul_characters_get_invalid_text_not_500() {
    let app = TestApp::spawn().await;
    let (admin, joe) = two_users(&app).await;
    for body in [
        json!({"model": "sd15\0", "prompt": "p"}),
        json!({"model": "sd15", "prompt": "p", "vae": "v\0"}),
        json!({"model": "sd15", "prompt": "p", "loras": [{"name": "l\0", "weight": 1.0}]}),
    ] {
        let response = app
            .post("/api/v1/queue/items", Some(&joe.token), &body)
            .await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_text").await;
    }
    for state in [
        json!({"k\0": 1}),
        json!({"k": "v\0"}),
        json!({"k": ["a", {"b": "\0"}]}),
    ] {
        let response = app
            .http
            .put(app.url("/api/v1/ui/state"))
            .bearer_auth(&joe.token)
            .json(&json!({ "state": state }))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_text").await;
    }
    let models = app.get_json("/api/v1/models", &admin).await;
    let model = models[0]["id"].as_str().unwrap();
    let response = app
        .patch(
            &format!("/api/v1/models/{model}"),
            Some(&admin.token),
            &json!({"description": "a\0b"}),
        )
        .await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_text").await;
    let response = app
        .get("/api/v1/images?category=general%00", Some(&joe.token))
        .await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_text").await;
    // A NUL in a path segment that reaches SQL as text.
    let response = app
        .get("/api/v1/auth/users/a%00b", Some(&admin.token))
        .await;
    assert!(response.status().is_client_error(), "{}", response.status());
    // An escaped backslash before "u0000" is ordinary text.
    let ok = app
        .http
        .put(app.url("/api/v1/ui/state"))
        .bearer_auth(&joe.token)
        .header("content-type", "application/json")
        .body(r#"{"state": {"k": "\\u0000"}}"#)
        .send()
        .await
        .unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
}

#[tokio::test]
async fn a_cursor_outside_postgresqls_range_is_a_validation_error() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let (_, joe) = two_users(&app).await;
    app.upload_png(&joe, None).await;
    for micros in [-220_000_000_000_000_000i64, 9_000_000_000_000_000_000] {
        let raw = format!("0.{micros}.{}", uuid::Uuid::nil());
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let response = app
            .get(&format!("/api/v1/images?cursor={cursor}"), Some(&joe.token))
            .await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn listing_another_users_board_is_404_like_a_missing_one() {
    let app = TestApp::spawn().await;
    let (admin, joe) = two_users(&app).await;
    let jane = app.add_user(&admin, "jane", false).await;
    let board = app.create_board(&jane, "private").await;
    app.upload_png(&jane, Some(&board)).await;

    let theirs = app
        .get(
            &format!("/api/v1/images?board_id={board}"),
            Some(&joe.token),
        )
        .await;
    assert_error(theirs, StatusCode::NOT_FOUND, "board_not_found").await;
    let missing = uuid::Uuid::now_v7();
    let missing = app
        .get(
            &format!("/api/v1/images?board_id={missing}"),
            Some(&joe.token),
        )
        .await;
    assert_error(missing, StatusCode::NOT_FOUND, "board_not_found").await;
    let own = app
        .get_json(&format!("/api/v1/images?board_id={board}"), &jane)
        .await;
    assert_eq!(own["items"].as_array().unwrap().len(), 1);
    let admins = app
        .get_json(&format!("/api/v1/images?board_id={board}"), &admin)
        .await;
    assert_eq!(admins["items"].as_array().unwrap().len(), 1);
}

async fn login_from(app: &TestApp, from: &str, email: &str, password: &str) -> StatusCode {
    app.http
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", from)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_strangers_wrong_guesses_cannot_keep_the_owner_out() {
    let app = TestApp::spawn_with(|c| {
        c.auth.max_failures_per_account = 3;
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    app.setup_admin().await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(login_from(&app, "203.0.113.9", "admin@example.com", "wrong guess!").await);
    }
    assert_eq!(&statuses[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(&statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 3]);
    // The guesser stays throttled, even with the right password.
    let guesser = login_from(&app, "203.0.113.9", "admin@example.com", PASSWORD).await;
    assert_eq!(guesser, StatusCode::TOO_MANY_REQUESTS);

    // The owner, from another address, gets in.
    let owner = login_from(&app, "198.51.100.2", "admin@example.com", PASSWORD).await;
    assert_eq!(owner, StatusCode::OK);
    // A success clears the account's count. Strangers from many addresses then push it past the
    // limit again: the account is paced to one attempt a second, whoever sends them.
    let addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];
    for from in addresses {
        login_from(&app, from, "admin@example.com", "distributed guess").await;
    }
    let burst = ["192.0.2.5", "192.0.2.6", "192.0.2.7", "192.0.2.8"]
        .map(|from| login_from(&app, from, "admin@example.com", "distributed guess"));
    let statuses = futures::future::join_all(burst).await;
    let paced = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // One attempt a second: four sent at once span at most two windows of the pace.
    assert!(
        paced >= 2,
        "at most one attempt a second gets through: {statuses:?}"
    );
    // After a second the owner gets in again: slowed down, not locked out.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let owner = login_from(&app, "198.51.100.2", "admin@example.com", PASSWORD).await;
    assert_eq!(owner, StatusCode::OK);
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let app = TestApp::spawn_with(|c| c.auth.max_failures_per_account = 2).await;
    app.setup_admin().await;
    // No trusted proxy: every spoofed X-Forwarded-For is the same peer, 127.0.0.1.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let from = format!("203.0.113.{i}");
        statuses.push(login_from(&app, &from, "admin@example.com", "wrong guess!").await);
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled() {
    let app = TestApp::spawn_with(|c| c.auth.max_failures_per_account = 3).await;
    let admin = app.setup_admin().await;
    let change = |current: &str| json!({"current_password": current, "new_password": "a brand new passphrase"});
    let guesses = (0..8).map(|i| {
        let body = change(&format!("wrong guess {i}"));
        let request = app
            .http
            .patch(app.url("/api/v1/auth/me"))
            .bearer_auth(&admin.token)
            .json(&body);
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(guesses).await;
    let forbidden = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((forbidden, limited), (3, 5), "{statuses:?}");
    let right = app
        .patch("/api/v1/auth/me", Some(&admin.token), &change(PASSWORD))
        .await;
    assert_error(right, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn users_and_workers_may_write_only_their_own_queue_columns() {
    use atelier::db::{Caller, begin_as};
    use tokio_postgres::error::SqlState;
    let app = TestApp::spawn().await;
    let (_, joe) = two_users(&app).await;
    let pool = crate::helpers::app_pool(&app.dbname, 1);
    let mut client = pool.get().await.unwrap();
    let denied = |e: tokio_postgres::Error| e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE);

    let tx = begin_as(&mut client, &Caller::user(joe.id)).await.unwrap();
    let forged = tx
        .execute(
            "insert into queue_items (id, owner_id, band, params, est_cost) values ($1, $2, 2, '{}', 1)",
            &[&uuid::Uuid::now_v7(), &joe.id],
        )
        .await;
    assert!(
        forged.is_err_and(denied),
        "a user cannot pick the admin band"
    );
    drop(tx);
    let tx = begin_as(&mut client, &Caller::user(joe.id)).await.unwrap();
    let results = tx
        .execute(
            "insert into queue_items (id, owner_id, params, est_cost, result_image_ids) values ($1, $2, '{}', 1, '{}')",
            &[&uuid::Uuid::now_v7(), &joe.id],
        )
        .await;
    assert!(results.is_err_and(denied), "a user cannot set result ids");
    drop(tx);

    let item = app
        .enqueue(&joe, &json!({"model": "sd15", "prompt": "p"}))
        .await;
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    let moved = tx
        .execute(
            "update queue_items set owner_id = $2 where id = $1",
            &[&item, &joe.id],
        )
        .await;
    assert!(moved.is_err_and(denied), "a worker cannot change an owner");
    drop(tx);
    let tx = begin_as(&mut client, &Caller::worker()).await.unwrap();
    let leased = tx
        .execute(
            "update queue_items set lease_until = now() where id = $1",
            &[&item],
        )
        .await
        .unwrap();
    assert_eq!(leased, 1, "a worker still writes its own columns");
}

#[tokio::test]
async fn a_user_has_a_bounded_number_of_unfinished_items() {
    let app = TestApp::spawn_with(|c| c.queue.max_pending_per_user = 3).await;
    let (admin, joe) = two_users(&app).await;
    let body = json!({"model": "sd15", "prompt": "p"});
    let sends = (0..6).map(|_| app.post("/api/v1/queue/items", Some(&joe.token), &body));
    let statuses: Vec<StatusCode> = futures::future::join_all(sends)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(
        created, 3,
        "parallel enqueues are counted exactly: {statuses:?}"
    );
    let over = app
        .post("/api/v1/queue/items", Some(&joe.token), &body)
        .await;
    assert_error(over, StatusCode::TOO_MANY_REQUESTS, "queue_full").await;
    // Cancelling one makes room again; admins are not limited.
    let items = app.get_json("/api/v1/queue/items", &joe).await;
    let first = items[0]["id"].as_str().unwrap();
    let cancel = app
        .post(
            &format!("/api/v1/queue/items/{first}/cancel"),
            Some(&joe.token),
            &json!({}),
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    app.enqueue(&joe, &body).await;
    for _ in 0..4 {
        app.enqueue(&admin, &body).await;
    }
}

#[tokio::test]
async fn a_demoted_admins_retry_runs_in_the_user_band_and_errors_hide_paths() {
    let app = TestApp::spawn().await;
    let (admin, _) = two_users(&app).await;
    let ann = app.add_user(&admin, "ann", true).await;
    let item = app
        .enqueue(&ann, &json!({"model": "sd15", "prompt": "p"}))
        .await;
    let db = crate::helpers::superuser_client(&app.dbname).await;
    db.execute(
        "update queue_items set status = 'failed', finished_at = now(),
                error = 'cannot read /srv/atelier/models/x/unet.safetensors: truncated' where id = $1",
        &[&item],
    )
    .await
    .unwrap();
    let as_admin = app.queue_item(&ann, item).await;
    assert!(
        as_admin["error"].as_str().unwrap().contains("/srv/atelier"),
        "{as_admin}"
    );
    app.patch(
        &format!("/api/v1/auth/users/{}", ann.id),
        Some(&admin.token),
        &json!({"is_admin": false}),
    )
    .await;
    let as_user = app.queue_item(&ann, item).await;
    assert_eq!(as_user["error"], "cannot read <path>: truncated");
    let listed = app.get_json("/api/v1/queue/items", &ann).await;
    assert_eq!(listed[0]["error"], "cannot read <path>: truncated");

    let retried = app
        .post(
            &format!("/api/v1/queue/items/{item}/retry"),
            Some(&ann.token),
            &json!({}),
        )
        .await;
    let retried: Value = retried.json().await.unwrap();
    let new_id: uuid::Uuid = retried["item_ids"][0].as_str().unwrap().parse().unwrap();
    let band: i16 = db
        .query_one("select band from queue_items where id = $1", &[&new_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(band, 1);
}

async fn start_install(app: &TestApp, admin: &TestUser, source: &str) -> reqwest::Response {
    app.post(
        "/api/v1/models/install",
        Some(&admin.token),
        &json!({"source": source}),
    )
    .await
}

async fn install_outcome(app: &TestApp, admin: &TestUser, id: &str) -> Value {
    let path = format!("/api/v1/models/installs/{id}");
    for _ in 0..400 {
        let job = app.get_json(&path, admin).await;
        if job["status"] == "completed" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the install never ended");
}

#[tokio::test]
async fn url_installs_reach_only_public_addresses_and_echo_nothing() {
    let app = TestApp::spawn().await;
    let (admin, _) = two_users(&app).await;
    // An "internal service" on loopback.
    let secret = axum::Router::new().route(
        "/latest/meta-data",
        axum::routing::get(|| async { "SECRET-CREDENTIALS" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, secret).await });

    for source in [
        format!("http://{addr}/latest/meta-data"),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[::1]/m.safetensors".to_owned(),
        "http://10.0.0.1/m.safetensors".to_owned(),
    ] {
        let refused = start_install(&app, &admin, &source).await;
        assert_error(refused, StatusCode::FORBIDDEN, "model_url_refused").await;
    }
    // A name is checked when it is resolved: localhost resolves only to loopback.
    let by_name = start_install(
        &app,
        &admin,
        &format!("http://localhost:{}/latest/meta-data", addr.port()),
    )
    .await;
    assert_eq!(by_name.status(), StatusCode::ACCEPTED);
    let job: Value = by_name.json().await.unwrap();
    let job = install_outcome(&app, &admin, job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error_code"], "model_url_refused", "{job}");
    assert!(!job.to_string().contains("SECRET"), "{job}");

    // Allowed to reach the admin's own network, a file that is not a model is refused without
    // quoting it.
    let open = TestApp::spawn_with(|c| c.models.allow_private_urls = true).await;
    let admin = open.setup_admin().await;
    let started = start_install(&open, &admin, &format!("http://{addr}/latest/meta-data")).await;
    let job: Value = started.json().await.unwrap();
    let job = install_outcome(&open, &admin, job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "failed");
    assert!(!job.to_string().contains("SECRET"), "{job}");
}

#[tokio::test]
async fn a_job_beyond_the_workers_memory_is_refused_at_enqueue() {
    let app = TestApp::spawn_with(|c| c.queue.max_job_memory_mib = 4096).await;
    let (_, joe) = two_users(&app).await;
    let huge =
        json!({"model": "sd15", "prompt": "p", "width": 2048, "height": 2048, "num_images": 8});
    let refused = app
        .post("/api/v1/queue/items", Some(&joe.token), &huge)
        .await;
    let body = assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "job_too_large").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4096 MiB"),
        "{body}"
    );
    let fits =
        json!({"model": "sd15", "prompt": "p", "width": 512, "height": 512, "num_images": 2});
    app.enqueue(&joe, &fits).await;
}

#[tokio::test]
async fn the_queue_list_is_paged_in_queue_order() {
    let app = TestApp::spawn().await;
    let (admin, joe) = two_users(&app).await;
    let body = json!({"model": "sd15", "prompt": "p"});
    let mut queued = Vec::new();
    for _ in 0..5 {
        queued.push(app.enqueue(&joe, &body).await.to_string());
        queued.push(app.enqueue(&admin, &body).await.to_string());
    }
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/queue/items?limit=3".to_owned());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let response = app.get(&path, Some(&joe.token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        next = response.headers().get("link").map(|link| {
            let link = link.to_str().unwrap();
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            link[1..link.find('>').unwrap()].to_owned()
        });
        let page: Vec<Value> = response.json().await.unwrap();
        assert!(page.len() <= 3);
        seen.extend(page.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        pages += 1;
        assert!(pages < 10, "the pages never end");
    }
    assert_eq!(seen, queued, "every item once, in queue order");
    let whole: Vec<Value> = app
        .get_json("/api/v1/queue/items", &joe)
        .await
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(whole.len(), 10);
    assert_eq!(
        whole[1]["params"], "<hidden>",
        "pages are redacted like the list"
    );
    let bad = app
        .get("/api/v1/queue/items?limit=0", Some(&joe.token))
        .await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn display_names_refuse_bidi_overrides_like_board_names() {
    let app = TestApp::spawn().await;
    let (admin, joe) = two_users(&app).await;
    for name in ["admin\u{202E}nimda", "a\u{200B}b", "x\u{2066}y"] {
        let mine = app
            .patch(
                "/api/v1/auth/me",
                Some(&joe.token),
                &json!({"display_name": name}),
            )
            .await;
        assert_error(mine, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let body = json!({"email": "eve@example.com", "display_name": name, "password": PASSWORD});
        let created = app
            .post("/api/v1/auth/users", Some(&admin.token), &body)
            .await;
        assert_error(
            created,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let fine = app
        .patch(
            "/api/v1/auth/me",
            Some(&joe.token),
            &json!({"display_name": "Jöe 😀"}),
        )
        .await;
    assert_eq!(fine.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_media_cookie_reads_images_only_and_is_secure_behind_https() {
    let app = TestApp::spawn_with(|c| c.http.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let (_, joe) = two_users(&app).await;
    let image = app.upload_png(&joe, None).await;
    let login = |proto: &'static str| {
        app.http
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-proto", proto)
            .json(&json!({"email": joe.email, "password": PASSWORD}))
            .send()
    };
    let plain = login("http").await.unwrap();
    let cookie = plain.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!cookie.contains("Secure"), "{cookie}");
    let secure = login("https").await.unwrap();
    let secure = secure.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(secure.contains("; Secure"), "{secure}");

    let value = cookie.split(';').next().unwrap().to_owned();
    let media = value.split_once('=').unwrap().1.to_owned();
    let thumb = app
        .http
        .get(app.url(&format!(
            "/api/v1/images/{}/thumbnail",
            image["id"].as_str().unwrap()
        )))
        .header("cookie", value)
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    // The cookie's token is not an access token.
    assert_eq!(app.me_status(&media).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_sessions_are_pruned() {
    let app = TestApp::spawn().await;
    let (_, joe) = two_users(&app).await;
    let db = crate::helpers::superuser_client(&app.dbname).await;
    db.execute(
        "insert into sessions (id, user_id, expires_at) values ($1, $2, now() - interval '1 minute')",
        &[&uuid::Uuid::now_v7(), &joe.id],
    )
    .await
    .unwrap();
    let pruned = atelier::auth::session::prune_expired(&app.app.db)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert_eq!(
        app.me_status(&joe.token).await,
        StatusCode::OK,
        "live sessions stay"
    );
}

#[tokio::test]
async fn png_text_with_a_number_postgres_cannot_give_back_is_kept_as_text_not_a_500() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let text = r#"{"seed": 1.7976931348623157e308, "steps": 20}"#;
    let bytes = png(16, 16, &[("invokeai_metadata", text)]);
    let image = app.upload_png_bytes(&joe, bytes).await;
    let path = format!("/api/v1/images/{}", image["id"].as_str().unwrap());
    let response = app.get(&path, Some(&joe.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let record: Value = response.json().await.unwrap();
    let kept = &record["metadata"]["invokeai_metadata"];
    assert_eq!(kept["steps"], 20);
    assert_eq!(kept["seed"], "1.7976931348623157e+308");
}
