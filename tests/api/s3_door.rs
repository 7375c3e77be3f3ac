//! The S3 door: access keys over the API (shown once, labelled, limited, revoked; admins see
//! anyone's), and the real `aws` CLI and boto3 (from `.venv`, installed by `.ci/setup`) against
//! the door for every operation users run, two users' isolation and hostile input
//! (`tests/s3_clients/clients.py`).

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_error};

fn venv_bin(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run .ci/setup (it installs awscli and boto3 into .venv)",
        path.display()
    );
    path
}

/// A new key of `user`'s: (access key id, secret).
async fn new_key(app: &TestApp, user: &TestUser, read_only: bool) -> (String, String) {
    let body = json!({"label": "test", "read_only": read_only});
    let response = app.post("/api/v1/s3/keys", Some(&user.token), &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let key: Value = response.json().await.unwrap();
    (
        key["access_key_id"].as_str().unwrap().to_owned(),
        key["secret_access_key"].as_str().unwrap().to_owned(),
    )
}

/// Runs one scenario of `clients.py` with the server's addresses and these variables.
async fn run_clients(app: &TestApp, scenario: &str, vars: &[(&str, String)]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/s3_clients/clients.py");
    let output = tokio::process::Command::new(venv_bin("python"))
        .arg(script)
        .arg(scenario)
        .env("S3_ENDPOINT", format!("http://{}", app.s3_addr))
        .env("API_URL", format!("http://{}", app.addr))
        .env("AWS", venv_bin("aws"))
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{scenario} failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(&format!("{scenario}: ok")), "{stdout}");
}

