//! `RedisStore`: the Redis side of the cache layer: one or more multiplexed connections
//! (used round-robin, or by affinity), each opened by [`link`](super::link) with the reply
//! cap, and every reply checked against the type its command must get ([`reply`](super::reply)).
//!
//! Reconnecting is ours, not the redis crate's: a connection that failed (I/O error, a reply
//! that breaks the protocol, or `reconnect_after_timeouts` timeouts in a row — a paused or
//! blackholed server) is dropped, and the next call on that slot opens a fresh one. So the
//! first call after Redis is reachable again reaches it. Every command is bounded by the
//! response timeout, connecting included.

use super::cluster_link::ClusterWire;
use super::config::RedisConfig;
use super::connect::connect_one;
pub use super::connect::ConnectError;
use super::error::OpError;
use super::link::{Connector, Link};
use super::reply;
use arc_swap::ArcSwapOption;
use redis::aio::ConnectionLike;
use redis::Value;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One command of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Get(String),
    Set(String, Vec<u8>, Option<Duration>),
    Del(String),
}

/// The reply to one [`Command`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// GET: the value, if any.
    Value(Option<Vec<u8>>),
    /// SET succeeded.
    Stored,
    /// DEL: keys removed.
    Deleted(u64),
}

tokio::task_local! {
    /// The connection a task prefers (see [`with_connection`]).
    static CONNECTION_AFFINITY: usize;
}

/// Runs `f` with every command it sends going to connection `slot` (modulo the number of
/// connections) instead of round-robin. Commands a task sends together then share one
/// connection and travel in one write, as a client with its own connection would send them.
pub async fn with_connection<F: std::future::Future>(slot: usize, f: F) -> F::Output {
    CONNECTION_AFFINITY.scope(slot, f).await
}

/// One connection slot: the open link, if any, and its timeout streak.
struct Slot {
    link: ArcSwapOption<Link>,
    /// Held while a link is being opened, so callers that find the slot empty wait for one
    /// attempt instead of each opening their own.
    connecting: tokio::sync::Mutex<()>,
    consecutive_timeouts: AtomicU32,
}

/// A Redis-backed store. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: RedisConfig,
    connector: Connector,
    /// The single-node connections (none on a cluster).
    slots: Vec<Slot>,
    /// On a `redis+cluster://` target, the cluster clients that route every command.
    cluster: Option<ClusterWire>,
    next: AtomicUsize,
    reconnects: AtomicU32,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.inner.config)
            .finish()
    }
}

/// What one call came to, before classification.
enum Attempt {
    /// No answer within the response timeout.
    TimedOut,
    /// No connection could be opened.
    NoLink(redis::RedisError),
    /// The command went out on `link` and this came back.
    Sent(Arc<Link>, redis::RedisResult<Value>),
}

impl RedisStore {
    /// Connects `config.connections` connections, each with up to `max_retries` retries
    /// spaced by the guide's backoff. Authentication and protocol errors are not retried.
    pub async fn connect(config: RedisConfig) -> Result<RedisStore, ConnectError> {
        super::install_crypto_provider();
        let connector = Connector::new(&config)?;
        let url = config.redacted_url();
        let cluster = match config.cluster()? {
            Some(seeds) => Some(ClusterWire::connect(&config, &seeds).await?),
            None => None,
        };
        let single = if cluster.is_some() {
            0
        } else {
            config.connections.max(1)
        };
        let mut slots = Vec::with_capacity(single);
        for _ in 0..single {
            let link = connect_one(&connector, &config, &url).await?;
            slots.push(Slot {
                link: ArcSwapOption::from_pointee(link),
                connecting: tokio::sync::Mutex::new(()),
                consecutive_timeouts: AtomicU32::new(0),
            });
        }
        Ok(RedisStore {
            inner: Arc::new(Inner {
                config,
                connector,
                slots,
                cluster,
                next: AtomicUsize::new(0),
                reconnects: AtomicU32::new(0),
            }),
        })
    }

    /// The settings this store was opened with.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// How often a connection was dropped (it failed, or timed out repeatedly) so that the
    /// next call opens a fresh one; on a cluster, how often a cluster client was replaced
    /// after a streak of timeouts.
    pub fn reconnects(&self) -> u32 {
        let replaced = self.inner.cluster.as_ref().map_or(0, |c| c.replaced());
        self.inner
            .reconnects
            .load(Ordering::Relaxed)
            .saturating_add(u32::try_from(replaced).unwrap_or(u32::MAX))
    }

