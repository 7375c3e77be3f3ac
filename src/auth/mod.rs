//! Authentication: passwords, tokens, sessions, the setup token, login throttling, the request
//! extractors and the `/api/v1/auth` routes.

pub mod cookie;
pub mod extract;
pub mod jwt;
pub mod password;
pub mod ratelimit;
pub mod routes;
pub mod session;
pub mod setup;

pub use extract::{AdminUser, AuthUser, MediaUser};
