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

    /// Counts one event for `key` and says whether it may proceed: None if it is within the
    /// limit, or the seconds until it may try again. Check and count happen under one lock, so
    /// parallel requests cannot all slip through before any of them is counted.
    pub fn hit(&self, key: &str, now: Instant) -> Option<u64> {
        let key = truncate(key);
        let mut entries = self.entries.lock().expect("limiter lock is never poisoned");
        if entries.len() >= MAX_KEYS && !entries.contains_key(key) {
            self.make_room(&mut entries, now);
        }
        let entry = entries.entry(key.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        let elapsed = now.saturating_duration_since(entry.started);
        if elapsed >= self.window {
            *entry = Window {
                started: now,
                count: 0,
            };
        } else if entry.count >= self.limit {
            return Some((self.window - elapsed).as_secs().max(1));
        }
        entry.count += 1;
        None
    }

    /// Drops expired windows, then (if still full) every key that is not blocked, so the map
    /// stays bounded and blocked keys stay blocked.
    fn make_room(&self, entries: &mut HashMap<String, Window>, now: Instant) {
        let (window, limit) = (self.window, self.limit);
        entries.retain(|_, w| now.saturating_duration_since(w.started) < window);
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, w| w.count >= limit);
        }
        if entries.len() >= MAX_KEYS {
            entries.clear();
        }
    }

    /// Forgets `key` (after a successful login).
    pub fn clear(&self, key: &str) {
        self.entries
            .lock()
            .expect("limiter lock is never poisoned")
            .remove(truncate(key));
    }
}

/// Keys are emails or addresses; anything longer is cut, so a key costs bounded memory.
fn truncate(key: &str) -> &str {
    let mut end = key.len().min(256);
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    &key[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_blocked_after_the_limit_until_the_window_ends() {
        let limiter = Limiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.hit("a", t0), None);
        }
        assert_eq!(limiter.hit("a", t0 + Duration::from_secs(10)), Some(50));
        assert_eq!(limiter.hit("b", t0), None, "other keys are unaffected");
        assert_eq!(
            limiter.hit("a", t0 + Duration::from_secs(61)),
            None,
            "a new window"
        );
        limiter.clear("a");
        assert_eq!(limiter.hit("a", t0), None);
    }

    #[test]
    fn the_map_stays_bounded_and_keeps_blocked_keys() {
        let limiter = Limiter::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        limiter.hit("victim", t0);
        for i in 0..(MAX_KEYS + 10) {
            limiter.hit(&format!("k{i}"), t0);
        }
        let len = limiter.entries.lock().unwrap().len();
        assert!(len <= MAX_KEYS, "{len}");
        assert!(limiter.hit(&"x".repeat(10_000), t0).is_none());
        assert!(
            limiter
                .entries
                .lock()
                .unwrap()
                .keys()
                .all(|k| k.len() <= 256)
        );
    }
}
