//! The store's connection to a Redis Cluster: the redis crate's async cluster client
//! (`redis::cluster_async`), which learns the slot map, routes each command to the node
//! serving its key, follows MOVED/ASK and reconnects, over node connections we open
//! ourselves so that the reply cap holds on them too.
//!
//! The crate opens its node connections through the [`Connect`] trait, a constructor with no
//! `self`: nothing of ours reaches it but the connection settings the crate builds from its
//! own parameters. The one per-client value that reaches it untouched is the database index
//! (always 0 on a cluster), so [`ClusterWire`] registers its settings (reply cap, connect
//! timeout, where to report a cut) in a process-wide table and passes the entry's number as
//! the database index; [`CappedNode`] looks the entry up, opens TCP, wraps it in a
//! [`CappedStream`] and hands it to the crate's `MultiplexedConnection` with database 0, so
//! no SELECT is sent. The entry goes when the store does.
//!
//! A reply over the cap cuts that node's connection; the crate then sees an I/O error. The
//! cut's reason is kept, and the next failed command reports it as a protocol error, as a
//! single-node store does.

use super::cluster::{ClusterNode, ClusterUrl};
use super::cluster_routes::{Detour, DirectPath};
use super::config::{redact_text, RedisConfig};
use super::connect::{retrying, ConnectError, Failed};
use super::error::OpError;
use super::reply;
use super::reply_cap::{CappedStream, Violation};
use arc_swap::ArcSwap;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::{ClusterConnection, Connect};
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{AsyncConnectionConfig, Cmd, ConnectionAddr, IntoConnectionInfo, RedisFuture, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

/// What every node connection of one cluster store is opened with.
struct NodeSettings {
    /// Largest reply accepted, bytes.
    max_reply_bytes: u64,
    /// Deadline for TCP and the handshake of one node connection.
    connect_timeout: Duration,
    /// The cut-off reasons of this store's connections, until reported; connections that
    /// ended without one are pruned as new ones open.
    violations: Mutex<Vec<Violation>>,
}

impl NodeSettings {
    fn watch(&self, violation: Violation) {
        let mut v = self.violations.lock().unwrap_or_else(|e| e.into_inner());
        // Unset and no longer held by a stream: that connection ended without a cut.
        v.retain(|x| x.get().is_some() || Arc::strong_count(x) > 1);
        v.push(violation);
    }

    /// The reason of a cut not yet reported, if any (reported once).
    fn take_violation(&self) -> Option<String> {
        let mut v = self.violations.lock().unwrap_or_else(|e| e.into_inner());
        let at = v.iter().position(|x| x.get().is_some())?;
        v.swap_remove(at).get().cloned()
    }
}

/// Settings of the live cluster stores, by the number passed as their database index.
static REGISTRY: LazyLock<Mutex<HashMap<i64, Weak<NodeSettings>>>> = LazyLock::new(Mutex::default);
static NEXT_ID: AtomicI64 = AtomicI64::new(1);

/// A store's entry in [`REGISTRY`], removed when dropped.
struct Registration {
    id: i64,
    settings: Arc<NodeSettings>,
}

impl Registration {
    fn new(settings: NodeSettings) -> Registration {
        let settings = Arc::new(settings);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        registry().insert(id, Arc::downgrade(&settings));
        Registration { id, settings }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        registry().remove(&self.id);
    }
}

fn registry() -> std::sync::MutexGuard<'static, HashMap<i64, Weak<NodeSettings>>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// One node connection of the cluster client: the crate's multiplexed connection over a
/// capped stream we opened.
#[derive(Clone)]
pub struct CappedNode(MultiplexedConnection);

impl ConnectionLike for CappedNode {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.0.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        0
    }
}

