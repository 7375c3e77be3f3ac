//! The media cookie: browsers cannot send an Authorization header for `<img>`, so login also
//! sets an HttpOnly, SameSite=Strict cookie scoped to `/api/v1/images` that carries a media
//! token of the session (audience `atelier-media`: it reads image bytes, nothing else). Logout
//! clears it and revokes the session, so a copied URL stops working. It is `Secure` when
//! configured, or when the request came over HTTPS through a trusted proxy.

use axum::http::HeaderValue;

/// The cookie's name.
pub const MEDIA_COOKIE: &str = "atelier_media";
const MEDIA_PATH: &str = "/api/v1/images";

/// A `Set-Cookie` value carrying the media `token` for `max_age` seconds.
pub fn set(token: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{MEDIA_COOKIE}={token}; Path={MEDIA_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&value).expect("a JWT and fixed attributes are valid header text")
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear() -> HeaderValue {
    HeaderValue::from_static(
        "atelier_media=; Path=/api/v1/images; Max-Age=0; HttpOnly; SameSite=Strict",
    )
}
