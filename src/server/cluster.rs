//! An embedded Redis Cluster: three primaries with one replica each, six `redis-server`
//! processes on free loopback ports, all started (and tied to redline's life) through
//! [`EmbeddedRedis`], so they die with redline and are stopped when the value drops.
//!
//! [`ClusterTopology::start`] starts the nodes (`cluster-enabled yes`, each with its own
//! `nodes.conf` in its own dir and its cluster bus on a free port of its own), assigns the
//! 16384 slots in three even ranges (`CLUSTER ADDSLOTSRANGE`), introduces the nodes
//! (`CLUSTER MEET`), attaches one replica to each primary (`CLUSTER REPLICATE`) and returns
//! only once the cluster is *settled*: every node reports `cluster_state:ok` and sees the
//! whole shape, and every replica is in sync.
//!
//! `cluster-node-timeout` is short (1 s) so that a drill's failover — a killed primary's
//! replica promoted by the others' vote — completes in a few seconds; production clusters
//! use 15 s. Replicas may always stand for election (`cluster-replica-validity-factor 0`)
//! and never migrate to another primary, so a drill's outcome depends on the fault only.
//!
//! Reading the cluster's state is [`watch::ClusterWatch`]'s, which needs no lock on the
//! topology: a failover drill holds the topology only to kill, restart or ask.

pub mod watch;