impl Connect for CappedNode {
    fn connect_with_config<'a, T>(info: T, config: AsyncConnectionConfig) -> RedisFuture<'a, Self>
    where
        T: IntoConnectionInfo + Send + 'a,
    {
        Box::pin(async move {
            let info = info.into_connection_info()?;
            let settings = registry()
                .get(&info.redis_settings().db())
                .and_then(Weak::upgrade)
                .ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotConnected, "the store was closed")
                })?;
            let redis = info.redis_settings().clone().set_db(0);
            let (host, port) = match info.addr() {
                ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
                other => {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::InvalidClientConfig,
                        "cluster nodes are reached over plain TCP",
                        other.to_string(),
                    )))
                }
            };
            let violation = Violation::default();
            let opened = async {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                tcp.set_nodelay(true)?;
                let stream = CappedStream::new(tcp, settings.max_reply_bytes, violation.clone());
                let (conn, driver) =
                    MultiplexedConnection::new_with_config(&redis, stream, config).await?;
                tokio::spawn(driver);
                redis::RedisResult::Ok(conn)
            };
            let conn = match tokio::time::timeout(settings.connect_timeout, opened).await {
                Ok(conn) => conn?,
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "no connection to {host}:{port} within the connect timeout of {:?}",
                            settings.connect_timeout
                        ),
                    )
                    .into())
                }
            };
            settings.watch(violation);
            Ok(CappedNode(conn))
        })
    }
}

/// One cluster client of a store, replaced after a streak of timeouts.
///
/// The crate's cluster client dispatches nothing while it refreshes its slot map, and after
/// a failover that refresh can stall for seconds (once for more than 20 s): every command
/// sent meanwhile times out. As a single-node store drops a connection after
/// `reconnect_after_timeouts` timeouts in a row, the cluster store opens a fresh cluster
/// client in the background (seeds, slot map read anew) and swaps it in; the wedged one is
/// dropped with its last handle.
struct CrateConn {
    conn: ArcSwap<ClusterConnection<CappedNode>>,
    timeouts: AtomicU32,
    replacing: AtomicBool,
}

impl CrateConn {
    fn new(conn: ClusterConnection<CappedNode>) -> Arc<CrateConn> {
        Arc::new(CrateConn {
            conn: ArcSwap::from_pointee(conn),
            timeouts: AtomicU32::new(0),
            replacing: AtomicBool::new(false),
        })
    }

    fn get(&self) -> ClusterConnection<CappedNode> {
        (*self.conn.load_full()).clone()
    }
}

/// A store's cluster connections: `connections` cluster clients (each with one connection
/// per node), used round-robin or by affinity like a single-node store's connections.
pub struct ClusterWire {
    conns: Vec<Arc<CrateConn>>,
    /// Opens replacements for [`CrateConn`]s that keep timing out.
    client: redis::cluster::ClusterClient,
    reconnect_after_timeouts: u32,
    connect_timeout: Duration,
    /// Cluster clients replaced after a streak of timeouts.
    replaced: Arc<AtomicU64>,
    /// Single-key commands straight to their node while the slot map holds.
    direct: Arc<DirectPath>,
    registration: Registration,
    response_timeout: Duration,
}

impl ClusterWire {
    /// Connects `config.connections` cluster clients to the cluster `url` names, each with
    /// up to `max_retries` retries spaced by the guide's backoff, and checks with PING that
    /// the cluster answers. Authentication and protocol errors are not retried.
    pub async fn connect(
        config: &RedisConfig,
        url: &ClusterUrl,
    ) -> Result<ClusterWire, ConnectError> {
        let redacted = config.redacted_url();
        let registration = Registration::new(NodeSettings {
            max_reply_bytes: config.max_reply_bytes,
            connect_timeout: config.connect_timeout,
            violations: Mutex::default(),
        });
        let mut builder = ClusterClientBuilder::new(url.seed_urls.iter().map(String::as_str))
            .connection_timeout(config.connect_timeout)
            .response_timeout(config.response_timeout)
            .database_id(registration.id);
        let url_has_password = url::Url::parse(&url.seed_urls[0])
            .ok()
            .is_some_and(|u| u.password().is_some());
        if let (Some(p), false) = (&config.password, url_has_password) {
            builder = builder.password(p);
        }
        let client = builder.build().map_err(|e| ConnectError::NotRedis {
            url: redacted.clone(),
            reason: redact_text(&e.to_string()),
        })?;
        let mut conns = Vec::with_capacity(config.connections.max(1));
        for _ in 0..config.connections.max(1) {
            conns.push(connect_one(&client, config, &redacted).await?);
        }
        let direct = Arc::new(DirectPath::new(
            config,
            url.clone(),
            registration.id,
            conns.len(),
        ));
        let wire = ClusterWire {
            conns: conns.into_iter().map(CrateConn::new).collect(),
            client,
            reconnect_after_timeouts: config.reconnect_after_timeouts.max(1),
            connect_timeout: config.connect_timeout,
            replaced: Arc::default(),
            direct,
            registration,
            response_timeout: config.response_timeout,
        };
        wire.direct.ensure_routes().await;
        Ok(wire)
    }

