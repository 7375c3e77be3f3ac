//! Auth flows over real HTTP: setup, login, tokens, revocation, the last-admin invariant and
//! rate limiting.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error};

#[tokio::test]
async fn status_says_setup_is_required_until_an_admin_exists() {
    let app = TestApp::spawn().await;
    let status: Value = app
        .get("/api/v1/auth/status", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        status,
        json!({"multiuser_enabled": true, "setup_required": true, "s3_port": null,
               "s3_public_url": null})
    );

    app.setup_admin().await;

    let status: Value = app
        .get("/api/v1/auth/status", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["setup_required"], false);
}

#[tokio::test]
async fn setup_needs_the_token_from_the_log_and_works_only_once() {
    let app = TestApp::spawn().await;
    let body = |token: &str| json!({"setup_token": token, "email": "a@example.com", "display_name": "A", "password": PASSWORD});

    let wrong = app
        .post("/api/v1/auth/setup", None, &body("0123456789abcdef"))
        .await;
    assert_error(wrong, StatusCode::FORBIDDEN, "invalid_setup_token").await;
    assert_error(
        app.login("a@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    let ok = app
        .post("/api/v1/auth/setup", None, &body(&app.setup_token))
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let again = app
        .post("/api/v1/auth/setup", None, &body(&app.setup_token))
        .await;
    assert_error(again, StatusCode::CONFLICT, "setup_already_done").await;
}

#[tokio::test]
async fn racing_setups_produce_exactly_one_admin() {
    let app = TestApp::spawn().await;
    let attempts = (0..8).map(|i| {
        let body = json!({"setup_token": app.setup_token, "email": format!("admin{i}@example.com"),
                          "display_name": "A", "password": PASSWORD});
        let (http, url) = (app.http.clone(), app.url("/api/v1/auth/setup"));
        tokio::spawn(async move { http.post(url).json(&body).send().await.unwrap().status() })
    });
    let mut statuses = Vec::new();
    for attempt in attempts.collect::<Vec<_>>() {
        statuses.push(attempt.await.unwrap());
    }

    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let db = crate::helpers::superuser_client(&app.dbname).await;
    let admins: i64 = db
        .query_one("select count(*) from users where is_admin", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;

    let wrong = assert_error(
        app.login("admin@example.com", "not the password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_error(
        app.login("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn weak_passwords_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    for (password, reason) in [
        ("short", "at least 10"),
        ("aaaaaaaaaaaaaa", "4 different"),
        ("joe@example.com!", "email"),
    ] {
        let body = json!({"email": "joe@example.com", "display_name": "Joe", "password": password});
        let response = app
            .post("/api/v1/auth/users", Some(&admin.token), &body)
            .await;
        let body = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "weak_password").await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains(reason),
            "{body}"
        );
    }
}

#[tokio::test]
async fn expired_forged_and_malformed_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let now = chrono::Utc::now().timestamp();
    let claims: Value = {
        let payload = admin.token.split('.').nth(1).unwrap();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let (user, session) = (
        claims["sub"].as_str().unwrap().parse().unwrap(),
        claims["sid"].as_str().unwrap().parse().unwrap(),
    );
    let expired = app
        .app
        .jwt
        .issue(user, session, now - 7200, now - 3600)
        .unwrap();
    let forged = atelier::auth::jwt::Keys::new(b"another secret that is long enough!!")
        .issue(user, session, now, now + 600)
        .unwrap();

    for token in [expired.as_str(), forged.as_str(), "garbage", ""] {
        let response = app.get("/api/v1/auth/me", Some(token)).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_error(
        app.get("/api/v1/auth/me", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(app.me_status(&admin.token).await, StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_the_token_but_not_other_sessions() {
    let app = TestApp::spawn().await;
    let first = app.setup_admin().await;
    let second = app.login_ok(&first.email, PASSWORD).await;

    let response = app
        .post("/api/v1/auth/logout", Some(&first.token), &json!({}))
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me_status(&first.token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&second.token).await, StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_revokes_other_tokens() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let other_session = app.login_ok(&joe.email, PASSWORD).await;

    let wrong =
        json!({"current_password": "not it at all", "new_password": "a brand new passphrase"});
    assert_error(
        app.patch("/api/v1/auth/me", Some(&joe.token), &wrong).await,
        StatusCode::FORBIDDEN,
        "wrong_password",
    )
    .await;
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"});
    let response = app
        .patch("/api/v1/auth/me", Some(&joe.token), &change)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();

    assert_eq!(app.me_status(&joe.token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.me_status(&other_session.token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.me_status(body["token"].as_str().unwrap()).await,
        StatusCode::OK
    );
    assert_eq!(
        app.login(&joe.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login_ok(&joe.email, "a brand new passphrase").await;
}

#[tokio::test]
async fn a_display_name_change_is_visible_on_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let response = app
        .patch(
            "/api/v1/auth/me",
            Some(&admin.token),
            &json!({"display_name": "  Ada L. "}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = app
        .get("/api/v1/auth/me", Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Ada L.");
    let bad = app
        .patch(
            "/api/v1/auth/me",
            Some(&admin.token),
            &json!({"display_name": ""}),
        )
        .await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn a_demoted_admin_loses_admin_rights_on_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let other = app.add_user(&admin, "carol", true).await;
    assert_eq!(
        app.get("/api/v1/auth/users", Some(&other.token))
            .await
            .status(),
        StatusCode::OK
    );

    let path = format!("/api/v1/auth/users/{}", other.id);
    let response = app
        .patch(&path, Some(&admin.token), &json!({"is_admin": false}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_error(
        app.get("/api/v1/auth/users", Some(&other.token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.me_status(&other.token).await,
        StatusCode::OK,
        "still logged in, as a user"
    );
}

#[tokio::test]
async fn deactivation_and_deletion_revoke_tokens_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;

    let deactivate = app
        .patch(
            &format!("/api/v1/auth/users/{}", joe.id),
            Some(&admin.token),
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(deactivate.status(), StatusCode::OK);
    assert_eq!(app.me_status(&joe.token).await, StatusCode::UNAUTHORIZED);
    assert_error(
        app.login(&joe.email, PASSWORD).await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;

    let reactivate = app
        .patch(
            &format!("/api/v1/auth/users/{}", joe.id),
            Some(&admin.token),
            &json!({"is_active": true}),
        )
        .await;
    assert_eq!(reactivate.status(), StatusCode::OK);
    app.login_ok(&joe.email, PASSWORD).await;

    let delete = app
        .delete(
            &format!("/api/v1/auth/users/{}", jane.id),
            Some(&admin.token),
        )
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me_status(&jane.token).await, StatusCode::UNAUTHORIZED);
    let again = app
        .delete(
            &format!("/api/v1/auth/users/{}", jane.id),
            Some(&admin.token),
        )
        .await;
    assert_error(again, StatusCode::NOT_FOUND, "user_not_found").await;
}

#[tokio::test]
async fn changes_made_outside_the_api_apply_on_the_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", true).await;
    assert_eq!(
        app.get("/api/v1/auth/users", Some(&joe.token))
            .await
            .status(),
        StatusCode::OK
    );

    // What `atelier user mod joe@example.com --admin off` runs.
    let patch = atelier::users::ops::UserPatch {
        is_admin: Some(false),
        ..Default::default()
    };
    atelier::users::ops::update(&app.app.db, &TestApp::cli_caller(), joe.id, patch)
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/auth/users", Some(&joe.token))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // And what an administrator types in psql.
    let db = crate::helpers::superuser_client(&app.dbname).await;
    db.execute(
        "update users set is_active = false where id = $1",
        &[&joe.id],
    )
    .await
    .unwrap();
    assert_eq!(app.me_status(&joe.token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_deactivated_or_deleted() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let path = format!("/api/v1/auth/users/{}", admin.id);

    for change in [json!({"is_admin": false}), json!({"is_active": false})] {
        let response = app.patch(&path, Some(&admin.token), &change).await;
        assert_error(response, StatusCode::CONFLICT, "last_admin").await;
    }
    assert_error(
        app.delete(&path, Some(&admin.token)).await,
        StatusCode::CONFLICT,
        "last_admin",
    )
    .await;
    assert_eq!(app.me_status(&admin.token).await, StatusCode::OK);
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = TestApp::spawn().await;
    let first = app.setup_admin().await;
    for round in 0..5 {
        let second = app.add_user(&first, &format!("second{round}"), true).await;
        let demote = |actor: &crate::helpers::TestUser, target: uuid::Uuid| {
            let request = app
                .http
                .patch(app.url(&format!("/api/v1/auth/users/{target}")))
                .bearer_auth(&actor.token)
                .json(&json!({"is_admin": false}));
            async move { request.send().await.unwrap().status() }
        };
        let (a, b) = tokio::join!(demote(&first, second.id), demote(&second, first.id));

        let db = crate::helpers::superuser_client(&app.dbname).await;
        let admins: i64 = db
            .query_one(
                "select count(*) from users where is_admin and is_active",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(admins, 1, "round {round}: {a} {b}");
        assert!(
            [a, b].contains(&StatusCode::CONFLICT) || [a, b].contains(&StatusCode::FORBIDDEN),
            "round {round}: {a} {b}"
        );
        if !first_is_admin(&app, &first).await {
            return; // the second admin won this round; the invariant held, which is the point
        }
    }
}

async fn first_is_admin(app: &TestApp, first: &crate::helpers::TestUser) -> bool {
    let me: Value = app
        .get("/api/v1/auth/me", Some(&first.token))
        .await
        .json()
        .await
        .unwrap();
    me["is_admin"] == true
}

#[tokio::test]
async fn repeated_failures_throttle_the_account_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.auth.max_failures_per_account = 3).await;
    app.setup_admin().await;
    for _ in 0..3 {
        assert_eq!(
            app.login("admin@example.com", "wrong password!")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }

    let blocked = app.login("admin@example.com", PASSWORD).await;

    let retry_after: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_error(blocked, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn replicas_share_the_login_throttle() {
    let limits = |c: &mut atelier::config::Config| c.auth.max_failures_per_account = 4;
    let first = TestApp::spawn_with(limits).await;
    first.setup_admin().await;
    let second = first.spawn_replica(limits).await;
    for app in [&first, &second, &first, &second] {
        let response = app.login("admin@example.com", "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    for app in [&first, &second] {
        let blocked = app.login("admin@example.com", PASSWORD).await;
        assert_error(blocked, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
}

#[tokio::test]
async fn one_address_cannot_spray_many_accounts() {
    let app = TestApp::spawn_with(|c| c.auth.max_attempts_per_address = 4).await;
    for i in 0..4 {
        let response = app.login(&format!("user{i}@example.com"), PASSWORD).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.login("user9@example.com", PASSWORD).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn the_system_user_cannot_log_in_or_be_promoted() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let system = atelier::users::SYSTEM_USER_ID;

    let response = app
        .patch(
            &format!("/api/v1/auth/users/{system}"),
            Some(&admin.token),
            &json!({"is_admin": true}),
        )
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "system_user_protected").await;
    assert_error(
        app.login("system@atelier.internal", "").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    let db = crate::helpers::superuser_client(&app.dbname).await;
    let err = db
        .execute("update users set is_admin = true where id = $1", &[&system])
        .await
        .unwrap_err();
    assert_eq!(
        err.as_db_error().unwrap().constraint(),
        Some("users_system_not_admin_check")
    );
}

#[tokio::test]
async fn admin_routes_refuse_users_and_anonymous_callers() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;

    assert_error(
        app.get("/api/v1/auth/users", Some(&joe.token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.get("/api/v1/auth/users", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let body = json!({"email": "x@example.com", "display_name": "X", "password": PASSWORD, "is_admin": true});
    assert_error(
        app.post("/api/v1/auth/users", Some(&joe.token), &body)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let path = format!("/api/v1/auth/users/{}", joe.id);
    assert_error(
        app.patch(&path, Some(&joe.token), &json!({"is_admin": true}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn duplicate_emails_and_bad_ids_get_clear_errors() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    app.add_user(&admin, "joe", false).await;

    let body = json!({"email": "JOE@example.com", "display_name": "Joe 2", "password": PASSWORD});
    assert_error(
        app.post("/api/v1/auth/users", Some(&admin.token), &body)
            .await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    for id in ["not-a-uuid", "00000000-0000-7000-8000-000000000001"] {
        let response = app
            .get(&format!("/api/v1/auth/users/{id}"), Some(&admin.token))
            .await;
        assert_error(response, StatusCode::NOT_FOUND, "user_not_found").await;
    }
}

#[tokio::test]
async fn malformed_bodies_get_json_errors_not_500s() {
    let app = TestApp::spawn().await;
    let raw = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(raw, StatusCode::BAD_REQUEST, "invalid_json").await;
    let missing = app
        .post("/api/v1/auth/login", None, &json!({"email": "a@b.c"}))
        .await;
    assert_error(
        missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let huge = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "a@b.c", "password": "x".repeat(1 << 20)}),
        )
        .await;
    assert_error(huge, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn single_user_mode_needs_no_login_and_acts_as_system() {
    let app = TestApp::spawn_with(|c| c.multiuser = false).await;

    let me: Value = app.get("/api/v1/auth/me", None).await.json().await.unwrap();
    assert_eq!(me["id"], atelier::users::SYSTEM_USER_ID.to_string());
    let status: Value = app
        .get("/api/v1/auth/status", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        status,
        json!({"multiuser_enabled": false, "setup_required": false, "s3_port": null,
               "s3_public_url": null})
    );
    assert_error(
        app.login("a@example.com", PASSWORD).await,
        StatusCode::CONFLICT,
        "multiuser_disabled",
    )
    .await;
}

#[tokio::test]
async fn unknown_api_paths_answer_json_404_and_openapi_is_public() {
    let app = TestApp::spawn().await;
    assert_error(
        app.get("/api/v1/nope", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.delete("/api/v1/auth/status", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;

    let doc: Value = app
        .get("/api/v1/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/images"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/boards/{board_id}"]["delete"].is_object());
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn parallel_guesses_are_all_counted_against_the_account() {
    let app = TestApp::spawn_with(|c| c.auth.max_failures_per_account = 3).await;
    app.setup_admin().await;
    let guesses = (0..12).map(|i| {
        let (http, url) = (app.http.clone(), app.url("/api/v1/auth/login"));
        tokio::spawn(async move {
            let body =
                json!({"email": "admin@example.com", "password": format!("guess number {i}")});
            http.post(url).json(&body).send().await.unwrap().status()
        })
    });
    let mut statuses = Vec::new();
    for guess in guesses.collect::<Vec<_>>() {
        statuses.push(guess.await.unwrap());
    }
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(
        checked <= 3,
        "{checked} passwords were checked: {statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        12 - checked
    );
}

#[tokio::test]
async fn an_admin_password_reset_and_an_expired_session_end_tokens() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;

    let reset = json!({"password": "a fresh admin-set pass"});
    let response = app
        .patch(
            &format!("/api/v1/auth/users/{}", joe.id),
            Some(&admin.token),
            &reset,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.me_status(&joe.token).await, StatusCode::UNAUTHORIZED);
    app.login_ok(&joe.email, "a fresh admin-set pass").await;

    let db = crate::helpers::superuser_client(&app.dbname).await;
    db.execute(
        "update sessions set expires_at = now() - interval '1 second' where user_id = $1",
        &[&jane.id],
    )
    .await
    .unwrap();
    assert_eq!(
        app.me_status(&jane.token).await,
        StatusCode::UNAUTHORIZED,
        "the JWT is still valid, the session is not"
    );
}

#[tokio::test]
async fn hostile_login_input_never_causes_a_500() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    for email in [&"a".repeat(5000), "", "@"] {
        let response = app.login(email, PASSWORD).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // A NUL is refused before anything else, like in every other body.
    let response = app.login("nul\u{0}@example.com", PASSWORD).await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_text").await;
}