use super::{process, EmbeddedRedis, ServerError, ServerOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
pub use watch::{ClusterNodeInfo, ClusterRole, ClusterWatch, Redirections};

/// Primaries started, each serving a third of the slots.
pub const PRIMARIES: usize = 3;
/// Replicas started per primary.
pub const REPLICAS_PER_PRIMARY: usize = 1;
/// Hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;
/// `cluster-node-timeout`: silence after which a node is flagged as failing.
pub const NODE_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long the cluster may take to settle (after start, after a failover).
pub const CLUSTER_SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Fresh cluster-bus ports tried for one node when the one picked was taken meanwhile.
const BUS_PORT_ATTEMPTS: usize = 3;

/// Six cluster nodes on loopback; dropping it kills them and removes their dirs.
pub struct ClusterTopology {
    /// The nodes in start order: `PRIMARIES` primaries (serving the slot ranges in order),
    /// then their replicas in the same order. Roles change with failovers; ports do not.
    nodes: Vec<EmbeddedRedis>,
    /// `requirepass` of every node (also `masterauth`).
    password: Option<String>,
    /// Reads the nodes' state without the topology's lock.
    watch: ClusterWatch,
}

impl std::fmt::Debug for ClusterTopology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterTopology")
            .field("url", &self.redacted_seeds_url())
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl ClusterTopology {
    /// Starts the six nodes with `opts` (password, maxmemory, persistence apply to each;
    /// TLS is refused), forms the cluster and waits until it settles. Setting `cancel` gives
    /// up within one poll interval with [`ServerError::Cancelled`]; everything started so
    /// far is stopped.
    pub fn start(
        redis_server: PathBuf,
        opts: ServerOptions,
        cancel: Arc<AtomicBool>,
    ) -> Result<ClusterTopology, ServerError> {
        if opts.tls.is_some() {
            return Err(ServerError::InvalidOption {
                name: "tls".into(),
                reason: "the embedded Redis Cluster does not serve TLS".into(),
            });
        }
        let total = PRIMARIES * (1 + REPLICAS_PER_PRIMARY);
        let mut nodes = Vec::with_capacity(total);
        let mut bus_ports = Vec::with_capacity(total);
        for _ in 0..total {
            let (node, bus) = start_node(&redis_server, &opts, &cancel)?;
            nodes.push(node);
            bus_ports.push(bus);
        }
        let password = opts.password.clone();
        let watch = ClusterWatch::new(nodes.iter().map(|n| (n.addr(), n.url())).collect());
        let topology = ClusterTopology {
            nodes,
            password,
            watch,
        };
        topology.form(&bus_ports, &cancel)?;
        topology
            .watch
            .wait_settled(CLUSTER_SETTLE_TIMEOUT, &cancel)?;
        Ok(topology)
    }

    /// Epochs, slots, introductions and replicas: what `redis-cli --cluster create` does.
    fn form(&self, bus_ports: &[u16], cancel: &AtomicBool) -> Result<(), ServerError> {
        let fail = |what: String| ServerError::Cluster(format!("could not be formed: {what}"));
        let ask = |node: &EmbeddedRedis, cmd: &redis::Cmd| -> Result<(), ServerError> {
            watch::query::<redis::Value>(&node.url(), cmd)
                .map(|_| ())
                .map_err(|e| fail(format!("{}: {e}", node.addr())))
        };
        // Distinct epochs up front spare the collision resolution a fresh cluster goes through.
        for (i, node) in self.nodes.iter().enumerate() {
            ask(
                node,
                redis::cmd("CLUSTER").arg("SET-CONFIG-EPOCH").arg(i + 1),
            )?;
        }
        for (i, (first, last)) in slot_ranges(PRIMARIES).into_iter().enumerate() {
            ask(
                &self.nodes[i],
                redis::cmd("CLUSTER")
                    .arg("ADDSLOTSRANGE")
                    .arg(first)
                    .arg(last),
            )?;
        }
        let first = &self.nodes[0];
        for (node, bus) in self.nodes.iter().zip(bus_ports).skip(1) {
            ask(
                first,
                redis::cmd("CLUSTER")
                    .arg("MEET")
                    .arg("127.0.0.1")
                    .arg(node.port())
                    .arg(*bus),
            )?;
        }
        let ids = self.wait_introduced(cancel)?;
        for (i, replica) in self.nodes.iter().enumerate().skip(PRIMARIES) {
            let primary = &ids[(i - PRIMARIES) % PRIMARIES];
            ask(replica, redis::cmd("CLUSTER").arg("REPLICATE").arg(primary))?;
        }
        Ok(())
    }

    /// Waits until every node knows every other (no handshake left); returns the node ids
    /// in start order.
    fn wait_introduced(&self, cancel: &AtomicBool) -> Result<Vec<String>, ServerError> {
        let deadline = std::time::Instant::now() + CLUSTER_SETTLE_TIMEOUT;
        loop {
            if cancel.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(ServerError::Cancelled);
            }
            let introduced = self.nodes.iter().try_fold(Vec::new(), |mut acc, n| {
                let text: String = watch::query(&n.url(), redis::cmd("CLUSTER").arg("NODES"))?;
                let (view, myself) = watch::parse_cluster_nodes(&text)?;
                if view.len() != self.nodes.len() {
                    return Err(format!("{} knows {} nodes", n.addr(), view.len()));
                }
                acc.push(view[myself.ok_or("no `myself` line")?].id.clone());
                Ok(acc)
            });
            let reason = match introduced {
                Ok(ids) => return Ok(ids),
                Err(reason) => reason,
            };
            if std::time::Instant::now() >= deadline {
                return Err(ServerError::Cluster(format!(
                    "could not be formed within {CLUSTER_SETTLE_TIMEOUT:?}: {reason}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `redis+cluster://[:password@]127.0.0.1:a,127.0.0.1:b,...`: every node as a seed.
    /// Holds the password: print [`redacted_seeds_url`](Self::redacted_seeds_url).
    pub fn seeds_url(&self) -> String {
        let userinfo = match &self.password {
            Some(p) => format!(":{}@", process::percent_encode(p)),
            None => String::new(),
        };
        self.url_with(&userinfo)
    }

    /// [`seeds_url`](Self::seeds_url) with the password replaced by `***`.
    pub fn redacted_seeds_url(&self) -> String {
        self.url_with(if self.password.is_some() { ":***@" } else { "" })
    }

    fn url_with(&self, userinfo: &str) -> String {
        let hosts: Vec<String> = self.nodes.iter().map(|n| n.addr().to_string()).collect();
        format!("redis+cluster://{userinfo}{}", hosts.join(","))
    }

    /// The node processes, in start order (see the field's docs); their roles are in
    /// [`nodes`](Self::nodes).
    pub fn processes(&self) -> &[EmbeddedRedis] {
        &self.nodes
    }

    /// Pids of the node processes that are running.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(EmbeddedRedis::pid).collect()
    }

    /// The cluster as its nodes see it now (read live: roles change with failovers).
    pub fn nodes(&self) -> Result<Vec<ClusterNodeInfo>, ServerError> {
        self.watch.nodes()
    }

    /// The primaries serving slots now, ordered by their first slot.
    pub fn primaries(&self) -> Result<Vec<ClusterNodeInfo>, ServerError> {
        Ok(watch::primaries_by_slot(&self.nodes()?))
    }

    /// Read-only access to the nodes that needs no lock on the topology.
    pub fn watch(&self) -> &ClusterWatch {
        &self.watch
    }

    /// The node process listening on `addr`.
    pub fn node_at(&self, addr: SocketAddr) -> Option<&EmbeddedRedis> {
        self.nodes.iter().find(|n| n.addr() == addr)
    }

    fn node_at_mut(&mut self, addr: SocketAddr) -> Result<&mut EmbeddedRedis, ServerError> {
        self.nodes
            .iter_mut()
            .find(|n| n.addr() == addr)
            .ok_or_else(|| ServerError::Cluster(format!("has no node at {addr}")))
    }

    /// SIGKILLs the node at `addr` (a crash: no goodbye to the other nodes).
    pub fn kill(&mut self, addr: SocketAddr) -> Result<(), ServerError> {
        self.node_at_mut(addr)?.kill()
    }

    /// Starts the node at `addr` again on its port with its `nodes.conf`, so it rejoins the
    /// cluster under its own id (a primary that was failed over comes back as a replica of
    /// its successor). Returns once it answers; [`wait_settled`](Self::wait_settled) waits
    /// for it to be in sync.
    pub fn restart(&mut self, addr: SocketAddr) -> Result<(), ServerError> {
        self.node_at_mut(addr)?.restart()
    }

    /// `CLUSTER FAILOVER` on the replica at `addr`: it takes over its primary's slots in a
    /// coordinated way (the primary stops taking writes until the replica caught up).
    pub fn failover_to(&self, addr: SocketAddr) -> Result<(), ServerError> {
        let node = self
            .node_at(addr)
            .ok_or_else(|| ServerError::Cluster(format!("has no node at {addr}")))?;
        watch::query::<String>(&node.url(), redis::cmd("CLUSTER").arg("FAILOVER"))
            .map(|_| ())
            .map_err(|e| ServerError::Cluster(format!("refused CLUSTER FAILOVER on {addr}: {e}")))
    }

    /// Waits until the cluster is settled again (see the module docs).
    pub fn wait_settled(&self, timeout: Duration, cancel: &AtomicBool) -> Result<(), ServerError> {
        self.watch.wait_settled(timeout, cancel)
    }

    /// Waits until another primary serves the slots `old` served and the cluster is ok on
    /// every other node; returns that primary.
    pub fn wait_promoted(
        &self,
        old: &ClusterNodeInfo,
        timeout: Duration,
        cancel: &AtomicBool,
    ) -> Result<ClusterNodeInfo, ServerError> {
        self.watch.wait_promoted(old, timeout, cancel)
    }
}

/// `count` contiguous slot ranges covering all slots, as even as integers allow (the
/// split `redis-cli --cluster create` makes: 0-5460, 5461-10922, 10923-16383 for three).
pub fn slot_ranges(count: usize) -> Vec<(u16, u16)> {
    let count = count.max(1) as u32;
    let per = f64::from(SLOTS) / f64::from(count);
    (0..count)
        .map(|i| {
            let first = (f64::from(i) * per).round() as u16;
            let last = if i + 1 == count {
                SLOTS - 1
            } else {
                ((f64::from(i + 1) * per).round() as u16) - 1
            };
            (first, last)
        })
        .collect()
}

/// Starts one cluster node, its bus on a free port of its own (the default, port + 10000,
/// does not exist for ports above 55535), retrying with another bus port when that one was
/// taken meanwhile.
fn start_node(
    redis_server: &PathBuf,
    opts: &ServerOptions,
    cancel: &Arc<AtomicBool>,
) -> Result<(EmbeddedRedis, u16), ServerError> {
    let mut last = None;
    for _ in 0..BUS_PORT_ATTEMPTS {
        let bus = process::try_free_port()?;
        let mut node_opts = opts.clone();
        node_opts
            .extra_config
            .extend(node_config(bus, opts.password.as_deref()));
        match EmbeddedRedis::start_cancellable_with_binary(redis_server, node_opts, cancel.clone())
        {
            Ok(node) => return Ok((node, bus)),
            Err(e @ ServerError::PortInUse { .. }) => last = Some(e),
            Err(ServerError::Exited { log_tail, .. }) if log_tail.contains("cluster-port") => {
                return Err(ServerError::Cluster(format!(
                    "needs redis-server 7.0 or later (it refused `cluster-port`):\n{log_tail}"
                )))
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(ServerError::PortInUse {
        port: 0,
        attempts: BUS_PORT_ATTEMPTS,
    }))
}

/// Directives every node gets (see the module docs for why).
fn node_config(bus_port: u16, password: Option<&str>) -> Vec<(String, String)> {
    let mut conf: Vec<(String, String)> = [
        ("cluster-enabled", "yes".to_string()),
        // Relative to the node's own dir, so each node has its own.
        ("cluster-config-file", "nodes.conf".to_string()),
        ("cluster-port", bus_port.to_string()),
        ("cluster-node-timeout", NODE_TIMEOUT.as_millis().to_string()),
        ("cluster-replica-validity-factor", "0".to_string()),
        ("cluster-allow-replica-migration", "no".to_string()),
        ("repl-diskless-sync-delay", "0".to_string()),
    ]
    .into_iter()
    .map(|(d, v)| (d.to_string(), v))
    .collect();
    if let Some(p) = password {
        conf.push(("masterauth".into(), super::config::quote(p)));
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_ranges_split_the_slots_as_redis_cli_does() {
        assert_eq!(
            slot_ranges(3),
            vec![(0, 5460), (5461, 10922), (10923, 16383)]
        );
        assert_eq!(slot_ranges(1), vec![(0, 16383)]);
        let four = slot_ranges(4);
        assert_eq!(four.first().unwrap().0, 0);
        assert_eq!(four.last().unwrap().1, 16383);
        assert!(four.windows(2).all(|w| w[0].1 + 1 == w[1].0));
    }

    #[test]
    fn nodes_get_their_own_bus_port_and_the_password_to_replicate() {
        let conf = node_config(40000, Some("p w"));
        let has = |d: &str, v: &str| conf.iter().any(|(a, b)| a == d && b == v);
        assert!(has("cluster-enabled", "yes"));
        assert!(has("cluster-port", "40000"));
        assert!(has("cluster-node-timeout", "1000"));
        assert!(has("masterauth", "\"p w\""));
        assert!(!node_config(1, None).iter().any(|(d, _)| d == "masterauth"));
    }
}
