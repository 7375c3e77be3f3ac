//! The shared generation queue: items in PostgreSQL (redacted for other users by the database),
//! the routes, and the fair-share scheduler (pure policy). Workers, the engine hand-off and live
//! events are not built yet (issue 4).

pub mod claims;
pub mod model;
pub mod repo;
pub mod routes;
pub mod scheduler;
