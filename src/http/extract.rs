//! Extractors that answer rejections in our JSON error format.

use axum::extract::FromRequest;

use crate::error::ApiError;

/// `axum::Json`, but a malformed body is an [`ApiError`] (`invalid_json` / `validation_failed`).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);
