//! The test harness: one private PostgreSQL cluster per test process (started with the same
//! embedded-cluster code as `atelier serve`), a migrated template database, and per test a fresh
//! database cloned from it plus a real server on 127.0.0.1:0 whose pool logs in as the runtime
//! role, never as the owner.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use atelier::app::App;
use atelier::auth::setup::SetupGate;
use atelier::config::Config;
use atelier::db::embedded::{EmbeddedCluster, SUPERUSER};
use atelier::db::{self, APP_LOGIN, Caller, OWNER_LOGIN, RoleClass};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// The shared cluster of this test process and the name of its migrated template database.
pub struct TestCluster {
    pub cluster: EmbeddedCluster,
    pub template: String,
}

static CLUSTER: OnceLock<TestCluster> = OnceLock::new();

/// Starts (once per process) the private cluster and migrates the template database.
pub fn cluster() -> &'static TestCluster {
    CLUSTER.get_or_init(|| {
        // Initialised on a plain thread with its own runtime: the caller is inside a test's runtime.
        std::thread::spawn(start_cluster)
            .join()
            .expect("starting the test cluster panicked")
    })
}

fn start_cluster() -> TestCluster {
    let dir = PathBuf::from(format!("/tmp/atelier-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cluster = EmbeddedCluster::prepare(&dir, None).expect("prepare the test cluster");
    cluster.start(Some(&dir)).expect("start the test cluster");
    let template = format!("atelier_tpl_{}", db::migrate::fingerprint());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let superuser = db::connect_one(&superuser_config(&cluster, "postgres"))
            .await
            .unwrap();
        db::bootstrap::run(&superuser, &cluster.secrets)
            .await
            .expect("bootstrap roles");
        db::bootstrap::ensure_database(&superuser, &template, None)
            .await
            .unwrap();
        let owner = cluster.pg_config(OWNER_LOGIN, &cluster.secrets.owner, &template);
        db::migrate::run(&owner)
            .await
            .expect("migrate the template");
    });
    TestCluster { cluster, template }
}

fn superuser_config(cluster: &EmbeddedCluster, dbname: &str) -> tokio_postgres::Config {
    cluster.pg_config(SUPERUSER, &cluster.secrets.superuser, dbname)
}

/// A fresh database cloned from the template; returns its name.
pub async fn fresh_database() -> String {
    let shared = cluster();
    let name = format!("test_{}", Uuid::new_v4().simple());
    let superuser = db::connect_one(&superuser_config(&shared.cluster, "postgres"))
        .await
        .unwrap();
    db::bootstrap::ensure_database(&superuser, &name, Some(&shared.template))
        .await
        .unwrap();
    name
}

/// A connection to `dbname` as the runtime login (for SQL-level RLS tests).
pub fn app_pool(dbname: &str, size: usize) -> deadpool_postgres::Pool {
    let cluster = &cluster().cluster;
    db::pool(
        cluster.pg_config(APP_LOGIN, &cluster.secrets.app, dbname),
        size,
    )
    .unwrap()
}

/// A connection to `dbname` as the superuser: fixtures and assertions only.
pub async fn superuser_client(dbname: &str) -> tokio_postgres::Client {
    db::connect_one(&superuser_config(&cluster().cluster, dbname))
        .await
        .unwrap()
}

/// The name of the catalogue entry every test server has, so that queue tests can enqueue.
pub const FIXTURE_MODEL: &str = "sd15";

/// Registers `FIXTURE_MODEL` (a record only: no engine reads its file in these tests).
async fn install_fixture_model(dbname: &str) {
    let db = superuser_client(dbname).await;
    register_model(
        &db,
        FIXTURE_MODEL,
        "sd-1",
        "main",
        "/nonexistent/sd15.safetensors",
    )
    .await;
}

/// Registers a catalogue entry directly, as an admin could in psql (the probe is bypassed: the
/// tiny models' widths belong to no family, and records without files suffice for validation
/// tests). `kind` is `main`, `vae` or `lora`. Returns its id.
pub async fn register_model(
    db: &tokio_postgres::Client,
    name: &str,
    base: &str,
    kind: &str,
    location: &str,
) -> Uuid {
    let id = Uuid::now_v7();
    db.execute(
        "insert into models (id, name, base, type, format, source, location, size_bytes, hash)
         values ($1, $2, $3, $4, 'single_file', 'test', $5, 0, $2)",
        &[&id, &name, &base, &kind, &location],
    )
    .await
    .unwrap();
    id
}