    /// Number of cluster clients.
    pub fn width(&self) -> usize {
        self.conns.len()
    }

    /// Sends `cmd` on client `slot`, routed by its key (a keyless command goes to a random
    /// node), within the response timeout. A command on one slot goes direct; when the map
    /// is missing it is read again first (see [`cluster_routes`](super::cluster_routes)).
    pub async fn call(&self, slot: usize, cmd: &Cmd) -> Result<Value, OpError> {
        // Whether the cluster client got the command: only its timeouts count against it.
        let via_crate = AtomicBool::new(false);
        let sent = async {
            match self.direct.send(slot, cmd).await {
                Ok(reply) => return reply,
                Err(Detour::NotDirect) => {}
                Err(Detour::Stale) => {
                    self.direct.ensure_routes().await;
                    if let Ok(reply) = self.direct.send(slot, cmd).await {
                        return reply;
                    }
                }
            }
            via_crate.store(true, Ordering::Relaxed);
            let mut conn = self.conns[slot % self.conns.len()].get();
            conn.req_packed_command(cmd).await
        };
        let outcome = tokio::time::timeout(self.response_timeout, sent).await;
        if via_crate.load(Ordering::Relaxed) {
            self.watch(slot % self.conns.len(), timed_out(&outcome));
        }
        self.settle(outcome)
    }

    /// Counts a cluster client's timeouts in a row; at `reconnect_after_timeouts`, a fresh
    /// one is opened in the background and replaces it (see [`CrateConn`]).
    fn watch(&self, index: usize, timed_out: bool) {
        let c = &self.conns[index];
        if !timed_out {
            if c.timeouts.load(Ordering::Relaxed) != 0 {
                c.timeouts.store(0, Ordering::Relaxed);
            }
            return;
        }
        let n = c.timeouts.fetch_add(1, Ordering::AcqRel) + 1;
        if n < self.reconnect_after_timeouts || c.replacing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (c, client, replaced) = (c.clone(), self.client.clone(), self.replaced.clone());
        // Seeds, then the slot map and every node: an unreachable node costs a connect
        // timeout at each step.
        let deadline = self.connect_timeout * 4;
        tokio::spawn(async move {
            let opened = client.get_async_generic_connection::<CappedNode>();
            match tokio::time::timeout(deadline, opened).await {
                Ok(Ok(fresh)) => {
                    c.conn.store(Arc::new(fresh));
                    c.timeouts.store(0, Ordering::Relaxed);
                    replaced.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "replaced cluster client {index} after {n} consecutive timeouts"
                    );
                }
                Ok(Err(e)) => tracing::debug!(
                    "cluster client {index}: no replacement: {}",
                    redact_text(&e.to_string())
                ),
                Err(_) => tracing::debug!("cluster client {index}: no replacement in {deadline:?}"),
            }
            c.replacing.store(false, Ordering::Release);
        });
    }

    /// Cluster clients replaced after a streak of timeouts so far.
    pub fn replaced(&self) -> u64 {
        self.replaced.load(Ordering::Relaxed)
    }

    /// Sends `cmd` to the node at `host:port`, within `timeout`.
    pub async fn call_on(
        &self,
        host: &str,
        port: u16,
        cmd: &Cmd,
        timeout: Duration,
    ) -> Result<Value, OpError> {
        let mut conn = self.conns[0].get();
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
            host: host.to_string(),
            port,
        });
        let sent = conn.route_command(cmd.clone(), routing);
        let outcome = tokio::time::timeout(timeout, sent).await;
        self.watch(0, timed_out(&outcome));
        self.settle(outcome)
    }

    /// The cluster's nodes as one node sees them now (`CLUSTER NODES`).
    pub async fn nodes(&self, timeout: Duration) -> Result<Vec<ClusterNode>, OpError> {
        let mut conn = self.conns[0].get();
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary);
        let sent = conn.route_command(redis::cmd("CLUSTER").arg("NODES").clone(), routing);
        let outcome = tokio::time::timeout(timeout, sent).await;
        self.watch(0, timed_out(&outcome));
        let v = self.settle(outcome)?;
        let text = reply::text("CLUSTER NODES", v)?;
        super::cluster::parse_nodes(&text).map_err(OpError::Protocol)
    }

    /// Classifies an outcome: a connection cut by the reply cap meanwhile is a protocol
    /// error (whether the crate gave up or was still retrying at the deadline), no answer
    /// in time a timeout, the rest as a single-node store classifies it.
    fn settle(
        &self,
        outcome: Result<redis::RedisResult<Value>, tokio::time::error::Elapsed>,
    ) -> Result<Value, OpError> {
        let err = match outcome {
            Ok(Ok(v)) => match v.extract_error() {
                Ok(v) => return Ok(v),
                Err(e) => e,
            },
            Ok(Err(e)) => e,
            // The crate retries a cut connection until the deadline: the cut is the cause.
            Err(_) => {
                return Err(match self.registration.settings.take_violation() {
                    Some(reason) => OpError::Protocol(reason),
                    None => OpError::Timeout(self.response_timeout),
                })
            }
        };
        let classified = OpError::from_redis(&err, self.response_timeout);
        if matches!(
            classified,
            OpError::Connection(_) | OpError::Protocol(_) | OpError::Timeout(_)
        ) {
            if let Some(reason) = self.registration.settings.take_violation() {
                return Err(OpError::Protocol(reason));
            }
        }
        Err(classified)
    }
}

