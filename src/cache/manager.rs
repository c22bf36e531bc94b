//! `CacheManager`: the guide's cache API in Rust — get, set, del, del_pattern, get_or_set
//! (cache-aside), mget/mset and pipelines — with every Redis call guarded by the circuit
//! breaker and automatic failover to the in-memory fallback.
//!
//! Failover rules:
//! - A call the breaker refuses, or that fails, is served by the [`MemoryStore`]; the caller
//!   sees an error only when the fallback cannot help either (e.g. a value over its bound).
//! - Writes and deletions served by the fallback are remembered ([`PendingInvalidations`])
//!   and replayed in Redis — deleted — before Redis answers again, so nothing invalidated or
//!   rewritten during an outage is read back stale from Redis afterwards.
//! - Once a replay succeeds, the fallback is cleared: it only ever holds the current
//!   outage's writes, so a later outage cannot serve values from an earlier one.

use super::breaker::{BreakerConfig, CircuitBreaker, Permit};
use super::clock::{Clock, SystemClock};
use super::codec::CodecConfig;
use super::counter::Counter;
use super::error::OpError;
use super::health::HealthSnapshot;
use super::invalidation::PendingInvalidations;
use super::memory_store::{MemoryStore, DEFAULT_MAX_BYTES};
use super::redis_store::{Command, RedisStore, Reply};
use super::single_flight::SingleFlight;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod cache_aside;
mod typed;

/// Settings of a manager; defaults are the guide's.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerConfig {
    pub breaker: BreakerConfig,
    /// Codec for the typed API (`get`/`set`/`get_or_set` of serde values).
    pub codec: CodecConfig,
    /// Byte bound of the in-memory fallback.
    pub fallback_max_bytes: u64,
    /// Invalidations remembered during an outage before falling back to invalidating the
    /// store's whole prefix.
    pub max_pending_invalidations: usize,
    /// Keys per SCAN page and per UNLINK in `del_pattern`.
    pub del_pattern_batch: usize,
    /// Concurrent `get_or_set` misses for one key share one load and write-back
    /// ([`SingleFlight`]); off, each miss loads on its own, as the guide's getOrSet does.
    pub single_flight: bool,
    /// Replay invalidations made during an outage before Redis serves again. Only a test
    /// or drill switches it off, to show what the stale-read checker catches without it.
    pub replay_invalidations: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            breaker: BreakerConfig::default(),
            codec: CodecConfig::default(),
            fallback_max_bytes: DEFAULT_MAX_BYTES,
            max_pending_invalidations: 100_000,
            del_pattern_batch: 1000,
            single_flight: false,
            replay_invalidations: true,
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Redis answered.
    Redis,
    /// Redis was refused by the breaker or failed; the fallback answered.
    Fallback,
    /// No Redis is configured: the memory store is the cache.
    Memory,
}

/// The outcome of one operation that did not fail.
#[derive(Debug, Clone)]
pub struct Served<T> {
    pub value: T,
    pub source: Source,
    /// Why Redis did not answer, when the fallback did.
    pub cause: Option<OpError>,
}

impl<T> Served<T> {
    /// The same answer with its value transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Served<U> {
        Served {
            value: f(self.value),
            source: self.source,
            cause: self.cause,
        }
    }

    fn redis(value: T) -> Self {
        Served {
            value,
            source: Source::Redis,
            cause: None,
        }
    }

    fn fallback(value: T, source: Source, cause: Option<OpError>) -> Self {
        Served {
            value,
            source,
            cause,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits: Counter,
    misses: Counter,
    operations: Counter,
    errors: Counter,
    fallback: Counter,
}

/// The cache layer's front door. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct CacheManager {
    inner: Arc<Inner>,
}

struct Inner {
    config: ManagerConfig,
    redis: Option<RedisStore>,
    memory: MemoryStore,
    breaker: CircuitBreaker,
    pending: PendingInvalidations,
    /// Held while replaying, so no call reaches Redis before the replay is done.
    replay_lock: tokio::sync::Mutex<()>,
    /// Loads in progress per key, when `single_flight` is on.
    flights: Option<SingleFlight<Result<Served<Vec<u8>>, OpError>>>,
    counters: Counters,
}

impl std::fmt::Debug for CacheManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheManager")
            .field("redis", &self.inner.redis)
            .field("breaker", &self.inner.breaker)
            .finish()
    }
}

impl CacheManager {
    /// A manager over `redis` (None: memory only, with the guide's warning).
    pub fn new(redis: Option<RedisStore>, config: ManagerConfig) -> Self {
        Self::with_clock(redis, config, Arc::new(SystemClock::new()))
    }

