//! The target: what a run drives, resolved and opened once, then handed to the engine as a
//! value. The engine never reads the environment, never starts or stops a server and never
//! picks the provider; every command (`run`, `check`, and later ones) resolves its target
//! here.
//!
//! - [`env`]: the guide's REDIS_* variables, read through an injectable lookup and checked
//!   by one rule each.
//! - [`resolve`]: `--redis` → scenario `target.url` → REDIS_URL → REDIS_HOST/REDIS_PORT →
//!   embedded `redis-server` → in-memory store (only when none is installed), as a [`Plan`].
//! - this file: [`Target`], the opened plan, and [`TargetError`].
//! - [`info`]: INFO parsed once (the redis crate's `InfoDict`), counters and version
//!   (summed over the primaries of a cluster).
//! - [`cluster`]: the nodes of a Redis Cluster target, each with a direct admin connection.
//! - [`node_info`]: each node of a Cluster target read for the per-node figures.
//!
//! [`Target`] keeps two things apart that a fault proxy will separate: the *server* (its
//! process handle when redline started it, and an admin connection for INFO, cleanup and
//! faults, always direct) and the *cache endpoint*, the address the cache layer connects to
//! ([`Target::route_cache_through`] points it at a proxy). Opening a target, which may
//! start a server, happens once; each engine run connects its own cache store under its
//! own key prefix ([`Target::connect_cache`]), so capacity sizing can run many times
//! against one server.

pub mod cluster;
pub mod env;
pub mod info;
pub mod node_info;
pub mod resolve;

pub use cluster::NodeAdmin;
pub use env::{process_env, EnvSettings, Lookup};
pub use resolve::{credentialed_url, resolve, Plan, Resolved, UrlSource};

use crate::cache::config::ConfigError;
use crate::cache::memory_store::NO_REDIS_WARNING;
use crate::cache::{RedisConfig, RedisStore};
use crate::chaos::process::ServerProcess;
use crate::chaos::proxy::FaultProxy;
use crate::report::summary::{Phase, Provider};
use crate::scenario::{ServerSpec, TargetSpec, Topology};
use crate::server::{
    ClusterTopology, EmbeddedRedis, SentinelTimings, SentinelTopology, ServerError, ServerOptions,
};
use crate::shutdown::Shutdown;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Reply deadline of the admin connection: INFO and SCAN over a large keyspace may take
/// longer than the cache layer's per-command deadline.
const ADMIN_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a target could not be resolved or opened. Every variant is a usage or connection
/// error (exit 2) and names the setting or the cause.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// An environment variable is set to something unusable: fix or unset it.
    #[error("{var}={value:?} is not valid: {reason}")]
    BadEnv {
        /// The variable.
        var: &'static str,
        /// Its value (never a password: REDIS_PASSWORD is not checked).
        value: String,
        /// The rule it breaks.
        reason: String,
    },
    /// The chosen URL is malformed or not `redis://`/`rediss://` (password redacted).
    #[error(transparent)]
    Url(#[from] ConfigError),
    /// redis-server is installed but did not start; the message carries its log tail.
    #[error("cannot start the embedded redis-server: {0}")]
    EmbeddedServer(String),
    /// The server did not accept the connection (unreachable, wrong password, not Redis).
    #[error("{0}")]
    Connect(String),
    /// A stop was requested while the server started or while connecting to it; not an
    /// error of the target (the run reports itself aborted in that phase).
    #[error("interrupted while {0}")]
    Interrupted(Phase),
}

/// What to resolve: the command line's `--redis` and the scenario's `[target]` (commands
/// without a scenario pass `TargetSpec::default()`).
#[derive(Debug, Clone, Copy)]
pub struct TargetRequest<'a> {
    /// `--redis`.
    pub flag_url: Option<&'a str>,
    /// The scenario's `[target]`.
    pub spec: &'a TargetSpec,
}

/// A Redis server a target drives: how to reach it directly, and, when redline started it,
/// the process.
pub struct Server {
    /// URL, credentials, TLS and timeouts of the server itself (no key prefix).
    endpoint: RedisConfig,
    /// One direct connection for INFO, cleanup and faults; never through a proxy.
    admin: RedisStore,
    /// The process, when redline started it; dropped (killed) with the target. Shared with
    /// a run's fault timeline, which kills, pauses and restarts it.
    embedded: Option<ServerProcess>,
    /// The Sentinel topology, when redline started one (`target.server.topology`); shared
    /// with a failover fault, which kills and restarts its nodes from a blocking thread.
    topology: Option<Arc<Mutex<SentinelTopology>>>,
    /// `redis_version` from INFO.
    version: Option<String>,
    /// The embedded Redis Cluster, when redline started one (`target.server.topology =
    /// "cluster"`); shared with the cluster failover fault.
    cluster: Option<Arc<Mutex<ClusterTopology>>>,
    /// On a Redis Cluster, every node with a direct admin connection (`admin` itself is a
    /// cluster connection: it routes by key, sweeps and reads INFO on every primary).
    cluster_nodes: Option<Vec<NodeAdmin>>,
}

