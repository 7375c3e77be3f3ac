//! Boards and images over real HTTP with the local object store: uploads, listing, media,
//! isolation between users, quotas, bad input and consistency between records and bytes.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestUser, assert_error, png};

async fn three_users(app: &TestApp) -> (TestUser, TestUser, TestUser) {
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;
    (admin, joe, jane)
}

#[tokio::test]
async fn an_upload_keeps_its_bytes_metadata_and_gets_a_thumbnail() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    let bytes = png(
        640,
        320,
        &[
            ("prompt", "a cat in a hat"),
            ("invokeai_metadata", r#"{"seed": 42}"#),
        ],
    );

    let response = app
        .upload(Some(&joe.token), bytes.clone(), "image/png", None)
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let image: Value = response.json().await.unwrap();
    assert_eq!(
        (image["width"].as_i64(), image["height"].as_i64()),
        (Some(640), Some(320))
    );
    assert_eq!(image["category"], "user");
    assert_eq!(image["byte_size"], bytes.len());
    let id = image["id"].as_str().unwrap();
    let record: Value = app
        .get(&format!("/api/v1/images/{id}"), Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["metadata"]["prompt"], "a cat in a hat");
    assert_eq!(record["metadata"]["invokeai_metadata"]["seed"], 42);

    let full = app
        .get(&format!("/api/v1/images/{id}/full"), Some(&joe.token))
        .await;
    assert_eq!(full.headers()["content-type"], "image/png");
    assert!(
        full.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert_eq!(full.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let thumb = app
        .get(&format!("/api/v1/images/{id}/thumbnail"), Some(&joe.token))
        .await;
    assert_eq!(thumb.headers()["content-type"], "image/webp");
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (256, 128));
    assert_eq!(app.objects_of(joe.id).len(), 2);
}

#[tokio::test]
async fn media_supports_etags_and_ranges() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    let image = app.upload_png(&joe, None).await;
    let url = app.url(&format!(
        "/api/v1/images/{}/full",
        image["id"].as_str().unwrap()
    ));
    let full = app
        .http
        .get(&url)
        .bearer_auth(&joe.token)
        .send()
        .await
        .unwrap();
    let etag = full.headers()["etag"].clone();
    let bytes = full.bytes().await.unwrap();

    let cached = app
        .http
        .get(&url)
        .bearer_auth(&joe.token)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let part = app
        .http
        .get(&url)
        .bearer_auth(&joe.token)
        .header("range", "bytes=4-11")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 4-11/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[4..12]);
    let beyond = app
        .http
        .get(&url)
        .bearer_auth(&joe.token)
        .header("range", "bytes=999999-")
        .send()
        .await
        .unwrap();
    assert_error(
        beyond,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
    )
    .await;
}