#[tokio::test]
async fn access_keys_are_shown_once_labelled_limited_and_revoked() {
    let app = TestApp::spawn_with(|c| c.s3.max_keys_per_user = 2).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let ann = app.add_user(&admin, "ann", false).await;

    let response = app
        .post(
            "/api/v1/s3/keys",
            Some(&joe.token),
            &json!({"label": "laptop"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let id = created["access_key_id"].as_str().unwrap().to_owned();
    let secret = created["secret_access_key"].as_str().unwrap().to_owned();
    assert!(id.starts_with("AT") && id.len() == 20, "{id}");
    assert_eq!(secret.len(), 40);
    assert_eq!(created["read_only"], false);

    // Listed without the secret; stored sealed, not in plain text.
    let listed: Value = app
        .get("/api/v1/s3/keys", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["label"], "laptop");
    assert!(!listed.to_string().contains(&secret));
    let stored = crate::helpers::superuser_client(&app.dbname)
        .await
        .query_one("select secret_sealed from s3_keys", &[])
        .await
        .unwrap()
        .get::<_, Vec<u8>>(0);
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));

    // Relabel; bad labels; the limit.
    let path = format!("/api/v1/s3/keys/{id}");
    let response = app
        .patch(&path, Some(&joe.token), &json!({"label": "desktop"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .patch(&path, Some(&joe.token), &json!({"label": "a\u{202e}b"}))
        .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    new_key(&app, &joe, true).await;
    let response = app
        .post("/api/v1/s3/keys", Some(&joe.token), &json!({}))
        .await;
    assert_error(response, StatusCode::CONFLICT, "too_many_keys").await;

    // Another user neither sees nor touches Joe's keys; an admin does both.
    let anns: Value = app
        .get(
            &format!("/api/v1/s3/keys?owner_id={}", joe.id),
            Some(&ann.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(anns, json!([]));
    for response in [
        app.delete(&path, Some(&ann.token)).await,
        app.patch(&path, Some(&ann.token), &json!({"label": "x"}))
            .await,
    ] {
        assert_error(response, StatusCode::NOT_FOUND, "s3_key_not_found").await;
    }
    let seen: Value = app
        .get(
            &format!("/api/v1/s3/keys?owner_id={}", joe.id),
            Some(&admin.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen.as_array().unwrap().len(), 2);
    assert_eq!(
        app.delete(&path, Some(&admin.token)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&path, Some(&joe.token)).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// The users, keys and tokens every client scenario gets.
async fn client_vars(app: &TestApp) -> Vec<(&'static str, String)> {
    let admin = app.setup_admin().await;
    let a = app.add_user(&admin, "alice", false).await;
    let b = app.add_user(&admin, "bob", false).await;
    let (a_key, a_secret) = new_key(app, &a, false).await;
    let (b_key, b_secret) = new_key(app, &b, false).await;
    let (ro_key, ro_secret) = new_key(app, &a, true).await;
    vec![
        ("A_KEY", a_key),
        ("A_SECRET", a_secret),
        ("A_TOKEN", a.token.clone()),
        ("A_ID", a.id.to_string()),
        ("B_KEY", b_key),
        ("B_SECRET", b_secret),
        ("B_TOKEN", b.token.clone()),
        ("RO_KEY", ro_key),
        ("RO_SECRET", ro_secret),
        ("ADMIN_TOKEN", admin.token.clone()),
    ]
}

#[tokio::test]
async fn the_aws_cli_lists_copies_syncs_moves_presigns_and_uploads_in_parts() {
    let app = TestApp::spawn().await;
    let vars = client_vars(&app).await;
    run_clients(&app, "aws_cli", &vars).await;
    // Nothing staged is left behind by the multipart upload.
    let open = crate::helpers::superuser_client(&app.dbname)
        .await
        .query_one("select count(*) from s3_uploads", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(open, 0);
}

#[tokio::test]
async fn two_users_keys_names_and_presigned_urls_never_cross() {
    let app = TestApp::spawn().await;
    let vars = client_vars(&app).await;
    run_clients(&app, "isolation", &vars).await;
}

#[tokio::test]
async fn hostile_uploads_get_s3_errors_and_store_nothing() {
    let app = TestApp::spawn().await;
    let vars = client_vars(&app).await;
    run_clients(&app, "bad_input", &vars).await;
}

/// An S3 client in Rust (object_store's, with its own SigV4) for the door, as `user`'s key.
fn door_client(app: &TestApp, key: &(String, String)) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(format!("http://{}", app.s3_addr))
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_virtual_hosted_style_request(false)
        .with_bucket_name("images")
        .with_access_key_id(&key.0)
        .with_secret_access_key(&key.1)
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .unwrap()
}

async fn door_keys(store: &object_store::aws::AmazonS3) -> object_store::Result<Vec<String>> {
    use futures::TryStreamExt;
    use object_store::ObjectStore;
    let listed: Vec<object_store::ObjectMeta> = store.list(None).try_collect().await?;
    Ok(listed.into_iter().map(|m| m.location.to_string()).collect())
}

fn refused_as(error: &object_store::Error, code: &str) -> bool {
    format!("{error:?}").contains(code)
}

#[tokio::test]
async fn s3_writes_reach_the_owners_live_events_and_nobody_elses() {
    use object_store::ObjectStoreExt;
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;
    let store = door_client(&app, &new_key(&app, &joe, false).await);
    let mut joes = crate::events::connect(&app, &joe).await;
    let mut janes = crate::events::connect(&app, &jane).await;
    let path = object_store::path::Path::from("Trips/beach.png");
    let bytes = crate::helpers::png(40, 30, &[("prompt", "beach")]);
    store.put(&path, bytes.clone().into()).await.unwrap();
    let seen = crate::events::collect(&mut joes, std::time::Duration::from_secs(5), |m| {
        m["type"] == "image_added"
    })
    .await;
    assert_eq!(crate::events::types(&seen), ["image_added"]);
    store.delete(&path).await.unwrap();
    let seen = crate::events::collect(&mut joes, std::time::Duration::from_secs(5), |m| {
        m["type"] == "image_deleted"
    })
    .await;
    assert_eq!(crate::events::types(&seen), ["image_deleted"]);
    let janes_seen =
        crate::events::collect(&mut janes, std::time::Duration::from_millis(500), |_| false).await;
    assert!(janes_seen.is_empty(), "{janes_seen:?}");
}

#[tokio::test]
async fn deactivating_or_deleting_a_user_closes_their_s3_door_on_the_next_request() {
    use object_store::ObjectStoreExt;
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let store = door_client(&app, &new_key(&app, &joe, false).await);
    let path = object_store::path::Path::from("uncategorized/a.png");
    store
        .put(&path, crate::helpers::png(8, 8, &[]).into())
        .await
        .unwrap();
    assert_eq!(door_keys(&store).await.unwrap(), ["uncategorized/a.png"]);

    let user = format!("/api/v1/auth/users/{}", joe.id);
    let off = app
        .patch(&user, Some(&admin.token), &json!({"is_active": false}))
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    let error = door_keys(&store).await.unwrap_err();
    assert!(refused_as(&error, "InvalidAccessKeyId"), "{error:?}");
    let on = app
        .patch(&user, Some(&admin.token), &json!({"is_active": true}))
        .await;
    assert_eq!(on.status(), StatusCode::OK);
    assert_eq!(door_keys(&store).await.unwrap(), ["uncategorized/a.png"]);

    assert_eq!(
        app.delete(&user, Some(&admin.token)).await.status(),
        StatusCode::NO_CONTENT
    );
    let error = store.get(&path).await.unwrap_err();
    assert!(refused_as(&error, "InvalidAccessKeyId"), "{error:?}");
}

#[tokio::test]
async fn what_a_crash_leaves_is_invisible_and_swept() {
    use object_store::multipart::MultipartStore;
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let store = door_client(&app, &new_key(&app, &joe, false).await);

    // Bytes whose record was never written (a crash between the two): not in the S3 view, and
    // the orphan sweeper deletes them.
    let orphan = atelier::images::keys::image(
        joe.id,
        uuid::Uuid::now_v7(),
        atelier::images::model::ImageType::Png,
    );
    app.app
        .storage
        .put_bytes(&orphan, crate::helpers::png(8, 8, &[]).into())
        .await
        .unwrap();
    assert!(door_keys(&store).await.unwrap().is_empty());

    // A multipart upload abandoned half-way: staged parts, no image.
    let path = object_store::path::Path::from("Big/half.png");
    let upload = store.create_multipart(&path).await.unwrap();
    store
        .put_part(&path, &upload, 0, vec![7u8; 1000].into())
        .await
        .unwrap();
    assert!(door_keys(&store).await.unwrap().is_empty());
    let staged =
        |app: &TestApp| walk_files(&app.app.config.data_dir.join("objects/system/s3-uploads"));
    assert_eq!(staged(&app), 1);

    let report =
        atelier::images::sweep::run(&app.app.storage, &app.app.db, std::time::Duration::ZERO)
            .await
            .unwrap();
    assert_eq!(report.deleted, 1, "the orphan");
    let aborted =
        atelier::s3::multipart::sweep(&app.app.db, &app.app.storage, std::time::Duration::ZERO)
            .await
            .unwrap();
    assert_eq!(aborted, 1);
    assert_eq!(staged(&app), 0);
    let error = store
        .complete_multipart(&path, &upload, vec![])
        .await
        .unwrap_err();
    assert!(
        refused_as(&error, "NoSuchUpload") || refused_as(&error, "InvalidPart"),
        "{error:?}"
    );
}

fn walk_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test]
async fn parts_sent_in_parallel_cannot_together_pass_the_upload_limit() {
    use object_store::multipart::MultipartStore;
    let app = TestApp::spawn_with(|c| c.storage.max_upload_bytes = 1_000_000).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let store = std::sync::Arc::new(door_client(&app, &new_key(&app, &joe, false).await));
    let path = object_store::path::Path::from("Big/parallel.png");
    let upload = store.create_multipart(&path).await.unwrap();
    let sends = (0..6).map(|i| {
        let (store, path, upload) = (std::sync::Arc::clone(&store), path.clone(), upload.clone());
        tokio::spawn(async move {
            store
                .put_part(&path, &upload, i, vec![1u8; 300_000].into())
                .await
        })
    });
    let results = futures::future::join_all(sends).await;
    let accepted = results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    for result in &results {
        if let Err(error) = result.as_ref().unwrap() {
            assert!(refused_as(error, "EntityTooLarge"), "{error:?}");
        }
    }
    assert_eq!(
        accepted, 3,
        "three parts of 300 KB fit in 1 MB, a fourth does not"
    );
    let reserved: i64 = crate::helpers::superuser_client(&app.dbname)
        .await
        .query_one(
            "select coalesce(sum(byte_size), 0)::bigint from s3_upload_parts",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reserved, 900_000);
    let staged = walk_files(&app.app.config.data_dir.join("objects/system/s3-uploads"));
    assert_eq!(staged, 3, "refused parts stage nothing");
}

/// Uploads `bytes` over HTTP as `name` (an asset), optionally into a board or as a mask.
async fn browser_upload(app: &TestApp, user: &TestUser, name: &str, query: &str) -> Value {
    let part = reqwest::multipart::Part::bytes(crate::helpers::png(12, 12, &[]))
        .file_name(name.to_owned())
        .mime_str("image/png")
        .unwrap();
    let response = app
        .http
        .post(app.url(&format!("/api/v1/images{query}")))
        .bearer_auth(&user.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_key_scheme_follows_renames_keeps_equal_names_apart_and_hides_masks() {
    use object_store::ObjectStoreExt;
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let store = door_client(&app, &new_key(&app, &joe, false).await);
    let create = |name: &'static str| {
        let app = &app;
        let joe = &joe;
        async move {
            let board: Value = app
                .post("/api/v1/boards", Some(&joe.token), &json!({"name": name}))
                .await
                .json()
                .await
                .unwrap();
            board["id"].as_str().unwrap().to_owned()
        }
    };
    let cats = create("Cats").await;
    let pathy = create("../a/b").await;
    let first = browser_upload(&app, &joe, "photo.png", &format!("?board_id={cats}")).await;
    browser_upload(&app, &joe, "photo.png", &format!("?board_id={cats}")).await;
    browser_upload(&app, &joe, "x.png", &format!("?board_id={pathy}")).await;
    browser_upload(&app, &joe, "mask.png", "?category=mask").await;
    let mut keys = door_keys(&store).await.unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "..%2Fa%2Fb/x.png".to_owned(),
            "Cats/photo.png".to_owned(),
            format!("Cats/photo~{}.png", first["id"].as_str().unwrap()),
        ]
    );
    // Every listed key reads back; the path-like board stays one segment.
    for key in &keys {
        // `parse`, not `from`: the key is already in its stored form (`from` would escape `%`).
        let bytes = store
            .get(&object_store::path::Path::parse(key).unwrap())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{key}");
    }

    // A rename moves the board's keys; the old ones are gone.
    let renamed = app
        .patch(
            &format!("/api/v1/boards/{cats}"),
            Some(&joe.token),
            &json!({"name": "Felines"}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let keys = door_keys(&store).await.unwrap();
    assert!(keys.contains(&"Felines/photo.png".to_owned()), "{keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("Cats/")), "{keys:?}");
    let gone = store
        .get(&object_store::path::Path::from("Cats/photo.png"))
        .await
        .unwrap_err();
    assert!(
        matches!(gone, object_store::Error::NotFound { .. }),
        "{gone:?}"
    );

    // PNG text written through S3 is in the record, as for uploads.
    let path = object_store::path::Path::from("Felines/with-prompt.png");
    let bytes = crate::helpers::png(16, 16, &[("prompt", "a cat on a mat")]);
    store.put(&path, bytes.into()).await.unwrap();
    let page: Value = app
        .get("/api/v1/images?category=user&limit=50", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    let id = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file_name"] == "with-prompt.png")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record: Value = app
        .get(&format!("/api/v1/images/{id}"), Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        record["metadata"].to_string().contains("a cat on a mat"),
        "{record}"
    );
}

#[tokio::test]
async fn staged_parts_of_a_deleted_user_are_swept() {
    use object_store::multipart::MultipartStore;
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let store = door_client(&app, &new_key(&app, &joe, false).await);
    let path = object_store::path::Path::from("Big/left.png");
    let upload = store.create_multipart(&path).await.unwrap();
    store
        .put_part(&path, &upload, 0, vec![7u8; 1000].into())
        .await
        .unwrap();
    let parts = || walk_files(&app.app.config.data_dir.join("objects/system/s3-uploads"));
    assert_eq!(parts(), 1);
    let user = format!("/api/v1/auth/users/{}", joe.id);
    assert_eq!(
        app.delete(&user, Some(&admin.token)).await.status(),
        StatusCode::NO_CONTENT
    );
    // The upload's row went with the user; its staged bytes go with the next sweep.
    assert_eq!(parts(), 1);
    let aborted =
        atelier::s3::multipart::sweep(&app.app.db, &app.app.storage, std::time::Duration::ZERO)
            .await
            .unwrap();
    assert_eq!(aborted, 0, "no row was left to abort");
    assert_eq!(parts(), 0);
}
