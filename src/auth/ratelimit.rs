//! Login throttling: a fixed window per client address (all attempts) and per account (failed
//! attempts), counted in PostgreSQL (`login_throttle`, V13) so that every server process behind
//! one load balancer counts together and a restart forgets nothing. The counting is one
//! upsert in a SECURITY DEFINER function; the runtime login cannot touch the table itself.

use std::time::Duration;

use deadpool_postgres::Pool;

use crate::error::ApiError;

/// Counts events per key within a window and says when a key is over its limit.
pub struct Limiter {
    /// Keeps the address and account counts apart in the one table.
    scope: &'static str,
    limit: u32,
    window: Duration,
}

impl Limiter {
    /// A limiter allowing `limit` events per `window` for each key of `scope`.
    pub fn new(scope: &'static str, limit: u32, window: Duration) -> Self {
        Self {
            scope,
            limit,
            window,
        }
    }

    /// Counts one event for `key` and says whether it may proceed: None if it is within the
    /// limit, or the seconds until it may try again. Check and count are one statement, so
    /// parallel requests (to any process) cannot all slip through before any is counted.
    pub async fn hit(&self, db: &Pool, key: &str) -> Result<Option<u64>, ApiError> {
        let client = db.get().await?;
        let stmt = client
            .prepare_cached("select auth_throttle_hit($1, $2, $3)")
            .await?;
        let limit = i32::try_from(self.limit).unwrap_or(i32::MAX);
        let wait: i32 = client
            .query_one(&stmt, &[&self.key(key), &limit, &self.window.as_secs_f64()])
            .await?
            .get(0);
        Ok((wait > 0).then(|| u64::try_from(wait).unwrap_or(1)))
    }

    /// Forgets `key` (after a successful login).
    pub async fn clear(&self, db: &Pool, key: &str) -> Result<(), ApiError> {
        let client = db.get().await?;
        let stmt = client
            .prepare_cached("select auth_throttle_clear($1)")
            .await?;
        client.execute(&stmt, &[&self.key(key)]).await?;
        Ok(())
    }

    /// The stored key: the scope and a hash of the key, so any input (an email with a NUL, an
    /// absurdly long one) is a valid, bounded text key.
    fn key(&self, key: &str) -> String {
        format!("{}:{}", self.scope, blake3::hash(key.as_bytes()).to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped_hashed_and_bounded() {
        let account = Limiter::new("account", 3, Duration::from_secs(60));
        let address = Limiter::new("address", 3, Duration::from_secs(60));
        let key = account.key("a@example.com");
        assert!(key.starts_with("account:") && key.len() == "account:".len() + 64);
        assert_ne!(account.key("a@example.com"), account.key("b@example.com"));
        assert!(address.key("a@example.com").starts_with("address:"));
        let hostile = account.key(&format!("nul\u{0}{}", "é".repeat(10_000)));
        assert!(!hostile.contains('\0') && hostile.len() == key.len());
    }
}