    /// `key` with the store's prefix.
    #[inline]
    pub fn full_key(&self, key: &str) -> String {
        let prefix = &self.inner.config.key_prefix;
        let mut k = String::with_capacity(prefix.len() + key.len());
        k.push_str(prefix);
        k.push_str(key);
        k
    }

    /// True when this store drives a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.cluster.is_some()
    }

    /// The cluster connection, on a cluster.
    pub(super) fn cluster(&self) -> Option<&ClusterWire> {
        self.inner.cluster.as_ref()
    }

    pub(super) fn pick(&self) -> usize {
        let n = match &self.inner.cluster {
            Some(c) => c.width(),
            None => self.inner.slots.len(),
        };
        if n == 1 {
            return 0;
        }
        CONNECTION_AFFINITY
            .try_with(|slot| *slot % n)
            .unwrap_or_else(|_| self.inner.next.fetch_add(1, Ordering::Relaxed) % n)
    }

    /// The slot's open link, opening one if the slot is empty.
    async fn link(&self, slot: usize) -> redis::RedisResult<Arc<Link>> {
        let s = &self.inner.slots[slot];
        let connector = &self.inner.connector;
        if let Some(link) = s.link.load_full().filter(|l| !connector.is_stale(l)) {
            return Ok(link);
        }
        let _one_attempt = s.connecting.lock().await;
        if let Some(link) = s.link.load_full() {
            if !connector.is_stale(&link) {
                return Ok(link);
            }
            // The sentinels switched the primary since this link was opened.
            s.link.store(None);
            self.inner.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        let link = Arc::new(self.inner.connector.open().await?);
        s.link.store(Some(link.clone()));
        Ok(link)
    }

    /// Sends `cmd` on slot `slot` within the response timeout.
    async fn attempt(&self, slot: usize, cmd: &redis::Cmd) -> Attempt {
        let limit = self.inner.config.response_timeout;
        let sent = async {
            let link = match self.link(slot).await {
                Ok(link) => link,
                Err(e) => return Attempt::NoLink(e),
            };
            let mut conn = link.conn.clone();
            let r = conn
                .req_packed_command(cmd)
                .await
                .and_then(Value::extract_error);
            Attempt::Sent(link, r)
        };
        tokio::time::timeout(limit, sent)
            .await
            .unwrap_or(Attempt::TimedOut)
    }

    /// Runs one command on slot `slot` and classifies the outcome (see [`settle`](Self::settle)).
    /// On a cluster the command goes to the node serving its key.
    pub(super) async fn call(&self, slot: usize, cmd: &redis::Cmd) -> Result<Value, OpError> {
        if let Some(cluster) = &self.inner.cluster {
            return cluster.call(slot, cmd).await;
        }
        let attempt = self.attempt(slot, cmd).await;
        self.settle(slot, attempt)
    }

    /// Classifies an attempt and keeps the slot healthy: a link that failed is dropped so
    /// the next call opens a fresh one; timeouts drop it after a streak.
    fn settle(&self, slot: usize, attempt: Attempt) -> Result<Value, OpError> {
        let s = &self.inner.slots[slot];
        let limit = self.inner.config.response_timeout;
        let (link, err) = match attempt {
            Attempt::Sent(_, Ok(v)) => {
                if s.consecutive_timeouts.load(Ordering::Relaxed) != 0 {
                    s.consecutive_timeouts.store(0, Ordering::Relaxed);
                }
                return Ok(v);
            }
            Attempt::TimedOut => {
                let n = s.consecutive_timeouts.fetch_add(1, Ordering::AcqRel) + 1;
                if n >= self.inner.config.reconnect_after_timeouts {
                    s.consecutive_timeouts.store(0, Ordering::Relaxed);
                    if s.link.swap(None).is_some() {
                        self.inner.reconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            "dropped connection {slot} to {} after {n} consecutive timeouts; \
                             the next call reconnects",
                            self.inner.config.redacted_url(),
                        );
                    }
                }
                return Err(OpError::Timeout(limit));
            }
            Attempt::NoLink(e) => (None, e),
            Attempt::Sent(link, Err(e)) => (Some(link), e),
        };
        s.consecutive_timeouts.store(0, Ordering::Relaxed);
        let violation = link.as_ref().and_then(|l| l.violation.get().cloned());
        let classified = match violation {
            Some(reason) => OpError::Protocol(reason),
            None => OpError::from_redis(&err, limit),
        };
        // Behind Sentinel, READONLY means the link still reaches a demoted primary: drop it
        // so the next call asks the sentinels again.
        let demoted = self.inner.connector.follows_sentinel()
            && matches!(&classified, OpError::Server { code, .. } if code == "READONLY");
        let broken = matches!(classified, OpError::Connection(_) | OpError::Protocol(_))
            || err.is_unrecoverable_error()
            || demoted;
        if let (Some(link), true) = (link, broken) {
            // Only the link that failed: another caller may already have opened a new one.
            let current = s.link.load();
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &link)) {
                let previous = s.link.compare_and_swap(&current, None);
                if previous.as_ref().is_some_and(|p| Arc::ptr_eq(p, &link)) {
                    self.inner.reconnects.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Err(classified)
    }

    /// PING.
    pub async fn ping(&self) -> Result<(), OpError> {
        reply::pong(self.call(self.pick(), &redis::cmd("PING")).await?)
    }

    /// GET.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, OpError> {
        let v = self
            .call(self.pick(), redis::cmd("GET").arg(self.full_key(key)))
            .await?;
        reply::bulk_or_nil("GET", v)
    }

    /// SET with an optional TTL (PX).
    pub async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), OpError> {
        let cmd = set_cmd(&self.full_key(key), value, ttl);
        reply::ok("SET", self.call(self.pick(), &cmd).await?)
    }

    /// DEL of one or more keys; returns how many existed.
    pub async fn del(&self, keys: &[&str]) -> Result<u64, OpError> {
        if keys.is_empty() {
            return Ok(0);
        }
        if self.is_cluster() {
            return self.cluster_del(keys).await;
        }
        let mut cmd = redis::cmd("DEL");
        for k in keys {
            cmd.arg(self.full_key(k));
        }
        reply::count("DEL", self.call(self.pick(), &cmd).await?)
    }

    /// MGET.
    pub async fn mget(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if self.is_cluster() {
            return self.cluster_mget(keys).await;
        }
        let mut cmd = redis::cmd("MGET");
        for k in keys {
            cmd.arg(self.full_key(k));
        }
        reply::values("MGET", keys.len(), self.call(self.pick(), &cmd).await?)
    }

    /// Writes several keys in one round trip: MSET without a TTL, else `SET .. PX` per key
    /// sent together (MSET cannot carry a TTL).
    pub async fn mset(
        &self,
        items: &[(&str, &[u8])],
        ttl: Option<Duration>,
    ) -> Result<(), OpError> {
        if items.is_empty() {
            return Ok(());
        }
        let slot = self.pick();
        match ttl {
            None if self.is_cluster() => self.cluster_mset(items).await,
            None => {
                let mut cmd = redis::cmd("MSET");
                for (k, v) in items {
                    cmd.arg(self.full_key(k)).arg(*v);
                }
                reply::ok("MSET", self.call(slot, &cmd).await?)
            }
            Some(ttl) => {
                let commands: Vec<Command> = items
                    .iter()
                    .map(|(k, v)| Command::Set(k.to_string(), v.to_vec(), Some(ttl)))
                    .collect();
                for (r, _) in self.pipeline_on(slot, &commands).await {
                    r?;
                }
                Ok(())
            }
        }
    }

    /// Sends every command on one connection without waiting between them, so they travel
    /// together (one round trip), and reports each reply with the instant it arrived:
    /// inside a batch each command has its own latency.
    pub async fn pipeline(&self, commands: &[Command]) -> Vec<(Result<Reply, OpError>, Instant)> {
        self.pipeline_on(self.pick(), commands).await
    }

    async fn pipeline_on(
        &self,
        slot: usize,
        commands: &[Command],
    ) -> Vec<(Result<Reply, OpError>, Instant)> {
        if self.is_cluster() {
            return self.cluster_pipeline(slot, commands).await;
        }
        let futures = commands.iter().map(|c| {
            let cmd = self.command(c);
            async move {
                let attempt = self.attempt(slot, &cmd).await;
                (attempt, Instant::now())
            }
        });
        let attempts = futures::future::join_all(futures).await;
        attempts
            .into_iter()
            .zip(commands)
            .map(|((attempt, at), c)| {
                let r = self.settle(slot, attempt).and_then(|v| to_reply(c, v));
                (r, at)
            })
            .collect()
    }

    /// The redis command of a pipeline's [`Command`], its key prefixed.
    pub(super) fn command(&self, c: &Command) -> redis::Cmd {
        match c {
            Command::Get(k) => redis::cmd("GET").arg(self.full_key(k)).to_owned(),
            Command::Set(k, v, ttl) => set_cmd(&self.full_key(k), v, *ttl),
            Command::Del(k) => redis::cmd("DEL").arg(self.full_key(k)).to_owned(),
        }
    }

    /// Deletes every key matching `pattern` under the store's prefix (the prefix taken
    /// literally, `pattern` as a glob) with SCAN MATCH + UNLINK in batches of `batch` keys
    /// (see [`sweep`](super::sweep)); never KEYS. On a cluster every primary is swept.
    /// Returns how many were removed.
    pub async fn del_pattern(&self, pattern: &str, batch: usize) -> Result<u64, OpError> {
        let mut full = super::sweep::escape_glob(&self.inner.config.key_prefix);
        full.push_str(pattern);
        if self.is_cluster() {
            return self.cluster_del_pattern(&full, batch).await;
        }
        let mut slot = StoreSlot {
            store: self,
            slot: self.pick(),
        };
        super::sweep::unlink_matching(&mut slot, &full, batch).await
    }

    /// INFO (all sections, or one) as text. A connection found dead is replaced and the
    /// command sent once more: after an outage, a slot no call used since still holds its
    /// dead link, and the end-of-run INFO must not fail against a healthy server for that.
    pub async fn info(&self, section: Option<&str>) -> Result<String, OpError> {
        let mut cmd = redis::cmd("INFO");
        if let Some(s) = section {
            cmd.arg(s);
        }
        reply::text("INFO", self.call_admin(&cmd).await?)
    }

    /// Runs an arbitrary command (no prefix applied): for tests, checks and reports. Like
    /// [`info`](Self::info), it is sent once more on a fresh connection if it found its
    /// connection dead.
    pub async fn raw<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, OpError> {
        let v = self.call_admin(cmd).await?;
        redis::from_redis_value(v).map_err(|e| OpError::Protocol(e.to_string()))
    }

    /// A command outside the measured load: a connection found dead (dropped by settle) is
    /// replaced and the command sent once more, so an outage that ended does not fail it.
    async fn call_admin(&self, cmd: &redis::Cmd) -> Result<Value, OpError> {
        let slot = self.pick();
        match self.call(slot, cmd).await {
            Err(OpError::Connection(_)) => self.call(slot, cmd).await,
            other => other,
        }
    }
}