/// An opened target. Dropping it stops a server redline started.
pub struct Target {
    /// The server, or `None` for the in-memory store.
    server: Option<Server>,
    /// Where the cache layer connects: the server's address unless rerouted (fault proxy).
    cache_endpoint: Option<RedisConfig>,
    /// REDIS_KEY_PREFIX: in front of every run's own prefix.
    key_prefix: String,
    /// Why the in-memory store is used although the scenario did not ask for it.
    fallback_reason: Option<String>,
    /// The fault proxy the cache endpoint goes through, once placed (drills with network
    /// faults); stopped with the target.
    proxy: Option<Arc<FaultProxy>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider())
            .field("url", &self.redacted_url())
            .field(
                "cache_url",
                &self.cache_endpoint.as_ref().map(|c| c.redacted_url()),
            )
            .field("key_prefix", &self.key_prefix)
            .field("fallback_reason", &self.fallback_reason)
            .finish()
    }
}

impl Target {
    /// Resolves `req` against `env` and opens it: starts the embedded server if that is the
    /// plan and connects the admin connection. Nothing is written to the server.
    pub async fn open(req: &TargetRequest<'_>, env: Lookup<'_>) -> Result<Target, TargetError> {
        Self::open_until(req, env, &Shutdown::never()).await
    }

    /// [`open`](Self::open), ended by a stop request: a server being started is cancelled
    /// (killed, its dir removed) and [`TargetError::Interrupted`] names the phase.
    pub async fn open_until(
        req: &TargetRequest<'_>,
        env: Lookup<'_>,
        shutdown: &Shutdown,
    ) -> Result<Target, TargetError> {
        let resolved = resolve(req, env)?;
        Self::open_resolved(resolved, req.spec, shutdown).await
    }

    /// Opens an already resolved plan; `spec.server` configures an embedded server.
    pub async fn open_resolved(
        resolved: Resolved,
        spec: &TargetSpec,
        shutdown: &Shutdown,
    ) -> Result<Target, TargetError> {
        let key_prefix = resolved.env.key_prefix.clone();
        match resolved.plan {
            Plan::Memory { missing } => Ok(Target {
                server: None,
                cache_endpoint: None,
                key_prefix,
                fallback_reason: missing.map(|e| e.to_string()),
                proxy: None,
            }),
            Plan::Url { config, .. } => {
                Self::connect_server(config, None, key_prefix, shutdown).await
            }
            Plan::Embedded { binary } if spec.server.topology == Topology::Cluster => {
                let opts = server_options(&spec.server);
                let cluster = start_cluster_until(binary, opts, shutdown).await?;
                let mut config = RedisConfig::new(cluster.seeds_url());
                config.connect_timeout = resolved.connect_timeout;
                config.response_timeout = spec.response_timeout;
                let mut target = Self::connect_server(config, None, key_prefix, shutdown).await?;
                if let Some(server) = target.server.as_mut() {
                    server.cluster = Some(Arc::new(Mutex::new(cluster)));
                }
                Ok(target)
            }
            Plan::Embedded { binary } if spec.server.topology == Topology::Sentinel => {
                let opts = server_options(&spec.server);
                let topology = start_topology_until(binary, opts, shutdown).await?;
                let mut config = RedisConfig::new(topology.url());
                config.connect_timeout = resolved.connect_timeout;
                config.response_timeout = spec.response_timeout;
                let mut target = Self::connect_server(config, None, key_prefix, shutdown).await?;
                if let Some(server) = target.server.as_mut() {
                    server.topology = Some(Arc::new(Mutex::new(topology)));
                }
                Ok(target)
            }
            Plan::Embedded { binary } => {
                let opts = server_options(&spec.server);
                let embedded = start_embedded_until(binary, opts, shutdown).await?;
                let mut config = RedisConfig::new(embedded.url());
                config.connect_timeout = resolved.connect_timeout;
                config.response_timeout = spec.response_timeout;
                Self::connect_server(config, Some(embedded), key_prefix, shutdown).await
            }
        }
    }

