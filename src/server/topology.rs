//! An embedded Sentinel topology: one primary, one replica and three `redis-sentinel`
//! processes on free loopback ports, all started (and tied to redline's life) through
//! [`EmbeddedRedis`], so they die with redline and are stopped when the value drops.
//!
//! [`SentinelTopology::start`] returns only once the topology is *settled*: every sentinel
//! names the same primary, knows the two other sentinels (a failover needs a majority to
//! elect a leader) and sees a healthy replica, and the primary reports its replica online
//! (initial sync done). Failover drills then kill the primary or ask for `SENTINEL FAILOVER`
//! and wait for it to settle again on the other node.
//!
//! Sentinel timings are short (down after 1 s, failover timeout 2 s) so that a drill's
//! failover completes in a few seconds; production deployments use tens of seconds.

use super::{EmbeddedRedis, ServerError, ServerOptions};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The name the sentinels monitor the primary under (the path of the topology's URL).
pub const MASTER_NAME: &str = "redline";
/// Sentinels started: three, so that one may fail and two still agree.
const SENTINELS: usize = 3;
/// Sentinels that must agree the primary is down before a failover.
const QUORUM: usize = 2;
/// How long the topology may take to settle (after start, after a failover).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Interval between polls while waiting for the topology to settle.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Deadline of one query to a node or a sentinel.
const QUERY_TIMEOUT: Duration = Duration::from_millis(500);

/// Sentinel's timing knobs for the monitored primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentinelTimings {
    /// `down-after-milliseconds`: silence after which a sentinel deems the primary down.
    pub down_after: Duration,
    /// `failover-timeout`: how long a failover may take before another is tried.
    pub failover_timeout: Duration,
}

impl Default for SentinelTimings {
    fn default() -> Self {
        SentinelTimings {
            down_after: Duration::from_millis(1000),
            failover_timeout: Duration::from_millis(2000),
        }
    }
}

/// One primary, one replica and three sentinels on loopback. Dropping it stops the
/// sentinels first (so they do not react to the nodes going away), then the nodes.
pub struct SentinelTopology {
    /// The sentinels; declared first so they drop first.
    sentinels: Vec<EmbeddedRedis>,
    /// The two data nodes; `nodes[0]` started as the primary.
    nodes: Vec<EmbeddedRedis>,
    /// `requirepass` of the data nodes (also `masterauth` and Sentinel's `auth-pass`).
    password: Option<String>,
}

impl std::fmt::Debug for SentinelTopology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelTopology")
            .field("url", &self.redacted_url())
            .field("nodes", &self.nodes)
            .field("sentinels", &self.sentinels.len())
            .finish()
    }
}

impl SentinelTopology {
    /// Starts the primary with `opts`, a replica of it, then the sentinels (`sentinel_binary`
    /// may be `redis-server` itself), and waits until the topology settles. Setting `cancel`
    /// gives up within one poll interval with [`ServerError::Cancelled`]; everything started
    /// so far is stopped.
    pub fn start(
        redis_server: PathBuf,
        sentinel_binary: PathBuf,
        opts: ServerOptions,
        timings: SentinelTimings,
        cancel: Arc<AtomicBool>,
    ) -> Result<SentinelTopology, ServerError> {
        let password = opts.password.clone();
        let mut node_opts = opts;
        node_opts
            .extra_config
            .extend(node_config(password.as_deref()));
        let start_node = |opts: ServerOptions| {
            EmbeddedRedis::start_cancellable_with_binary(&redis_server, opts, cancel.clone())
        };
        let primary = start_node(node_opts.clone())?;
        let mut replica_opts = node_opts;
        replica_opts
            .extra_config
            .push(("replicaof".into(), format!("127.0.0.1 {}", primary.port())));
        let replica = start_node(replica_opts)?;
        let mut topology = SentinelTopology {
            sentinels: Vec::with_capacity(SENTINELS),
            nodes: vec![primary, replica],
            password,
        };
        let sentinel_opts = ServerOptions {
            sentinel_mode: true,
            extra_config: sentinel_config(
                topology.nodes[0].port(),
                timings,
                topology.password.as_deref(),
            ),
            ..ServerOptions::default()
        };
        for _ in 0..SENTINELS {
            topology
                .sentinels
                .push(EmbeddedRedis::start_cancellable_with_binary(
                    &sentinel_binary,
                    sentinel_opts.clone(),
                    cancel.clone(),
                )?);
        }
        let primary = topology.nodes[0].addr();
        topology.wait_settled(Some(primary), SETTLE_TIMEOUT, &cancel)?;
        Ok(topology)
    }

