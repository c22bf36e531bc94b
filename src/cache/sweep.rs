//! Removing keys by pattern: SCAN MATCH + UNLINK, the one implementation in redline (the
//! store's `del_pattern`, the end-of-run cleanup, `redline check` and `redline clean` all
//! come here). Never KEYS, never FLUSHDB: SCAN walks the keyspace in pages without blocking
//! the server, and UNLINK frees values in the background.
//!
//! [`KeyPrefix`] is a literal key prefix checked for use as the only thing a sweep may
//! touch; [`match_pattern`] turns any literal prefix into the SCAN pattern that matches
//! exactly the keys starting with it.

use super::error::OpError;
use super::reply;
use redis::aio::ConnectionLike;
use redis::Value;
use std::future::Future;
use std::time::Duration;

/// Keys per SCAN page (the `COUNT` hint) and per UNLINK when the caller has no preference.
pub const DEFAULT_BATCH: usize = 1000;

/// The characters SCAN MATCH reads as a glob.
const GLOB_METACHARACTERS: [char; 5] = ['*', '?', '[', ']', '\\'];

/// A non-empty literal key prefix without glob metacharacters: what `redline clean` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefix(String);

/// Why a string is not a usable [`KeyPrefix`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// An empty prefix would match every key of the database.
    #[error("the key prefix is empty; it would match every key in the database (give the prefix a run wrote under, e.g. `redline:1a2b3c4d:`)")]
    Empty,
    /// A glob character: the user probably meant a pattern, and it could match more.
    #[error("the key prefix `{prefix}` contains `{found}`: give the literal prefix the keys start with, not a pattern (redline adds the `*`)")]
    Glob { prefix: String, found: char },
}

impl KeyPrefix {
    /// Checks `prefix`.
    pub fn new(prefix: &str) -> Result<KeyPrefix, PrefixError> {
        if prefix.is_empty() {
            return Err(PrefixError::Empty);
        }
        if let Some(found) = prefix.chars().find(|c| GLOB_METACHARACTERS.contains(c)) {
            return Err(PrefixError::Glob {
                prefix: prefix.to_string(),
                found,
            });
        }
        Ok(KeyPrefix(prefix.to_string()))
    }

    /// The prefix itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SCAN pattern matching every key under this prefix.
    pub fn pattern(&self) -> String {
        match_pattern(&self.0)
    }
}

impl std::fmt::Display for KeyPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `prefix` with every glob metacharacter escaped, so it matches only itself in SCAN MATCH.
pub fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if GLOB_METACHARACTERS.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The SCAN pattern for "every key starting with `prefix`", whatever `prefix` contains.
pub fn match_pattern(prefix: &str) -> String {
    let mut pattern = escape_glob(prefix);
    pattern.push('*');
    pattern
}

/// Sends one command and returns its reply, an error reply already turned into an
/// [`OpError`]: a store's connection slot (inside `RedisStore`) or a plain connection
/// ([`Timed`]).
pub trait Send1 {
    /// Sends `cmd`.
    fn send<'s>(
        &'s mut self,
        cmd: &'s redis::Cmd,
    ) -> impl Future<Output = Result<Value, OpError>> + Send + 's;

    /// True when a multi-key command must keep its keys in one hash slot (a cluster node
    /// refuses others with CROSSSLOT).
    fn per_slot(&self) -> bool {
        false
    }
}

/// A plain connection, each command bounded by `timeout`.
pub struct Timed<'a, C> {
    con: &'a mut C,
    timeout: Duration,
}

impl<'a, C: ConnectionLike + Send> Timed<'a, C> {
    /// `con`, each command bounded by `timeout`.
    pub fn new(con: &'a mut C, timeout: Duration) -> Self {
        Timed { con, timeout }
    }
}

