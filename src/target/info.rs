//! Redis INFO, parsed once, by the redis crate's [`InfoDict`]: the counters a run compares
//! before and after, and the server's version. `check` reads its fields through the same
//! type.

use crate::cache::RedisStore;
use crate::report::summary::ServerStats;
pub use redis::InfoDict;

/// INFO (all sections) from `store`, or `None` when the server does not answer. On a
/// cluster, the INFO of every primary with the counters and memory figures summed
/// ([`SUMMED`]; the other fields are the first primary's), or `None` when one does not
/// answer: a sum with a node missing would understate every figure.
pub async fn read(store: &RedisStore) -> Option<InfoDict> {
    if !store.is_cluster() {
        return store.raw::<InfoDict>(&redis::cmd("INFO")).await.ok();
    }
    let primaries = store.cluster_primaries().await.ok()?;
    let info = redis::cmd("INFO");
    let reads = primaries
        .iter()
        .map(|p| store.raw_on(&p.host, p.port, &info));
    let mut texts = Vec::with_capacity(primaries.len());
    for reply in futures::future::join_all(reads).await {
        texts.push(crate::cache::reply::text("INFO", reply.ok()?).ok()?);
    }
    (!texts.is_empty()).then(|| summed(&texts))
}

/// INFO fields that add up over a cluster's primaries: each holds a share of the keys.
pub const SUMMED: [&str; 10] = [
    "keyspace_hits",
    "keyspace_misses",
    "evicted_keys",
    "expired_keys",
    "total_commands_processed",
    "used_memory",
    "maxmemory",
    "connected_clients",
    "total_connections_received",
    "rejected_connections",
];

/// One INFO from several nodes' INFO texts: the [`SUMMED`] fields summed, every other
/// field as the first text has it.
pub fn summed(texts: &[String]) -> InfoDict {
    let dicts: Vec<InfoDict> = texts.iter().map(|t| InfoDict::new(t)).collect();
    let mut out = String::new();
    for line in texts.first().map(String::as_str).unwrap_or("").lines() {
        let line = line.trim_end_matches('\r');
        match line.split_once(':') {
            Some((key, _)) if SUMMED.contains(&key) => {
                let total: u64 = dicts.iter().filter_map(|d| d.get::<u64>(key)).sum();
                out.push_str(&format!("{key}:{total}\r\n"));
            }
            _ => {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
    }
    InfoDict::new(&out)
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

/// Server statistics between two snapshots: counter deltas and memory at the second. The
/// caller sets `window` (when the two snapshots were taken).
pub fn server_stats(before: InfoCounters, after: InfoCounters, keys_written: u64) -> ServerStats {
    let hits = after.keyspace_hits.saturating_sub(before.keyspace_hits);
    let misses = after.keyspace_misses.saturating_sub(before.keyspace_misses);
    ServerStats {
        window: Default::default(),
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
    fn a_cluster_info_sums_counters_and_memory() {
        let a = "# Server\r\nredis_version:7.2.4\r\n# Stats\r\nkeyspace_hits:10\r\nused_memory:100\r\nmaxmemory:1000\r\n".to_string();
        let b = "# Server\r\nredis_version:7.2.4\r\n# Stats\r\nkeyspace_hits:5\r\nused_memory:50\r\nmaxmemory:1000\r\n".to_string();
        let c = InfoCounters::from_info(&summed(&[a, b]));
        assert_eq!(c.keyspace_hits, 15);
        assert_eq!((c.used_memory, c.maxmemory), (150, 2000));
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
