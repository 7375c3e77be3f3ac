//! The S3 backend: the same storage paths as the local tests, against a real S3 protocol server
//! (s3s-fs, in-process on 127.0.0.1:0, with SigV4 authentication on).

use futures::StreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use atelier::config::{S3Config, StorageBackend};
use atelier::storage::Storage;

use crate::helpers::{TestApp, png};

pub const ACCESS_KEY: &str = "atelier-test";
pub const SECRET_KEY: &str = "atelier-test-secret-key";
pub const BUCKET: &str = "atelier";

/// Starts an S3 server rooted in `dir` and returns its endpoint URL.
pub async fn start_s3(dir: &std::path::Path) -> String {
    std::fs::create_dir_all(dir.join(BUCKET)).unwrap();
    let fs = s3s_fs::FileSystem::new(dir).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let connection = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    });
    format!("http://{addr}")
}

fn s3_settings(endpoint: String, secret: &str) -> S3Config {
    S3Config {
        endpoint,
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: secret.into(),
        path_style: true,
    }
}

async fn app_on_s3(endpoint: String) -> TestApp {
    TestApp::spawn_with(|c| {
        c.storage.backend = StorageBackend::S3;
        c.storage.s3 = s3_settings(endpoint, SECRET_KEY);
    })
    .await
}

async fn keys_of(storage: &Storage, user: Uuid) -> Vec<String> {
    let mut keys: Vec<String> = storage
        .list(&atelier::images::keys::user_prefix(user))
        .map(|meta| meta.unwrap().location.to_string())
        .collect()
        .await;
    keys.sort();
    keys
}

#[tokio::test]
async fn uploads_media_deletion_and_the_sweeper_work_on_s3() {
    let root = tempfile::tempdir().unwrap();
    let app = app_on_s3(start_s3(root.path()).await).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let bytes = png(300, 200, &[("prompt", "on s3")]);

    let response = app
        .upload(Some(&joe.token), bytes.clone(), "image/png", None)
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let image: Value = response.json().await.unwrap();
    let id = image["id"].as_str().unwrap();
    let keys = keys_of(&app.app.storage, joe.id).await;
    assert_eq!(
        keys,
        vec![
            format!("users/{}/images/{id}.png", joe.id),
            format!("users/{}/thumbnails/{id}.webp", joe.id)
        ]
    );
    let full = app
        .get(&format!("/api/v1/images/{id}/full"), Some(&joe.token))
        .await;
    assert_eq!(full.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let part = app
        .http
        .get(app.url(&format!("/api/v1/images/{id}/full")))
        .bearer_auth(&joe.token)
        .header("range", "bytes=-16")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.bytes().await.unwrap().as_ref(),
        &bytes[bytes.len() - 16..]
    );
    let thumb = app
        .get(&format!("/api/v1/images/{id}/thumbnail"), Some(&joe.token))
        .await;
    assert_eq!(thumb.headers()["content-type"], "image/webp");

    let orphan = atelier::images::keys::thumbnail(joe.id, Uuid::now_v7());
    app.app
        .storage
        .put_bytes(&orphan, bytes::Bytes::from_static(b"orphan"))
        .await
        .unwrap();
    let report =
        atelier::images::sweep::run(&app.app.storage, &app.app.db, std::time::Duration::ZERO)
            .await
            .unwrap();
    assert_eq!(report.deleted, 1);

    assert_eq!(
        app.delete(&format!("/api/v1/images/{id}"), Some(&joe.token))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert!(keys_of(&app.app.storage, joe.id).await.is_empty());
}

#[tokio::test]
async fn large_files_go_up_in_parts_and_come_back_identical() {
    let root = tempfile::tempdir().unwrap();
    let endpoint = start_s3(root.path()).await;
    let app = app_on_s3(endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let data: Vec<u8> = (0..(20u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    let key =
        object_store::path::Path::from("users/00000000-0000-0000-0000-000000000000/images/big.bin");

    app.app.storage.put_file(&key, &path).await.unwrap();

    let back = app
        .app
        .storage
        .get(&key, None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back.as_ref() == data.as_slice());
    assert!(
        upload_files(root.path()).is_empty(),
        "the upload is complete"
    );
    assert!(
        markers(&app.app.storage).await.is_empty(),
        "its marker is gone"
    );
}

/// The store's files of unfinished multipart uploads (s3s-fs keeps them in its root).
fn upload_files(root: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".upload"))
        .collect()
}

async fn markers(storage: &Storage) -> Vec<String> {
    let prefix = object_store::path::Path::from(atelier::storage::multipart::MARKER_PREFIX);
    storage
        .list(&prefix)
        .map(|meta| meta.unwrap().location.to_string())
        .collect()
        .await
}

#[tokio::test]
async fn an_upload_cut_short_by_a_crash_is_aborted_by_the_sweep() {
    let root = tempfile::tempdir().unwrap();
    let app = app_on_s3(start_s3(root.path()).await).await;
    let storage = &app.app.storage;
    let key =
        object_store::path::Path::from("users/00000000-0000-0000-0000-000000000000/images/cut.png");
    let mut upload = storage.begin_upload(&key).await.unwrap();
    upload
        .put_part(bytes::Bytes::from(vec![7u8; 5 << 20]))
        .await
        .unwrap();
    drop(upload); // the process dies here: no completion, no abort
    assert!(!upload_files(root.path()).is_empty(), "the part is stored");
    assert_eq!(markers(storage).await.len(), 1);

    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(storage.sweep_uploads(hour).await.unwrap(), 0, "too young");
    let report = atelier::images::sweep::run(storage, &app.app.db, std::time::Duration::ZERO)
        .await
        .unwrap();

    assert_eq!(report.partial, 1);
    assert!(upload_files(root.path()).is_empty(), "the parts are gone");
    assert!(markers(storage).await.is_empty());
    assert!(storage.get(&key, None).await.is_err(), "nothing was stored");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_store_and_nothing_is_recorded() {
    let root = tempfile::tempdir().unwrap();
    let endpoint = start_s3(root.path()).await;
    let app = TestApp::spawn_with(|c| {
        c.storage.backend = StorageBackend::S3;
        c.storage.s3 = s3_settings(endpoint, "not-the-secret");
    })
    .await;
    let admin = app.setup_admin().await;

    let response = app
        .upload(Some(&admin.token), png(8, 8, &[]), "image/png", None)
        .await;

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let listing: Value = app
        .get("/api/v1/images", Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listing["items"], serde_json::json!([]));
}
