//! The model catalogue: a shared table everyone reads and only admins write (RLS and grants),
//! probing of safetensors files and diffusers folders, content hashes, installs from a path, an
//! upload or a URL (as jobs with admin-only progress events), edits, deletion and scans.

pub mod files;
pub mod installs;
pub mod model;
pub mod ops;
pub mod probe;
pub mod repo;
pub mod routes;
pub mod safetensors;
pub mod url_guard;
