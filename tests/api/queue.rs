//! The queue API: validation, the redacted list (field by field), cancel semantics for users
//! and admins, retry, clear, the "X/Y" counts, and admin-only pause.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_error, register_model};

async fn enqueue(app: &TestApp, user: &TestUser, prompt: &str) -> String {
    let body = json!({"model": "sd15", "prompt": prompt, "steps": 20});
    app.enqueue(user, &body).await.to_string()
}

#[tokio::test]
async fn everyone_sees_every_item_but_only_their_own_parameters() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;
    let joes = enqueue(&app, &joe, "joe's secret prompt").await;
    let janes = enqueue(&app, &jane, "jane's prompt").await;

    let seen_by_jane: Value = app
        .get("/api/v1/queue/items", Some(&jane.token))
        .await
        .json()
        .await
        .unwrap();
    let items = seen_by_jane.as_array().unwrap();
    assert_eq!(items.len(), 2);
    let joe_item = items.iter().find(|i| i["id"] == joes.as_str()).unwrap();
    assert_eq!(joe_item["params"], "<hidden>");
    assert_eq!(joe_item["owner_id"], Value::Null);
    assert_eq!(joe_item["error"], Value::Null);
    assert_eq!(joe_item["result_image_ids"], json!([]));
    assert_eq!(joe_item["owner_name"], "joe");
    assert_eq!(joe_item["is_mine"], false);
    assert_eq!(
        (joe_item["status"].as_str(), joe_item["position"].as_i64()),
        (Some("pending"), Some(1))
    );
    let jane_item = items.iter().find(|i| i["id"] == janes.as_str()).unwrap();
    assert_eq!(jane_item["params"]["prompt"], "jane's prompt");
    assert!(!seen_by_jane.to_string().contains("secret"));

    let one: Value = app
        .get(&format!("/api/v1/queue/items/{joes}"), Some(&jane.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["params"], "<hidden>");
    let by_admin: Value = app
        .get(&format!("/api/v1/queue/items/{joes}"), Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_admin["params"]["prompt"], "joe's secret prompt");
    assert_error(
        app.get("/api/v1/queue/items", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn users_cancel_only_their_own_items_and_admins_cancel_any() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let joes = enqueue(&app, &joe, "a").await;
    let admins = enqueue(&app, &admin, "b").await;
    let cancel = async |user: &TestUser, id: &str| {
        let path = format!("/api/v1/queue/items/{id}/cancel");
        app.post(&path, Some(&user.token), &json!({})).await
    };

    assert_error(
        cancel(&joe, &admins).await,
        StatusCode::FORBIDDEN,
        "queue_item_not_owned",
    )
    .await;
    let by_admin = cancel(&admin, &joes).await;
    assert_eq!(
        by_admin.json::<Value>().await.unwrap()["status"],
        "canceled"
    );
    assert_error(
        cancel(&joe, &joes).await,
        StatusCode::CONFLICT,
        "queue_item_finished",
    )
    .await;
    let missing = uuid::Uuid::now_v7();
    assert_error(
        cancel(&joe, &missing.to_string()).await,
        StatusCode::NOT_FOUND,
        "queue_item_not_found",
    )
    .await;
    let own = enqueue(&app, &joe, "c").await;
    assert_eq!(cancel(&joe, &own).await.status(), StatusCode::OK);

    // The database refuses it too: as Joe, the admin's item cannot be updated.
    let db = crate::helpers::app_pool(&app.dbname, 1);
    let mut client = db.get().await.unwrap();
    let tx = atelier::db::begin_as(&mut client, &atelier::db::Caller::user(joe.id))
        .await
        .unwrap();
    let admins_id: uuid::Uuid = admins.parse().unwrap();
    let n = tx
        .execute(
            "update queue_items set status = 'canceled' where id = $1",
            &[&admins_id],
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn counts_retry_and_clear() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let first = enqueue(&app, &joe, "a").await;
    enqueue(&app, &joe, "b").await;
    enqueue(&app, &admin, "c").await;

    let status: Value = app
        .get("/api/v1/queue/status", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            status["mine_pending"].as_i64(),
            status["total_pending"].as_i64()
        ),
        (Some(2), Some(3))
    );

    app.post(
        &format!("/api/v1/queue/items/{first}/cancel"),
        Some(&joe.token),
        &json!({}),
    )
    .await;
    let retried = app
        .post(
            &format!("/api/v1/queue/items/{first}/retry"),
            Some(&joe.token),
            &json!({}),
        )
        .await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    let cleared: Value = app
        .delete("/api/v1/queue/items", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["deleted"], 1);
    assert_error(
        app.delete("/api/v1/queue/items?all=true", Some(&joe.token))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let pending = app
        .post(
            &format!(
                "/api/v1/queue/items/{}/retry",
                enqueue(&app, &joe, "d").await
            ),
            Some(&joe.token),
            &json!({}),
        )
        .await;
    assert_error(pending, StatusCode::CONFLICT, "queue_item_not_retryable").await;
}

#[tokio::test]
async fn an_admin_retries_a_users_item_for_that_user_and_users_cannot_retry_others() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;
    let joes = enqueue(&app, &joe, "joe's job").await;
    let cancel = format!("/api/v1/queue/items/{joes}/cancel");
    assert!(
        app.post(&cancel, Some(&joe.token), &json!({}))
            .await
            .status()
            .is_success()
    );

    let retry = format!("/api/v1/queue/items/{joes}/retry");
    let refused = app.post(&retry, Some(&jane.token), &json!({})).await;
    assert_error(refused, StatusCode::FORBIDDEN, "queue_item_not_owned").await;
    let retried: Value = app
        .post(&retry, Some(&admin.token), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let new_id = retried["item_ids"][0].as_str().unwrap();
    let item: Value = app
        .get(&format!("/api/v1/queue/items/{new_id}"), Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            item["is_mine"].as_bool(),
            item["status"].as_str(),
            item["params"]["prompt"].as_str()
        ),
        (Some(true), Some("pending"), Some("joe's job")),
        "the retried item is Joe's again: {item}"
    );
}

#[tokio::test]
async fn bad_parameters_and_foreign_boards_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let admins_board = app.create_board(&admin, "mine").await;
    for (body, code) in [
        (
            json!({"model": "sd15", "prompt": "x", "width": 500}),
            "validation_failed",
        ),
        (
            json!({"model": "sd15", "prompt": "x", "steps": 1000}),
            "validation_failed",
        ),
        (json!({"model": "", "prompt": "x"}), "validation_failed"),
        (
            json!({"model": "sd15", "prompt": "x", "sampler": "magic"}),
            "validation_failed",
        ),
        (
            json!({"model": "sd15", "prompt": "x", "surprise": 1}),
            "validation_failed",
        ),
        (
            json!({"model": "sd15", "prompt": "x", "clip_skip": 5}),
            "validation_failed",
        ),
        (
            json!({"model": "sd15", "prompt": "x", "clip_skip": 0}),
            "validation_failed",
        ),
    ] {
        assert_error(
            app.post("/api/v1/queue/items", Some(&joe.token), &body)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
    }
    // A CLIP skip and seamless tiling are kept with the job; defaults are left out.
    let body = json!({"model": "sd15", "prompt": "x", "clip_skip": 2, "seamless_x": true});
    let id = app.enqueue(&joe, &body).await;
    let item = app
        .get_json(&format!("/api/v1/queue/items/{id}"), &joe)
        .await;
    assert_eq!(item["params"]["clip_skip"], 2);
    assert_eq!(item["params"]["seamless_x"], true);
    assert!(item["params"].get("seamless_y").is_none(), "{item}");
    let id = app
        .enqueue(&joe, &json!({"model": "sd15", "prompt": "x"}))
        .await;
    let item = app
        .get_json(&format!("/api/v1/queue/items/{id}"), &joe)
        .await;
    assert!(item["params"].get("clip_skip").is_none(), "{item}");
    let foreign = json!({"model": "sd15", "prompt": "x", "board_id": admins_board});
    assert_error(
        app.post("/api/v1/queue/items", Some(&joe.token), &foreign)
            .await,
        StatusCode::NOT_FOUND,
        "board_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_job_may_name_an_installed_vae_that_fits_its_model() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let db = crate::helpers::superuser_client(&app.dbname).await;
    for (name, base, kind) in [
        ("mse", "any", "vae"),
        ("sd2-vae", "sd-2", "vae"),
        ("sd1-vae", "sd-1", "vae"),
    ] {
        let location = format!("/nonexistent/{name}");
        register_model(&db, name, base, kind, &location).await;
    }
    for vae in ["mse", "sd1-vae", ""] {
        let body = json!({"model": "sd15", "prompt": "x", "vae": vae});
        let id = app.enqueue(&joe, &body).await;
        let item = app.queue_item(&joe, id).await;
        let expected = if vae.is_empty() {
            Value::Null
        } else {
            json!(vae)
        };
        assert_eq!(item["params"]["vae"], expected, "{item}");
    }
    for vae in ["sd2-vae", "missing", "sd15"] {
        let body = json!({"model": "sd15", "prompt": "x", "vae": vae});
        app.enqueue_refused(&joe, &body, "fits model \"sd15\"")
            .await;
    }
}

#[tokio::test]
async fn a_job_may_use_installed_loras_of_its_models_family() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let db = crate::helpers::superuser_client(&app.dbname).await;
    let mut ids = std::collections::HashMap::new();
    for (name, base, kind) in [
        ("detail", "sd-1", "lora"),
        ("style", "sd-1", "lora"),
        ("sd2-style", "sd-2", "lora"),
        ("mse", "any", "vae"),
    ] {
        let location = format!("/nonexistent/{name}");
        ids.insert(name, register_model(&db, name, base, kind, &location).await);
    }
    let loras = json!([{"name": "detail", "weight": 0.7}, {"name": "style"}]);
    let body = json!({"model": "sd15", "prompt": "x", "loras": loras, "vae": "mse"});
    let id = app.enqueue(&joe, &body).await;
    let item = app.queue_item(&joe, id).await;
    assert_eq!(
        item["params"]["loras"],
        json!([{"name": "detail", "weight": 0.7}, {"name": "style", "weight": 1.0}]),
        "the default strength is 1: {item}"
    );
    let refused = [
        (
            json!([{"name": "sd2-style"}]),
            "\"sd2-style\" is not an installed LoRA",
        ),
        (
            json!([{"name": "detail"}, {"name": "missing"}]),
            "\"missing\" is not an installed LoRA",
        ),
        (json!([{"name": "mse"}]), "\"mse\" is not an installed LoRA"),
        (json!([{"name": "detail", "weight": 9}]), "between -4 and 4"),
        (
            json!([{"name": "detail"}, {"name": "detail"}]),
            "listed twice",
        ),
        (json!([{"name": "detail", "scale": 1}]), "unknown field"),
        (
            json!(
                (0..9)
                    .map(|i| json!({"name": format!("l{i}")}))
                    .collect::<Vec<_>>()
            ),
            "at most 8",
        ),
    ];
    for (loras, message) in refused {
        let body = json!({"model": "sd15", "prompt": "x", "loras": loras});
        app.enqueue_refused(&joe, &body, message).await;
    }

    // A LoRA or VAE that a queued job uses is in use, like its model.
    for name in ["style", "mse"] {
        let path = format!("/api/v1/models/{}", ids[name]);
        let response = app.delete(&path, Some(&admin.token)).await;
        assert_error(response, StatusCode::CONFLICT, "model_in_use").await;
    }
    let response = app
        .delete(
            &format!("/api/v1/models/{}", ids["sd2-style"]),
            Some(&admin.token),
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn only_admins_pause_and_resume() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    assert_error(
        app.post("/api/v1/queue/pause", Some(&joe.token), &json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.post("/api/v1/queue/pause", Some(&admin.token), &json!({}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let status: Value = app
        .get("/api/v1/queue/status", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["paused"], true);
    app.post("/api/v1/queue/resume", Some(&admin.token), &json!({}))
        .await;
    let status: Value = app
        .get("/api/v1/queue/status", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["paused"], false);
}

#[tokio::test]
async fn the_list_keeps_every_unfinished_item_and_only_recent_history() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let mut canceled = Vec::new();
    for i in 0..5 {
        let id = enqueue(&app, &joe, &format!("old {i}")).await;
        let path = format!("/api/v1/queue/items/{id}/cancel");
        assert!(
            app.post(&path, Some(&joe.token), &json!({}))
                .await
                .status()
                .is_success()
        );
        canceled.push(id);
    }
    let pending = enqueue(&app, &joe, "still waiting").await;
    let list = |limit: &str| {
        let path = format!("/api/v1/queue/items{limit}");
        let app = &app;
        let token = joe.token.clone();
        async move {
            let items: Value = app.get(&path, Some(&token)).await.json().await.unwrap();
            items
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("").await.len(),
        6,
        "the default keeps 200 finished items"
    );
    let two = list("?finished_limit=2").await;
    assert_eq!(two.len(), 3);
    assert!(two.contains(&pending), "unfinished items are always listed");
    assert!(
        two.contains(&canceled[4]) && two.contains(&canceled[3]),
        "the newest finished"
    );
    assert_eq!(list("?finished_limit=0").await, vec![pending]);
    // A single item is found however old it is.
    let oldest = app
        .get(
            &format!("/api/v1/queue/items/{}", canceled[0]),
            Some(&joe.token),
        )
        .await;
    assert_eq!(oldest.status(), StatusCode::OK);
    let response = app
        .get("/api/v1/queue/items?finished_limit=5000", Some(&joe.token))
        .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn users_count_a_prompts_tokens_chunks_and_weights() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let count = |prompt: String| {
        let body = json!({ "prompt": prompt });
        let app = &app;
        let token = joe.token.clone();
        async move {
            app.post("/api/v1/prompts/tokens", Some(&token), &body)
                .await
        }
    };
    let read: Value = count("a (cat:1.5) on [a mat]".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        read,
        json!({"tokens": 5, "chunks": 1, "max_tokens": 600, "truncated": false,
               "weighted": [{"text": "cat", "weight": 1.5}, {"text": "a mat", "weight": 0.9091}]})
    );
    let read: Value = count(vec!["cat"; 100].join(" "))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((&read["tokens"], &read["chunks"]), (&json!(100), &json!(2)));
    let read: Value = count(vec!["cat"; 700].join(" "))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&read["chunks"], &read["truncated"]),
        (&json!(8), &json!(true))
    );
    let response = count("x".repeat(4001)).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let response = app
        .post("/api/v1/prompts/tokens", None, &json!({"prompt": "a cat"}))
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
