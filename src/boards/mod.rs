//! Boards: named groups of one user's images. Each user also has an implicit Uncategorized
//! (images whose board_id is null).

pub mod model;
pub mod ops;
pub mod repo;
pub mod routes;