/// True when no answer came in time: our deadline, or the crate's own response timeout
/// on the node connection.
fn timed_out(outcome: &Result<redis::RedisResult<Value>, tokio::time::error::Elapsed>) -> bool {
    match outcome {
        Err(_) => true,
        Ok(Err(e)) => e.is_timeout(),
        Ok(Ok(_)) => false,
    }
}

/// Opens one cluster client, retrying unreachable seeds with the guide's backoff.
async fn connect_one(
    client: &redis::cluster::ClusterClient,
    config: &RedisConfig,
    url: &str,
) -> Result<ClusterConnection<CappedNode>, ConnectError> {
    retrying(config, url, "cluster connect", || async {
        // The crate bounds each node connection by the connect timeout; the whole start
        // (seeds, then the slot map) gets twice that.
        let opened = async {
            let mut conn = client.get_async_generic_connection::<CappedNode>().await?;
            let pong = conn.req_packed_command(&redis::cmd("PING")).await?;
            redis::RedisResult::Ok((conn, pong))
        };
        match tokio::time::timeout(config.connect_timeout * 2, opened).await {
            Ok(Ok((conn, pong))) => match reply::pong(pong) {
                Ok(()) => Ok(conn),
                Err(e) => Err(Failed::Fatal(ConnectError::NotRedis {
                    url: url.to_string(),
                    reason: e.to_string(),
                })),
            },
            Ok(Err(e)) => {
                let text = redact_text(&format!("{e}"));
                let detail = text.to_ascii_lowercase();
                if detail.contains("wrongpass")
                    || detail.contains("noauth")
                    || e.kind() == redis::ErrorKind::AuthenticationFailed
                {
                    return Err(Failed::Fatal(ConnectError::Auth {
                        url: url.to_string(),
                        reason: text,
                    }));
                }
                if detail.contains("cluster support disabled") {
                    return Err(Failed::Fatal(ConnectError::NotRedis {
                        url: url.to_string(),
                        reason: "the node is not in cluster mode (cluster-enabled no): use \
                                 redis:// for a single server"
                            .into(),
                    }));
                }
                Err(Failed::Again(text))
            }
            Err(_) => Err(Failed::Again(format!(
                "no answer within twice the connect timeout of {:?}",
                config.connect_timeout
            ))),
        }
    })
    .await
}
