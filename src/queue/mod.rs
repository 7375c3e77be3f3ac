//! The shared job queue. So far: the fair-share scheduler (pure policy). The PostgreSQL queue,
//! workers and events are still to come (issue 4).

pub mod scheduler;
