//! Extractors that answer rejections in our JSON error format, and the one place where client
//! text is checked for U+0000 before it can reach PostgreSQL (which stores no NUL in `text` or
//! `jsonb`, and would answer a 500 instead of a client error).

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// `axum::Json`, but a malformed body is an [`ApiError`] (`invalid_json` / `validation_failed`),
/// and a body with a NUL character anywhere in a string or key is `invalid_text`.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(JsonRejection::from(
                axum::extract::rejection::MissingJsonContentType::default(),
            )
            .into());
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|_| {
            ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
        })?;
        if json_has_nul(&bytes) {
            return Err(nul_error());
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Self(value))
    }
}

/// `axum::extract::Query`, but a malformed query string is a `validation_failed` error and a
/// NUL character (`%00`) in it is `invalid_text`.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if query_has_nul(parts.uri.query().unwrap_or_default()) {
            return Err(nul_error());
        }
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

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

/// The error for text holding U+0000.
pub fn nul_error() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidText,
        "text may not contain the NUL character (U+0000)",
    )
}

/// Refuses a NUL character in a piece of text that did not come through [`AppJson`] (a path
/// segment, a header, a file name).
pub fn check_text(text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(nul_error());
    }
    Ok(())
}

/// `application/json` or any `+json` type, as `axum::Json` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// Whether a JSON text holds U+0000 in a string: JSON can only write it as the escape `\u0000`
/// (raw control characters are invalid, and the parser refuses them). An escaped backslash
/// followed by `u0000` is text, not NUL, so escapes are walked pair by pair.
pub fn json_has_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json[i + 1..].starts_with(b"u0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Whether a raw query string decodes to text with U+0000 (`%00`).
fn query_has_nul(query: &str) -> bool {
    query.as_bytes().windows(3).any(|w| w == b"%00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not() {
        assert!(json_has_nul(br#"{"a":"x\u0000y"}"#));
        assert!(json_has_nul(br#"{"\u0000":1}"#));
        assert!(json_has_nul(br#"{"a":"\\\u0000"}"#));
        assert!(!json_has_nul(br#"{"a":"\\u0000"}"#));
        assert!(!json_has_nul(br#"{"a":"\u0001 \n"}"#));
        assert!(!json_has_nul(b"\\"));
        // Every escape that serde_json writes for a string with NUL is found.
        let written = serde_json::to_vec(&serde_json::json!({"k\0": ["v\0"]})).unwrap();
        assert!(json_has_nul(&written));
    }

    #[test]
    fn nul_in_a_query_is_found() {
        assert!(query_has_nul("name=a%00b"));
        assert!(!query_has_nul("name=a%200"));
    }

    #[test]
    fn json_content_types() {
        let headers = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            h
        };
        assert!(is_json(&headers("application/json")));
        assert!(is_json(&headers("application/json; charset=utf-8")));
        assert!(is_json(&headers("application/merge-patch+json")));
        assert!(!is_json(&headers("text/plain")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
