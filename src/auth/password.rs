//! Password hashing (argon2id, PHC strings) off the async threads, the dummy verification that
//! hides which emails exist, and the password policy.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::{ApiError, ErrorCode};

/// The shortest password accepted.
pub const MIN_LEN: usize = 10;
/// The longest password accepted (bounds the hashing cost an attacker can ask for).
pub const MAX_LEN: usize = 256;

/// Checks a new password against the policy; the message says what is wrong.
pub fn check_policy(password: &str, email: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    let weak = |msg: &'static str| Err(ApiError::new(ErrorCode::WeakPassword, msg));
    if chars < MIN_LEN {
        return weak("the password must have at least 10 characters");
    }
    if chars > MAX_LEN {
        return weak("the password must have at most 256 characters");
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return weak("the password must use at least 4 different characters");
    }
    let lowered = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lowered.contains(email) || (local.len() >= 4 && lowered.contains(local)) {
        return weak("the password must not contain the email address");
    }
    Ok(())
}

/// Hashes `password` with argon2id on a blocking thread.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

/// Hashes on the calling thread; for the CLI and for building the dummy hash.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(anyhow::Error::msg)?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(anyhow::Error::msg)?;
    Ok(hash.to_string())
}

/// Verifies `password` against a PHC hash on a blocking thread. With no hash (unknown account),
/// verifies against `dummy` so the response takes as long as for a real account, then fails.
pub async fn verify(password: String, hash: Option<String>, dummy: &str) -> anyhow::Result<bool> {
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| dummy.to_owned());
    let ok = tokio::task::spawn_blocking(move || verify_blocking(&password, &hash)).await??;
    Ok(ok && known)
}

fn verify_blocking(password: &str, hash: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(hash).map_err(anyhow::Error::msg)?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_own_password() {
        let hash = hash_blocking("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse battery", &hash).unwrap());
        assert!(!verify_blocking("correct horse battery!", &hash).unwrap());
    }

    #[test]
    fn the_policy_explains_what_is_wrong() {
        let code = |p: &str| {
            check_policy(p, "joe@example.com")
                .err()
                .map(|e| e.message().to_owned())
        };
        assert_eq!(
            code("short"),
            Some("the password must have at least 10 characters".into())
        );
        assert!(code("aaaaaaaaaaaa").unwrap().contains("4 different"));
        assert!(code("my-joe@example.com").unwrap().contains("email"));
        assert_eq!(code("a fine passphrase"), None);
        assert!(code(&"ab1!".repeat(100)).unwrap().contains("at most"));
    }
}
