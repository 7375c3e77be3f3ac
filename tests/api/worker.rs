//! Workers end to end, with the deterministic test engine: results stored as the owner, crash
//! recovery without duplicates, preemption at step boundaries, and deactivation stopping a
//! running job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use atelier::config::Config;
use atelier::queue::model::GenerationParams;
use atelier::worker::Worker;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestUser, assert_error, register_model, superuser_client};
use crate::test_engine::{Source, TestEngine, expected_images};

/// Worker settings that make tests quick: short polls and leases.
pub fn fast_worker(quantum: f64) -> impl FnOnce(&mut Config) {
    move |config| {
        config.worker.poll_ms = 20;
        config.worker.lease_secs = 2.0;
        config.worker.quantum_secs = quantum;
    }
}

pub fn spawn_worker(
    app: &TestApp,
    engine: &Arc<TestEngine>,
    name: &str,
) -> tokio::task::JoinHandle<()> {
    let engine: Arc<TestEngine> = Arc::clone(engine);
    spawn_engine_worker(app, engine, name)
}

fn spawn_engine_worker(
    app: &TestApp,
    engine: Arc<dyn atelier::worker::engine::Engine>,
    name: &str,
) -> tokio::task::JoinHandle<()> {
    let worker = Worker::named(Arc::clone(&app.app), engine, name.to_owned());
    tokio::spawn(worker.run())
}

pub async fn enqueue(app: &TestApp, user: &TestUser, body: Value) -> Uuid {
    app.enqueue(user, &body).await
}

