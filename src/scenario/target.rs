//! `[target]`: what the load is driven through — the managed cache layer (breaker + Redis +
//! fallback), raw Redis, or the in-memory fallback alone — with its timeouts, breaker,
//! fallback and embedded-server settings. Defaults are the production guide's numbers.
//!
//! Secrets (a password in `url`, `server.password`) are redacted when serialized, because the
//! report embeds the resolved scenario.

use super::units;
use serde::{Deserialize, Serialize, Serializer};
use std::time::Duration;

/// Which layer the workload exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// The cache layer under test: circuit breaker + Redis + in-memory fallback.
    #[default]
    Managed,
    /// A raw Redis client with no breaker: the ceiling the managed layer is compared to.
    Redis,
    /// The in-memory fallback alone.
    Memory,
}

/// `[target]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetSpec {
    /// Which layer to drive.
    pub kind: TargetKind,
    /// `redis://` or `rediss://` URL. `None` lets the engine resolve REDIS_URL, then an
    /// embedded server, then memory. Serialized with its password replaced by `***`.
    #[serde(serialize_with = "redact_url")]
    pub url: Option<String>,
    /// Deadline for one command's reply: a paused server must not stall callers longer.
    #[serde(with = "units::duration")]
    pub response_timeout: Duration,
    /// Deadline for one connection attempt (guide: 10 s).
    #[serde(with = "units::duration")]
    pub connect_timeout: Duration,
    /// `[target.breaker]`.
    pub breaker: BreakerSpec,
    /// `[target.fallback]`.
    pub fallback: FallbackSpec,
    /// `[target.server]`: used only when redline starts its own `redis-server`.
    pub server: ServerSpec,
}

impl Default for TargetSpec {
    fn default() -> Self {
        TargetSpec {
            kind: TargetKind::Managed,
            url: None,
            response_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
            breaker: BreakerSpec::default(),
            fallback: FallbackSpec::default(),
            server: ServerSpec::default(),
        }
    }
}

/// `[target.breaker]`: the circuit breaker of the managed layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSpec {
    /// Consecutive failures that open the breaker (guide: 5).
    #[serde(deserialize_with = "units::positive")]
    pub failure_threshold: u32,
    /// How long the breaker stays open before letting trial calls through (guide: 60 s).
    #[serde(with = "units::duration")]
    pub reset_timeout: Duration,
    /// Successful trial calls that close it again (guide: 2).
    #[serde(deserialize_with = "units::positive")]
    pub success_threshold: u32,
    /// Trial calls allowed at once while half-open.
    #[serde(deserialize_with = "units::positive")]
    pub half_open_max_calls: u32,
    /// Calls slower than this count as failures; `None`: only errors count.
    #[serde(with = "units::opt_duration")]
    pub slow_call_threshold: Option<Duration>,
}

impl Default for BreakerSpec {
    fn default() -> Self {
        BreakerSpec {
            failure_threshold: 5,
            reset_timeout: Duration::from_secs(60),
            success_threshold: 2,
            half_open_max_calls: 2,
            slow_call_threshold: None,
        }
    }
}

/// `[target.fallback]`: the in-memory store that serves while Redis is unavailable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FallbackSpec {
    /// Memory budget of the fallback; it evicts beyond this.
    #[serde(deserialize_with = "units::size")]
    pub max_bytes: u64,
}

impl Default for FallbackSpec {
    fn default() -> Self {
        FallbackSpec {
            max_bytes: 64 << 20,
        }
    }
}

/// Redis eviction policies (`maxmemory-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaxmemoryPolicy {
    Noeviction,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl MaxmemoryPolicy {
    /// The value to pass to `redis-server --maxmemory-policy`.
    pub fn as_str(self) -> &'static str {
        match self {
            MaxmemoryPolicy::Noeviction => "noeviction",
            MaxmemoryPolicy::AllkeysLru => "allkeys-lru",
            MaxmemoryPolicy::AllkeysLfu => "allkeys-lfu",
            MaxmemoryPolicy::AllkeysRandom => "allkeys-random",
            MaxmemoryPolicy::VolatileLru => "volatile-lru",
            MaxmemoryPolicy::VolatileLfu => "volatile-lfu",
            MaxmemoryPolicy::VolatileRandom => "volatile-random",
            MaxmemoryPolicy::VolatileTtl => "volatile-ttl",
        }
    }
}

/// `[target.server]`: options of the embedded `redis-server` (ignored for a given URL).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSpec {
    /// Memory limit; `None`: unlimited (Redis's default). Sizing runs sweep this.
    #[serde(deserialize_with = "units::opt_size")]
    pub maxmemory: Option<u64>,
    /// Eviction policy. Resolved to `allkeys-lru` when `maxmemory` is set without one.
    pub maxmemory_policy: Option<MaxmemoryPolicy>,
    /// `requirepass`, so auth paths are exercised. Serialized as `***`.
    #[serde(serialize_with = "redact_secret")]
    pub password: Option<String>,
    /// Keep RDB/AOF persistence on (off by default: it adds fork and disk noise).
    pub persistence: bool,
    /// One server, a Sentinel topology (primary, replica, three sentinels) that failover
    /// drills need, or a Redis Cluster (three primaries with a replica each).
    pub topology: Topology,
}

/// `target.server.topology`: what redline starts when no URL is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// One `redis-server`.
    #[default]
    Single,
    /// A primary, a replica and three `redis-sentinel` processes; the cache layer finds the
    /// primary through the sentinels and follows it across a failover.
    Sentinel,
    /// A Redis Cluster: three primaries with one replica each, all 16384 slots assigned;
    /// the cache layer reaches it as `redis+cluster://` and follows MOVED/ASK redirections.
    Cluster,
}

impl Topology {
    /// Its name in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Topology::Single => "single",
            Topology::Sentinel => "sentinel",
            Topology::Cluster => "cluster",
        }
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`; a lone userinfo is taken as a
/// password (`redis://secret@host` → `redis://***@host`); a URL that does not parse keeps
/// nothing between its `//` and its last `@`. One redaction for the whole crate: see
/// [`crate::cache::config::redact_url`].
pub fn redact_url_text(url: &str) -> String {
    crate::cache::config::redact_url(url)
}

fn redact_url<S: Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_some(&redact_url_text(u)),
        None => s.serialize_none(),
    }
}

fn redact_secret<S: Serializer>(secret: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_some("***"),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        let cases = [
            (
                "redis://user:hunter2@host:6379/0",
                "redis://user:***@host:6379/0",
            ),
            ("redis://:hunter2@host", "redis://:***@host"),
            ("rediss://hunter2@host", "rediss://***@host"),
            ("redis://host:6379", "redis://host:6379"),
            ("redis://host/0?x=a@b", "redis://host/0?x=a@b"),
            ("not a url", "not a url"),
            ("redis//:hunter2@host", "redis//***@host"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url_text(url), want, "{url}");
        }
    }

    #[test]
    fn serialized_target_carries_no_secret() {
        let mut t = TargetSpec {
            url: Some("redis://u:hunter2@h".into()),
            ..TargetSpec::default()
        };
        t.server.password = Some("hunter2".into());
        let json = serde_json::to_string(&t).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("\"response_timeout\":\"500ms\""), "{json}");
    }
}