/// One connection slot of a store, as the sweep sends its commands: each through
/// [`RedisStore::call`], so replies are checked and a broken link is replaced.
struct StoreSlot<'a> {
    store: &'a RedisStore,
    slot: usize,
}

impl super::sweep::Send1 for StoreSlot<'_> {
    fn send<'s>(
        &'s mut self,
        cmd: &'s redis::Cmd,
    ) -> impl std::future::Future<Output = Result<Value, OpError>> + Send + 's {
        self.store.call(self.slot, cmd)
    }
}

fn set_cmd(key: &str, value: &[u8], ttl: Option<Duration>) -> redis::Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if let Some(ttl) = ttl {
        cmd.arg("PX").arg(px_millis(ttl));
    }
    cmd
}

pub(super) fn to_reply(command: &Command, value: Value) -> Result<Reply, OpError> {
    Ok(match command {
        Command::Get(_) => Reply::Value(reply::bulk_or_nil("GET", value)?),
        Command::Set(..) => {
            reply::ok("SET", value)?;
            Reply::Stored
        }
        Command::Del(_) => Reply::Deleted(reply::count("DEL", value)?),
    })
}

/// A TTL as SET's `PX` argument: whole milliseconds, at least 1 (0 would be an error).
pub fn px_millis(ttl: Duration) -> u64 {
    ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64
}