/// A safetensors file whose header says "SD checkpoint with `width`-wide cross-attention"
/// (768: SD 1.x, 1024: SD 2.x), with `salt` mixed into its bytes to vary its hash.
pub fn tiny_checkpoint(path: &std::path::Path, width: u64, salt: u8) {
    let data = vec![salt; (8 * width * 2) as usize];
    atelier::models::safetensors::write(
        path,
        &[atelier::models::safetensors::Tensor {
            name: "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
            dtype: "F16",
            shape: vec![8, width],
            data: &data,
        }],
    )
    .unwrap();
}

/// A logged-in user of a test server.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

/// A running server on its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The S3 door (`s3::serve`), on its own port.
    pub s3_addr: SocketAddr,
    pub app: Arc<App>,
    pub dbname: String,
    pub http: reqwest::Client,
    pub setup_token: String,
    _data_dir: tempfile::TempDir,
}

/// The password every fixture user gets unless a test picks another.
pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// A multiuser server with default test settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose config `adjust` may change first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_full(adjust, None).await
    }

    /// A server with a given object store (the S3 tests) and config changes.
    pub async fn spawn_full(
        adjust: impl FnOnce(&mut Config),
        storage: Option<atelier::storage::Storage>,
    ) -> Self {
        let dbname = fresh_database().await;
        install_fixture_model(&dbname).await;
        Self::serve_on(dbname, adjust, storage).await
    }

    /// A second server on this one's database, as a replica behind a load balancer would be.
    pub async fn spawn_replica(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::serve_on(self.dbname.clone(), adjust, None).await
    }

    async fn serve_on(
        dbname: String,
        adjust: impl FnOnce(&mut Config),
        storage: Option<atelier::storage::Storage>,
    ) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            multiuser: true,
            data_dir: data_dir.path().to_path_buf(),
            ..Config::default()
        };
        config.auth.jwt_secret = Some(atelier::secrets::random_hex(32));
        config.auth.max_attempts_per_address = 10_000;
        adjust(&mut config);
        let pool = app_pool(&dbname, 8);
        let storage = match storage {
            Some(storage) => storage,
            None => atelier::storage::Storage::from_config(&config).unwrap(),
        };
        {
            let client = pool.get().await.unwrap();
            db::preflight::check_runtime_login(&client)
                .await
                .expect("the app must not log in as the owner");
        }
        let setup_token = atelier::secrets::random_hex(16);
        let app = Arc::new(
            App::new(
                config,
                pool,
                SetupGate::with_token(setup_token.clone()),
                storage,
            )
            .unwrap(),
        );
        let cluster = &cluster().cluster;
        app.events
            .spawn_listener(cluster.pg_config(APP_LOGIN, &cluster.secrets.app, &dbname));
        app.events.wait_listening().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(atelier::http::serve(
            listener,
            Arc::clone(&app),
            std::future::pending(),
        ));
        let s3_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s3_addr = s3_listener.local_addr().unwrap();
        tokio::spawn(atelier::s3::serve::serve(
            s3_listener,
            Arc::clone(&app),
            std::future::pending(),
        ));
        Self {
            addr,
            s3_addr,
            app,
            dbname,
            http: reqwest::Client::new(),
            setup_token,
            _data_dir: data_dir,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GET with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.send(self.http.get(self.url(path)), token).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send(self.http.post(self.url(path)).json(body), token)
            .await
    }

    /// PATCH a JSON body.
    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send(self.http.patch(self.url(path)).json(body), token)
            .await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.send(self.http.delete(self.url(path)), token).await
    }

    async fn send(&self, request: reqwest::RequestBuilder, token: Option<&str>) -> Response {
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        request.send().await.expect("the server answers")
    }

    /// Creates the first admin through the setup endpoint and logs in.
    pub async fn setup_admin(&self) -> TestUser {
        let body = json!({"setup_token": self.setup_token, "email": "admin@example.com",
                          "display_name": "Admin", "password": PASSWORD});
        let response = self.post("/api/v1/auth/setup", None, &body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        self.login_ok("admin@example.com", PASSWORD).await
    }

    /// Creates an account as `admin` and logs in as it.
    pub async fn add_user(&self, admin: &TestUser, name: &str, is_admin: bool) -> TestUser {
        let email = format!("{name}@example.com");
        let body = json!({"email": email, "display_name": name, "password": PASSWORD, "is_admin": is_admin});
        let response = self
            .post("/api/v1/auth/users", Some(&admin.token), &body)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        self.login_ok(&email, PASSWORD).await
    }

    /// GET `path` as `user`, as JSON.
    pub async fn get_json(&self, path: &str, user: &TestUser) -> Value {
        self.get(path, Some(&user.token))
            .await
            .json()
            .await
            .unwrap()
    }

    /// GET /queue/items/{id} as `user`.
    pub async fn queue_item(&self, user: &TestUser, id: impl std::fmt::Display) -> Value {
        self.get_json(&format!("/api/v1/queue/items/{id}"), user)
            .await
    }

    /// POST /queue/items, which must be refused as invalid with a message containing `part`.
    pub async fn enqueue_refused(&self, user: &TestUser, body: &Value, part: &str) {
        let response = self
            .post("/api/v1/queue/items", Some(&user.token), body)
            .await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(part), "{body}: {error}");
    }

    /// Queues a generation as `user`; returns the item id.
    pub async fn enqueue(&self, user: &TestUser, body: &Value) -> Uuid {
        let response = self
            .post("/api/v1/queue/items", Some(&user.token), body)
            .await;
        let body = expect_created(response).await;
        body["item_ids"][0].as_str().unwrap().parse().unwrap()
    }

    /// POST /login.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Logs in and expects success.
    pub async fn login_ok(&self, email: &str, password: &str) -> TestUser {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        TestUser {
            id: body["user"]["id"].as_str().unwrap().parse().unwrap(),
            email: email.to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    /// The status of GET /me with `token`.
    pub async fn me_status(&self, token: &str) -> StatusCode {
        self.get("/api/v1/auth/me", Some(token)).await.status()
    }

    /// Acts as the CLI does: the system user with admin rights, straight through `users::ops`.
    pub fn cli_caller() -> Caller {
        Caller {
            user_id: atelier::users::SYSTEM_USER_ID,
            role: RoleClass::Admin,
        }
    }
}

/// Asserts the status and the stable error code of a JSON error response.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.expect("errors are JSON");
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// Asserts a 201 (showing the body otherwise) and returns the JSON body.
pub async fn expect_created(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A PNG of `width` x `height`, with optional tEXt chunks.
pub fn png(width: u32, height: u32, text: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        for (key, value) in text {
            encoder
                .add_text_chunk((*key).to_owned(), (*value).to_owned())
                .unwrap();
        }
        let mut writer = encoder.write_header().unwrap();
        let pixels: Vec<u8> = (0..width * height * 3).map(|i| (i % 251) as u8).collect();
        writer.write_image_data(&pixels).unwrap();
    }
    out
}

impl TestApp {
    /// Uploads `bytes` as multipart field `file`, optionally into a board.
    pub async fn upload(
        &self,
        token: Option<&str>,
        bytes: Vec<u8>,
        mime: &str,
        board: Option<&str>,
    ) -> Response {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("upload.png")
            .mime_str(mime)
            .unwrap();
        let form = reqwest::multipart::Form::new().part("file", part);
        let path = match board {
            Some(board) => format!("/api/v1/images?board_id={board}"),
            None => "/api/v1/images".to_owned(),
        };
        self.send(self.http.post(self.url(&path)).multipart(form), token)
            .await
    }

    /// Uploads a small PNG and returns its record.
    pub async fn upload_png(&self, user: &TestUser, board: Option<&str>) -> Value {
        let response = self
            .upload(Some(&user.token), png(64, 48, &[]), "image/png", board)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap()
    }

    /// Uploads given PNG bytes and returns the record.
    pub async fn upload_png_bytes(&self, user: &TestUser, bytes: Vec<u8>) -> Value {
        let response = self
            .upload(Some(&user.token), bytes, "image/png", None)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap()
    }

    /// Creates a board and returns its id.
    pub async fn create_board(&self, user: &TestUser, name: &str) -> String {
        let response = self
            .post("/api/v1/boards", Some(&user.token), &json!({"name": name}))
            .await;
        let body = expect_created(response).await;
        body["id"].as_str().unwrap().to_owned()
    }

    /// The object files of the local store below `users/{user}` (empty when none).
    pub fn objects_of(&self, user: Uuid) -> Vec<String> {
        let root = self
            .app
            .config
            .data_dir
            .join("objects")
            .join("users")
            .join(user.to_string());
        let mut found = Vec::new();
        for sub in ["images", "thumbnails"] {
            if let Ok(entries) = std::fs::read_dir(root.join(sub)) {
                found.extend(
                    entries
                        .flatten()
                        .map(|e| format!("{sub}/{}", e.file_name().to_string_lossy())),
                );
            }
        }
        found.sort();
        found
    }
}
