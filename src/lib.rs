//! Atelier: a multi-user image-generation server in which PostgreSQL enforces isolation.
//!
//! Architecture map (see `docs/architecture.md` for flows and trust boundaries):
//! - [`cli`] — the `atelier` command line (`serve`, `migrate`, `db psql`, `user …`).
//! - [`config`] — the configuration tree (defaults → TOML file → `ATELIER__…` variables).
//! - [`db`] — the embedded cluster, role bootstrap, migrations, the pool and `begin_as`, the
//!   per-transaction identity that row-level security keys on.
//! - [`app`] — `App`, the state every request shares.
//! - [`http`] — router composition, health, OpenAPI, fallbacks, serving.
//! - [`auth`] — passwords, tokens, sessions, setup token, login throttling, extractors, routes.
//! - [`users`] — accounts: model, SQL, operations shared by API and CLI, admin routes.
//! - [`boards`] — boards: named groups of a user's images, with counts and covers.
//! - [`images`] — image records, ingestion and thumbnails, media serving, the orphan sweeper.
//! - [`job_limits`] — what a generation job may ask for (samplers, prompt and LoRA limits),
//!   shared by the queue and the engine.
//! - [`queue`] — the shared queue in PostgreSQL: routes, fair claims, and the pure scheduler.
//! - [`models`] — the model catalogue: probing, hashing, installs, edits, scans.
//! - [`diffusion`] — the tch engine: tokenizer, text encoder, UNet, VAE, samplers, pipeline.
//! - [`worker`] — claims items, drives an engine with step-boundary preemption, stores results.
//! - [`events`] — live events over WebSocket, fanned out through LISTEN/NOTIFY and routed.
//! - [`web`] — the browser UI's built assets and each user's saved UI state.
//! - [`storage`] — the object store (local directory or S3) holding image bytes.
//! - [`s3`] — the S3 endpoint: each user's images through S3 clients, with their own keys.
//! - [`error`] — `ApiError`, the one error type at the HTTP edge, and its stable codes.
//! - [`secrets`] — generated secrets in `data_dir/secrets` (mode 0600).
//! - [`telemetry`] — logging.
//! - [`text`] — rules for names other people see (no hidden or reordering characters).
//!
//! Dependency direction: `cli` → `http` → `auth`/`users` → `db` → PostgreSQL. Nothing below
//! `http` knows about HTTP except through `error::ApiError`.

pub mod app;
pub mod auth;
pub mod boards;
pub mod cli;
pub mod config;
pub mod db;
pub mod diffusion;
pub mod error;
pub mod events;
pub mod http;
pub mod images;
pub mod job_limits;
pub mod metrics;
pub mod models;
pub mod queue;
pub mod s3;
pub mod secrets;
pub mod storage;
pub mod systemd;
pub mod telemetry;
pub mod text;
pub mod users;
pub mod web;
pub mod worker;
