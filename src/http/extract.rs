//! Extractors that answer rejections in our JSON error format.

use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};

use crate::error::{ApiError, ErrorCode};

/// `axum::Json`, but a malformed body is an [`ApiError`] (`invalid_json` / `validation_failed`).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

/// `axum::extract::Query`, but a malformed query string is a `validation_failed` error.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

/// `axum::extract::Multipart`, but a body that is not multipart is an `invalid_upload` error.
pub struct AppMultipart(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for AppMultipart {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::new(ErrorCode::InvalidUpload, rejection.body_text()))?;
        Ok(Self(multipart))
    }
}
