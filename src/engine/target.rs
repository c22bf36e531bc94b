//! Choosing and opening the target of a run: `--redis` URL, else the scenario's `target.url`,
//! else REDIS_URL, else an embedded `redis-server`, else the in-memory fallback (with the
//! guide's warning in the report). Also reads the server's INFO counters before and after.

use super::backend::Backend;
use super::EngineError;
use crate::cache::memory_store::NO_REDIS_WARNING;
use crate::cache::{BreakerConfig, CacheManager, ManagerConfig, RedisConfig, RedisStore};
use crate::report::summary::Phase;
use crate::report::summary::{Provider, ServerStats};
use crate::scenario::target::{ServerSpec, TargetKind};
use crate::scenario::Scenario;
use crate::server::{EmbeddedRedis, ServerOptions};
use crate::shutdown::Shutdown;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An opened target.
pub struct OpenTarget {
    pub backend: Backend,
    /// The Redis store (for INFO and cleanup), when the target has Redis.
    pub store: Option<RedisStore>,
    /// The embedded server, kept alive for the run.
    pub server: Option<EmbeddedRedis>,
    pub provider: Provider,
    pub url: Option<String>,
    pub server_version: Option<String>,
    pub warning: Option<String>,
}

/// Opens the target for `scenario`; `url` is the command line's `--redis`. Keys go under
/// `run_prefix`. A stop request ends the server start or the connection attempts with
/// [`EngineError::Interrupted`].
pub async fn open(
    scenario: &Scenario,
    url: Option<&str>,
    run_prefix: &str,
    shutdown: &Shutdown,
) -> Result<OpenTarget, EngineError> {
    let spec = &scenario.target;
    let memory_config = manager_config(scenario);
    if spec.kind == TargetKind::Memory {
        return Ok(memory_target(memory_config, None));
    }
    let env_url = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty());
    let url = url
        .map(str::to_string)
        .or_else(|| spec.url.clone())
        .or(env_url);
    let mut server = None;
    let mut config = match url {
        Some(url) => {
            let mut c = RedisConfig::new(url);
            c.apply_env(&|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
                .map_err(|e| EngineError::Target(e.to_string()))?;
            c
        }
        None => {
            super::enter(Phase::StartingServer);
            match start_embedded(scenario, shutdown).await? {
                Ok(s) => {
                    let c = RedisConfig::new(s.url());
                    server = Some(s);
                    c
                }
                Err(reason) => {
                    let warning = format!("{NO_REDIS_WARNING} ({reason})");
                    return Ok(memory_target(memory_config, Some(warning)));
                }
            }
        }
    };
    config.key_prefix = format!("{}{run_prefix}", config.key_prefix);
    config.response_timeout = spec.response_timeout;
    config.connect_timeout = spec.connect_timeout;
    config.connections = scenario.load.connections.max(1);
    let redacted = config.redacted_url();
    super::enter(Phase::Connecting);
    let store = until_stopped(shutdown, Phase::Connecting, RedisStore::connect(config))
        .await?
        .map_err(|e| EngineError::Target(e.to_string()))?;
    let info = store.info(Some("server")).await.ok();
    let server_version = info
        .as_deref()
        .and_then(|i| parse_info(i).remove("redis_version"));
    let backend = match spec.kind {
        TargetKind::Redis => Backend::Raw(store.clone()),
        _ => Backend::Managed(CacheManager::new(Some(store.clone()), memory_config)),
    };
    Ok(OpenTarget {
        backend,
        store: Some(store),
        server,
        provider: Provider::Redis,
        url: Some(redacted),
        server_version,
        warning: None,
    })
}

fn manager_config(scenario: &Scenario) -> ManagerConfig {
    let b = &scenario.target.breaker;
    ManagerConfig {
        breaker: BreakerConfig {
            failure_threshold: b.failure_threshold,
            reset_timeout: b.reset_timeout,
            success_threshold: b.success_threshold,
            half_open_max_calls: b.half_open_max_calls,
            slow_call_threshold: b.slow_call_threshold,
        },
        fallback_max_bytes: scenario.target.fallback.max_bytes,
        ..ManagerConfig::default()
    }
}

fn memory_target(config: ManagerConfig, warning: Option<String>) -> OpenTarget {
    OpenTarget {
        backend: Backend::Memory(CacheManager::new(None, config)),
        store: None,
        server: None,
        provider: Provider::Memory,
        url: None,
        server_version: None,
        warning,
    }
}

/// `work`'s output, or [`EngineError::Interrupted`] in `phase` if a stop comes first.
async fn until_stopped<T>(
    shutdown: &Shutdown,
    phase: Phase,
    work: impl std::future::Future<Output = T>,
) -> Result<T, EngineError> {
    tokio::select! {
        out = work => Ok(out),
        _ = shutdown.stopping() => Err(EngineError::Interrupted(phase)),
    }
}

/// Starts the embedded server on a blocking thread, so that a stop request is seen while
/// it starts: the start is then cancelled (the process killed, its dir removed) before
/// [`EngineError::Interrupted`] is returned.
async fn start_embedded(
    scenario: &Scenario,
    shutdown: &Shutdown,
) -> Result<Result<EmbeddedRedis, String>, EngineError> {
    let spec = scenario.target.server.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let cancel_flag = cancel.clone();
    let mut start = tokio::task::spawn_blocking(move || start_embedded_now(&spec, cancel_flag));
    let joined = tokio::select! {
        joined = &mut start => joined,
        _ = shutdown.stopping() => {
            cancel.store(true, Ordering::SeqCst);
            let _ = start.await;
            return Err(EngineError::Interrupted(Phase::StartingServer));
        }
    };
    Ok(joined.unwrap_or_else(|e| Err(format!("the server start failed: {e}"))))
}

fn start_embedded_now(s: &ServerSpec, cancel: Arc<AtomicBool>) -> Result<EmbeddedRedis, String> {
    let opts = ServerOptions {
        password: s.password.clone(),
        maxmemory: s.maxmemory,
        maxmemory_policy: s.maxmemory_policy.map(|p| p.as_str().to_string()),
        persistence: s.persistence,
        ..ServerOptions::default()
    };
    EmbeddedRedis::start_cancellable(opts, cancel).map_err(|e| e.to_string())
}

/// `field:value` lines of an INFO reply.
pub fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The INFO counters redline compares before and after a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct InfoCounters {
    keyspace_hits: u64,
    keyspace_misses: u64,
    evicted_keys: u64,
    total_commands_processed: u64,
    used_memory: u64,
    maxmemory: u64,
}

/// Reads the INFO counters (None if the server does not answer).
pub async fn info_counters(store: &RedisStore) -> Option<InfoCounters> {
    let text = store.info(None).await.ok()?;
    let m = parse_info(&text);
    let n = |k: &str| m.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
    Some(InfoCounters {
        keyspace_hits: n("keyspace_hits"),
        keyspace_misses: n("keyspace_misses"),
        evicted_keys: n("evicted_keys"),
        total_commands_processed: n("total_commands_processed"),
        used_memory: n("used_memory"),
        maxmemory: n("maxmemory"),
    })
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
    fn info_lines_are_parsed() {
        let m = parse_info(
            "# Stats\r\nkeyspace_hits:10\r\nkeyspace_misses:2\r\n\r\nredis_version:7.0.15\r\n",
        );
        assert_eq!(m["keyspace_hits"], "10");
        assert_eq!(m["redis_version"], "7.0.15");
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
