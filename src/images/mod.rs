//! Images and assets: records under row-level security, bytes in the object store under the
//! owner's prefix, ingestion with thumbnails, media serving and the routes.

pub mod crafted;
pub mod ingest;
pub mod keys;
pub mod mask_sweep;
pub mod media;
pub mod model;
pub mod ops;
pub mod png_text;
pub mod repo;
pub mod routes;
pub mod sweep;
