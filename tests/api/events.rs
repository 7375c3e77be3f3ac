//! The event socket with real WebSocket clients: tickets, routing between Joe, Jane and an admin
//! over a whole generation, and sockets closed when their session ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, TestUser, assert_error};
use crate::test_engine::TestEngine;
use crate::worker::{enqueue, fast_worker, spawn_worker, wait_status};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ticket(app: &TestApp, user: &TestUser) -> String {
    let response = app
        .post("/api/v1/events/ticket", Some(&user.token), &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["ticket"].as_str().unwrap().to_owned()
}

pub async fn connect(app: &TestApp, user: &TestUser) -> Socket {
    let url = format!(
        "ws://{}/api/v1/events?ticket={}",
        app.addr,
        ticket(app, user).await
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = next_json(&mut socket, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["user_id"], json!(user.id));
    socket
}

/// The next JSON message, or None on timeout or close.
async fn next_json(socket: &mut Socket, timeout: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(timeout, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            _ => return None,
        }
    }
}

/// Everything a socket receives until `until` matches or `timeout` passes.
pub async fn collect(
    socket: &mut Socket,
    timeout: Duration,
    until: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Some(message) = next_json(socket, left).await else {
            break;
        };
        let done = until(&message);
        seen.push(message);
        if done {
            break;
        }
    }
    seen
}

pub fn types(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn over_a_whole_generation_jane_receives_nothing_of_joe_s() {
    let app = TestApp::spawn_with(fast_worker(0.0)).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let jane = app.add_user(&admin, "jane", false).await;
    let mut joe_socket = connect(&app, &joe).await;
    let mut jane_socket = connect(&app, &jane).await;
    let mut admin_socket = connect(&app, &admin).await;
    let engine = Arc::new(TestEngine::new(Duration::from_millis(20)));
    let _worker = spawn_worker(&app, &engine, "w");

    let prompt = "a secret lighthouse at dusk";
    let id = enqueue(
        &app,
        &joe,
        json!({"model": "sd15", "prompt": prompt, "width": 64, "height": 64, "steps": 5}),
    )
    .await;
    let is_done = |m: &Value| m["type"] == "job_completed";
    let joe_saw = collect(&mut joe_socket, Duration::from_secs(15), is_done).await;
    let admin_saw = collect(&mut admin_socket, Duration::from_secs(5), is_done).await;
    let jane_saw = collect(&mut jane_socket, Duration::from_millis(500), |_| false).await;

    let joe_types = types(&joe_saw);
    for expected in ["job_queued", "job_started", "progress", "job_completed"] {
        assert!(
            joe_types.contains(&expected),
            "joe missed {expected}: {joe_types:?}"
        );
    }
    let progress: Vec<_> = joe_saw.iter().filter(|m| m["type"] == "progress").collect();
    assert!(progress.iter().all(|m| m["item_id"] == json!(id)));
    assert!(
        progress.iter().any(|m| m["preview"]
            .as_str()
            .is_some_and(|p| p.starts_with("data:image/jpeg;base64,"))),
        "previews reach the owner"
    );
    let completed = joe_saw.last().unwrap();
    assert_eq!(completed["result_image_ids"].as_array().unwrap().len(), 1);

    let admin_types = types(&admin_saw);
    assert!(admin_types.contains(&"job_started") && admin_types.contains(&"job_completed"));
    assert!(
        !admin_types.contains(&"progress"),
        "progress is the owner's only"
    );

    assert!(!jane_saw.is_empty(), "jane hears that the queue changed");
    for message in &jane_saw {
        // The item's id and status, as in everyone's listing; nothing of Joe's or his prompt.
        assert_eq!(message["type"], "queue_changed");
        assert_eq!(message["item_id"], json!(id));
        assert_eq!(message.as_object().unwrap().len(), 3, "{message}");
        let text = message.to_string();
        for secret in [joe.id.to_string(), prompt.to_owned()] {
            assert!(!text.contains(&secret), "jane saw {secret} in {text}");
        }
    }
    wait_status(&app, &joe, id, "completed", Duration::from_secs(1)).await;
}

#[tokio::test]
async fn the_socket_needs_a_valid_ticket_and_a_token_is_not_one() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let no_ticket = app.get("/api/v1/events", None).await;
    assert_error(no_ticket, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let token_as_ticket = app
        .get(&format!("/api/v1/events?ticket={}", admin.token), None)
        .await;
    assert_error(token_as_ticket, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let anonymous = app.post("/api/v1/events/ticket", None, &json!({})).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let not_upgrade = app
        .get(
            &format!("/api/v1/events?ticket={}", ticket(&app, &admin).await),
            None,
        )
        .await;
    assert_error(
        not_upgrade,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn logging_out_closes_the_session_s_sockets_only() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let joe_elsewhere = app.login_ok(&joe.email, crate::helpers::PASSWORD).await;
    let mut socket = connect(&app, &joe).await;
    let mut other = connect(&app, &joe_elsewhere).await;
    let response = app
        .post("/api/v1/auth/logout", Some(&joe.token), &json!({}))
        .await;
    assert!(response.status().is_success());
    let started = Instant::now();
    let frame = loop {
        match tokio::time::timeout(Duration::from_secs(3), socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => {}
            other => panic!("the socket was not closed: {other:?}"),
        }
    };
    assert_eq!(u16::from(frame.unwrap().code), 4401);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "closed at once, not at the recheck"
    );
    other.send(Message::Ping(vec![1].into())).await.unwrap();
    let still_open = tokio::time::timeout(Duration::from_millis(500), other.next()).await;
    assert!(
        matches!(still_open, Ok(Some(Ok(Message::Pong(_))))),
        "the other session's socket stays open: {still_open:?}"
    );
}

#[tokio::test]
async fn a_ticket_opens_one_socket_and_sockets_per_user_are_bounded() {
    let app = TestApp::spawn_with(|c| c.http.max_sockets_per_user = 2).await;
    let admin = app.setup_admin().await;
    let joe = app.add_user(&admin, "joe", false).await;
    let once = ticket(&app, &joe).await;
    let url = format!("ws://{}/api/v1/events?ticket={once}", app.addr);
    let (first, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let again = tokio_tungstenite::connect_async(&url).await;
    assert!(
        matches!(&again, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401),
        "a used ticket opens nothing: {again:?}"
    );
    let _second = connect(&app, &joe).await;
    let url = format!(
        "ws://{}/api/v1/events?ticket={}",
        app.addr,
        ticket(&app, &joe).await
    );
    let third = tokio_tungstenite::connect_async(&url).await;
    assert!(
        matches!(&third, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 429),
        "{third:?}"
    );
    // Other users are not affected, and a closed socket frees its slot.
    let _admins = connect(&app, &admin).await;
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.app.sockets.count(joe.id) > 1 {
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _again = connect(&app, &joe).await;
}
