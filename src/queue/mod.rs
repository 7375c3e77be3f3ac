//! The shared generation queue: items in PostgreSQL (redacted for other users by the database),
//! the routes, the workers' fair claims, and the fair-share scheduler (pure policy).

pub mod claims;
pub mod model;
pub mod prompt_tokens;
pub mod repo;
pub mod routes;
pub mod scheduler;
pub mod usage;
