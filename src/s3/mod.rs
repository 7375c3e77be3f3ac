//! The S3 door: every user reaches their own images with S3 clients (`aws`, boto3, rclone),
//! signing with access keys of their own. The view is one bucket, `images`, whose keys mirror
//! the gallery (`names`); writes go through the gallery's ingest and every lookup runs as the
//! key's user, so row-level security decides what a key may touch. See `docs/s3.md`.

pub mod door;
pub mod errors;
pub mod gateway;
pub mod keys;
pub mod listing;
pub mod multipart;
pub mod names;
pub mod objects;
pub mod repo;
pub mod routes;
pub mod seal;
pub mod serve;
