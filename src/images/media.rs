//! Serving image bytes: streamed from the object store with Content-Type, ETag, Cache-Control,
//! conditional requests and single byte ranges. The caller has already found the record under
//! row-level security; this module never decides who may read what.

use std::ops::Range;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use object_store::path::Path;

use crate::app::App;
use crate::error::{ApiError, ErrorCode};

/// What to send.
pub struct Media<'a> {
    /// The object key.
    pub key: Path,
    /// The Content-Type.
    pub content_type: &'a str,
    /// A strong validator; images never change, so their id is enough.
    pub etag: String,
    /// The object size when known (full images), enabling Range support.
    pub size: Option<u64>,
}

/// Streams `media`, honouring If-None-Match and (when the size is known) Range.
pub async fn respond(
    app: &App,
    media: Media<'_>,
    request: &HeaderMap,
) -> Result<Response, ApiError> {
    let etag = HeaderValue::from_str(&media.etag).map_err(ApiError::internal)?;
    if request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return base(StatusCode::NOT_MODIFIED, &media, etag)
            .body(Body::empty())
            .map_err(ApiError::internal);
    }
    let range = match (
        media.size,
        request.get(header::RANGE).and_then(|v| v.to_str().ok()),
    ) {
        (Some(size), Some(value)) => parse_range(value, size)?,
        _ => None,
    };
    let result = app
        .storage
        .get(&media.key, range.clone())
        .await
        .map_err(|error| match error {
            object_store::Error::NotFound { .. } => {
                tracing::error!(key = %media.key, "a visible record points at missing bytes");
                ApiError::new(ErrorCode::ImageNotFound, "image not found")
            }
            other => ApiError::internal(other),
        })?;
    let total = result.meta.size;
    let status = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut builder = base(status, &media, etag);
    match &range {
        Some(r) => {
            builder = builder
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {}-{}/{total}", r.start, r.end - 1),
                )
                .header(header::CONTENT_LENGTH, r.end - r.start);
        }
        None => builder = builder.header(header::CONTENT_LENGTH, total),
    }
    builder
        .body(Body::from_stream(result.into_stream()))
        .map_err(ApiError::internal)
}

fn base(status: StatusCode, media: &Media<'_>, etag: HeaderValue) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, media.content_type)
        .header(header::ETAG, etag)
        // Private: the bytes are one user's. Immutable: an image id never gets other bytes.
        .header(
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        )
        .header(header::ACCEPT_RANGES, "bytes")
        .header("x-content-type-options", "nosniff")
}

/// Parses one `bytes=` range against `size`. Multiple or malformed ranges are ignored (the whole
/// object is sent, as RFC 9110 allows); a range past the end is a 416.
fn parse_range(value: &str, size: u64) -> Result<Option<Range<u64>>, ApiError> {
    let Some(spec) = value.strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let unsatisfiable = || {
        ApiError::new(
            ErrorCode::RangeNotSatisfiable,
            format!("the range is outside 0-{size}"),
        )
    };
    let range = match (start.parse::<u64>().ok(), end.parse::<u64>().ok()) {
        (Some(start), Some(end)) if start <= end => start..end.saturating_add(1).min(size),
        (Some(start), None) if end.is_empty() => start..size,
        (None, Some(suffix)) if start.is_empty() && suffix > 0 => size.saturating_sub(suffix)..size,
        _ => return Ok(None),
    };
    if range.start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), Some(0..10));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), Some(90..100));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), Some(90..100));
        assert_eq!(parse_range("bytes=50-500", 100).unwrap(), Some(50..100));
        assert_eq!(parse_range("bytes=0-1,5-6", 100).unwrap(), None);
        assert_eq!(parse_range("items=0-1", 100).unwrap(), None);
        assert_eq!(parse_range("bytes=9-1", 100).unwrap(), None);
        assert_eq!(
            parse_range("bytes=0-18446744073709551615", 100).unwrap(),
            Some(0..100)
        );
        assert_eq!(
            parse_range("bytes=100-", 100).unwrap_err().code(),
            ErrorCode::RangeNotSatisfiable
        );
    }
}
