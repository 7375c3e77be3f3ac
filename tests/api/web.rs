//! The browser UI's server side: per-user UI state (personal, bounded, validated) and the built
//! assets at `/` (SPA fallback, caching, CSP, no UI answers under `/api/`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};

async fn put_state(app: &TestApp, token: &str, state: &Value) -> reqwest::Response {
    app.http
        .put(app.url("/api/v1/ui/state"))
        .bearer_auth(token)
        .json(&json!({ "state": state }))
        .send()
        .await
        .unwrap()
}

async fn state_of(app: &TestApp, token: &str) -> Value {
    let response = app.get("/api/v1/ui/state", Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["state"].clone()
}

#[tokio::test]
async fn each_user_gets_back_only_their_own_ui_state() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;
    assert_eq!(state_of(&app, &joe.token).await, json!({}));

    let joes = json!({"generate": {"prompt": "joe's lighthouse", "seed": 7, "steps": 12}});
    assert_eq!(
        put_state(&app, &joe.token, &joes).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        put_state(
            &app,
            &jane.token,
            &json!({"generate": {"prompt": "jane's"}})
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_eq!(state_of(&app, &joe.token).await, joes);
    assert_eq!(
        state_of(&app, &jane.token).await["generate"]["prompt"],
        "jane's"
    );
    assert_eq!(
        state_of(&app, &admin.token).await,
        json!({}),
        "not even an admin sees Joe's"
    );

    // A second save replaces the first.
    let newer = json!({"generate": {"prompt": "joe again"}});
    put_state(&app, &joe.token, &newer).await;
    assert_eq!(state_of(&app, &joe.token).await, newer);

    // At the SQL level, an admin identity sees no other user's row: the policy is personal.
    let mut client = app.app.db.get().await.unwrap();
    let tx = atelier::db::begin_as(&mut client, &atelier::db::Caller::admin(admin.id))
        .await
        .unwrap();
    let visible: i64 = tx
        .query_one("select count(*) from ui_state", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(visible, 0);
}

#[tokio::test]
async fn bad_ui_state_is_refused_and_keeps_the_old_one() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let kept = json!({"prompt": "keep me"});
    put_state(&app, &joe.token, &kept).await;

    let huge = json!({"prompt": "x".repeat(70 * 1024)});
    assert_error(
        put_state(&app, &joe.token, &huge).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let not_object = app
        .http
        .put(app.url("/api/v1/ui/state"))
        .bearer_auth(&joe.token)
        .json(&json!({"state": [1, 2, 3]}))
        .send()
        .await
        .unwrap();
    assert_error(
        not_object,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // The largest double is stored by PostgreSQL as an exact 309-digit number that does not
    // read back as JSON (schemathesis found GET answering 500 after such a PUT).
    let edge = app
        .http
        .put(app.url("/api/v1/ui/state"))
        .bearer_auth(&joe.token)
        .header("content-type", "application/json")
        .body(r#"{"state": {"x": 1.7976931348623157e308}}"#)
        .send()
        .await
        .unwrap();
    assert_error(edge, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let anonymous = app.get("/api/v1/ui/state", None).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(state_of(&app, &joe.token).await, kept);
}

#[tokio::test]
async fn the_ui_is_served_with_a_client_side_fallback_outside_the_api() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><title>Atelier</title>",
    )
    .unwrap();
    std::fs::create_dir(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("assets/app-1234.js"), "console.log(1)").unwrap();
    let dir = web.path().to_path_buf();
    let app = TestApp::spawn_with(|config| config.web.dir = dir).await;

    for path in ["/", "/gallery", "/queue/deep/link"] {
        let page = app.get(path, None).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_eq!(page.headers()["cache-control"], "no-cache");
        assert!(
            page.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("<title>Atelier</title>")
        );
    }
    let asset = app.get("/assets/app-1234.js", None).await;
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );

    assert_eq!(
        app.get("/assets/gone-9999.js", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_error(
        app.get("/api/v1/nothing", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let traversal = app.get("/..%2f..%2fetc%2fpasswd", None).await;
    assert!(
        !traversal.text().await.unwrap().contains("root:"),
        "no path escapes web.dir"
    );
}

#[tokio::test]
async fn a_missing_ui_build_says_how_to_build_it() {
    let app = TestApp::spawn_with(|config| config.web.dir = "/nonexistent/dist".into()).await;
    let page = app.get("/", None).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("web/scripts/setup.sh"));
}