    /// A manager whose breaker reads `clock`.
    pub fn with_clock(
        redis: Option<RedisStore>,
        config: ManagerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let memory = if redis.is_some() {
            MemoryStore::new(config.fallback_max_bytes)
        } else {
            MemoryStore::standalone(config.fallback_max_bytes)
        };
        CacheManager {
            inner: Arc::new(Inner {
                breaker: CircuitBreaker::with_clock(config.breaker.clone(), clock),
                pending: if config.replay_invalidations {
                    PendingInvalidations::new(config.max_pending_invalidations)
                } else {
                    PendingInvalidations::off()
                },
                replay_lock: tokio::sync::Mutex::new(()),
                flights: config.single_flight.then(SingleFlight::new),
                counters: Counters::default(),
                config,
                redis,
                memory,
            }),
        }
    }

    /// The breaker guarding Redis.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.inner.breaker
    }

    /// The fallback store.
    pub fn memory(&self) -> &MemoryStore {
        &self.inner.memory
    }

    /// The Redis store, when configured.
    pub fn redis(&self) -> Option<&RedisStore> {
        self.inner.redis.as_ref()
    }

    /// Invalidations waiting for Redis to come back.
    pub fn pending_invalidations(&self) -> usize {
        self.inner.pending.len()
    }

    /// The guide's `resetCircuitBreaker()`.
    pub fn reset_circuit_breaker(&self) {
        self.inner.breaker.reset();
    }

    /// Asks the breaker to admit one Redis call and replays pending invalidations first.
    /// `Err` means the fallback must serve (the error says why).
    async fn admit(&self) -> Result<(&RedisStore, Permit), OpError> {
        let Some(redis) = &self.inner.redis else {
            return Err(OpError::Connection("no Redis configured".into()));
        };
        let permit = self
            .inner
            .breaker
            .try_acquire()
            .map_err(|_| OpError::BreakerOpen)?;
        if self.inner.pending.any() {
            if let Err(e) = self.replay(redis).await {
                self.report(permit, &e);
                return Err(e);
            }
        }
        Ok((redis, permit))
    }

    /// Runs `call` against Redis through the breaker.
    async fn guarded<'a, T, F, Fut>(&'a self, call: F) -> Result<T, OpError>
    where
        F: FnOnce(&'a RedisStore) -> Fut,
        Fut: Future<Output = Result<T, OpError>>,
    {
        let (redis, permit) = self.admit().await?;
        let result = call(redis).await;
        match &result {
            Ok(_) => self.inner.breaker.on_success(permit),
            Err(e) => self.report(permit, e),
        }
        result
    }

    fn report(&self, permit: Permit, e: &OpError) {
        if e.is_breaker_failure() {
            self.inner.breaker.on_failure(permit, &e.to_string());
        } else {
            self.inner.breaker.on_neutral(permit);
        }
    }

    /// Deletes in Redis whatever was invalidated while it was unreachable, then forgets the
    /// fallback's copies. Callers wait on the lock, so none reads Redis mid-replay.
    async fn replay(&self, redis: &RedisStore) -> Result<(), OpError> {
        let _guard = self.inner.replay_lock.lock().await;
        if !self.inner.pending.any() {
            return Ok(());
        }
        // Calls admitted before the breaker opened wait here one after the other, each
        // replay timing out in turn: once it is open, none of them may touch Redis (a
        // drill's redis_calls_while_open caught them doing so).
        if self.inner.breaker.state() == crate::cache::BreakerState::Open {
            return Err(OpError::BreakerOpen);
        }
        let backlog = self.inner.pending.snapshot();
        let keys: Vec<&str> = backlog.keys.keys().map(String::as_str).collect();
        for chunk in keys.chunks(self.inner.config.del_pattern_batch.max(1)) {
            redis.del(chunk).await?;
        }
        for pattern in &backlog.patterns {
            redis
                .del_pattern(pattern, self.inner.config.del_pattern_batch)
                .await?;
        }
        self.inner.pending.settle(&backlog);
        self.inner.memory.clear();
        tracing::info!(
            "replayed {} invalidation(s) and {} pattern(s) made while Redis was unreachable",
            keys.len(),
            backlog.patterns.len()
        );
        Ok(())
    }

    fn fallback_source(&self) -> Source {
        if self.inner.redis.is_some() {
            Source::Fallback
        } else {
            Source::Memory
        }
    }

    fn count_op(&self) {
        self.inner.counters.operations.incr();
    }

    fn count_read(&self, hit: bool) {
        let c = if hit {
            &self.inner.counters.hits
        } else {
            &self.inner.counters.misses
        };
        c.incr();
    }

    fn count_outcome<T>(&self, r: &Result<Served<T>, OpError>) {
        match r {
            Ok(s) if s.source == Source::Fallback => {
                self.inner.counters.fallback.incr();
            }
            Ok(_) => {}
            Err(_) => {
                self.inner.counters.errors.incr();
            }
        }
    }

    fn whole_prefix_ok(&self) -> bool {
        self.inner
            .redis
            .as_ref()
            .is_some_and(|r| !r.config().key_prefix.is_empty())
    }

    /// Stores a write in the fallback and remembers to invalidate it in Redis.
    fn write_fallback(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), OpError> {
        if self.inner.redis.is_some() {
            self.inner.pending.remember_key(key, self.whole_prefix_ok());
        }
        self.inner.memory.set(key, value, ttl)
    }

    // ---- byte-level API: values are stored as given (already encoded) ----

    /// GET: the stored bytes under `key`.
    pub async fn get_bytes(&self, key: &str) -> Result<Served<Option<Vec<u8>>>, OpError> {
        self.count_op();
        let r = match self.guarded(|r| r.get(key)).await {
            Ok(v) => Ok(Served::redis(v)),
            Err(e) if !e.wants_fallback() => Err(e),
            Err(e) => {
                let v = self.inner.memory.get(key).map(|v| v.to_vec());
                Ok(Served::fallback(v, self.fallback_source(), self.cause(e)))
            }
        };
        if let Ok(s) = &r {
            self.count_read(s.value.is_some());
        }
        self.count_outcome(&r);
        r
    }

    /// SET with a TTL.
    pub async fn set_bytes(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Served<()>, OpError> {
        self.count_op();
        let r = match self
            .guarded(|r| async move { r.set(key, value, ttl).await })
            .await
        {
            Ok(()) => Ok(Served::redis(())),
            Err(e) if !e.wants_fallback() => Err(e),
            Err(e) => self
                .write_fallback(key, value, ttl)
                .map(|()| Served::fallback((), self.fallback_source(), self.cause(e))),
        };
        self.count_outcome(&r);
        r
    }

    /// DEL; the value says whether the key existed (in whichever store answered).
    pub async fn del(&self, key: &str) -> Result<Served<bool>, OpError> {
        self.count_op();
        let r = match self.guarded(|r| async move { r.del(&[key]).await }).await {
            Ok(n) => Ok(Served::redis(n > 0)),
            Err(e) if !e.wants_fallback() => Err(e),
            Err(e) => {
                if self.inner.redis.is_some() {
                    self.inner.pending.remember_key(key, self.whole_prefix_ok());
                }
                let existed = self.inner.memory.del(key);
                Ok(Served::fallback(
                    existed,
                    self.fallback_source(),
                    self.cause(e),
                ))
            }
        };
        self.count_outcome(&r);
        r
    }

    /// Deletes every key matching `pattern` (SCAN MATCH + UNLINK in batches; never KEYS).
    pub async fn del_pattern(&self, pattern: &str) -> Result<Served<u64>, OpError> {
        self.count_op();
        let batch = self.inner.config.del_pattern_batch;
        let r = match self
            .guarded(|r| async move { r.del_pattern(pattern, batch).await })
            .await
        {
            Ok(n) => {
                self.inner.memory.del_pattern(pattern);
                Ok(Served::redis(n))
            }
            Err(e) if !e.wants_fallback() => Err(e),
            Err(e) => {
                if self.inner.redis.is_some() {
                    self.inner.pending.remember_pattern(pattern);
                }
                let n = self.inner.memory.del_pattern(pattern);
                Ok(Served::fallback(n, self.fallback_source(), self.cause(e)))
            }
        };
        self.count_outcome(&r);
        r
    }

    /// MGET.
    pub async fn mget_bytes(&self, keys: &[&str]) -> Result<Served<Vec<Option<Vec<u8>>>>, OpError> {
        self.count_op();
        let r = match self.guarded(|r| r.mget(keys)).await {
            Ok(v) => Ok(Served::redis(v)),
            Err(e) if !e.wants_fallback() => Err(e),
            Err(e) => {
                let v = keys
                    .iter()
                    .map(|k| self.inner.memory.get(k).map(|v| v.to_vec()))
                    .collect();
                Ok(Served::fallback(v, self.fallback_source(), self.cause(e)))
            }
        };
        if let Ok(s) = &r {
            for v in &s.value {
                self.count_read(v.is_some());
            }
        }
        self.count_outcome(&r);
        r
    }

    /// Writes several keys in one round trip, all with the same TTL.
    pub async fn mset_bytes(
        &self,
        items: &[(&str, &[u8])],
        ttl: Option<Duration>,
    ) -> Result<Served<()>, OpError> {
        self.count_op();
        let r = match self
            .guarded(|r| async move { r.mset(items, ttl).await })
            .await
        {
            Ok(()) => Ok(Served::redis(())),
            Err(e) if !e.wants_fallback() => Err(e),
            Err(e) => items
                .iter()
                .try_for_each(|(k, v)| self.write_fallback(k, v, ttl))
                .map(|()| Served::fallback((), self.fallback_source(), self.cause(e))),
        };
        self.count_outcome(&r);
        r
    }

    /// Sends mixed commands in one round trip; each reply comes with the instant it arrived.
    /// The batch counts as one call for the breaker (a failure if any command failed in a
    /// way that says the server is unwell). Commands Redis did not answer are served by the
    /// fallback one by one.
    pub async fn pipeline(
        &self,
        commands: &[Command],
    ) -> Vec<(Result<Served<Reply>, OpError>, Instant)> {
        self.inner.counters.operations.add(commands.len() as u64);
        let (replies, cause) = match self.admit().await {
            Ok((redis, permit)) => {
                let replies = redis.pipeline(commands).await;
                let unwell = replies
                    .iter()
                    .find_map(|(r, _)| r.as_ref().err().filter(|e| e.is_breaker_failure()))
                    .cloned();
                match &unwell {
                    Some(e) => self.report(permit, e),
                    None => self.inner.breaker.on_success(permit),
                }
                (Some(replies), unwell)
            }
            Err(e) => (None, Some(e)),
        };
        let mut out = Vec::with_capacity(commands.len());
        for (i, cmd) in commands.iter().enumerate() {
            // A command Redis failed is served by the fallback with its own failure as the
            // cause; one never sent, with the reason the batch was not.
            let (answered, own_failure) = match replies.as_ref().and_then(|r| r.get(i)) {
                Some((Ok(reply), at)) => (Some((Ok(Served::redis(reply.clone())), *at)), None),
                Some((Err(e), at)) if !e.is_breaker_failure() => {
                    (Some((Err(e.clone()), *at)), None)
                }
                Some((Err(e), _)) => (None, Some(e.clone())),
                None => (None, None),
            };
            let (result, at) = answered.unwrap_or_else(|| {
                let cause = own_failure
                    .or_else(|| cause.clone())
                    .and_then(|e| self.cause(e));
                (self.serve_command(cmd, cause), Instant::now())
            });
            if let Ok(Served {
                value: Reply::Value(v),
                ..
            }) = &result
            {
                self.count_read(v.is_some());
            }
            self.count_outcome(&result);
            out.push((result, at));
        }
        out
    }

    fn serve_command(
        &self,
        cmd: &Command,
        cause: Option<OpError>,
    ) -> Result<Served<Reply>, OpError> {
        let source = self.fallback_source();
        let reply = match cmd {
            Command::Get(k) => Reply::Value(self.inner.memory.get(k).map(|v| v.to_vec())),
            Command::Set(k, v, ttl) => {
                self.write_fallback(k, v, *ttl)?;
                Reply::Stored
            }
            Command::Del(k) => {
                if self.inner.redis.is_some() {
                    self.inner.pending.remember_key(k, self.whole_prefix_ok());
                }
                Reply::Deleted(u64::from(self.inner.memory.del(k)))
            }
        };
        Ok(Served::fallback(reply, source, cause))
    }

    /// The cause to report for a fallback answer (none when there is no Redis at all).
    fn cause(&self, e: OpError) -> Option<OpError> {
        self.inner.redis.as_ref().map(|_| e)
    }

    /// The health snapshot (the guide's `getMetrics()`).
    pub fn health(&self) -> HealthSnapshot {
        let c = &self.inner.counters;
        let breaker = self.inner.breaker.counters();
        let (status, provider) = match (&self.inner.redis, breaker.state) {
            (None, _) => ("memory", "memory"),
            (Some(_), super::BreakerState::Closed) => ("connected", "redis"),
            (Some(_), _) => ("degraded", "redis"),
        };
        HealthSnapshot {
            status,
            provider,
            hits: c.hits.get(),
            misses: c.misses.get(),
            total_operations: c.operations.get(),
            errors: c.errors.get(),
            fallback_operations: c.fallback.get(),
            circuit_breaker: breaker,
        }
    }
}