    /// The in-memory store, as a scenario with `target.kind = "memory"` asks for.
    pub fn memory() -> Target {
        Target {
            server: None,
            cache_endpoint: None,
            key_prefix: String::new(),
            fallback_reason: None,
            proxy: None,
        }
    }

    async fn connect_server(
        endpoint: RedisConfig,
        embedded: Option<EmbeddedRedis>,
        key_prefix: String,
        shutdown: &Shutdown,
    ) -> Result<Target, TargetError> {
        let mut admin_config = endpoint.clone();
        admin_config.connections = 1;
        admin_config.key_prefix = String::new();
        admin_config.response_timeout = ADMIN_RESPONSE_TIMEOUT.max(endpoint.response_timeout);
        Phase::Connecting.enter();
        let admin = tokio::select! {
            admin = RedisStore::connect(admin_config) => admin,
            _ = shutdown.stopping() => return Err(TargetError::Interrupted(Phase::Connecting)),
        }
        .map_err(|e| TargetError::Connect(e.to_string()))?;
        let version = info::version(&admin).await;
        let cluster_nodes = match endpoint.is_cluster() {
            true => {
                let timeout = admin.config().response_timeout;
                let nodes = tokio::select! {
                    nodes = cluster::open_nodes(&admin, &endpoint, timeout, &[]) => nodes?,
                    _ = shutdown.stopping() => return Err(TargetError::Interrupted(Phase::Connecting)),
                };
                if !nodes.iter().any(|n| n.primary) {
                    return Err(TargetError::Connect(format!(
                        "no primary of the cluster at {} answered",
                        endpoint.redacted_url()
                    )));
                }
                Some(nodes)
            }
            false => None,
        };
        Ok(Target {
            cache_endpoint: Some(endpoint.clone()),
            server: Some(Server {
                endpoint,
                admin,
                embedded: embedded.map(|e| Arc::new(std::sync::Mutex::new(e))),
                topology: None,
                cluster: None,
                version,
                cluster_nodes,
            }),
            key_prefix,
            fallback_reason: None,
            proxy: None,
        })
    }

    /// Redis, or the in-memory store.
    pub fn provider(&self) -> Provider {
        if self.server.is_some() {
            Provider::Redis
        } else {
            Provider::Memory
        }
    }

    /// The direct admin connection (no key prefix): INFO, cleanup, faults.
    pub fn admin(&self) -> Option<&RedisStore> {
        self.server.as_ref().map(|s| &s.admin)
    }