    /// `redis+sentinel://[:password@]127.0.0.1:a,127.0.0.1:b,127.0.0.1:c/redline`: how
    /// clients reach the topology. Holds the password: print [`redacted_url`](Self::redacted_url).
    pub fn url(&self) -> String {
        let userinfo = match &self.password {
            Some(p) => format!(":{}@", super::percent_encode(p)),
            None => String::new(),
        };
        self.url_with(&userinfo)
    }

    /// [`url`](Self::url) with the password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        self.url_with(if self.password.is_some() { ":***@" } else { "" })
    }

    fn url_with(&self, userinfo: &str) -> String {
        let hosts: Vec<String> = self
            .sentinel_addrs()
            .iter()
            .map(SocketAddr::to_string)
            .collect();
        format!(
            "redis+sentinel://{userinfo}{}/{MASTER_NAME}",
            hosts.join(",")
        )
    }

    /// The sentinels' addresses.
    pub fn sentinel_addrs(&self) -> Vec<SocketAddr> {
        self.sentinels.iter().map(EmbeddedRedis::addr).collect()
    }

    /// The data nodes (primary and replica, in start order).
    pub fn nodes(&self) -> &[EmbeddedRedis] {
        &self.nodes
    }

    /// Pids of every process of the topology that is running.
    pub fn pids(&self) -> Vec<u32> {
        self.sentinels
            .iter()
            .chain(&self.nodes)
            .filter_map(EmbeddedRedis::pid)
            .collect()
    }

    /// The data node listening on `addr`.
    pub fn node_at(&self, addr: SocketAddr) -> Option<&EmbeddedRedis> {
        self.nodes.iter().find(|n| n.addr() == addr)
    }

    /// The data node listening on `addr`, mutably (kill, restart).
    pub fn node_at_mut(&mut self, addr: SocketAddr) -> Option<&mut EmbeddedRedis> {
        self.nodes.iter_mut().find(|n| n.addr() == addr)
    }

    /// The primary a majority of the sentinels name right now.
    pub fn current_primary(&self) -> Result<SocketAddr, ServerError> {
        let named =
            ask_primary(&self.sentinel_urls(), MASTER_NAME).map_err(ServerError::Topology)?;
        named.parse().map_err(|_| {
            ServerError::Topology(format!("the sentinels name {named}, not an address"))
        })
    }

    /// Asks the sentinels for a failover (`SENTINEL FAILOVER`), which promotes the replica
    /// without waiting for the primary to fail. The first sentinel that accepts wins.
    pub fn sentinel_failover(&self) -> Result<(), ServerError> {
        ask_failover(&self.sentinel_urls(), MASTER_NAME).map_err(ServerError::Topology)
    }

    fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels.iter().map(EmbeddedRedis::url).collect()
    }

    /// Waits until the topology is settled (see the module docs), on `expected` when given,
    /// and returns the primary. `cancel` ends the wait with [`ServerError::Cancelled`].
    pub fn wait_settled(
        &self,
        expected: Option<SocketAddr>,
        timeout: Duration,
        cancel: &AtomicBool,
    ) -> Result<SocketAddr, ServerError> {
        let deadline = Instant::now() + timeout;
        loop {
            if cancel.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(ServerError::Cancelled);
            }
            let reason = match self.settled() {
                Ok(primary) if expected.is_none_or(|e| e == primary) => return Ok(primary),
                Ok(primary) => format!("the sentinels name {primary}, not {expected:?}"),
                Err(reason) => reason,
            };
            if Instant::now() >= deadline {
                return Err(ServerError::Topology(format!(
                    "not settled within {timeout:?}: {reason}"
                )));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Ok once `primary` is a primary with a replica online (its initial sync done); else
    /// what is missing. Asks the node, not the sentinels, which learn of a rejoined replica
    /// only at their next INFO (up to 10 s later).
    pub fn replica_in_sync(&self, primary: SocketAddr) -> Result<(), String> {
        let node = self
            .node_at(primary)
            .ok_or_else(|| format!("{primary} is not a node of this topology"))?;
        let info: String = query(&node.url(), redis::cmd("INFO").arg("replication"))?;
        if !info.lines().any(|l| l.trim_end() == "role:master") {
            return Err(format!("{primary} is not a primary"));
        }
        if !info
            .lines()
            .any(|l| l.starts_with("slave") && l.contains("state=online"))
        {
            return Err(format!("{primary} has no replica in sync yet"));
        }
        Ok(())
    }

    /// The primary when the topology is settled, else what is still missing.
    fn settled(&self) -> Result<SocketAddr, String> {
        let mut primary = None;
        for s in &self.sentinels {
            let named = master_addr(s).map_err(|e| format!("sentinel {}: {e}", s.addr()))?;
            if primary.is_some_and(|p| p != named) {
                return Err(format!("the sentinels name {named} and {primary:?}"));
            }
            primary = Some(named);
            let peers: Vec<HashMap<String, String>> = query(
                &s.url(),
                redis::cmd("SENTINEL").arg("SENTINELS").arg(MASTER_NAME),
            )?;
            if peers.len() + 1 < SENTINELS {
                return Err(format!(
                    "sentinel {} knows {} other sentinel(s) of {}",
                    s.addr(),
                    peers.len(),
                    SENTINELS - 1
                ));
            }
            let replicas: Vec<HashMap<String, String>> = query(
                &s.url(),
                redis::cmd("SENTINEL").arg("REPLICAS").arg(MASTER_NAME),
            )?;
            let healthy = replicas.iter().any(|r| {
                r.get("flags").is_some_and(|f| f == "slave")
                    && r.get("master-link-status").is_some_and(|l| l == "ok")
            });
            if !healthy {
                return Err(format!("sentinel {} sees no healthy replica", s.addr()));
            }
        }
        let primary = primary.ok_or("no sentinel")?;
        self.replica_in_sync(primary)?;
        Ok(primary)
    }
}

/// Directives every data node gets: the password for replicating from the other node
/// (either may become the primary), and no delay before a full sync, so a replica is in
/// sync within moments instead of `repl-diskless-sync-delay`'s 5 s.
fn node_config(password: Option<&str>) -> Vec<(String, String)> {
    let mut conf = vec![("repl-diskless-sync-delay".to_string(), "0".to_string())];
    if let Some(p) = password {
        conf.push(("masterauth".into(), super::config::quote(p)));
    }
    conf
}

/// The `sentinel ...` directives that monitor the primary on `port`.
fn sentinel_config(
    port: u16,
    timings: SentinelTimings,
    password: Option<&str>,
) -> Vec<(String, String)> {
    let ms = |d: Duration| d.as_millis().max(1).to_string();
    let mut conf = vec![
        format!("monitor {MASTER_NAME} 127.0.0.1 {port} {QUORUM}"),
        format!(
            "down-after-milliseconds {MASTER_NAME} {}",
            ms(timings.down_after)
        ),
        format!(
            "failover-timeout {MASTER_NAME} {}",
            ms(timings.failover_timeout)
        ),
        format!("parallel-syncs {MASTER_NAME} 1"),
    ];
    if let Some(p) = password {
        conf.push(format!(
            "auth-pass {MASTER_NAME} {}",
            super::config::quote(p)
        ));
    }
    conf.into_iter()
        .map(|v| ("sentinel".to_string(), v))
        .collect()
}

/// The primary `sentinel` names (`SENTINEL GET-MASTER-ADDR-BY-NAME`).
fn master_addr(sentinel: &EmbeddedRedis) -> Result<SocketAddr, String> {
    let named = named_primary(&sentinel.url(), MASTER_NAME)?;
    let (ip, port) = named.rsplit_once(':').ok_or("it names no port")?;
    let ip: Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("it names a non-IPv4 host {ip:?}"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("it names a bad port {port:?}"))?;
    Ok(SocketAddr::from((ip, port)))
}

/// `host:port` of the primary the sentinel at `url` names for `master_name`.
fn named_primary(url: &str, master_name: &str) -> Result<String, String> {
    let reply: Option<(String, String)> = query(
        url,
        redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(master_name),
    )?;
    let (host, port) = reply.ok_or("it monitors no primary of that name")?;
    Ok(format!("{host}:{port}"))
}

/// The primary (`host:port`) a majority of the sentinels at `urls` name for `master_name`
/// (blocking; each sentinel is given half a second).
pub fn ask_primary(urls: &[String], master_name: &str) -> Result<String, String> {
    let named: Vec<String> = urls
        .iter()
        .filter_map(|u| named_primary(u, master_name).ok())
        .collect();
    let majority = urls.len() / 2 + 1;
    named
        .iter()
        .find(|a| named.iter().filter(|b| b == a).count() >= majority)
        .cloned()
        .ok_or_else(|| format!("no majority of the sentinels names one primary: {named:?}"))
}

/// `SENTINEL FAILOVER master_name` on the first of the sentinels at `urls` that accepts
/// (blocking).
pub fn ask_failover(urls: &[String], master_name: &str) -> Result<(), String> {
    let mut last = String::from("no sentinel given");
    for url in urls {
        match query::<String>(url, redis::cmd("SENTINEL").arg("FAILOVER").arg(master_name)) {
            Ok(_) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(format!("SENTINEL FAILOVER was refused: {last}"))
}

/// One command on a fresh connection to `url`, within [`QUERY_TIMEOUT`]. Errors are
/// strings: they only ever explain why the topology is not settled.
fn query<T: redis::FromRedisValue>(url: &str, cmd: &redis::Cmd) -> Result<T, String> {
    let run = || -> redis::RedisResult<T> {
        let client = redis::Client::open(url)?;
        let mut con = client.get_connection_with_timeout(QUERY_TIMEOUT)?;
        con.set_read_timeout(Some(QUERY_TIMEOUT))?;
        con.set_write_timeout(Some(QUERY_TIMEOUT))?;
        cmd.query(&mut con)
    };
    run().map_err(|e| crate::cache::config::redact_text(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinels_monitor_the_primary_with_the_given_timings_and_password() {
        let timings = SentinelTimings {
            down_after: Duration::from_millis(700),
            failover_timeout: Duration::from_secs(3),
        };
        let conf = sentinel_config(7000, timings, Some("p w"));
        let lines: Vec<String> = conf.iter().map(|(d, v)| format!("{d} {v}")).collect();
        assert!(lines.contains(&"sentinel monitor redline 127.0.0.1 7000 2".to_string()));
        assert!(lines.contains(&"sentinel down-after-milliseconds redline 700".to_string()));
        assert!(lines.contains(&"sentinel failover-timeout redline 3000".to_string()));
        assert!(lines.contains(&"sentinel auth-pass redline \"p w\"".to_string()));
        assert_eq!(node_config(None).len(), 1);
        assert!(node_config(Some("x"))
            .iter()
            .any(|(d, v)| d == "masterauth" && v == "\"x\""));
    }
}
