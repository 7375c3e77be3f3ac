//! Login throttling: a fixed window per client address (all attempts) and per account (failed
//! attempts). In memory, per process; bounded in size so a flood of keys cannot exhaust memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_KEYS: usize = 100_000;

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// Counts events per key within a window and says when a key is over its limit.
pub struct Limiter {
    limit: u32,
    window: Duration,
    // std Mutex: held for a map lookup only, never across an await.
    entries: Mutex<HashMap<String, Window>>,
}

impl Limiter {
    /// A limiter allowing `limit` events per `window` for each key.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key` may try again, or None if it is under the limit.
    pub fn blocked_for(&self, key: &str, now: Instant) -> Option<u64> {
        let entries = self.entries.lock().expect("limiter lock is never poisoned");
        let entry = entries.get(key)?;
        let elapsed = now.saturating_duration_since(entry.started);
        if elapsed >= self.window || entry.count < self.limit {
            return None;
        }
        Some((self.window - elapsed).as_secs().max(1))
    }

    /// Records one event for `key`.
    pub fn record(&self, key: &str, now: Instant) {
        let mut entries = self.entries.lock().expect("limiter lock is never poisoned");
        if entries.len() >= MAX_KEYS {
            let window = self.window;
            entries.retain(|_, w| now.saturating_duration_since(w.started) < window);
        }
        let entry = entries.entry(key.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.saturating_duration_since(entry.started) >= self.window {
            *entry = Window {
                started: now,
                count: 0,
            };
        }
        entry.count = entry.count.saturating_add(1);
    }

    /// Forgets `key` (after a successful login).
    pub fn clear(&self, key: &str) {
        self.entries
            .lock()
            .expect("limiter lock is never poisoned")
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_blocked_after_the_limit_until_the_window_ends() {
        let limiter = Limiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.blocked_for("a", t0), None);
            limiter.record("a", t0);
        }
        assert_eq!(
            limiter.blocked_for("a", t0 + Duration::from_secs(10)),
            Some(50)
        );
        assert_eq!(
            limiter.blocked_for("b", t0),
            None,
            "other keys are unaffected"
        );
        assert_eq!(limiter.blocked_for("a", t0 + Duration::from_secs(61)), None);
        limiter.clear("a");
        assert_eq!(limiter.blocked_for("a", t0), None);
    }
}
