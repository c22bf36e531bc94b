//! Redis INFO, parsed once, by the redis crate's [`InfoDict`]: the counters a run compares
//! before and after, and the server's version. `check` reads its fields through the same
//! type.

use crate::cache::RedisStore;
use crate::report::summary::ServerStats;
pub use redis::InfoDict;

/// INFO (all sections) from `store`, or `None` when the server does not answer.
pub async fn read(store: &RedisStore) -> Option<InfoDict> {
    store.raw::<InfoDict>(&redis::cmd("INFO")).await.ok()
}

/// `redis_version`, from INFO server.
pub async fn version(store: &RedisStore) -> Option<String> {
    let info = store
        .raw::<InfoDict>(redis::cmd("INFO").arg("server"))
        .await
        .ok()?;
    info.get("redis_version")
}

/// The INFO counters redline compares before and after a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InfoCounters {
    keyspace_hits: u64,
    keyspace_misses: u64,
    evicted_keys: u64,
    total_commands_processed: u64,
    used_memory: u64,
    maxmemory: u64,
}

impl InfoCounters {
    /// The counters in `info`; a missing or non-numeric field reads as 0.
    pub fn from_info(info: &InfoDict) -> Self {
        let n = |k: &str| info.get::<u64>(k).unwrap_or(0);
        InfoCounters {
            keyspace_hits: n("keyspace_hits"),
            keyspace_misses: n("keyspace_misses"),
            evicted_keys: n("evicted_keys"),
            total_commands_processed: n("total_commands_processed"),
            used_memory: n("used_memory"),
            maxmemory: n("maxmemory"),
        }
    }
}

/// Reads the INFO counters (None if the server does not answer).
pub async fn counters(store: &RedisStore) -> Option<InfoCounters> {
    read(store).await.map(|i| InfoCounters::from_info(&i))
}

/// Server statistics of the run: counter deltas and end-of-run memory.
pub fn server_stats(before: InfoCounters, after: InfoCounters, keys_written: u64) -> ServerStats {
    let hits = after.keyspace_hits.saturating_sub(before.keyspace_hits);
    let misses = after.keyspace_misses.saturating_sub(before.keyspace_misses);
    ServerStats {
        keyspace_hits: hits,
        keyspace_misses: misses,
        evicted_keys: after.evicted_keys.saturating_sub(before.evicted_keys),
        keys_written,
        used_memory: after.used_memory,
        maxmemory: after.maxmemory,
        total_commands_processed: after
            .total_commands_processed
            .saturating_sub(before.total_commands_processed),
        hit_rate_server: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_come_from_info_text() {
        let info = InfoDict::new(
            "# Stats\r\nkeyspace_hits:10\r\nkeyspace_misses:2\r\n\r\n# Server\r\nredis_version:7.0.15\r\nmaxmemory:abc\r\n",
        );
        let c = InfoCounters::from_info(&info);
        assert_eq!((c.keyspace_hits, c.keyspace_misses), (10, 2));
        assert_eq!(c.maxmemory, 0, "non-numeric reads as 0");
        assert_eq!(
            info.get::<String>("redis_version").as_deref(),
            Some("7.0.15")
        );
    }

    #[test]
    fn stats_are_deltas() {
        let before = InfoCounters {
            keyspace_hits: 5,
            keyspace_misses: 5,
            ..Default::default()
        };
        let after = InfoCounters {
            keyspace_hits: 85,
            keyspace_misses: 25,
            used_memory: 100,
            maxmemory: 1000,
            ..Default::default()
        };
        let s = server_stats(before, after, 20);
        assert_eq!((s.keyspace_hits, s.keyspace_misses), (80, 20));
        assert_eq!(s.hit_rate_server, Some(0.8));
        assert_eq!(s.used_memory, 100);
    }
}
