//! Preload: every key of the keyspace written once before the load, so reads start warm.
//! Not measured as load, but timed ([`PreloadStats`]): sizing a million-key workload must
//! take seconds, not minutes.
//!
//! It is pipelined the way `redis-benchmark -P` is: [`WRITERS`] writers each take the next
//! chunk of keys, write the chunk's `SET key value PX ttl` commands in one buffer and one
//! syscall on a lean connection of their own ([`super::wire`]), and parse the replies in
//! place. Over TLS or a Unix socket, and for the in-memory store, the writers send each
//! chunk through the cache layer's MSET instead (concurrently, so still pipelined on the
//! store's multiplexed connections). A stop request ends the preload between chunks: the
//! chunks on the wire finish first (each within its deadline), so no write of the run lands
//! after its cleanup; a second signal abandons them. The first failed write ends the
//! preload too (logged).

use super::backend::Backend;
use super::ops::Workload;
use super::wire::{Reply, WireConn};
use crate::cache::redis_store::px_millis;
use crate::cache::{OpError, RedisStore};
use crate::op::OpKind;
use crate::report::summary::PreloadStats;
use crate::scenario::Scenario;
use crate::shutdown::Shutdown;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Concurrent writers (connections). Like `redis-benchmark`'s clients, more than one keeps
/// Redis busy while a writer encodes its next chunk.
pub const WRITERS: usize = 8;
/// Keys per chunk (one write, one round trip) when values are small.
const CHUNK_KEYS: u64 = 256;
/// Bytes of values per chunk: chunks of large values hold fewer keys, so what the writers
/// hold at once stays near `WRITERS × CHUNK_BYTES`.
const CHUNK_BYTES: u64 = 1 << 20;
/// Shortest deadline for one chunk's round trip.
const CHUNK_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes every key of `workload` once with the TTL of the scenario's first writing
/// operation; stops early on a stop request or the first failed write.
pub async fn preload(
    workload: &Workload,
    scenario: &Scenario,
    shutdown: &Shutdown,
) -> PreloadStats {
    let ttl = scenario
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::Set | OpKind::GetOrSet | OpKind::Mset))
        .or(scenario.ops.first())
        .map_or(Duration::from_secs(300), |o| o.ttl);
    let keys = workload.key_count();
    let chunk = (CHUNK_BYTES / scenario.keyspace.value_size.max().max(1)).clamp(1, CHUNK_KEYS);
    let next = AtomicU64::new(0);
    let written = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let stopped = AtomicBool::new(false);
    let shared = Shared {
        workload,
        ttl,
        keys,
        chunk,
        next: &next,
        written: &written,
        bytes: &bytes,
        failed: &failed,
        stopped: &stopped,
    };
    let store = match &workload.backend {
        Backend::Raw(store) => Some(store),
        Backend::Managed(m) => m.redis(),
        Backend::Memory(_) => None,
    };
    let wire = store.filter(|s| super::wire::plain_tcp(s.config()));
    let start = Instant::now();
    let writers = (0..WRITERS).map(|_| shared.writer(wire));
    let all = futures::future::join_all(writers);
    tokio::pin!(all);
    tokio::select! {
        _ = &mut all => {}
        _ = shutdown.stopping() => {
            // No writer claims another chunk, but the chunks on the wire are let finish
            // (each within its deadline): a chunk dropped half-sent still reaches Redis
            // from the socket's buffer, after the cleanup has looked for the run's keys.
            // A second signal abandons them.
            stopped.store(true, Ordering::Relaxed);
            tokio::select! {
                _ = &mut all => {}
                _ = shutdown.abandoning() => {}
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let keys_done = written.load(Ordering::Relaxed);
    PreloadStats {
        keys: keys_done,
        bytes: bytes.load(Ordering::Relaxed),
        elapsed_s: elapsed,
        keys_per_s: if elapsed > 0.0 {
            keys_done as f64 / elapsed
        } else {
            0.0
        },
        complete: keys_done == keys,
    }
}

/// What the writers share.
struct Shared<'a> {
    workload: &'a Workload,
    ttl: Duration,
    keys: u64,
    chunk: u64,
    /// The next key index no writer has claimed.
    next: &'a AtomicU64,
    written: &'a AtomicU64,
    bytes: &'a AtomicU64,
    /// Set by the first failed write: every writer stops.
    failed: &'a AtomicBool,
    /// Set on a stop request: no writer claims another chunk.
    stopped: &'a AtomicBool,
}

impl Shared<'_> {
    /// The next chunk of key indices, or None when every key is claimed, a write failed or
    /// a stop was requested.
    fn claim(&self) -> Option<std::ops::Range<u64>> {
        if self.failed.load(Ordering::Relaxed) || self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        let from = self.next.fetch_add(self.chunk, Ordering::Relaxed);
        (from < self.keys).then(|| from..(from + self.chunk).min(self.keys))
    }

    /// The values of a chunk: seeded by the chunk, so a preload writes the same values
    /// whichever writer takes it.
    fn values(&self, range: &std::ops::Range<u64>) -> Vec<Vec<u8>> {
        let mut rng = SmallRng::seed_from_u64(0x5EED ^ range.start);
        range
            .clone()
            .map(|index| self.workload.preload_value(&mut rng, index, self.ttl))
            .collect()
    }

    fn fail(&self, at: u64, e: &OpError) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            tracing::warn!("preload stopped at key {at}: {e}");
        }
    }

    fn done(&self, range: &std::ops::Range<u64>, values: &[Vec<u8>]) {
        self.written
            .fetch_add(range.end - range.start, Ordering::Relaxed);
        let n: usize = values.iter().map(Vec::len).sum();
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// One writer: on a lean connection of its own when `wire` is a plain-TCP store, else
    /// through the cache layer.
    async fn writer(&self, wire: Option<&RedisStore>) {
        match wire {
            Some(store) => self.wire_writer(store).await,
            None => self.layer_writer().await,
        }
    }

    async fn wire_writer(&self, store: &RedisStore) {
        let config = store.config();
        let mut conn = match WireConn::connect(config).await {
            Ok(conn) => conn,
            Err(e) => return self.fail(self.next.load(Ordering::Relaxed), &e),
        };
        let px = px_millis(self.ttl).to_string();
        // A chunk is up to a MiB: more than one command's reply deadline allows.
        let limit = config.response_timeout.max(CHUNK_TIMEOUT);
        let mut key = String::new();
        while let Some(range) = self.claim() {
            let values = self.values(&range);
            for (i, v) in range.clone().zip(&values) {
                key.clear();
                key.push_str(&config.key_prefix);
                key.push_str(&self.workload.key(i));
                conn.push(&[b"SET", key.as_bytes(), v, b"PX", px.as_bytes()]);
            }
            let mut refused = None;
            let trip = conn.round_trip(|reply, _| {
                if let Reply::Error(e) = reply {
                    refused.get_or_insert_with(|| String::from_utf8_lossy(e).into_owned());
                }
            });
            let result = match tokio::time::timeout(limit, trip).await {
                Ok(Ok(())) => refused.map_or(Ok(()), |e| Err(server_error(&e))),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(OpError::Timeout(limit)),
            };
            if let Err(e) = result {
                return self.fail(range.start, &e);
            }
            self.done(&range, &values);
        }
    }

    async fn layer_writer(&self) {
        while let Some(range) = self.claim() {
            let values = self.values(&range);
            let names: Vec<String> = range.clone().map(|i| self.workload.key(i)).collect();
            let items: Vec<(&str, &[u8])> = names
                .iter()
                .map(String::as_str)
                .zip(values.iter().map(Vec::as_slice))
                .collect();
            if let Err(e) = self.workload.backend.mset(&items, self.ttl).await.result {
                return self.fail(range.start, &e);
            }
            self.done(&range, &values);
        }
    }
}

/// `-CODE detail` as the store reports a server error.
fn server_error(line: &str) -> OpError {
    let (code, detail) = line.split_once(' ').unwrap_or((line, ""));
    OpError::Server {
        code: code.to_string(),
        detail: detail.to_string(),
    }
}
