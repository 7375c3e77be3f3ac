//! Integration tests: one binary (it links once), with a module per feature.
#![expect(
    unreachable_pub,
    reason = "helpers are shared between the test modules of this one crate"
)]

mod auth;
mod backup;
mod claims;
mod cli;
pub mod drills;
mod events;
mod hardening;
mod helpers;
mod images;
mod metrics;
mod models;
mod queue;
mod rls;
mod s3;
mod s3_door;
mod schema;
mod systemd;
mod test_engine;
mod topology;
mod web;
mod worker;
