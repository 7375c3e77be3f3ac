//! The S3 door's one error mapping: the server's `ApiError` codes as the S3 error codes clients
//! know (`NoSuchKey`, `EntityTooLarge`, `InvalidArgument`, …). Internal errors are logged here
//! and answered without detail.

use s3s::{S3Error, S3ErrorCode};

use crate::error::{ApiError, ErrorCode};

/// An `ApiError` as S3 reports it.
#[expect(clippy::needless_pass_by_value, reason = "a map_err adapter")]
pub fn from_api(error: ApiError) -> S3Error {
    use ErrorCode as C;
    let message = error.message().to_owned();
    let (code, status) = match error.code() {
        C::ImageNotFound | C::BoardNotFound | C::NotFound => (S3ErrorCode::NoSuchKey, None),
        C::QuotaExceeded => (
            S3ErrorCode::Custom("QuotaExceeded".into()),
            Some(axum::http::StatusCode::FORBIDDEN),
        ),
        C::PayloadTooLarge | C::ImageTooLarge => (S3ErrorCode::EntityTooLarge, None),
        C::EmptyUpload
        | C::InvalidUpload
        | C::UnsupportedImage
        | C::ContentTypeMismatch
        | C::InvalidImage
        | C::ValidationFailed
        | C::InvalidText
        | C::BoardNameTaken => (S3ErrorCode::InvalidArgument, None),
        C::RateLimited | C::Overloaded => (S3ErrorCode::SlowDown, None),
        C::DatabaseUnavailable => (S3ErrorCode::ServiceUnavailable, None),
        C::StorageFull => (
            S3ErrorCode::Custom("StorageFull".into()),
            Some(axum::http::StatusCode::INSUFFICIENT_STORAGE),
        ),
        C::Unauthenticated | C::AccountDisabled | C::Forbidden => (S3ErrorCode::AccessDenied, None),
        _ => {
            tracing::error!(error = %format!("{error:#}"), "S3 request failed");
            return S3Error::new(S3ErrorCode::InternalError);
        }
    };
    let mut s3 = S3Error::with_message(code, message);
    if let Some(status) = status {
        s3.set_status_code(status);
    }
    s3
}

/// A database or pool error as S3 reports it.
pub fn from_db(error: impl Into<ApiError>) -> S3Error {
    from_api(error.into())
}

/// A storage error as S3 reports it.
pub fn from_storage(error: object_store::Error) -> S3Error {
    if matches!(error, object_store::Error::NotFound { .. }) {
        return S3Error::new(S3ErrorCode::NoSuchKey);
    }
    from_api(ApiError::internal(error))
}