    /// The server process, when redline started it, locked: hold the guard briefly (a
    /// run's fault timeline locks it to kill, pause or restart the server).
    pub fn embedded(&self) -> Option<std::sync::MutexGuard<'_, EmbeddedRedis>> {
        self.server_process().map(crate::chaos::process::lock)
    }

    /// The server process, when redline started it, shared (process faults need it).
    pub fn server_process(&self) -> Option<&ServerProcess> {
        self.server.as_ref()?.embedded.as_ref()
    }

    /// The Sentinel topology redline started, if any (the failover fault needs it).
    pub fn topology(&self) -> Option<&Arc<Mutex<SentinelTopology>>> {
        self.server.as_ref()?.topology.as_ref()
    }

    /// The embedded Redis Cluster redline started, if any (the cluster failover fault
    /// needs it).
    pub fn cluster_topology(&self) -> Option<&Arc<Mutex<ClusterTopology>>> {
        self.server.as_ref()?.cluster.as_ref()
    }

    /// True when the cache layer finds the primary through Sentinel (an embedded topology
    /// or a `redis+sentinel://` URL).
    pub fn is_sentinel(&self) -> bool {
        self.server
            .as_ref()
            .is_some_and(|s| crate::cache::sentinel::is_sentinel_url(&s.endpoint.url))
    }

    /// The server's settings (URL with credentials: never print it).
    pub fn endpoint(&self) -> Option<&RedisConfig> {
        self.server.as_ref().map(|s| &s.endpoint)
    }

    /// `redis_version` of the server.
    pub fn server_version(&self) -> Option<&str> {
        self.server.as_ref()?.version.as_deref()
    }

    /// The server's URL, password redacted: safe to print.
    pub fn redacted_url(&self) -> Option<String> {
        self.server.as_ref().map(|s| s.endpoint.redacted_url())
    }

    /// REDIS_KEY_PREFIX ("" when unset): every run's keys live under it.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Why the in-memory store is measured although the scenario did not ask for it
    /// (redis-server is not installed); `None` otherwise.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The caveat reports repeat about this target, if any.
    pub fn warning(&self) -> Option<String> {
        self.fallback_reason
            .as_ref()
            .map(|why| format!("{NO_REDIS_WARNING} ({why})"))
    }

    /// Points the cache layer at `addr` (a fault proxy in front of the server) instead of
    /// the server itself; the admin connection stays direct. Credentials and TLS are kept.
    pub fn route_cache_through(&mut self, addr: SocketAddr) -> Result<(), TargetError> {
        let Some(endpoint) = self.cache_endpoint.as_mut() else {
            return Ok(());
        };
        if endpoint.is_cluster() {
            return Err(no_proxy_on_cluster(endpoint));
        }
        if crate::cache::sentinel::is_sentinel_url(&endpoint.url) {
            return Err(TargetError::Url(ConfigError::MalformedUrl {
                url: endpoint.redacted_url(),
                reason: "a fault proxy cannot stand in front of a Sentinel target: the \
                         primary's address changes on failover"
                    .into(),
            }));
        }
        let bad = |reason: &str| {
            TargetError::Url(ConfigError::MalformedUrl {
                url: endpoint.redacted_url(),
                reason: reason.to_string(),
            })
        };
        let mut url = url::Url::parse(&endpoint.url).map_err(|e| bad(&e.to_string()))?;
        url.set_ip_host(addr.ip())
            .map_err(|()| bad("cannot carry an IP host"))?;
        url.set_port(Some(addr.port()))
            .map_err(|()| bad("cannot carry a port"))?;
        endpoint.url = url.to_string();
        Ok(())
    }

    /// Starts a [`FaultProxy`] on a free loopback port in front of the server and points the
    /// cache layer at it ([`route_cache_through`](Self::route_cache_through)); the admin
    /// connection stays direct. Drills with network faults need it before the run (`redline
    /// run` places it). Placing it twice keeps the first. Must run inside a tokio runtime.
    pub fn place_fault_proxy(&mut self) -> Result<SocketAddr, TargetError> {
        if let Some(p) = &self.proxy {
            return Ok(p.local_addr());
        }
        let Some(server) = &self.server else {
            return Err(TargetError::Connect(
                "the in-memory store has no Redis to put a fault proxy in front of".into(),
            ));
        };
        if server.endpoint.is_cluster() {
            return Err(no_proxy_on_cluster(&server.endpoint));
        }
        let url = url::Url::parse(&server.endpoint.url).map_err(|e| {
            TargetError::Url(ConfigError::MalformedUrl {
                url: server.endpoint.redacted_url(),
                reason: e.to_string(),
            })
        })?;
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            Some(h) => h.to_string(),
            None => "127.0.0.1".to_string(),
        };
        let upstream = format!("{host}:{}", url.port().unwrap_or(6379));
        let listen = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
        let proxy = FaultProxy::start(listen, upstream)
            .map_err(|e| TargetError::Connect(format!("cannot start the fault proxy: {e}")))?;
        let addr = proxy.local_addr();
        self.route_cache_through(addr)?;
        tracing::info!("fault proxy listening on {addr}");
        self.proxy = Some(Arc::new(proxy));
        Ok(addr)
    }

    /// The fault proxy in front of the server, once [placed](Self::place_fault_proxy).
    pub fn fault_proxy(&self) -> Option<&Arc<FaultProxy>> {
        self.proxy.as_ref()
    }

    /// The cache endpoint's URL (password redacted): where the cache layer connects.
    pub fn cache_url(&self) -> Option<String> {
        self.cache_endpoint.as_ref().map(RedisConfig::redacted_url)
    }

    /// Connects a cache-layer store for one run: `connections` connections to the cache
    /// endpoint, every key under `key_prefix`, no reply larger than `max_reply_bytes`.
    /// `None` for the in-memory target.
    pub async fn connect_cache(
        &self,
        key_prefix: &str,
        connections: usize,
        max_reply_bytes: u64,
    ) -> Result<Option<RedisStore>, TargetError> {
        let Some(endpoint) = &self.cache_endpoint else {
            return Ok(None);
        };
        let mut config = endpoint.clone();
        config.key_prefix = key_prefix.to_string();
        config.connections = connections.max(1);
        config.max_reply_bytes = max_reply_bytes;
        RedisStore::connect(config)
            .await
            .map(Some)
            .map_err(|e| TargetError::Connect(e.to_string()))
    }
}

/// Why no fault proxy can be placed in front of a cluster.
fn no_proxy_on_cluster(endpoint: &RedisConfig) -> TargetError {
    TargetError::Url(ConfigError::MalformedUrl {
        url: endpoint.redacted_url(),
        reason: "a fault proxy cannot stand in front of a Redis Cluster (network faults, \
                 redis_calls_while_open): the client reaches every node at the address the \
                 cluster announces"
            .into(),
    })
}

