//! Invalidations made while Redis was unreachable, remembered (bounded) so they can be
//! replayed before Redis serves again: an entry deleted or rewritten during an outage must
//! not be read back stale from Redis afterwards.
//!
//! The replay can be switched off ([`PendingInvalidations::off`], scenario
//! `cache.replay_invalidations = false`): a test and drill knob that lets stale values
//! survive an outage, so a drill can show the stale-read checker catching them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// What to delete in Redis on recovery.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Backlog {
    /// Keys (without the store prefix) and the generation they were remembered at.
    pub keys: HashMap<String, u64>,
    /// Glob patterns (without the store prefix).
    pub patterns: Vec<String>,
}

/// A bounded set of pending invalidations.
#[derive(Debug)]
pub struct PendingInvalidations {
    max_keys: usize,
    /// False when replay is switched off: nothing is remembered, so nothing is replayed.
    enabled: bool,
    /// Set when anything is pending: read on every Redis call, so it must be cheap.
    any: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    backlog: Backlog,
    generation: u64,
    dropped: u64,
}

impl PendingInvalidations {
    /// Remembers at most `max_keys` keys; past that, the whole prefix is invalidated
    /// (pattern `*`) when `whole_prefix_ok`, else the oldest are dropped and counted.
    pub fn new(max_keys: usize) -> Self {
        PendingInvalidations {
            max_keys,
            enabled: true,
            any: AtomicBool::new(false),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Remembers nothing: invalidations made during an outage are never replayed (and the
    /// fallback, cleared only by a replay, keeps what the outage wrote). For drills only.
    pub fn off() -> Self {
        PendingInvalidations {
            enabled: false,
            ..Self::new(0)
        }
    }

    /// False when replay is switched off.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when something waits to be replayed.
    #[inline]
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Remembers that `key` must be deleted in Redis. When the bound is reached and
    /// `whole_prefix_ok` (the store has a non-empty prefix of its own), everything under the
    /// prefix is scheduled instead; otherwise the key is dropped and counted.
    pub fn remember_key(&self, key: &str, whole_prefix_ok: bool) {
        if !self.enabled {
            return;
        }
        let mut inner = self.lock();
        inner.generation += 1;
        let generation = inner.generation;
        if inner.backlog.patterns.iter().any(|p| p == "*") {
            // Everything is going to be invalidated anyway.
        } else if inner.backlog.keys.len() < self.max_keys || inner.backlog.keys.contains_key(key) {
            inner.backlog.keys.insert(key.to_string(), generation);
        } else if whole_prefix_ok {
            inner.backlog.keys.clear();
            inner.backlog.patterns = vec!["*".to_string()];
        } else {
            inner.dropped += 1;
            tracing::warn!("invalidation backlog full: {key} will not be replayed");
        }
        self.any.store(true, Ordering::Release);
    }

    /// Remembers that every key matching `pattern` must be deleted in Redis.
    pub fn remember_pattern(&self, pattern: &str) {
        if !self.enabled {
            return;
        }
        let mut inner = self.lock();
        if !inner
            .backlog
            .patterns
            .iter()
            .any(|p| p == pattern || p == "*")
        {
            inner.backlog.patterns.push(pattern.to_string());
        }
        self.any.store(true, Ordering::Release);
    }

    /// A copy of what is pending.
    pub fn snapshot(&self) -> Backlog {
        self.lock().backlog.clone()
    }

    /// Forgets what `replayed` covered, except keys remembered again since.
    pub fn settle(&self, replayed: &Backlog) {
        let mut inner = self.lock();
        for (key, generation) in &replayed.keys {
            if inner.backlog.keys.get(key) == Some(generation) {
                inner.backlog.keys.remove(key);
            }
        }
        inner
            .backlog
            .patterns
            .retain(|p| !replayed.patterns.contains(p));
        let empty = inner.backlog.keys.is_empty() && inner.backlog.patterns.is_empty();
        self.any.store(!empty, Ordering::Release);
    }

    /// Keys that could not be remembered because the backlog was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Keys and patterns waiting.
    pub fn len(&self) -> usize {
        let inner = self.lock();
        inner.backlog.keys.len() + inner.backlog.patterns.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_keeps_keys_remembered_again_during_replay() {
        let p = PendingInvalidations::new(10);
        p.remember_key("a", true);
        p.remember_key("b", true);
        let snap = p.snapshot();
        p.remember_key("a", true); // re-invalidated while replaying
        p.settle(&snap);
        assert!(p.any());
        assert_eq!(p.snapshot().keys.keys().collect::<Vec<_>>(), ["a"]);
        let snap = p.snapshot();
        p.settle(&snap);
        assert!(!p.any());
    }

    #[test]
    fn overflow_invalidates_the_whole_prefix_when_allowed() {
        let p = PendingInvalidations::new(2);
        for k in ["a", "b", "c"] {
            p.remember_key(k, true);
        }
        let b = p.snapshot();
        assert!(b.keys.is_empty());
        assert_eq!(b.patterns, ["*"]);
    }

    #[test]
    fn overflow_without_a_prefix_drops_and_counts() {
        let p = PendingInvalidations::new(2);
        for k in ["a", "b", "c"] {
            p.remember_key(k, false);
        }
        assert_eq!(p.snapshot().keys.len(), 2);
        assert_eq!(p.dropped(), 1);
    }

    #[test]
    fn switched_off_it_remembers_nothing() {
        let p = PendingInvalidations::off();
        p.remember_key("a", true);
        p.remember_pattern("x:*");
        assert!(!p.any());
        assert!(p.is_empty());
        assert!(!p.enabled());
    }

    #[test]
    fn patterns_are_deduplicated() {
        let p = PendingInvalidations::new(2);
        p.remember_pattern("x:*");
        p.remember_pattern("x:*");
        assert_eq!(p.len(), 1);
    }
}