#[tokio::test]
async fn the_media_cookie_works_for_its_owner_only_and_dies_with_logout() {
    let app = TestApp::spawn().await;
    let (_, joe, jane) = three_users(&app).await;
    let image = app.upload_png(&joe, None).await;
    let path = format!("/api/v1/images/{}/thumbnail", image["id"].as_str().unwrap());
    let login = |email: String| {
        let http = reqwest::Client::new();
        let url = app.url("/api/v1/auth/login");
        async move {
            let response = http
                .post(url)
                .json(&json!({"email": email, "password": crate::helpers::PASSWORD}))
                .send()
                .await
                .unwrap();
            let cookie = response.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                cookie.contains("HttpOnly")
                    && cookie.contains("SameSite=Strict")
                    && cookie.contains("Path=/api/v1/images")
            );
            let body: Value = response.json().await.unwrap();
            (
                cookie.split(';').next().unwrap().to_owned(),
                body["token"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (joe_cookie, joe_token) = login(joe.email.clone()).await;
    let (jane_cookie, _) = login(jane.email.clone()).await;
    let with_cookie = |cookie: String| app.http.get(app.url(&path)).header("cookie", cookie).send();

    assert_eq!(
        with_cookie(joe_cookie.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_error(
        with_cookie(jane_cookie).await.unwrap(),
        StatusCode::NOT_FOUND,
        "image_not_found",
    )
    .await;
    let logout = app
        .post("/api/v1/auth/logout", Some(&joe_token), &json!({}))
        .await;
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_error(
        with_cookie(joe_cookie).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let metadata = app
        .http
        .get(app.url(&format!("/api/v1/images/{}", image["id"].as_str().unwrap())));
    let (cookie, _) = login(joe.email.clone()).await;
    let no_cookie_for_api = metadata.header("cookie", cookie).send().await.unwrap();
    assert_eq!(
        no_cookie_for_api.status(),
        StatusCode::UNAUTHORIZED,
        "the cookie only authorises media"
    );
}

#[tokio::test]
async fn another_users_boards_and_images_answer_404_like_missing_ones() {
    let app = TestApp::spawn().await;
    let (admin, joe, jane) = three_users(&app).await;
    let board = app.create_board(&joe, "cats").await;
    let image = app.upload_png(&joe, Some(&board)).await;
    let image_id = image["id"].as_str().unwrap();
    let missing = Uuid::now_v7().to_string();
    let reads = [
        (
            format!("/api/v1/boards/{board}"),
            "board_not_found",
            format!("/api/v1/boards/{missing}"),
        ),
        (
            format!("/api/v1/images/{image_id}"),
            "image_not_found",
            format!("/api/v1/images/{missing}"),
        ),
        (
            format!("/api/v1/images/{image_id}/full"),
            "image_not_found",
            format!("/api/v1/images/{missing}/full"),
        ),
        (
            format!("/api/v1/images/{image_id}/thumbnail"),
            "image_not_found",
            format!("/api/v1/images/{missing}/thumbnail"),
        ),
    ];
    for (path, code, missing_path) in &reads {
        assert_eq!(
            app.get(path, Some(&joe.token)).await.status(),
            StatusCode::OK,
            "owner: {path}"
        );
        assert_eq!(
            app.get(path, Some(&admin.token)).await.status(),
            StatusCode::OK,
            "admin: {path}"
        );
        assert_error(
            app.get(path, None).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
        let theirs = assert_error(
            app.get(path, Some(&jane.token)).await,
            StatusCode::NOT_FOUND,
            code,
        )
        .await;
        let absent = assert_error(
            app.get(missing_path, Some(&jane.token)).await,
            StatusCode::NOT_FOUND,
            code,
        )
        .await;
        assert_eq!(
            theirs, absent,
            "another user's item must look exactly like a missing one"
        );
    }
    // Writes by Jane change nothing and answer 404.
    let rename = app
        .patch(
            &format!("/api/v1/boards/{board}"),
            Some(&jane.token),
            &json!({"name": "mine"}),
        )
        .await;
    assert_error(rename, StatusCode::NOT_FOUND, "board_not_found").await;
    assert_error(
        app.delete(&format!("/api/v1/boards/{board}"), Some(&jane.token))
            .await,
        StatusCode::NOT_FOUND,
        "board_not_found",
    )
    .await;
    let star = app
        .patch(
            &format!("/api/v1/images/{image_id}"),
            Some(&jane.token),
            &json!({"starred": true}),
        )
        .await;
    assert_error(star, StatusCode::NOT_FOUND, "image_not_found").await;
    assert_error(
        app.delete(&format!("/api/v1/images/{image_id}"), Some(&jane.token))
            .await,
        StatusCode::NOT_FOUND,
        "image_not_found",
    )
    .await;
    let bulk = app
        .post(
            "/api/v1/images/bulk",
            Some(&jane.token),
            &json!({"image_ids": [image_id], "action": "delete"}),
        )
        .await;
    assert_eq!(bulk.json::<Value>().await.unwrap()["affected"], 0);
    let into_theirs = app
        .upload(Some(&jane.token), png(8, 8, &[]), "image/png", Some(&board))
        .await;
    assert_error(into_theirs, StatusCode::NOT_FOUND, "board_not_found").await;
    let listing = app
        .get(
            &format!("/api/v1/images?board_id={board}"),
            Some(&jane.token),
        )
        .await;
    assert_error(listing, StatusCode::NOT_FOUND, "board_not_found").await;
    let boards: Value = app
        .get("/api/v1/boards", Some(&jane.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(boards["boards"], json!([]));
    // Joe's things are intact.
    let mine: Value = app
        .get(&format!("/api/v1/images/{image_id}"), Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (mine["starred"].as_bool(), mine["board_id"].as_str()),
        (Some(false), Some(board.as_str()))
    );
    assert_eq!(app.objects_of(joe.id).len(), 2);
}

#[tokio::test]
async fn an_image_cannot_move_into_another_users_board() {
    let app = TestApp::spawn().await;
    let (admin, joe, jane) = three_users(&app).await;
    let janes_board = app.create_board(&jane, "hers").await;
    let image = app.upload_png(&joe, None).await;
    let path = format!("/api/v1/images/{}", image["id"].as_str().unwrap());

    for actor in [&joe, &admin] {
        let response = app
            .patch(&path, Some(&actor.token), &json!({"board_id": janes_board}))
            .await;
        assert_error(response, StatusCode::NOT_FOUND, "board_not_found").await;
    }
    let bulk = json!({"image_ids": [image["id"]], "action": "move", "board_id": janes_board});
    assert_error(
        app.post("/api/v1/images/bulk", Some(&admin.token), &bulk)
            .await,
        StatusCode::NOT_FOUND,
        "board_not_found",
    )
    .await;
}

#[tokio::test]
async fn boards_list_counts_covers_and_a_private_uncategorized() {
    let app = TestApp::spawn().await;
    let (admin, joe, jane) = three_users(&app).await;
    let board = app.create_board(&joe, "cats").await;
    app.upload_png(&joe, Some(&board)).await;
    let newest = app.upload_png(&joe, Some(&board)).await;
    app.upload_png(&joe, None).await;
    app.upload_png(&jane, None).await;

    let list: Value = app
        .get("/api/v1/boards", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["boards"][0]["asset_count"], 2);
    assert_eq!(list["boards"][0]["image_count"], 0);
    assert_eq!(list["boards"][0]["cover_image_id"], newest["id"]);
    assert_eq!(
        list["uncategorized"]["asset_count"], 1,
        "Jane's upload is not in Joe's Uncategorized"
    );

    let all: Value = app
        .get("/api/v1/boards", Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["boards"][0]["owner_name"], "joe");
    assert_eq!(
        all["uncategorized"]["asset_count"], 0,
        "the admin's own Uncategorized, not a pooled one"
    );
    let janes: Value = app
        .get(
            &format!("/api/v1/boards?owner_id={}", jane.id),
            Some(&admin.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(janes["uncategorized"]["asset_count"], 1);
    let janes_images: Value = app
        .get(
            &format!("/api/v1/images?board_id=none&owner_id={}", jane.id),
            Some(&admin.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(janes_images["items"].as_array().unwrap().len(), 1);
    assert_eq!(janes_images["items"][0]["owner_name"], "jane");
}

#[tokio::test]
async fn board_names_are_unique_per_owner_and_validated() {
    let app = TestApp::spawn().await;
    let (_, joe, jane) = three_users(&app).await;
    let board = app.create_board(&joe, "cats").await;
    app.create_board(&jane, "cats").await;

    let dup = app
        .post(
            "/api/v1/boards",
            Some(&joe.token),
            &json!({"name": " cats "}),
        )
        .await;
    assert_error(dup, StatusCode::CONFLICT, "board_name_taken").await;
    for bad in ["", "a\u{202e}b", "x\ny", "Uncategorized"] {
        let response = app
            .post("/api/v1/boards", Some(&joe.token), &json!({"name": bad}))
            .await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let renamed = app
        .patch(
            &format!("/api/v1/boards/{board}"),
            Some(&joe.token),
            &json!({"name": "dogs"}),
        )
        .await;
    assert_eq!(renamed.json::<Value>().await.unwrap()["name"], "dogs");
    assert_error(
        app.get("/api/v1/boards/not-a-uuid", Some(&joe.token)).await,
        StatusCode::NOT_FOUND,
        "board_not_found",
    )
    .await;
}

#[tokio::test]
async fn deleting_a_board_moves_or_deletes_its_images() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    let keep = app.create_board(&joe, "keep").await;
    let drop = app.create_board(&joe, "drop").await;
    let moved = app.upload_png(&joe, Some(&keep)).await;
    let gone = app.upload_png(&joe, Some(&drop)).await;

    assert_eq!(
        app.delete(&format!("/api/v1/boards/{keep}"), Some(&joe.token))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let image: Value = app
        .get(
            &format!("/api/v1/images/{}", moved["id"].as_str().unwrap()),
            Some(&joe.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(image["board_id"], Value::Null);

    let response = app
        .delete(
            &format!("/api/v1/boards/{drop}?images=delete"),
            Some(&joe.token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let gone_path = format!("/api/v1/images/{}", gone["id"].as_str().unwrap());
    assert_error(
        app.get(&gone_path, Some(&joe.token)).await,
        StatusCode::NOT_FOUND,
        "image_not_found",
    )
    .await;
    assert_eq!(
        app.objects_of(joe.id).len(),
        2,
        "only the moved image's two objects remain"
    );
}

#[tokio::test]
async fn listing_pages_by_keyset_with_filters_and_starred_first() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            app.upload_png(&joe, None).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let star = app
        .patch(
            &format!("/api/v1/images/{}", ids[1]),
            Some(&joe.token),
            &json!({"starred": true}),
        )
        .await;
    assert_eq!(star.status(), StatusCode::OK);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/images?board_id=none&category=user&limit=2&cursor={c}"),
            None => "/api/v1/images?board_id=none&category=user&limit=2".to_owned(),
        };
        let page: Value = app.get(&path, Some(&joe.token)).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let starred: Value = app
        .get(
            "/api/v1/images?starred_first=true&limit=2",
            Some(&joe.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(starred["items"][0]["id"], ids[1].as_str());
    let cursor = starred["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(
            &format!("/api/v1/images?starred_first=true&limit=10&cursor={cursor}"),
            Some(&joe.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 3);
    let generated: Value = app
        .get("/api/v1/images?category=general", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(generated["items"], json!([]));
    for bad in ["limit=0", "limit=201", "cursor=bogus", "category=secret"] {
        let response = app
            .get(&format!("/api/v1/images?{bad}"), Some(&joe.token))
            .await;
        assert!(
            response.status().is_client_error(),
            "{bad}: {}",
            response.status()
        );
    }
}

#[tokio::test]
async fn bulk_actions_star_move_and_delete() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    let board = app.create_board(&joe, "b").await;
    let a = app.upload_png(&joe, None).await["id"].clone();
    let b = app.upload_png(&joe, None).await["id"].clone();
    let bulk = async |body: Value| {
        app.post("/api/v1/images/bulk", Some(&joe.token), &body)
            .await
    };

    let starred: Value = bulk(json!({"image_ids": [a, b], "action": "star"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(starred["affected"], 2);
    let moved: Value = bulk(json!({"image_ids": [a, b], "action": "move", "board_id": board}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved["affected"], 2);
    let in_board: Value = app
        .get(
            &format!("/api/v1/images?board_id={board}"),
            Some(&joe.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        in_board["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["starred"] == true)
    );
    let deleted: Value = bulk(json!({"image_ids": [a, b], "action": "delete"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["affected"], 2);
    assert!(app.objects_of(joe.id).is_empty());
    let empty = bulk(json!({"image_ids": [], "action": "delete"})).await;
    assert_error(empty, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn an_upload_over_the_quota_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let (admin, joe, _) = three_users(&app).await;
    let first = app.upload_png(&joe, None).await;
    let used = first["byte_size"].as_i64().unwrap();
    let quota = json!({"quota_bytes": used + 10});
    let response = app
        .patch(
            &format!("/api/v1/auth/users/{}", joe.id),
            Some(&admin.token),
            &quota,
        )
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["used_bytes"], used);

    let over = app
        .upload(Some(&joe.token), png(64, 48, &[]), "image/png", None)
        .await;

    assert_error(over, StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded").await;
    assert_eq!(
        app.objects_of(joe.id).len(),
        2,
        "only the first image's objects"
    );
    let listing: Value = app
        .get("/api/v1/images", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listing["items"].as_array().unwrap().len(), 1);
    // Deleting frees the space again.
    app.delete(
        &format!("/api/v1/images/{}", first["id"].as_str().unwrap()),
        Some(&joe.token),
    )
    .await;
    app.upload_png(&joe, None).await;
}

#[tokio::test]
async fn bad_uploads_get_clear_errors_and_store_nothing() {
    let app = TestApp::spawn_with(|c| c.storage.max_upload_bytes = 200_000).await;
    let (_, joe, _) = three_users(&app).await;
    let good = png(32, 32, &[]);
    let bomb = {
        // A valid PNG header claiming 50000x50000 pixels; the pixel check runs before decoding.
        let mut bytes = png(1, 1, &[]);
        bytes[16..20].copy_from_slice(&50_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&50_000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    };
    let cases: Vec<(Vec<u8>, &str, StatusCode, &str)> = vec![
        (
            b"just some text".to_vec(),
            "image/png",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_image",
        ),
        (
            good[..good.len() - 30].to_vec(),
            "image/png",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_image",
        ),
        (
            bomb,
            "image/png",
            StatusCode::UNPROCESSABLE_ENTITY,
            "image_too_large",
        ),
        (
            good.clone(),
            "image/jpeg",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_mismatch",
        ),
        (
            Vec::new(),
            "image/png",
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_upload",
        ),
        (
            vec![0u8; 300_000],
            "image/png",
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (bytes, mime, status, code) in cases {
        assert_error(
            app.upload(Some(&joe.token), bytes, mime, None).await,
            status,
            code,
        )
        .await;
    }
    let no_file = app
        .http
        .post(app.url("/api/v1/images"))
        .bearer_auth(&joe.token)
        .multipart(reqwest::multipart::Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    assert_error(no_file, StatusCode::UNPROCESSABLE_ENTITY, "invalid_upload").await;
    let not_multipart = app
        .post("/api/v1/images", Some(&joe.token), &json!({}))
        .await;
    assert!(not_multipart.status().is_client_error());
    assert_error(
        app.upload(None, good, "image/png", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert!(app.objects_of(joe.id).is_empty());
    let listing: Value = app
        .get("/api/v1/images", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listing["items"], json!([]));
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn a_failed_object_write_leaves_no_record() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    // A plain file where Joe's image directory should be: the object store's write really fails.
    let user_dir = app
        .app
        .config
        .data_dir
        .join("objects/users")
        .join(joe.id.to_string());
    std::fs::create_dir_all(&user_dir).unwrap();
    std::fs::write(user_dir.join("images"), b"in the way").unwrap();

    let response = app
        .upload(Some(&joe.token), png(16, 16, &[]), "image/png", None)
        .await;

    assert_error(response, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    let listing: Value = app
        .get("/api/v1/images", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listing["items"], json!([]));
}

#[tokio::test]
async fn a_failed_record_write_deletes_the_bytes_it_wrote() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    let staged = atelier::images::ingest::Staged::from_bytes(png(16, 16, &[]).into(), None);
    let probed = atelier::images::ingest::probe(&staged.source, None, 1 << 20).unwrap();
    let caller = atelier::db::Caller::user(joe.id);

    // The board vanished between the precheck and the insert: the same-owner FK refuses the record.
    let result = atelier::images::ops::store(
        &app.app,
        &caller,
        Uuid::now_v7(),
        Some(Uuid::now_v7()),
        atelier::images::model::Category::User,
        &staged,
        probed,
    )
    .await;

    assert_eq!(
        result.unwrap_err().code(),
        atelier::error::ErrorCode::BoardNotFound
    );
    assert!(
        app.objects_of(joe.id).is_empty(),
        "the bytes were deleted again"
    );
}

#[tokio::test]
async fn the_sweeper_removes_orphans_and_keeps_recorded_objects() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    let kept = app.upload_png(&joe, None).await;
    let orphan = atelier::images::keys::thumbnail(joe.id, Uuid::now_v7());
    app.app
        .storage
        .put_bytes(&orphan, bytes::Bytes::from_static(b"left by a crash"))
        .await
        .unwrap();
    assert_eq!(app.objects_of(joe.id).len(), 3);

    let young = atelier::images::sweep::run(
        &app.app.storage,
        &app.app.db,
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert_eq!(
        young.deleted, 0,
        "within the grace period nothing is touched"
    );
    let report =
        atelier::images::sweep::run(&app.app.storage, &app.app.db, std::time::Duration::ZERO)
            .await
            .unwrap();

    assert_eq!((report.scanned, report.deleted), (3, 1));
    assert_eq!(app.objects_of(joe.id).len(), 2);
    let full = app
        .get(
            &format!("/api/v1/images/{}/full", kept["id"].as_str().unwrap()),
            Some(&joe.token),
        )
        .await;
    assert_eq!(full.status(), StatusCode::OK);
}

#[tokio::test]
async fn data_made_in_single_user_mode_is_seen_by_admins_and_can_be_adopted() {
    let app = TestApp::spawn().await;
    let (admin, joe, _) = three_users(&app).await;
    // What single-user mode does for every request: act as the system user with admin rights.
    let system = atelier::db::Caller::admin(atelier::users::SYSTEM_USER_ID);
    let board = atelier::boards::ops::create(&app.app, &system, "old work")
        .await
        .unwrap();
    let staged = atelier::images::ingest::Staged::from_bytes(png(20, 10, &[]).into(), None);
    let probed = atelier::images::ingest::probe(&staged.source, None, 1 << 20).unwrap();
    let image = atelier::images::ops::store(
        &app.app,
        &system,
        Uuid::now_v7(),
        Some(board.id),
        atelier::images::model::Category::General,
        &staged,
        probed,
    )
    .await
    .unwrap();
    let loose = {
        let staged2 = atelier::images::ingest::Staged::from_bytes(png(20, 10, &[]).into(), None);
        let probed = atelier::images::ingest::probe(&staged2.source, None, 1 << 20).unwrap();
        atelier::images::ops::store(
            &app.app,
            &system,
            Uuid::now_v7(),
            None,
            atelier::images::model::Category::General,
            &staged2,
            probed,
        )
        .await
        .unwrap()
    };

    let all: Value = app
        .get("/api/v1/boards", Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        all["boards"][0]["owner_name"], "System",
        "admins see single-user-mode data"
    );
    let path = format!("/api/v1/images/{}", image.id);
    assert_error(
        app.get(&path, Some(&joe.token)).await,
        StatusCode::NOT_FOUND,
        "image_not_found",
    )
    .await;

    // `atelier user adopt --from system --to joe@example.com`
    let moved = atelier::images::ops::adopt(
        &app.app.db,
        &app.app.storage,
        &TestApp::cli_caller(),
        atelier::users::SYSTEM_USER_ID,
        joe.id,
    )
    .await
    .unwrap();

    assert_eq!(moved, 3, "one board and two images");
    let record: Value = app.get(&path, Some(&joe.token)).await.json().await.unwrap();
    assert_eq!(record["board_id"], board.id.to_string());
    for id in [image.id, loose.id] {
        let full = app
            .get(&format!("/api/v1/images/{id}/full"), Some(&joe.token))
            .await;
        assert_eq!(
            full.status(),
            StatusCode::OK,
            "the bytes moved with the record"
        );
    }
    assert_eq!(app.objects_of(joe.id).len(), 4);
    assert!(app.objects_of(atelier::users::SYSTEM_USER_ID).is_empty());
    let mine: Value = app
        .get("/api/v1/boards", Some(&joe.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["boards"][0]["image_count"], 1);
}

#[tokio::test]
async fn malformed_queries_and_bodies_get_json_errors() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    for path in [
        "/api/v1/images?owner_id=x",
        "/api/v1/images?category=secret",
        "/api/v1/boards?owner_id=1",
    ] {
        assert_error(
            app.get(path, Some(&joe.token)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let not_multipart = app
        .post("/api/v1/images", Some(&joe.token), &json!({}))
        .await;
    assert_error(
        not_multipart,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_upload",
    )
    .await;
}

#[tokio::test]
async fn a_large_upload_is_spooled_to_disk_and_stored_intact() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    // Noise does not compress: a 900x900 RGB PNG is about 2.4 MB, over the 1 MiB spool threshold.
    let bytes = {
        let mut state = 12345u32;
        let image = image::RgbImage::from_fn(900, 900, |_, _| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            image::Rgb([(state >> 24) as u8, (state >> 16) as u8, (state >> 8) as u8])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    assert!(bytes.len() > atelier::images::ingest::SPOOL_THRESHOLD);

    let image = app.upload_png_bytes(&joe, bytes.clone()).await;

    let full = app
        .get(
            &format!("/api/v1/images/{}/full", image["id"].as_str().unwrap()),
            Some(&joe.token),
        )
        .await;
    assert_eq!(full.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let staging = std::fs::read_dir(&app.app.staging_dir).unwrap().count();
    assert_eq!(staging, 0, "the staging file is gone");
}

/// Uploads a small PNG as `user` with `query` (e.g. `category=mask`).
async fn upload_with(app: &TestApp, user: &TestUser, query: &str) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(png(64, 48, &[]))
        .file_name("mask.png")
        .mime_str("image/png")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    app.http
        .post(app.url(&format!("/api/v1/images?{query}")))
        .bearer_auth(&user.token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn masks_stay_out_of_the_gallery_and_unused_old_ones_are_swept() {
    let app = TestApp::spawn().await;
    let (_, joe, _) = three_users(&app).await;
    let asset = app.upload_png(&joe, None).await;
    let mut masks = Vec::new();
    for _ in 0..4 {
        let response = upload_with(&app, &joe, "category=mask").await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let mask: Value = response.json().await.unwrap();
        assert_eq!(mask["category"], "mask");
        masks.push(mask["id"].as_str().unwrap().to_owned());
    }
    let listed = app.get_json("/api/v1/images", &joe).await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [asset["id"].as_str().unwrap()],
        "masks are not in the gallery"
    );
    let listed = app.get_json("/api/v1/images?category=mask", &joe).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 4);
    let board = app.create_board(&joe, "b").await;
    for query in [
        "category=general".to_owned(),
        format!("category=mask&board_id={board}"),
    ] {
        let response = upload_with(&app, &joe, &query).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }

    // masks[0]: named by a pending job; masks[1]: by an image's parameters; masks[2]: by
    // nothing; masks[3]: by nothing, but young.
    let body = json!({"model": "sd15", "prompt": "x", "init_image_id": asset["id"],
                      "mask_image_id": masks[0]});
    app.enqueue(&joe, &body).await;
    let params = json!({"prompt": "x", "mask_image_id": masks[1]}).to_string();
    let response = app
        .upload(
            Some(&joe.token),
            png(8, 8, &[("atelier", &params)]),
            "image/png",
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let db = crate::helpers::superuser_client(&app.dbname).await;
    let old: Vec<Uuid> = masks[..3].iter().map(|m| m.parse().unwrap()).collect();
    db.execute(
        "update images set created_at = now() - interval '2 days' where id = any($1)",
        &[&old],
    )
    .await
    .unwrap();
    let before = app.objects_of(joe.id).len();
    let deleted = atelier::images::mask_sweep::run(
        &app.app.storage,
        &app.app.db,
        atelier::images::mask_sweep::KEEP,
    )
    .await
    .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(
        app.objects_of(joe.id).len(),
        before - 2,
        "its image and thumbnail"
    );
    let left = app.get_json("/api/v1/images?category=mask", &joe).await;
    let mut left: Vec<&str> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    left.sort_unstable();
    let mut expected = vec![masks[0].as_str(), masks[1].as_str(), masks[3].as_str()];
    expected.sort_unstable();
    assert_eq!(left, expected);
}
