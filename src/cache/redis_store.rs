//! `RedisStore`: the Redis side of the cache layer, over the redis crate's
//! `ConnectionManager` (one or more multiplexed connections, used round-robin).
//!
//! Two things the redis crate does not do for us are done here: every command is bounded by
//! the response timeout even while a connection is being (re)established, and a connection
//! that keeps timing out (a paused or blackholed server) is dropped and rebuilt, since the
//! crate only reconnects after I/O errors.

use super::config::{retry_delay, ConfigError, RedisConfig};
use super::error::OpError;
use arc_swap::ArcSwap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL or settings are unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server refused the password or requires one.
    #[error("authentication failed at {url}: {reason} (check the password in the URL or REDIS_PASSWORD)")]
    Auth { url: String, reason: String },
    /// Nothing answered, after every retry.
    #[error("cannot connect to {url} after {attempts} attempt(s): {reason}")]
    Unreachable {
        url: String,
        attempts: u32,
        reason: String,
    },
    /// Something answered, but not as Redis does.
    #[error("{url} does not speak the Redis protocol: {reason}")]
    NotRedis { url: String, reason: String },
}

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

struct Slot {
    conn: ArcSwap<ConnectionManager>,
    consecutive_timeouts: AtomicU32,
}

/// A Redis-backed store. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: RedisConfig,
    client: redis::Client,
    manager_config: ConnectionManagerConfig,
    slots: Vec<Slot>,
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