/// Polls the item as `user` until its status is `status`.
pub async fn wait_status(
    app: &TestApp,
    user: &TestUser,
    id: Uuid,
    status: &str,
    timeout: Duration,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let item: Value = app
            .get(&format!("/api/v1/queue/items/{id}"), Some(&user.token))
            .await
            .json()
            .await
            .unwrap();
        if item["status"] == status {
            return item;
        }
        assert!(
            Instant::now() < deadline,
            "item {id} never became {status}: {item}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (up to 10 s) until the item has done `step` steps.
async fn wait_step(db: &tokio_postgres::Client, id: Uuid, step: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let done: i32 = db
            .query_one("select step from queue_items where id = $1", &[&id])
            .await
            .unwrap()
            .get(0);
        if done >= step {
            return;
        }
        assert!(Instant::now() < deadline, "the job never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn image_count(db: &tokio_postgres::Client, owner: Uuid) -> i64 {
    db.query_one("select count(*) from images where owner_id = $1", &[&owner])
        .await
        .unwrap()
        .get(0)
}

fn params(body: &Value, item: &Value) -> GenerationParams {
    let mut params: GenerationParams = serde_json::from_value(body.clone()).unwrap();
    params.seed = item["params"]["seed"].as_u64();
    params
}

async fn full_image(app: &TestApp, user: &TestUser, id: &Value) -> Vec<u8> {
    let response = app
        .get(
            &format!("/api/v1/images/{}/full", id.as_str().unwrap()),
            Some(&user.token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.unwrap().to_vec()
}

fn seconds_between(from: &Value, to: &Value) -> f64 {
    let parse = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .timestamp_micros()
    };
    (parse(to) - parse(from)) as f64 / 1e6
}

#[tokio::test]
async fn results_are_stored_as_the_owner_in_their_board() {
    let app = TestApp::spawn_with(fast_worker(0.0)).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;
    let board = app.create_board(&joe, "foxes").await;
    let engine = Arc::new(TestEngine::new(Duration::from_millis(5)));
    let _worker = spawn_worker(&app, &engine, "w1");

    let body = json!({"model": "sd15", "prompt": "a red fox", "width": 64, "height": 72,
                      "steps": 4, "num_images": 2, "seed": 7, "board_id": board});
    let id = enqueue(&app, &joe, body.clone()).await;
    let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(20)).await;
    let images = item["result_image_ids"].as_array().unwrap().clone();
    assert_eq!(images.len(), 2);
    let expected = expected_images(&params(&body, &item));
    for (image, expected) in images.iter().zip(&expected) {
        let path = format!("/api/v1/images/{}", image.as_str().unwrap());
        let record: Value = app.get(&path, Some(&joe.token)).await.json().await.unwrap();
        assert_eq!(record["board_id"], json!(board), "{record}");
        assert_eq!(
            (record["width"].as_u64(), record["height"].as_u64()),
            (Some(64), Some(72))
        );
        assert!(
            record.to_string().contains("a red fox"),
            "metadata: {record}"
        );
        assert_eq!(&full_image(&app, &joe, image).await, expected);
        assert_eq!(
            app.get(&path, Some(&jane.token)).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let objects = app.objects_of(joe.id);
    assert_eq!(
        objects.len(),
        4,
        "two images and two thumbnails: {objects:?}"
    );
    for image in &images {
        let id = image.as_str().unwrap();
        assert_eq!(
            objects.iter().filter(|k| k.contains(id)).count(),
            2,
            "image and thumbnail under users/{}/: {objects:?}",
            joe.id
        );
    }
}

#[tokio::test]
async fn a_killed_worker_s_job_completes_once_without_duplicate_images() {
    let app = TestApp::spawn_with(fast_worker(0.0)).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let engine = Arc::new(TestEngine::new(Duration::from_millis(100)));
    let doomed = spawn_worker(&app, &engine, "doomed");
    let body = json!({"model": "sd15", "prompt": "a lighthouse", "width": 64, "height": 64,
                      "steps": 20, "num_images": 2});
    let id = enqueue(&app, &joe, body.clone()).await;
    let db = superuser_client(&app.dbname).await;
    wait_step(&db, id, 3).await;
    doomed.abort(); // the worker dies mid-job: no more heartbeats, no results
    let _survivor = spawn_worker(&app, &engine, "survivor");
    let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(30)).await;
    // Let the dead worker's engine thread reach its next step and give up.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let row = db
        .query_one(
            "select attempts, worker, result_image_ids from queue_items where id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 1, "one loss counted, completed once");
    assert_eq!(row.get::<_, String>(1), "survivor");
    let images = image_count(&db, joe.id).await;
    assert_eq!(images, 2, "no duplicate images");
    assert_eq!(app.objects_of(joe.id).len(), 4);
    let runs: Vec<_> = engine.runs().into_iter().filter(|r| r.item == id).collect();
    assert_eq!(runs.len(), 2, "started once per worker");
    let expected = expected_images(&params(&body, &item));
    for (image, expected) in item["result_image_ids"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&expected)
    {
        assert_eq!(&full_image(&app, &joe, image).await, expected);
    }
}

#[tokio::test]
async fn storing_a_job_s_results_twice_keeps_one_copy() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let job = Uuid::now_v7();
    let mut params: GenerationParams = serde_json::from_value(
        json!({"model": "sd15", "prompt": "x", "width": 64, "height": 64,
                                      "steps": 2, "num_images": 2, "seed": 1}),
    )
    .unwrap();
    params.validate().unwrap();
    let first =
        atelier::worker::results::store(&app.app, job, joe.id, &params, expected_images(&params))
            .await
            .unwrap();
    let second =
        atelier::worker::results::store(&app.app, job, joe.id, &params, expected_images(&params))
            .await
            .unwrap();
    assert_eq!(first, second);
    let db = superuser_client(&app.dbname).await;
    let count = image_count(&db, joe.id).await;
    assert_eq!(count, 2);
}

#[tokio::test]
async fn a_light_job_preempts_a_heavy_one_within_a_quantum_and_both_images_are_exact() {
    let quantum = 0.4;
    let step = Duration::from_millis(50);
    let app = TestApp::spawn_with(fast_worker(quantum)).await;
    let admin = app.setup_admin().await;
    let heavy_user = app.add_user(&admin, "heavy", false).await;
    let light_user = app.add_user(&admin, "light", false).await;
    let engine = Arc::new(TestEngine::new(step));
    let _worker = spawn_worker(&app, &engine, "gpu0");

    let heavy_body = json!({"model": "sd15", "prompt": "heavy", "width": 64, "height": 64,
                            "steps": 60});
    let heavy = enqueue(&app, &heavy_user, heavy_body.clone()).await;
    wait_status(
        &app,
        &heavy_user,
        heavy,
        "in_progress",
        Duration::from_secs(10),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let light_body = json!({"model": "sd15", "prompt": "light", "width": 64, "height": 64,
                            "steps": 4});
    let light = enqueue(&app, &light_user, light_body.clone()).await;

    let light_item = wait_status(
        &app,
        &light_user,
        light,
        "completed",
        Duration::from_secs(10),
    )
    .await;
    let heavy_now: Value = app
        .get(
            &format!("/api/v1/queue/items/{heavy}"),
            Some(&heavy_user.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(
        heavy_now["status"], "completed",
        "the light job did not wait for the heavy one"
    );
    let waited = seconds_between(&light_item["created_at"], &light_item["started_at"]);
    let bound = quantum + 2.0 * step.as_secs_f64() + 0.3;
    assert!(
        waited <= bound,
        "the light job waited {waited:.3} s (bound {bound:.3} s)"
    );

    let heavy_item = wait_status(
        &app,
        &heavy_user,
        heavy,
        "completed",
        Duration::from_secs(20),
    )
    .await;
    let runs: Vec<_> = engine
        .runs()
        .into_iter()
        .filter(|r| r.item == heavy)
        .collect();
    assert!(
        runs.iter().any(|r| r.resumed_from.is_some()),
        "the heavy job was suspended and resumed: {runs:?}"
    );
    for (user, body, item) in [
        (&heavy_user, &heavy_body, &heavy_item),
        (&light_user, &light_body, &light_item),
    ] {
        let expected = expected_images(&params(body, item));
        let image = &item["result_image_ids"][0];
        assert_eq!(
            full_image(&app, user, image).await,
            expected[0],
            "same bytes as an uninterrupted run"
        );
    }
}

#[tokio::test]
async fn deactivating_a_user_stops_their_running_job_and_the_queue_moves_on() {
    let app = TestApp::spawn_with(fast_worker(0.0)).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;
    let engine = Arc::new(TestEngine::new(Duration::from_millis(50)));
    let _worker = spawn_worker(&app, &engine, "w");
    let long = json!({"model": "sd15", "prompt": "long", "width": 64, "height": 64, "steps": 150});
    let running = enqueue(&app, &joe, long.clone()).await;
    let waiting = enqueue(&app, &joe, long).await;
    wait_status(&app, &joe, running, "in_progress", Duration::from_secs(10)).await;
    let after = enqueue(
        &app,
        &jane,
        json!({"model": "sd15", "prompt": "short", "width": 64, "height": 64, "steps": 2}),
    )
    .await;

    let response = app
        .patch(
            &format!("/api/v1/auth/users/{}", joe.id),
            Some(&admin.token),
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    wait_status(&app, &jane, after, "completed", Duration::from_secs(5)).await;
    let db = superuser_client(&app.dbname).await;
    for id in [running, waiting] {
        let row = db
            .query_one(
                "select status, error from queue_items where id = $1",
                &[&id],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "canceled");
        assert_eq!(
            row.get::<_, Option<String>>(1).as_deref(),
            Some("the owner is deactivated")
        );
    }
    let images = image_count(&db, joe.id).await;
    assert_eq!(images, 0, "the stopped job stored nothing");
}

#[tokio::test]
async fn cancelling_a_running_job_stops_it_at_the_next_step_and_stores_nothing() {
    let app = TestApp::spawn_with(fast_worker(0.0)).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let step = Duration::from_millis(50);
    let engine = Arc::new(TestEngine::new(step));
    let _worker = spawn_worker(&app, &engine, "w");
    let long = json!({"model": "sd15", "prompt": "long", "width": 64, "height": 64, "steps": 150});
    let id = enqueue(&app, &joe, long).await;
    wait_status(&app, &joe, id, "in_progress", Duration::from_secs(10)).await;
    let db = superuser_client(&app.dbname).await;
    let step_of = async || -> i32 {
        db.query_one("select step from queue_items where id = $1", &[&id])
            .await
            .unwrap()
            .get(0)
    };
    while step_of().await < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let response = app
        .post(
            &format!("/api/v1/queue/items/{id}/cancel"),
            Some(&joe.token),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let at_cancel = step_of().await;
    let next = enqueue(
        &app,
        &joe,
        json!({"model": "sd15", "prompt": "next", "width": 64, "height": 64, "steps": 2}),
    )
    .await;
    wait_status(&app, &joe, next, "completed", Duration::from_secs(5)).await;
    let stopped_at = step_of().await;
    assert!(
        stopped_at - at_cancel <= 2,
        "stopped at the next step boundary (the notification, not the poll): {at_cancel} -> {stopped_at}"
    );
    let item = app.queue_item(&joe, id).await;
    assert_eq!(item["status"], "canceled");
    assert_eq!(item["result_image_ids"], json!([]));
    assert_eq!(
        image_count(&db, joe.id).await,
        1,
        "only the next job's image"
    );
}

#[tokio::test]
async fn the_real_engine_generates_on_the_cpu_through_the_queue() {
    let app = TestApp::spawn_with(fast_worker(0.0)).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let model = tempfile::tempdir().unwrap();
    atelier::diffusion::tiny::write_tiny_diffusers(model.path()).unwrap();
    let db = superuser_client(&app.dbname).await;
    // The tiny model's 128-wide cross-attention belongs to no family the probe accepts, so it
    // is registered directly, as an admin could in psql.
    register_model(&db, "tiny", "sd-1", "main", model.path().to_str().unwrap()).await;
    let engine = Arc::new(atelier::diffusion::engine::TchEngine::new(
        tch::Device::Cpu,
        1 << 30,
    ));
    let _worker = spawn_engine_worker(&app, engine, "cpu");
    let body = json!({"model": "tiny", "prompt": "a lighthouse at dusk", "width": 64,
                      "height": 64, "steps": 4, "sampler": "dpmpp_2m_karras", "seed": 5});
    let id = enqueue(&app, &joe, body).await;
    let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(60)).await;
    let image = &item["result_image_ids"][0];
    assert!(
        item["params"].get("strength").is_none(),
        "no strength without an init image: {item}"
    );
    let bytes = full_image(&app, &joe, image).await;
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 64));
    let bytes_first = bytes.clone();
    let record: Value = app
        .get(
            &format!("/api/v1/images/{}", image.as_str().unwrap()),
            Some(&joe.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        record.to_string().contains("a lighthouse at dusk"),
        "{record}"
    );

    // Admins see the worker, its device and the model it holds; users do not.
    // (The worker reports right after each unit, so poll briefly past the completion.)
    let deadline = Instant::now() + Duration::from_secs(10);
    let cpu = loop {
        let workers = app.get_json("/api/v1/workers", &admin).await;
        let cpu = workers
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "cpu")
            .cloned();
        match cpu {
            Some(cpu)
                if cpu["memory"]["models"]
                    .as_array()
                    .is_some_and(|m| !m.is_empty()) =>
            {
                break cpu;
            }
            _ if Instant::now() > deadline => panic!("no report of the loaded model: {workers}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(
        (&cpu["device"], &cpu["online"]),
        (&json!("cpu"), &json!(true))
    );
    assert_eq!(
        cpu["memory"]["models"][0]["location"],
        model.path().to_str().unwrap()
    );
    assert!(cpu["loaded_bytes"].as_i64().unwrap() > 1_000_000, "{cpu}");
    assert_eq!(cpu["memory"]["budget_bytes"], 1 << 30);
    let response = app.get("/api/v1/workers", Some(&joe.token)).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;

    // Image to image from Joe's own result, at another size: the worker reads it as Joe.
    let body = json!({"model": "tiny", "prompt": "the same at night", "width": 64,
                      "height": 72, "steps": 6, "strength": 0.5, "init_image_id": image, "seed": 5});
    let id = enqueue(&app, &joe, body).await;
    let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(60)).await;
    assert_eq!(item["params"]["strength"], 0.5);
    let bytes = full_image(&app, &joe, &item["result_image_ids"][0]).await;
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 72));

    // Jane cannot start from Joe's image, nor can the admin; a bad strength is refused.
    let jane = app.add_user(&admin, "jane", false).await;
    for user in [&jane, &admin] {
        let body = json!({"model": "tiny", "prompt": "x", "init_image_id": image});
        let response = app
            .post("/api/v1/queue/items", Some(&user.token), &body)
            .await;
        assert_error(response, StatusCode::NOT_FOUND, "image_not_found").await;
    }
    let body = json!({"model": "tiny", "prompt": "x", "init_image_id": image, "strength": 0});
    let response = app
        .post("/api/v1/queue/items", Some(&joe.token), &body)
        .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // An init image deleted before the job runs fails the job with a clear message.
    let upload = app.upload_png(&joe, None).await;
    app.http
        .post(app.url("/api/v1/queue/pause"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    let body = json!({"model": "tiny", "prompt": "x", "width": 64, "height": 64, "steps": 2,
                      "init_image_id": upload["id"]});
    let id = enqueue(&app, &joe, body).await;
    let path = format!("/api/v1/images/{}", upload["id"].as_str().unwrap());
    assert!(
        app.delete(&path, Some(&joe.token))
            .await
            .status()
            .is_success()
    );
    app.http
        .post(app.url("/api/v1/queue/resume"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    let item = wait_status(&app, &joe, id, "failed", Duration::from_secs(60)).await;
    assert!(
        item["error"].as_str().unwrap().contains("no longer exists"),
        "{item}"
    );

    // A job naming an installed VAE runs with it: here the model's own VAE folder, registered
    // as a VAE, so the first job's pixels come back.
    register_model(
        &db,
        "tiny-vae",
        "any",
        "vae",
        model.path().join("vae").to_str().unwrap(),
    )
    .await;
    let body = json!({"model": "tiny", "prompt": "a lighthouse at dusk", "width": 64,
                      "height": 64, "steps": 4, "sampler": "dpmpp_2m_karras", "seed": 5,
                      "vae": "tiny-vae"});
    let id = enqueue(&app, &joe, body).await;
    let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(60)).await;
    let again = full_image(&app, &joe, &item["result_image_ids"][0]).await;
    let pixels = |png: &[u8]| image::load_from_memory(png).unwrap().to_rgb8().into_raw();
    assert_eq!(
        pixels(&again),
        pixels(&bytes_first),
        "the same VAE, the same pixels"
    );
    assert_eq!(item["params"]["vae"], "tiny-vae");

    // A LoRA changes the images; at strength 0 it changes nothing.
    let lora = model.path().join("lora.safetensors");
    atelier::diffusion::tiny::write_lora(&lora, atelier::diffusion::tiny::Width::Tiny).unwrap();
    register_model(&db, "tiny-lora", "sd-1", "lora", lora.to_str().unwrap()).await;
    let mut adapted = Vec::new();
    for weight in [1.0, 0.0] {
        let body = json!({"model": "tiny", "prompt": "a lighthouse at dusk", "width": 64,
                          "height": 64, "steps": 4, "sampler": "dpmpp_2m_karras", "seed": 5,
                          "loras": [{"name": "tiny-lora", "weight": weight}]});
        let id = enqueue(&app, &joe, body).await;
        let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(60)).await;
        adapted.push(pixels(
            &full_image(&app, &joe, &item["result_image_ids"][0]).await,
        ));
    }
    assert_ne!(
        adapted[0],
        pixels(&bytes_first),
        "the LoRA changed the image"
    );
    assert_eq!(adapted[1], pixels(&bytes_first), "at strength 0 it did not");

    // Inpainting Joe's first image under his mask (left half black: kept; right half white):
    // the left half comes back exactly, the right half is repainted. Jane cannot use his mask.
    let mask =
        image::GrayImage::from_fn(64, 64, |x, _| image::Luma([if x < 32 { 0 } else { 255 }]));
    let mut mask_png = Vec::new();
    mask.write_to(
        &mut std::io::Cursor::new(&mut mask_png),
        image::ImageFormat::Png,
    )
    .unwrap();
    let mask_id = app.upload_png_bytes(&joe, mask_png).await["id"].clone();
    let body = json!({"model": "tiny", "prompt": "a ship", "width": 64, "height": 64, "steps": 4,
                      "seed": 8, "strength": 1.0, "init_image_id": image, "mask_image_id": mask_id});
    let id = enqueue(&app, &joe, body.clone()).await;
    let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(60)).await;
    let painted =
        image::load_from_memory(&full_image(&app, &joe, &item["result_image_ids"][0]).await)
            .unwrap()
            .to_rgb8();
    let original = image::load_from_memory(&bytes_first).unwrap().to_rgb8();
    let (mut kept, mut changed) = (true, 0);
    for (x, y, pixel) in painted.enumerate_pixels() {
        if x < 32 {
            kept &= pixel == original.get_pixel(x, y);
        } else if pixel != original.get_pixel(x, y) {
            changed += 1;
        }
    }
    assert!(kept, "the kept half changed");
    assert!(
        changed > 32 * 64 / 2,
        "only {changed} pixels of the masked half changed"
    );
    let mut janes = body.clone();
    janes["init_image_id"] = json!(app.upload_png(&jane, None).await["id"]);
    let response = app
        .post("/api/v1/queue/items", Some(&jane.token), &janes)
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "image_not_found").await;
    let mut no_init = body.clone();
    no_init.as_object_mut().unwrap().remove("init_image_id");
    app.enqueue_refused(&joe, &no_init, "needs an init_image_id")
        .await;

    // A mask blur is kept with the job; beyond 64 pixels it is refused.
    let mut blurry = body;
    blurry["mask_blur"] = json!(65);
    app.enqueue_refused(&joe, &blurry, "mask_blur").await;
    blurry["mask_blur"] = json!(8);
    let id = enqueue(&app, &joe, blurry).await;
    let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(60)).await;
    assert_eq!(item["params"]["mask_blur"], 8);
}

#[tokio::test]
async fn admins_forget_dead_workers_and_reports_prune_long_dead_ones() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let db = superuser_client(&app.dbname).await;
    for (name, age_secs) in [
        ("alive", 0.0),
        ("killed", 3600.0),
        ("long-dead", 3.0 * 86400.0),
    ] {
        db.execute(
            "insert into workers (name, device, last_seen)
             values ($1, 'cpu', now() - $2 * interval '1 second')",
            &[&name, &age_secs],
        )
        .await
        .unwrap();
    }
    let names = || async {
        let workers = app.get_json("/api/v1/workers", &admin).await;
        let mut names: Vec<String> = workers
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names().await, ["alive", "killed", "long-dead"]);

    let app = &app;
    let forget = |name: &str, token: &str| {
        let (path, token) = (format!("/api/v1/workers/{name}"), token.to_owned());
        async move { app.delete(&path, Some(&token)).await }
    };
    assert_error(
        forget("killed", &joe.token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let error = assert_error(
        forget("alive", &admin.token).await,
        StatusCode::CONFLICT,
        "worker_online",
    )
    .await;
    assert!(error.to_string().contains("stop it first"), "{error}");
    assert_error(
        forget("nobody", &admin.token).await,
        StatusCode::NOT_FOUND,
        "worker_not_found",
    )
    .await;
    assert_eq!(
        forget("killed", &admin.token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(names().await, ["alive", "long-dead"]);

    // Any worker's report deletes rows unheard of for a day.
    let memory = atelier::worker::engine::EngineMemory::default();
    atelier::worker::registry::report(&app.app, "alive", &memory)
        .await
        .unwrap();
    assert_eq!(names().await, ["alive"]);
}

#[tokio::test]
async fn an_sdxl_model_generates_through_the_queue_and_takes_only_sdxl_loras() {
    let app = TestApp::spawn_with(fast_worker(0.0)).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let model = tempfile::tempdir().unwrap();
    atelier::diffusion::tiny::write_sdxl_diffusers(model.path()).unwrap();
    let db = superuser_client(&app.dbname).await;
    // Registered directly: the tiny model's cross-attention is 128 wide, not SDXL's 2048.
    register_model(
        &db,
        "tiny-xl",
        "sdxl",
        "main",
        model.path().to_str().unwrap(),
    )
    .await;
    let engine = Arc::new(atelier::diffusion::engine::TchEngine::new(
        tch::Device::Cpu,
        1 << 30,
    ));
    let _worker = spawn_engine_worker(&app, engine, "cpu");
    let body = json!({"model": "tiny-xl", "prompt": "a lighthouse at dusk", "width": 64,
                      "height": 72, "steps": 4, "seed": 5});
    let id = enqueue(&app, &joe, body).await;
    let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(60)).await;
    let bytes = full_image(&app, &joe, &item["result_image_ids"][0]).await;
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 72));
    assert!(
        String::from_utf8_lossy(&bytes).contains("tiny-xl"),
        "parameters in the PNG"
    );

    let lora = model.path().join("sd1-lora.safetensors");
    atelier::diffusion::tiny::write_lora(&lora, atelier::diffusion::tiny::Width::Tiny).unwrap();
    register_model(&db, "sd1-lora", "sd-1", "lora", lora.to_str().unwrap()).await;
    let body =
        json!({"model": "tiny-xl", "prompt": "x", "loras": [{"name": "sd1-lora", "weight": 1}]});
    app.enqueue_refused(&joe, &body, "sd1-lora").await;
}

/// Several workers on one queue with jobs of ten quanta and more, from four users: every job
/// completes once, suspended jobs resume where they stopped on whichever worker is free (from
/// its checkpoint), nothing counts as a failure, the batch takes about 1/N of the work, and the
/// users are served fairly (nobody's jobs are all done while another's wait).
async fn workers_share_long_jobs(workers: usize) {
    let quantum = 0.2;
    let step = Duration::from_millis(20);
    let steps = 100; // 2 s of work: ten quanta
    let app = TestApp::spawn_with(fast_worker(quantum)).await;
    let admin = app.setup_admin().await;
    let mut users = Vec::new();
    for name in ["ann", "bob", "cat", "dan"] {
        users.push(app.add_user(&admin, name, false).await);
    }
    let body = json!({"model": "sd15", "prompt": "long", "width": 64, "height": 64,
                      "steps": steps});
    let mut items = Vec::new();
    for user in &users {
        for _ in 0..2 {
            items.push((user, enqueue(&app, user, body.clone()).await));
        }
    }
    let engine = Arc::new(TestEngine::new(step));
    let _workers: Vec<_> = (0..workers)
        .map(|w| spawn_worker(&app, &engine, &format!("gpu{w}")))
        .collect();
    let work = items.len() as f64 * f64::from(steps) * step.as_secs_f64();
    let mut done = Vec::new();
    for (user, id) in &items {
        let item = wait_status(&app, user, *id, "completed", Duration::from_secs(60)).await;
        done.push((*user, item));
    }

    // Times from the first enqueue (the items were queued in order).
    let first_created = done[0].1["created_at"].clone();
    let finish = |item: &Value| seconds_between(&first_created, &item["finished_at"]);
    let elapsed = done.iter().map(|(_, i)| finish(i)).fold(0.0, f64::max);
    let ideal = work / workers as f64;
    assert!(
        elapsed <= 1.5 * ideal + 1.0,
        "{workers} workers took {elapsed:.2} s for {work:.1} s of work (ideal {ideal:.2} s)"
    );
    for user in &users {
        let last = done
            .iter()
            .filter(|(u, _)| u.id == user.id)
            .map(|(_, i)| finish(i))
            .fold(0.0, f64::max);
        assert!(
            last >= 0.5 * elapsed,
            "{} was served first and finished at {last:.2} s of {elapsed:.2} s",
            user.email
        );
    }
    let db = superuser_client(&app.dbname).await;
    let runs = engine.runs();
    for (user, item) in &done {
        let id: Uuid = item["id"].as_str().unwrap().parse().unwrap();
        let row = db
            .query_one(
                "select attempts, (select count(*) from queue_checkpoints where item_id = $1)
                   from queue_items where id = $1",
                &[&id],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, i32>(0), 0, "preemption is not a failure");
        assert_eq!(row.get::<_, i64>(1), 0, "the checkpoint went with the item");
        let starts = runs
            .iter()
            .filter(|r| r.item == id && r.resumed_from.is_none())
            .count();
        assert_eq!(starts, 1, "{id} started once and never over");
        let expected = expected_images(&params(&body, item));
        let image = &item["result_image_ids"][0];
        assert_eq!(full_image(&app, user, image).await, expected[0]);
    }
    assert_eq!(
        db.query_one("select count(*) from images", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        items.len() as i64,
        "one image per job"
    );
    assert!(
        runs.iter().any(|r| r.from == Source::Checkpoint),
        "some job moved to another worker: {runs:?}"
    );
}

#[tokio::test]
async fn two_workers_share_long_jobs_fairly_without_restarts() {
    workers_share_long_jobs(2).await;
}

#[tokio::test]
async fn four_workers_share_long_jobs_fairly_without_restarts() {
    workers_share_long_jobs(4).await;
}

#[tokio::test]
async fn a_stopping_worker_hands_its_job_over_where_it_stopped() {
    let app = TestApp::spawn_with(fast_worker(0.0)).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let engine = Arc::new(TestEngine::new(Duration::from_millis(20)));
    let leaving = Worker::named(Arc::clone(&app.app), engine.clone(), "leaving".into());
    let stop = leaving.stop_handle();
    let leaving = tokio::spawn(leaving.run());
    let body = json!({"model": "sd15", "prompt": "long", "width": 64, "height": 64,
                      "steps": 60});
    let id = enqueue(&app, &joe, body.clone()).await;
    let db = superuser_client(&app.dbname).await;
    wait_step(&db, id, 5).await;
    stop.stop();
    leaving.await.unwrap();
    let row = db
        .query_one(
            "select q.status, q.suspended_by, q.attempts, c.step
               from queue_items q join queue_checkpoints c on c.item_id = q.id where q.id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let stopped_at: i32 = row.get(3);
    assert_eq!(row.get::<_, String>(0), "pending");
    assert_eq!(row.get::<_, Option<String>>(1), None, "nobody holds it");
    assert_eq!(row.get::<_, i32>(2), 0, "stopping is not a failure");
    assert!(
        stopped_at >= 5,
        "checkpointed where it stopped ({stopped_at})"
    );

    let _next = spawn_worker(&app, &engine, "next");
    let item = wait_status(&app, &joe, id, "completed", Duration::from_secs(10)).await;
    let runs: Vec<_> = engine.runs().into_iter().filter(|r| r.item == id).collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].from, Source::Checkpoint);
    assert_eq!(runs[1].resumed_from, u32::try_from(stopped_at).ok());
    let expected = expected_images(&params(&body, &item));
    let image = &item["result_image_ids"][0];
    assert_eq!(full_image(&app, &joe, image).await, expected[0]);
}

#[tokio::test]
async fn killing_one_of_two_workers_mid_job_loses_no_job_and_duplicates_nothing() {
    let app = TestApp::spawn_with(fast_worker(0.2)).await;
    let admin = app.setup_admin().await;
    let ann = app.add_user(&admin, "ann", false).await;
    let bob = app.add_user(&admin, "bob", false).await;
    let engine = Arc::new(TestEngine::new(Duration::from_millis(20)));
    let body = json!({"model": "sd15", "prompt": "long", "width": 64, "height": 64,
                      "steps": 80});
    let mut items = Vec::new();
    for user in [&ann, &bob, &ann, &bob] {
        items.push((user, enqueue(&app, user, body.clone()).await));
    }
    let doomed = spawn_worker(&app, &engine, "doomed");
    let _survivor = spawn_worker(&app, &engine, "survivor");
    let db = superuser_client(&app.dbname).await;
    wait_step(&db, items[0].1, 20).await;
    doomed.abort(); // killed mid-job: no more heartbeats, no results
    for (user, id) in &items {
        let item = wait_status(&app, user, *id, "completed", Duration::from_secs(60)).await;
        let expected = expected_images(&params(&body, &item));
        let image = &item["result_image_ids"][0];
        assert_eq!(full_image(&app, user, image).await, expected[0]);
        let attempts: i32 = db
            .query_one("select attempts from queue_items where id = $1", &[id])
            .await
            .unwrap()
            .get(0);
        assert!(
            attempts <= 1,
            "only the kill counts as a failure: {attempts}"
        );
    }
    for user in [&ann, &bob] {
        assert_eq!(image_count(&db, user.id).await, 2, "one image per job");
    }
}
