//! Serves the built UI (`web.dir`, normally `web/dist`) for every path outside `/api/`, with
//! `index.html` for client-side routes, long caching for hashed assets and a strict CSP.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::app::App;
use crate::error::{ApiError, ErrorCode};

/// The page's own scripts and styles only; images may be blobs (previews) or data URLs; the
/// event socket is same-origin. Inline style attributes are allowed (React sets them).
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
                   form-action 'self'";

/// The router's fallback: JSON 404 under `/api/`, the UI everywhere else.
pub async fn fallback(State(app): State<Arc<App>>, request: Request) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") || path == "/api" {
        return ApiError::new(ErrorCode::NotFound, "no such route").into_response();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return ApiError::new(ErrorCode::MethodNotAllowed, "the UI is read with GET")
            .into_response();
    }
    let dir = &app.config.web.dir;
    let index = dir.join("index.html");
    if !index.is_file() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "The web UI is not built: {} is missing. Run web/scripts/setup.sh (the README's \
                 start command does), or set web.dir. The API is at /api/v1.\n",
                index.display()
            ),
        )
            .into_response();
    }
    let hashed = path.starts_with("/assets/");
    let served = if hashed {
        // A missing hashed asset is a 404, not the page: a stale page must not get HTML as JS.
        ServeDir::new(dir).oneshot(request).await
    } else {
        ServeDir::new(dir)
            .fallback(ServeFile::new(index))
            .oneshot(request)
            .await
    };
    let Ok(response) = served;
    let mut response = response.map(Body::new);
    let cache = if hashed && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    response
}
