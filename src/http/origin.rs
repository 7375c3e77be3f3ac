//! Browser guards for single-user mode, where every request acts as the local user with admin
//! rights and no login protects anything: a `Host` that is not a loopback address, `localhost`,
//! the listen address or a configured name is refused (DNS rebinding), and a state-changing
//! request or a WebSocket upgrade whose `Origin` is not the server's own is refused (another
//! web page the local user visits). Multiuser mode needs neither: its API takes bearer tokens,
//! which a foreign page cannot send.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::error::{ApiError, ErrorCode};

/// The middleware: passes everything in multiuser mode; applies both checks otherwise.
pub async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if app.config.multiuser {
        return next.run(request).await;
    }
    if let Err(error) = check(&app, request.method(), request.headers()) {
        return error.into_response();
    }
    next.run(request).await
}

fn check(app: &App, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !host_allowed(
        host,
        &app.config.listen.to_string(),
        &app.config.http.allowed_hosts,
    ) {
        return Err(ApiError::new(
            ErrorCode::ForeignOrigin,
            format!(
                "this server does not answer to the host name {host:?}; add it to http.allowed_hosts"
            ),
        ));
    }
    let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let upgrade = headers.contains_key(header::UPGRADE);
    if (changes_state || upgrade) && !origin_allowed(headers, host) {
        return Err(ApiError::new(
            ErrorCode::ForeignOrigin,
            "requests from other web sites are refused in single-user mode",
        ));
    }
    Ok(())
}

/// Whether `host` (the `Host` header, `name[:port]`) is one this server answers to.
pub fn host_allowed(host: &str, listen: &str, allowed: &[String]) -> bool {
    let name = host_name(host);
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return true;
    }
    if host.eq_ignore_ascii_case(listen) {
        return true;
    }
    allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(name))
}

/// The name part of `name[:port]` or `[v6]:port`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// No `Origin` (curl, the CLI, a same-origin GET) passes; otherwise its `host[:port]` must be
/// the request's `Host`. `Sec-Fetch-Site: cross-site` is refused as well.
fn origin_allowed(headers: &HeaderMap, host: &str) -> bool {
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if cross_site {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| a.trim_end_matches('/').eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn hosts() {
        let allowed = vec!["studio.home".to_owned()];
        for host in [
            "127.0.0.1:9090",
            "localhost:9090",
            "[::1]:9090",
            "localhost",
            "studio.home:9090",
        ] {
            assert!(host_allowed(host, "127.0.0.1:9090", &allowed), "{host}");
        }
        assert!(host_allowed("192.168.1.5:9090", "192.168.1.5:9090", &[]));
        for host in [
            "evil.example:9090",
            "127.0.0.1.evil.example",
            "",
            "localhost.evil:9090",
        ] {
            assert!(!host_allowed(host, "127.0.0.1:9090", &allowed), "{host}");
        }
    }

    #[test]
    fn origins() {
        let host = "127.0.0.1:9090";
        assert!(origin_allowed(&headers(&[]), host));
        assert!(origin_allowed(
            &headers(&[("origin", "http://127.0.0.1:9090")]),
            host
        ));
        assert!(!origin_allowed(
            &headers(&[("origin", "http://evil.example")]),
            host
        ));
        assert!(!origin_allowed(&headers(&[("origin", "null")]), host));
        assert!(!origin_allowed(
            &headers(&[("origin", "http://127.0.0.1:9091")]),
            host
        ));
        assert!(!origin_allowed(
            &headers(&[("sec-fetch-site", "cross-site")]),
            host
        ));
    }
}