impl RedisStore {
    /// Connects `config.connections` connections, each with up to `max_retries` retries
    /// spaced by the guide's backoff. Authentication and protocol errors are not retried.
    pub async fn connect(config: RedisConfig) -> Result<RedisStore, ConnectError> {
        super::install_crypto_provider();
        let info = config.connection_info()?;
        let url = config.redacted_url();
        let client = match &config.tls_root_cert {
            Some(ca) if config.uses_tls() => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.clone()),
                },
            ),
            _ => redis::Client::open(info),
        }
        .map_err(|e| ConfigError::MalformedUrl {
            url: url.clone(),
            reason: super::config::redact_text(&e.to_string()),
        })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            // Our own per-command deadline (which also counts consecutive
            // timeouts and rebuilds the connection) is the only one: the
            // crate's default of 500 ms would otherwise cap every command.
            .set_response_timeout(None)
            .set_number_of_retries(config.max_retries as usize)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(2000));
        let mut slots = Vec::with_capacity(config.connections.max(1));
        for _ in 0..config.connections.max(1) {
            let conn = connect_one(&client, &manager_config, &config, &url).await?;
            slots.push(Slot {
                conn: ArcSwap::from_pointee(conn),
                consecutive_timeouts: AtomicU32::new(0),
            });
        }
        Ok(RedisStore {
            inner: Arc::new(Inner {
                config,
                client,
                manager_config,
                slots,
                next: AtomicUsize::new(0),
                reconnects: AtomicU32::new(0),
            }),
        })
    }

    /// The settings this store was opened with.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// How often a connection was rebuilt after repeated timeouts.
    pub fn reconnects(&self) -> u32 {
        self.inner.reconnects.load(Ordering::Relaxed)
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

    fn pick(&self) -> usize {
        let n = self.inner.slots.len();
        if n == 1 {
            return 0;
        }
        CONNECTION_AFFINITY
            .try_with(|slot| *slot % n)
            .unwrap_or_else(|_| self.inner.next.fetch_add(1, Ordering::Relaxed) % n)
    }

    /// Runs one command on connection `slot`, bounded by the response timeout, and keeps
    /// the slot's consecutive-timeout count.
    async fn run<T: redis::FromRedisValue>(
        &self,
        slot: usize,
        cmd: &redis::Cmd,
    ) -> Result<T, OpError> {
        let s = &self.inner.slots[slot];
        let mut conn = ConnectionManager::clone(&s.conn.load());
        let limit = self.inner.config.response_timeout;
        let result = tokio::time::timeout(limit, cmd.query_async::<T>(&mut conn)).await;
        self.settle(slot, result, limit)
    }

    fn settle<T>(
        &self,
        slot: usize,
        result: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
        limit: Duration,
    ) -> Result<T, OpError> {
        let outcome = match result {
            Ok(r) => r.map_err(|e| OpError::from_redis(&e, limit)),
            Err(_) => Err(OpError::Timeout(limit)),
        };
        self.account(slot, &outcome);
        outcome
    }

    /// Keeps the slot's consecutive-timeout count, rebuilding the connection when it
    /// reaches the limit.
    fn account<T>(&self, slot: usize, outcome: &Result<T, OpError>) {
        let s = &self.inner.slots[slot];
        match outcome {
            Err(OpError::Timeout(_)) => {
                let n = s.consecutive_timeouts.fetch_add(1, Ordering::AcqRel) + 1;
                if n >= self.inner.config.reconnect_after_timeouts {
                    self.rebuild(slot);
                }
            }
            _ => {
                if s.consecutive_timeouts.load(Ordering::Relaxed) != 0 {
                    s.consecutive_timeouts.store(0, Ordering::Relaxed);
                }
            }
        }
    }

    /// Replaces a connection that keeps timing out with a fresh, lazily connected one.
    fn rebuild(&self, slot: usize) {
        let s = &self.inner.slots[slot];
        s.consecutive_timeouts.store(0, Ordering::Relaxed);
        match ConnectionManager::new_lazy_with_config(
            self.inner.client.clone(),
            self.inner.manager_config.clone(),
        ) {
            Ok(fresh) => {
                s.conn.store(Arc::new(fresh));
                self.inner.reconnects.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "dropped connection {slot} to {} after {} consecutive timeouts; reconnecting",
                    self.inner.config.redacted_url(),
                    self.inner.config.reconnect_after_timeouts
                );
            }
            Err(e) => tracing::warn!("could not rebuild connection {slot}: {e}"),
        }
    }

    /// PING.
    pub async fn ping(&self) -> Result<(), OpError> {
        let _: String = self.run(self.pick(), &redis::cmd("PING")).await?;
        Ok(())
    }

    /// GET.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, OpError> {
        self.run(self.pick(), redis::cmd("GET").arg(self.full_key(key)))
            .await
    }

    /// SET with an optional TTL (PX).
    pub async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), OpError> {
        let cmd = set_cmd(&self.full_key(key), value, ttl);
        let _: redis::Value = self.run(self.pick(), &cmd).await?;
        Ok(())
    }

    /// DEL of one or more keys; returns how many existed.
    pub async fn del(&self, keys: &[&str]) -> Result<u64, OpError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("DEL");
        for k in keys {
            cmd.arg(self.full_key(k));
        }
        self.run(self.pick(), &cmd).await
    }

    /// MGET.
    pub async fn mget(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        for k in keys {
            cmd.arg(self.full_key(k));
        }
        self.run(self.pick(), &cmd).await
    }

    /// Writes several keys in one round trip: MSET without a TTL, else a pipeline of
    /// `SET .. PX` (MSET cannot carry a TTL).
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
            None => {
                let mut cmd = redis::cmd("MSET");
                for (k, v) in items {
                    cmd.arg(self.full_key(k)).arg(*v);
                }
                let _: redis::Value = self.run(slot, &cmd).await?;
            }
            Some(ttl) => {
                let mut pipe = redis::pipe();
                for (k, v) in items {
                    pipe.add_command(set_cmd(&self.full_key(k), v, Some(ttl)))
                        .ignore();
                }
                let s = &self.inner.slots[slot];
                let mut conn = ConnectionManager::clone(&s.conn.load());
                let limit = self.inner.config.response_timeout;
                let r = tokio::time::timeout(limit, pipe.query_async::<()>(&mut conn)).await;
                self.settle(slot, r, limit)?;
            }
        }
        Ok(())
    }

    /// Sends every command on one connection without waiting between them, so they travel
    /// together (one round trip), and reports each reply with the instant it arrived:
    /// inside a batch each command has its own latency.
    pub async fn pipeline(&self, commands: &[Command]) -> Vec<(Result<Reply, OpError>, Instant)> {
        let slot = self.pick();
        let conn = ConnectionManager::clone(&self.inner.slots[slot].conn.load());
        let limit = self.inner.config.response_timeout;
        let futures = commands.iter().map(|c| {
            let mut conn = conn.clone();
            let cmd = match c {
                Command::Get(k) => redis::cmd("GET").arg(self.full_key(k)).to_owned(),
                Command::Set(k, v, ttl) => set_cmd(&self.full_key(k), v, *ttl),
                Command::Del(k) => redis::cmd("DEL").arg(self.full_key(k)).to_owned(),
            };
            async move {
                let r =
                    tokio::time::timeout(limit, cmd.query_async::<redis::Value>(&mut conn)).await;
                (r, Instant::now())
            }
        });
        let replies = futures::future::join_all(futures).await;
        replies
            .into_iter()
            .zip(commands)
            .map(|((r, at), c)| {
                let r = self.settle(slot, r, limit).and_then(|v| to_reply(c, v));
                (r, at)
            })
            .collect()
    }

    /// Deletes every key matching `pattern` under the store's prefix (the prefix taken
    /// literally, `pattern` as a glob) with SCAN MATCH + UNLINK in batches of `batch` keys
    /// (see [`sweep`](super::sweep)); never KEYS. Returns how many were removed.
    pub async fn del_pattern(&self, pattern: &str, batch: usize) -> Result<u64, OpError> {
        let slot = self.pick();
        let mut full = super::sweep::escape_glob(&self.inner.config.key_prefix);
        full.push_str(pattern);
        let mut conn = ConnectionManager::clone(&self.inner.slots[slot].conn.load());
        let limit = self.inner.config.response_timeout;
        let outcome = super::sweep::unlink_matching(&mut conn, &full, batch, limit).await;
        self.account(slot, &outcome);
        outcome
    }

    /// INFO (all sections, or one) as text.
    pub async fn info(&self, section: Option<&str>) -> Result<String, OpError> {
        let mut cmd = redis::cmd("INFO");
        if let Some(s) = section {
            cmd.arg(s);
        }
        self.run(self.pick(), &cmd).await
    }

    /// Runs an arbitrary command (no prefix applied): for tests, checks and reports.
    pub async fn raw<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, OpError> {
        self.run(self.pick(), cmd).await
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

fn to_reply(command: &Command, value: redis::Value) -> Result<Reply, OpError> {
    let wrong = |e: redis::ParsingError| OpError::Protocol(e.to_string());
    Ok(match command {
        Command::Get(_) => Reply::Value(redis::from_redis_value(value).map_err(wrong)?),
        Command::Set(..) => Reply::Stored,
        Command::Del(_) => Reply::Deleted(redis::from_redis_value(value).map_err(wrong)?),
    })
}

async fn connect_one(
    client: &redis::Client,
    manager_config: &ConnectionManagerConfig,
    config: &RedisConfig,
    url: &str,
) -> Result<ConnectionManager, ConnectError> {
    let mut attempt = 0;
    loop {
        let started = Instant::now();
        let result = tokio::time::timeout(
            config.connect_timeout,
            ConnectionManager::new_with_config(client.clone(), manager_config.clone()),
        )
        .await;
        // A server that requires a password accepts the connection and refuses commands,
        // so the connection only counts once it answers PING.
        let result = match result {
            Ok(Ok(mut conn)) => {
                let ping = redis::cmd("PING");
                match tokio::time::timeout(
                    config.connect_timeout,
                    ping.query_async::<String>(&mut conn),
                )
                .await
                {
                    Ok(Ok(_)) => return Ok(conn),
                    Ok(Err(e)) => Ok(Err(e)),
                    Err(elapsed) => Err(elapsed),
                }
            }
            other => other,
        };
        let reason = match result {
            Ok(Ok(_)) => unreachable!("returned above"),
            Ok(Err(e)) => {
                let text = super::config::redact_text(&e.to_string());
                if e.kind() == redis::ErrorKind::AuthenticationFailed
                    || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
                {
                    return Err(ConnectError::Auth {
                        url: url.to_string(),
                        reason: text,
                    });
                }
                if !(e.is_io_error() || e.is_timeout()) {
                    return Err(ConnectError::NotRedis {
                        url: url.to_string(),
                        reason: text,
                    });
                }
                text
            }
            Err(_) => format!(
                "no answer within the connect timeout of {:?}",
                config.connect_timeout
            ),
        };
        attempt += 1;
        if attempt > config.max_retries {
            return Err(ConnectError::Unreachable {
                url: url.to_string(),
                attempts: attempt,
                reason,
            });
        }
        tracing::debug!(
            "connect attempt {attempt} to {url} failed after {:?}: {reason}",
            started.elapsed()
        );
        tokio::time::sleep(retry_delay(attempt)).await;
    }
}

/// A TTL as SET's `PX` argument: whole milliseconds, at least 1 (0 would be an error).
pub fn px_millis(ttl: Duration) -> u64 {
    ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64
}