impl<C: ConnectionLike + Send> Send1 for Timed<'_, C> {
    fn send<'s>(
        &'s mut self,
        cmd: &'s redis::Cmd,
    ) -> impl Future<Output = Result<Value, OpError>> + Send + 's {
        let timeout = self.timeout;
        let sent = self.con.req_packed_command(cmd);
        async move {
            match tokio::time::timeout(timeout, sent).await {
                Ok(r) => r
                    .and_then(Value::extract_error)
                    .map_err(|e| OpError::from_redis(&e, timeout)),
                Err(_) => Err(OpError::Timeout(timeout)),
            }
        }
    }
}

/// A walk over the keyspace with `SCAN cursor MATCH pattern COUNT batch`, one page at a
/// time, until the cursor returns to 0.
struct Scan<'a> {
    pattern: &'a str,
    batch: usize,
    cursor: u64,
    done: bool,
}

impl<'a> Scan<'a> {
    fn new(pattern: &'a str, batch: usize) -> Self {
        Scan {
            pattern,
            batch: batch.max(10),
            cursor: 0,
            done: false,
        }
    }

    /// The next page of keys (possibly empty), or None when the walk is over.
    async fn next_page<S: Send1>(&mut self, con: &mut S) -> Result<Option<Vec<Vec<u8>>>, OpError> {
        if self.done {
            return Ok(None);
        }
        let mut scan = redis::cmd("SCAN");
        scan.arg(self.cursor)
            .arg("MATCH")
            .arg(self.pattern)
            .arg("COUNT")
            .arg(self.batch);
        let (next, keys) = reply::scan_page(con.send(&scan).await?)?;
        self.cursor = next;
        self.done = next == 0;
        Ok(Some(keys))
    }
}

/// Deletes every key matching `pattern` with SCAN MATCH + UNLINK, `batch` keys at a time;
/// returns how many were removed. `pattern` is used as given: build it with
/// [`match_pattern`] or [`KeyPrefix::pattern`] unless a glob is meant.
pub async fn unlink_matching<S: Send1>(
    con: &mut S,
    pattern: &str,
    batch: usize,
) -> Result<u64, OpError> {
    let mut scan = Scan::new(pattern, batch);
    let mut removed = 0u64;
    while let Some(keys) = scan.next_page(con).await? {
        for chunk in keys.chunks(batch.max(1)) {
            if con.per_slot() {
                for group in super::slots::group_by_slot(chunk) {
                    let mut unlink = redis::cmd("UNLINK");
                    for i in group {
                        unlink.arg(&chunk[i]);
                    }
                    removed += reply::count("UNLINK", con.send(&unlink).await?)?;
                }
                continue;
            }
            let mut unlink = redis::cmd("UNLINK");
            unlink.arg(chunk);
            removed += reply::count("UNLINK", con.send(&unlink).await?)?;
        }
    }
    Ok(removed)
}

/// How many distinct keys match `pattern` (SCAN may return a key twice while the keyspace
/// is rehashing; it is counted once).
pub async fn count_matching<S: Send1>(con: &mut S, pattern: &str) -> Result<u64, OpError> {
    let mut scan = Scan::new(pattern, DEFAULT_BATCH);
    let mut seen = std::collections::HashSet::new();
    while let Some(keys) = scan.next_page(con).await? {
        seen.extend(keys);
    }
    Ok(seen.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_must_be_literal_and_non_empty() {
        assert_eq!(KeyPrefix::new(""), Err(PrefixError::Empty));
        for bad in ["a*", "a?", "run[1]", "x\\y", "*"] {
            assert!(
                matches!(KeyPrefix::new(bad), Err(PrefixError::Glob { .. })),
                "{bad}"
            );
        }
        let p = KeyPrefix::new("redline:1a2b3c4d:").unwrap();
        assert_eq!(p.pattern(), "redline:1a2b3c4d:*");
        assert!(PrefixError::Empty.to_string().contains("every key"));
    }

    #[test]
    fn patterns_escape_glob_characters_of_the_prefix() {
        assert_eq!(match_pattern("app:"), "app:*");
        assert_eq!(match_pattern("a[b]*?\\:"), "a\\[b\\]\\*\\?\\\\:*");
        assert_eq!(match_pattern(""), "*");
    }
}