/// Starts `binary` with `opts` off the async threads (it blocks until PING answers).
pub async fn start_embedded(
    binary: PathBuf,
    opts: ServerOptions,
) -> Result<EmbeddedRedis, TargetError> {
    start_embedded_until(binary, opts, &Shutdown::never()).await
}

/// [`start_embedded`], cancelled by a stop request: the start gives up within one poll
/// interval (the process killed, its dir removed) and [`TargetError::Interrupted`] is
/// returned once it has, so nothing is left starting behind the caller's back.
pub async fn start_embedded_until(
    binary: PathBuf,
    opts: ServerOptions,
    shutdown: &Shutdown,
) -> Result<EmbeddedRedis, TargetError> {
    start_blocking_until(shutdown, move |cancel| {
        EmbeddedRedis::start_cancellable_with_binary(binary, opts, cancel)
    })
    .await
}

/// Starts the Sentinel topology (primary, replica, three sentinels) off the async threads
/// and waits until it settles; a stop request cancels it like [`start_embedded_until`].
pub async fn start_topology_until(
    binary: PathBuf,
    opts: ServerOptions,
    shutdown: &Shutdown,
) -> Result<SentinelTopology, TargetError> {
    let sentinel = crate::server::redis_sentinel_binary(&binary);
    start_blocking_until(shutdown, move |cancel| {
        SentinelTopology::start(binary, sentinel, opts, SentinelTimings::default(), cancel)
    })
    .await
}

/// Starts the embedded Redis Cluster (three primaries, a replica each) off the async
/// threads and waits until it settles; a stop request cancels it like
/// [`start_embedded_until`].
pub async fn start_cluster_until(
    binary: PathBuf,
    opts: ServerOptions,
    shutdown: &Shutdown,
) -> Result<ClusterTopology, TargetError> {
    start_blocking_until(shutdown, move |cancel| {
        ClusterTopology::start(binary, opts, cancel)
    })
    .await
}

/// Runs a blocking start (`start` is given the cancel flag) on a blocking thread; a stop
/// request sets the flag and waits for the start to give up before returning
/// [`TargetError::Interrupted`].
async fn start_blocking_until<T: Send + 'static>(
    shutdown: &Shutdown,
    start: impl FnOnce(Arc<AtomicBool>) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, TargetError> {
    Phase::StartingServer.enter();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let mut started = tokio::task::spawn_blocking(move || start(flag));
    let joined = tokio::select! {
        joined = &mut started => joined,
        _ = shutdown.stopping() => {
            cancel.store(true, Ordering::SeqCst);
            let _ = started.await;
            return Err(TargetError::Interrupted(Phase::StartingServer));
        }
    };
    joined
        .map_err(|e| TargetError::EmbeddedServer(format!("the start-up task failed: {e}")))?
        .map_err(|e: ServerError| TargetError::EmbeddedServer(e.to_string()))
}

/// The embedded server's options from `[target.server]`.
fn server_options(s: &ServerSpec) -> ServerOptions {
    ServerOptions {
        password: s.password.clone(),
        maxmemory: s.maxmemory,
        maxmemory_policy: s.maxmemory_policy.map(|p| p.as_str().to_string()),
        persistence: s.persistence,
        ..ServerOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_target(url: &str) -> Target {
        // A target whose admin connection is never used: only the endpoints matter here.
        let endpoint = RedisConfig::new(url);
        Target {
            server: None,
            cache_endpoint: Some(endpoint),
            key_prefix: String::new(),
            fallback_reason: None,
            proxy: None,
        }
    }

    #[test]
    fn a_proxy_changes_only_where_the_cache_connects() {
        let mut t = url_target("rediss://:pw@cache.internal:6380/2");
        t.route_cache_through("127.0.0.1:7001".parse().unwrap())
            .unwrap();
        assert_eq!(
            t.cache_endpoint.as_ref().unwrap().url,
            "rediss://:pw@127.0.0.1:7001/2"
        );
        assert_eq!(t.cache_url().unwrap(), "rediss://:***@127.0.0.1:7001/2");
    }

    #[test]
    fn memory_targets_have_no_server_and_no_warning_unless_it_was_a_fallback() {
        let t = Target::memory();
        assert_eq!(t.provider(), Provider::Memory);
        assert!(t.admin().is_none() && t.warning().is_none());
        let t = Target {
            fallback_reason: Some("redis-server not found on PATH".into()),
            ..Target::memory()
        };
        assert!(t.warning().unwrap().contains("not found on PATH"));
    }
}
