//! The one error type at the HTTP edge.
//!
//! Policy (after crates.io's `util/errors.rs`):
//! - Modules return their narrowest error (`tokio_postgres::Error`, `anyhow::Error` in the CLI).
//! - Handlers return [`ApiError`], which carries a stable [`ErrorCode`]. The HTTP status comes
//!   from the code, in one place. The body is always `{"error":{"code":"…","message":"…"}}`.
//! - Internal errors answer the fixed message "internal error"; the cause is logged once, here.
//! - A row hidden by row-level security is indistinguishable from a missing one: 404.
//!
//! Every code is listed in `docs/errors.md`.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Stable, machine-readable error codes. Renaming one is a breaking API change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No valid token, or its session was revoked or expired.
    Unauthenticated,
    /// Wrong email or password.
    InvalidCredentials,
    /// The account is deactivated.
    AccountDisabled,
    /// Authenticated, but not allowed (for example, not an admin).
    Forbidden,
    /// The current password given to change the password is wrong.
    WrongPassword,
    /// No such route or resource.
    NotFound,
    /// No such user (or not visible to the caller).
    UserNotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The request body is not valid JSON or lacks fields.
    InvalidJson,
    /// A field has an invalid value.
    ValidationFailed,
    /// A model URL that the server will not fetch (not http(s), or not a public address).
    ModelUrlRefused,
    /// Single-user mode: the request came from another web site, or names a host this server
    /// does not answer to.
    ForeignOrigin,
    /// A generation would need more working memory than the workers allow.
    JobTooLarge,
    /// The caller holds as many live-event sockets as allowed.
    TooManyConnections,
    /// The caller has as many unfinished queue items as allowed.
    QueueFull,
    /// Text in the request holds the NUL character (U+0000), which no stored text may hold.
    InvalidText,
    /// The new password does not meet the password policy.
    WeakPassword,
    /// Another account already uses this email.
    EmailTaken,
    /// The change would leave no active admin.
    LastAdmin,
    /// The internal system user cannot be changed this way.
    SystemUserProtected,
    /// Setup was already completed: an admin exists.
    SetupAlreadyDone,
    /// The setup token is wrong.
    InvalidSetupToken,
    /// The operation exists only in multiuser mode.
    MultiuserDisabled,
    /// No such board (or not visible to the caller).
    BoardNotFound,
    /// No such image (or not visible to the caller).
    ImageNotFound,
    /// The caller already has a board with this name.
    BoardNameTaken,
    /// The upload would exceed the owner's storage quota.
    QuotaExceeded,
    /// The multipart body is malformed or lacks the `file` part.
    InvalidUpload,
    /// The uploaded file is empty.
    EmptyUpload,
    /// The file is not a PNG, JPEG or WebP image.
    UnsupportedImage,
    /// The declared content type does not match the file.
    ContentTypeMismatch,
    /// The image is truncated or corrupt.
    InvalidImage,
    /// The image has too many pixels (checked before decoding).
    ImageTooLarge,
    /// The Range header cannot be satisfied.
    RangeNotSatisfiable,
    /// No such queue item.
    QueueItemNotFound,
    /// The queue item is another user's (it is listed, so this is not hidden).
    QueueItemNotOwned,
    /// The queue item already finished.
    QueueItemFinished,
    /// Only failed or canceled items can be retried.
    QueueItemNotRetryable,
    /// No such model in the catalogue.
    ModelNotFound,
    /// The same file (by content hash) is installed already.
    ModelDuplicate,
    /// Another model has this name.
    ModelNameTaken,
    /// Queued or running jobs use the model; delete with `force` to cancel them.
    ModelInUse,
    /// A pickle checkpoint (`.ckpt`, `.pt`, `.bin`) or another format we do not load.
    ModelUnsupportedFormat,
    /// The file is truncated or its header is inconsistent.
    ModelCorrupt,
    /// A valid file, but not a model this server can run.
    ModelUnrecognized,
    /// An install path outside the configured models directories.
    ModelPathOutside,
    /// Downloading the model's URL failed.
    ModelDownloadFailed,
    /// No such worker has reported.
    WorkerNotFound,
    /// No such S3 access key (or not the caller's).
    S3KeyNotFound,
    /// The user holds as many S3 access keys as allowed; revoke one first.
    TooManyKeys,
    /// The worker is still reporting, so forgetting it would not last.
    WorkerOnline,
    /// Too many attempts; see Retry-After.
    RateLimited,
    /// The request body is too large.
    PayloadTooLarge,
    /// The server is temporarily out of capacity (for example, database connections).
    Overloaded,
    /// The database cannot be reached now (it is restarting or down); see Retry-After.
    DatabaseUnavailable,
    /// The disk (of the object store or of the database) is full.
    StorageFull,
    /// A bug or an outage; details are in the server log.
    Internal,
}

