//! `MemoryStore`: the in-memory fallback that serves while Redis is unreachable (the guide's
//! "Option 4"). Per-entry TTL, bounded by total bytes with moka's eviction (TinyLFU), and
//! pattern delete with Redis glob syntax.

use super::error::OpError;
use moka::sync::Cache;
use moka::Expiry;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default byte bound of the fallback.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The guide's warning for running without Redis, in redline's words.
pub const NO_REDIS_WARNING: &str =
    "⚠️  No REDIS_URL configured: redline is using the in-memory fallback. Data is per-process, \
     lost on restart and bounded in size: NOT for production.";

#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Option<Duration>,
}

struct EntryTtl;

impl Expiry<Arc<str>, Entry> for EntryTtl {
    fn expire_after_create(&self, _key: &Arc<str>, e: &Entry, _now: Instant) -> Option<Duration> {
        e.ttl
    }

    fn expire_after_update(
        &self,
        _key: &Arc<str>,
        e: &Entry,
        _now: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        e.ttl
    }
}

/// A bounded in-memory key/value store with TTLs.
#[derive(Clone)]
pub struct MemoryStore {
    cache: Cache<Arc<str>, Entry>,
    max_bytes: u64,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_bytes", &self.max_bytes)
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BYTES)
    }
}

/// Bytes an entry is charged: key + value + a fixed overhead, so that many tiny entries
/// are bounded too.
fn weight(key: &str, value: &[u8]) -> u64 {
    key.len() as u64 + value.len() as u64 + 64
}

impl MemoryStore {
    /// A store holding at most `max_bytes` of keys and values.
    pub fn new(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &Arc<str>, e: &Entry| {
                u32::try_from(weight(k, &e.value)).unwrap_or(u32::MAX)
            })
            .expire_after(EntryTtl)
            .build();
        MemoryStore { cache, max_bytes }
    }

    /// A store without Redis behind it: logs the guide's warning.
    pub fn standalone(max_bytes: u64) -> Self {
        tracing::warn!("{NO_REDIS_WARNING}");
        Self::new(max_bytes)
    }

    /// The byte bound.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The value under `key`, if present and not expired.
    #[inline]
    pub fn get(&self, key: &str) -> Option<Arc<[u8]>> {
        self.cache.get(key).map(|e| e.value)
    }

    /// Stores `value` under `key` for `ttl` (None: until evicted). A value larger than the
    /// whole bound is refused rather than silently dropped.
    pub fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), OpError> {
        let size = weight(key, value);
        if size > self.max_bytes {
            return Err(OpError::TooLarge {
                size,
                bound: self.max_bytes,
            });
        }
        self.cache.insert(
            Arc::from(key),
            Entry {
                value: Arc::from(value),
                ttl,
            },
        );
        Ok(())
    }

    /// Removes `key`; true if it was present.
    pub fn del(&self, key: &str) -> bool {
        self.cache.remove(key).is_some()
    }

    /// Removes every key matching the Redis glob `pattern`; returns how many.
    pub fn del_pattern(&self, pattern: &str) -> u64 {
        let mut removed = 0;
        let matching: Vec<Arc<str>> = self
            .cache
            .iter()
            .filter(|(k, _)| glob_match(pattern.as_bytes(), k.as_bytes()))
            .map(|(k, _)| Arc::clone(&*k))
            .collect();
        for key in matching {
            if self.cache.remove(&*key).is_some() {
                removed += 1;
            }
        }
        removed
    }

    /// Remaining TTL of `key`: `None` if absent, `Some(None)` if it never expires.
    pub fn ttl(&self, key: &str) -> Option<Option<Duration>> {
        self.cache.get(key).map(|e| e.ttl)
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }

    /// Entries and charged bytes, after applying pending evictions.
    pub fn usage(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        (self.cache.entry_count(), self.cache.weighted_size())
    }
}

/// Redis glob matching: `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\` escapes.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star_p, mut star_t) = (None, 0);
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star_p = Some(p);
                    star_t = t;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class_match(pattern, p, text[t]) {
                        if matched {
                            p = next;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == b'[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == text[t] => {
                    p += 2;
                    t += 1;
                    continue;
                }
                b'\\' if p + 1 < pattern.len() => {}
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star_p {
            Some(sp) => {
                p = sp + 1;
                star_t += 1;
                t = star_t;
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[start] == b'['`. Returns whether it
/// matched and the index after the class, or None for an unterminated class.
fn class_match(pattern: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pattern.len() && (pattern[i] != b']' || first) {
        first = false;
        let lo = if pattern[i] == b'\\' && i + 1 < pattern.len() {
            i += 1;
            pattern[i]
        } else {
            pattern[i]
        };
        if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let hi = pattern[i + 2];
            if (lo.min(hi)..=lo.max(hi)).contains(&c) {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    if i >= pattern.len() {
        return None;
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_del() {
        let m = MemoryStore::new(1 << 20);
        assert!(m.get("a").is_none());
        m.set("a", b"1", None).unwrap();
        assert_eq!(&*m.get("a").unwrap(), b"1");
        assert!(m.del("a"));
        assert!(!m.del("a"));
        assert!(m.get("a").is_none());
    }

    #[test]
    fn entries_expire_after_their_ttl() {
        let m = MemoryStore::new(1 << 20);
        m.set("short", b"x", Some(Duration::from_millis(30)))
            .unwrap();
        m.set("long", b"x", Some(Duration::from_secs(60))).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while m.get("short").is_some() {
            assert!(Instant::now() < deadline, "entry never expired");
            std::thread::yield_now();
        }
        assert!(m.get("long").is_some());
    }

    #[test]
    fn total_bytes_stay_bounded() {
        let m = MemoryStore::new(100_000);
        let value = vec![7u8; 1000];
        for i in 0..1000 {
            m.set(&format!("k{i}"), &value, None).unwrap();
        }
        let (_, bytes) = m.usage();
        assert!(bytes <= 100_000, "charged {bytes} bytes");
    }

    #[test]
    fn a_value_larger_than_the_bound_is_refused() {
        let m = MemoryStore::new(1000);
        let err = m.set("big", &[0u8; 2000], None).unwrap_err();
        assert!(
            matches!(err, OpError::TooLarge { bound: 1000, .. }),
            "{err}"
        );
        assert!(m.get("big").is_none());
    }

    #[test]
    fn pattern_delete_removes_only_matches() {
        let m = MemoryStore::new(1 << 20);
        for k in [
            "contacts:workspace:a:1",
            "contacts:workspace:a:2",
            "contacts:workspace:b:1",
        ] {
            m.set(k, b"v", None).unwrap();
        }
        assert_eq!(m.del_pattern("contacts:workspace:a:*"), 2);
        assert!(m.get("contacts:workspace:b:1").is_some());
    }

    #[test]
    fn glob_follows_redis_rules() {
        let g = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(g("*", "anything"));
        assert!(g("h?llo", "hello"));
        assert!(!g("h?llo", "hllo"));
        assert!(g("h[ae]llo", "hallo"));
        assert!(!g("h[ae]llo", "hillo"));
        assert!(g("h[^e]llo", "hallo"));
        assert!(!g("h[^e]llo", "hello"));
        assert!(g("h[a-c]llo", "hbllo"));
        assert!(g("a*b*c", "a-x-b-y-c"));
        assert!(!g("a*b*c", "a-x-b-y-d"));
        assert!(g("a\\*", "a*"));
        assert!(!g("a\\*", "ab"));
        assert!(g("prefix:*", "prefix:"));
    }
}
