//! The cache layer under test, usable as a library on its own. It follows the Redis
//! production setup guide: a Redis store behind a circuit breaker, an in-memory fallback
//! that serves while Redis is unreachable, and a cache-aside manager on top.
//!
//! - [`config`]: connection settings from the guide's environment variables, redaction.
//! - [`redis_store`]: the Redis client (connections, timeouts, reconnects, reply types).
//! - [`link`]: opening one connection (TCP/TLS, the reply cap, the crate's handshake).
//! - [`sentinel`]: `redis+sentinel://` URLs and finding the primary through Sentinel.
//! - [`cluster`]: `redis+cluster://` URLs and the cluster's node list (`CLUSTER NODES`).
//! - [`cluster_link`]: the redis crate's async cluster client over capped node connections.
//! - [`cluster_routes`]: single-key commands straight to their node while the slot map holds.
//! - [`slots`]: batches split by hash slot for a cluster.
//! - [`reply`]: the reply type each command must get; anything else is a protocol error.
//! - [`reply_cap`]: the bound on one reply's size, whatever the peer sends.
//! - [`memory_store`]: the bounded in-memory fallback.
//! - [`breaker`] and [`clock`]: the circuit breaker and its injected clock.
//! - [`codec`]: JSON values and optional compression (gzip+base64, gzip, zstd).
//! - [`manager`]: `CacheManager`, the guide's API: get/set/del/del_pattern/get_or_set/
//!   mget/mset/pipeline with failover and invalidation replay.
//! - [`single_flight`]: concurrent misses for one key sharing one load.
//! - [`invalidation`]: invalidations made during an outage, replayed on recovery.
//! - [`keys`]: key builders and TTL constants.
//! - [`sweep`]: removing keys by prefix or pattern (SCAN MATCH + UNLINK, the only copy).
//! - [`health`]: the metrics snapshot in the guide's `/api/health` shape.
//! - [`counter`]: sharded counters for the health snapshot.
//! - [`error`]: `OpError`, classified for the breaker and the reporter.

pub mod breaker;
pub mod clock;
pub mod cluster;
pub mod cluster_link;
pub mod cluster_routes;
pub mod codec;
pub mod config;
pub mod connect;
pub mod counter;
pub mod error;
pub mod health;
pub mod invalidation;
pub mod keys;
pub mod link;
pub mod manager;
pub mod memory_store;
pub mod multi_host;
pub mod redis_store;
pub mod reply;
pub mod reply_cap;
pub mod sentinel;
pub mod single_flight;
pub mod slots;
pub mod sweep;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use codec::{Codec, CodecConfig};
pub use config::RedisConfig;
pub use error::OpError;
pub use health::HealthSnapshot;
pub use manager::{CacheManager, ManagerConfig};
pub use memory_store::MemoryStore;
pub use redis_store::RedisStore;

/// Installs rustls' ring crypto provider for TLS connections (once; later calls are no-ops).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