impl ErrorCode {
    /// The HTTP status for this code: the only place where the mapping lives.
    pub const fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            Unauthenticated | InvalidCredentials => StatusCode::UNAUTHORIZED,
            AccountDisabled | Forbidden | WrongPassword | InvalidSetupToken
            | SystemUserProtected => StatusCode::FORBIDDEN,
            NotFound | UserNotFound | BoardNotFound | ImageNotFound | QueueItemNotFound => {
                StatusCode::NOT_FOUND
            }
            QueueItemNotOwned => StatusCode::FORBIDDEN,
            QueueItemFinished | QueueItemNotRetryable => StatusCode::CONFLICT,
            ModelNotFound => StatusCode::NOT_FOUND,
            ModelDuplicate | ModelNameTaken | ModelInUse => StatusCode::CONFLICT,
            ModelUnsupportedFormat | ModelCorrupt | ModelUnrecognized | ModelDownloadFailed => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ModelPathOutside | ForeignOrigin | ModelUrlRefused => StatusCode::FORBIDDEN,
            WorkerNotFound | S3KeyNotFound => StatusCode::NOT_FOUND,
            TooManyKeys => StatusCode::CONFLICT,
            WorkerOnline => StatusCode::CONFLICT,
            UnsupportedImage | ContentTypeMismatch => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            InvalidUpload | EmptyUpload | InvalidImage | ImageTooLarge => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            InvalidJson => StatusCode::BAD_REQUEST,
            ValidationFailed | WeakPassword | InvalidText | JobTooLarge => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            EmailTaken | LastAdmin | SetupAlreadyDone | MultiuserDisabled | BoardNameTaken => {
                StatusCode::CONFLICT
            }
            RateLimited | QueueFull | TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            PayloadTooLarge | QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            Overloaded | DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: Cow<'static, str>,
    source: Option<anyhow::Error>,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with a code and a readable message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
            retry_after_secs: None,
        }
    }

    /// An internal error; the cause is logged, never sent.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let source = source.into();
        if let Some(known) = Self::outage(source.as_ref()) {
            return known;
        }
        Self {
            source: Some(source),
            ..Self::new(ErrorCode::Internal, "internal error")
        }
    }

    /// The answer for an error that is an outage of a dependency, not a bug: the database
    /// unreachable, or a disk full. Not logged per request (`db::health` logs outages).
    fn outage(error: &(dyn std::error::Error + 'static)) -> Option<Self> {
        if crate::db::health::is_unavailable(error) {
            return Some(Self::database_unavailable());
        }
        if crate::storage::is_disk_full(error) {
            return Some(Self::new(
                ErrorCode::StorageFull,
                "the server's disk is full: nothing was saved; delete images you no longer                  need or ask the administrator to free space, then try again",
            ));
        }
        None
    }

    /// A 503 while the database cannot be reached.
    pub fn database_unavailable() -> Self {
        Self {
            retry_after_secs: Some(2),
            ..Self::new(
                ErrorCode::DatabaseUnavailable,
                "the database is unavailable right now; try again in a few seconds",
            )
        }
    }

    /// A 429 with a Retry-After header.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(ErrorCode::RateLimited, "too many attempts; try again later")
        }
    }

    /// 401: no valid session.
    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "authentication required")
    }

    /// 422 with a message naming the bad field.
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message)
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source:#}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ApiError {}

/// Marks a response refused because the database is unavailable, so the HTTP layer can count
/// refusals for the outage's log line instead of logging each.
#[derive(Clone, Copy, Debug)]
pub struct RefusedForDatabase;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: ErrorCode,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            tracing::error!(code = ?self.code, error = ?source, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
            },
        };
        let mut response = (self.code.status(), Json(body)).into_response();
        if self.code == ErrorCode::DatabaseUnavailable {
            response.extensions_mut().insert(RefusedForDatabase);
        }
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(error: tokio_postgres::Error) -> Self {
        // A NUL in text or in a jsonb string: the extractors refuse it first; this catches a
        // path or header that reached SQL some other way, so it is still the client's mistake.
        if let Some(code) = error.code()
            && (*code == tokio_postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE
                || *code == tokio_postgres::error::SqlState::UNTRANSLATABLE_CHARACTER)
        {
            return crate::http::extract::nul_error();
        }
        if let Some(known) = Self::outage(&error) {
            return known;
        }
        if error.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) {
            return Self {
                source: Some(error.into()),
                ..Self::new(ErrorCode::Overloaded, "the database is busy; try again")
            };
        }
        Self::internal(error)
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        if let Some(known) = Self::outage(&error) {
            return known;
        }
        Self {
            source: Some(error.into()),
            ..Self::new(ErrorCode::Overloaded, "the server is busy; try again")
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                Self::new(ErrorCode::ValidationFailed, e.body_text())
            }
            JsonRejection::BytesRejection(_) => {
                Self::new(ErrorCode::PayloadTooLarge, "the request body is too large")
            }
            other => Self::new(ErrorCode::InvalidJson, other.body_text()),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Self::new(ErrorCode::ValidationFailed, rejection.body_text())
    }
}

/// Maps a database error raised by a named constraint, or with a given SQLSTATE, to an API
/// error; anything else is internal. Every constraint is named in SQL for this reason.
pub fn on_db_error(
    error: tokio_postgres::Error,
    map: &[(&str, ErrorCode, &'static str)],
) -> ApiError {
    let Some(db) = error.as_db_error() else {
        return error.into();
    };
    for (key, code, message) in map {
        if db.constraint() == Some(key) || db.code().code() == *key {
            return ApiError::new(*code, *message);
        }
    }
    error.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_error_code_maps_to_a_4xx_status() {
        for code in [
            ErrorCode::Unauthenticated,
            ErrorCode::LastAdmin,
            ErrorCode::RateLimited,
        ] {
            assert!(code.status().is_client_error());
        }
        assert_eq!(
            ErrorCode::Internal.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn codes_serialize_as_snake_case() {
        let json = serde_json::to_string(&ErrorCode::SetupAlreadyDone).unwrap();
        assert_eq!(json, "\"setup_already_done\"");
    }
}
