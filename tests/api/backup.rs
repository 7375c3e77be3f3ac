//! Backups as an operator takes them (`docs/deploy-systemd.md`): `atelier db dump` while the
//! server runs, a copy of the objects and the secrets, then `atelier db restore` into a fresh
//! data directory; the restored server has the same accounts, sessions and image bytes.

use std::path::Path;
use std::process::Output;

use reqwest::StatusCode;
use serde_json::Value;

use crate::cli::{Server, atelier, free_port};
use crate::drills::admin_token;
use crate::helpers::{PASSWORD, png};

fn run(data_dir: &Path, args: &[&str]) -> Output {
    atelier(data_dir).args(args).output().unwrap()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

async fn full_image(base: &str, token: &str, id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{base}/api/v1/images/{id}/full"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dump_taken_while_serving_restores_accounts_sessions_and_images_elsewhere() {
    let root = tempfile::tempdir().unwrap();
    let (old, new) = (root.path().join("old"), root.path().join("new"));
    let dump = root.path().join("atelier.dump");
    let server = Server::start(&old, free_port()).await;
    let token = admin_token(&server, &old).await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png(40, 30, &[]))
            .file_name("kept.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let uploaded: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/images", server.base))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uploaded["id"].as_str().unwrap().to_owned();
    let bytes = full_image(&server.base, &token, &id)
        .await
        .bytes()
        .await
        .unwrap();

    // The database while it serves, then the objects and the two secrets that sessions and S3
    // keys depend on.
    let dumped = run(&old, &["db", "dump", dump.to_str().unwrap()]);
    assert!(
        dumped.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dump).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "the dump holds password hashes: {mode:o}");
    copy_tree(&old.join("objects"), &new.join("objects"));
    std::fs::create_dir_all(new.join("secrets")).unwrap();
    for secret in ["jwt_secret", "s3_seal_key"] {
        if old.join("secrets").join(secret).exists() {
            std::fs::copy(
                old.join("secrets").join(secret),
                new.join("secrets").join(secret),
            )
            .unwrap();
        }
    }
    assert!(server.terminate().success());

    let restored = run(&new, &["db", "restore", dump.to_str().unwrap()]);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let server = Server::start(&new, free_port()).await;
    let login = crate::cli::login(&server.base, "admin@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    // The session from before the backup is still valid (same rows, same signing secret).
    let again = full_image(&server.base, &token, &id).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.bytes().await.unwrap(), bytes);

    // A second restore over live accounts is refused, and cannot run under a serving server.
    let refused = run(
        &new,
        &["db", "restore", dump.to_str().unwrap(), "--replace"],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("stop it, then restore"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(server.terminate().success());
    let refused = run(&new, &["db", "restore", dump.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("pass --replace"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let replaced = run(
        &new,
        &["db", "restore", dump.to_str().unwrap(), "--replace"],
    );
    assert!(
        replaced.status.success(),
        "{}",
        String::from_utf8_lossy(&replaced.stderr)
    );
    let missing = run(&new, &["db", "restore", "/nonexistent.dump"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not a file"));
}
