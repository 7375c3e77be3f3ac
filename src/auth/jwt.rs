//! Access tokens: HS256 JWTs that name a user and a server-side session. A token proves identity
//! only; admin rights and liveness are re-read from the database on every request.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const AUDIENCE: &str = "atelier";
/// The audience of event-socket tickets: they open `/api/v1/events` and nothing else.
const TICKET_AUDIENCE: &str = "atelier-events";
/// The audience of media tokens (the media cookie): they read image bytes and nothing else.
const MEDIA_AUDIENCE: &str = "atelier-media";

/// What a token says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The session id (`sessions.id`); deleting that row revokes the token.
    pub sid: Uuid,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// "atelier" (access tokens), "atelier-events" (tickets) or "atelier-media" (the cookie).
    pub aud: String,
    /// A ticket's own id: each ticket opens one socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<Uuid>,
}

/// Signing and verification keys built from the secret; kept in `App`, never global.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ticket_validation: Validation,
    media_validation: Validation,
}

impl Keys {
    /// Keys from a shared secret.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        validation.leeway = 5;
        let mut ticket_validation = validation.clone();
        ticket_validation.set_audience(&[TICKET_AUDIENCE]);
        ticket_validation.leeway = 0;
        let mut media_validation = validation.clone();
        media_validation.set_audience(&[MEDIA_AUDIENCE]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ticket_validation,
            media_validation,
        }
    }

    /// Signs a token for `user` and `session`, valid until `expires_at` (epoch seconds).
    pub fn issue(
        &self,
        user: Uuid,
        session: Uuid,
        issued_at: i64,
        expires_at: i64,
    ) -> anyhow::Result<String> {
        self.sign(user, session, issued_at, expires_at, AUDIENCE)
    }

    /// Signs a short-lived ticket that opens the event socket for `session` (browsers cannot
    /// set headers on a WebSocket upgrade). A ticket is not an access token.
    pub fn issue_ticket(
        &self,
        user: Uuid,
        session: Uuid,
        issued_at: i64,
        expires_at: i64,
    ) -> anyhow::Result<String> {
        self.sign(user, session, issued_at, expires_at, TICKET_AUDIENCE)
    }

    /// Signs a media token for `session`: what the media cookie carries, so that a cookie that
    /// leaks (a proxy log, a browser extension) reads images and cannot call the API.
    pub fn issue_media(
        &self,
        user: Uuid,
        session: Uuid,
        issued_at: i64,
        expires_at: i64,
    ) -> anyhow::Result<String> {
        self.sign(user, session, issued_at, expires_at, MEDIA_AUDIENCE)
    }

    /// Verifies a media token.
    pub fn verify_media(&self, token: &str) -> Option<Claims> {
        self.decode(token, &self.media_validation)
    }

    /// The claims of `token` if it passes `validation` (signature, algorithm, audience, expiry).
    fn decode(&self, token: &str, validation: &Validation) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, validation)
            .ok()
            .map(|data| data.claims)
    }

    fn sign(
        &self,
        user: Uuid,
        session: Uuid,
        issued_at: i64,
        expires_at: i64,
        audience: &str,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user,
            sid: session,
            iat: issued_at,
            exp: expires_at,
            aud: audience.into(),
            jti: (audience == TICKET_AUDIENCE).then(Uuid::new_v4),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies an event-socket ticket.
    pub fn verify_ticket(&self, ticket: &str) -> Option<Claims> {
        self.decode(ticket, &self.ticket_validation)
    }

    /// Verifies signature, algorithm, audience and expiry.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        self.decode(token, &self.validation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn tickets_and_tokens_are_not_interchangeable() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef");
        let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
        let ticket = keys.issue_ticket(user, session, now(), now() + 30).unwrap();
        let token = keys.issue(user, session, now(), now() + 30).unwrap();
        assert_eq!(keys.verify_ticket(&ticket).unwrap().sid, session);
        assert!(keys.verify(&ticket).is_none());
        assert!(keys.verify_ticket(&token).is_none());
        let media = keys.issue_media(user, session, now(), now() + 30).unwrap();
        assert_eq!(keys.verify_media(&media).unwrap().sid, session);
        assert!(keys.verify(&media).is_none());
        assert!(keys.verify_media(&token).is_none());
        assert!(keys.verify_media(&ticket).is_none());
    }

    #[test]
    fn a_token_round_trips() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef");
        let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys.issue(user, session, now(), now() + 60).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, session));
    }

    #[test]
    fn expired_and_foreign_tokens_are_rejected() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef");
        let other = Keys::new(b"fedcba9876543210fedcba9876543210");
        let id = Uuid::now_v7();
        assert!(
            keys.verify(&keys.issue(id, id, now() - 120, now() - 60).unwrap())
                .is_none()
        );
        assert!(
            keys.verify(&other.issue(id, id, now(), now() + 60).unwrap())
                .is_none()
        );
        assert!(keys.verify("not.a.token").is_none());
    }
}
