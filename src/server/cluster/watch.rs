//! Reading a Redis Cluster's state from its nodes: `CLUSTER NODES` parsed into
//! [`ClusterNodeInfo`], the settled check (every node `cluster_state:ok`, every slot
//! served, every primary with its replica in sync), the wait for a promotion, and the
//! `MOVED`/`ASK` replies the nodes counted (`INFO errorstats`).
//!
//! [`ClusterWatch`] holds only the nodes' URLs, so it can be cloned and polled for seconds
//! without holding the lock on the [`ClusterTopology`](super::ClusterTopology) that owns
//! the processes. Every query has a deadline; every wait has a deadline and a cancel flag.

use super::{PRIMARIES, REPLICAS_PER_PRIMARY, SLOTS};
use crate::server::ServerError;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Interval between polls while waiting for the cluster.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Deadline of one connection or reply from a node.
const QUERY_TIMEOUT: Duration = Duration::from_millis(500);

/// A node's role in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterRole {
    /// Serves slots (`master`).
    Primary,
    /// Replicates a primary (`slave`).
    Replica,
}

/// One node as a cluster node sees it (a line of `CLUSTER NODES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNodeInfo {
    /// The 40-character node id.
    pub id: String,
    /// Where clients reach it.
    pub addr: SocketAddr,
    /// Primary or replica.
    pub role: ClusterRole,
    /// The primary a replica replicates (`None` for primaries).
    pub primary_id: Option<String>,
    /// Slot ranges served, inclusive (empty for replicas).
    pub slots: Vec<(u16, u16)>,
    /// Flagged `fail` or `fail?` by the node asked: it is (thought to be) down.
    pub failing: bool,
}

impl ClusterNodeInfo {
    /// How many slots it serves.
    pub fn slot_count(&self) -> u32 {
        self.slots
            .iter()
            .map(|(a, b)| u32::from(*b) - u32::from(*a) + 1)
            .sum()
    }

    /// True when it serves `slot`.
    pub fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|(a, b)| *a <= slot && slot <= *b)
    }
}

/// `CLUSTER NODES` as a list; the node that answered is `myself` (its index in the list).
/// Lines that do not parse (a node without an address yet, a handshake) are reported as
/// an error: a cluster that shows them is not settled.
pub fn parse_cluster_nodes(text: &str) -> Result<(Vec<ClusterNodeInfo>, Option<usize>), String> {
    let mut nodes = Vec::new();
    let mut myself = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 {
            return Err(format!("a CLUSTER NODES line has too few fields: {line:?}"));
        }
        let flags: Vec<&str> = fields[2].split(',').collect();
        if flags.iter().any(|f| matches!(*f, "handshake" | "noaddr")) {
            return Err(format!("node {} is still in handshake", fields[0]));
        }
        // `ip:port@cport[,hostname]`
        let host_port = fields[1].split(['@', ',']).next().unwrap_or_default();
        let addr: SocketAddr = host_port
            .parse()
            .map_err(|_| format!("node {} has no address ({:?})", fields[0], fields[1]))?;
        let role = if flags.contains(&"master") {
            ClusterRole::Primary
        } else if flags.contains(&"slave") {
            ClusterRole::Replica
        } else {
            return Err(format!(
                "node {} has no role yet ({})",
                fields[0], fields[2]
            ));
        };
        let mut slots = Vec::new();
        // Slots being migrated or imported are written `[slot->-id]`; they are not served.
        for range in fields[8..].iter().filter(|s| !s.starts_with('[')) {
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(a), Ok(b)) if a <= b && b < SLOTS => slots.push((a, b)),
                _ => return Err(format!("node {} has a bad slot range {range:?}", fields[0])),
            }
        }
        if flags.contains(&"myself") {
            myself = Some(nodes.len());
        }
        nodes.push(ClusterNodeInfo {
            id: fields[0].to_string(),
            addr,
            role,
            primary_id: (fields[3] != "-").then(|| fields[3].to_string()),
            slots,
            failing: flags.iter().any(|f| matches!(*f, "fail" | "fail?")),
        });
    }
    Ok((nodes, myself))
}

/// The primaries of `nodes`, ordered by the first slot they serve (so index 0 serves slot
/// 0 in a freshly started cluster).
pub fn primaries_by_slot(nodes: &[ClusterNodeInfo]) -> Vec<ClusterNodeInfo> {
    let mut primaries: Vec<ClusterNodeInfo> = nodes
        .iter()
        .filter(|n| n.role == ClusterRole::Primary && !n.slots.is_empty())
        .cloned()
        .collect();
    primaries.sort_by_key(|n| n.slots.iter().map(|s| s.0).min());
    primaries
}

/// Why `nodes` (one node's view) is not a settled cluster of [`PRIMARIES`] primaries with
/// [`REPLICAS_PER_PRIMARY`] replica each covering every slot, if it is not.
pub fn check_shape(nodes: &[ClusterNodeInfo]) -> Result<(), String> {
    if let Some(n) = nodes.iter().find(|n| n.failing) {
        return Err(format!("{} is flagged as failing", n.addr));
    }
    let primaries = primaries_by_slot(nodes);
    if primaries.len() != PRIMARIES {
        return Err(format!(
            "{} primaries serve slots, not {PRIMARIES}",
            primaries.len()
        ));
    }
    let covered: u32 = primaries.iter().map(ClusterNodeInfo::slot_count).sum();
    if covered != u32::from(SLOTS) {
        return Err(format!("{covered} of {SLOTS} slots are served"));
    }
    for p in &primaries {
        let replicas = nodes
            .iter()
            .filter(|n| n.primary_id.as_deref() == Some(p.id.as_str()))
            .count();
        if replicas != REPLICAS_PER_PRIMARY {
            return Err(format!(
                "the primary {} has {replicas} replica(s), not {REPLICAS_PER_PRIMARY}",
                p.addr
            ));
        }
    }
    Ok(())
}

/// `MOVED` and `ASK` error replies one node sent since it started (`INFO errorstats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redirections {
    /// `-MOVED` replies: the slot lives on another node for good.
    pub moved: u64,
    /// `-ASK` replies: the slot is being migrated; ask the other node this once.
    pub ask: u64,
}

/// The MOVED and ASK counts in an `INFO errorstats` reply (0 when absent).
pub fn parse_errorstats(info: &str) -> Redirections {
    let count = |name: &str| {
        info.lines()
            .find_map(|l| {
                l.trim_end()
                    .strip_prefix(&format!("errorstat_{name}:count="))
            })
            .and_then(|rest| rest.split(',').next()?.parse().ok())
            .unwrap_or(0)
    };
    Redirections {
        moved: count("MOVED"),
        ask: count("ASK"),
    }
}

/// The value of `field` in an INFO-style `field:value` reply.
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.trim_end().strip_prefix(field)?.strip_prefix(':'))
}

/// Read-only access to the nodes of a cluster by URL: cheap to clone, needs no lock.
#[derive(Clone)]
pub struct ClusterWatch {
    /// `(address, redis://[:password@]address)` of every node, in start order.
    urls: Vec<(SocketAddr, String)>,
}

impl std::fmt::Debug for ClusterWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<SocketAddr> = self.urls.iter().map(|(a, _)| *a).collect();
        f.debug_struct("ClusterWatch")
            .field("nodes", &addrs)
            .finish()
    }
}

impl ClusterWatch {
    /// A watch over the nodes at `urls` (`(address, url with the password)`).
    pub fn new(urls: Vec<(SocketAddr, String)>) -> ClusterWatch {
        ClusterWatch { urls }
    }

    /// Every node's address, in start order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.urls.iter().map(|(a, _)| *a).collect()
    }

    /// The cluster as the first node that answers sees it (a killed node does not).
    pub fn nodes(&self) -> Result<Vec<ClusterNodeInfo>, ServerError> {
        let mut last = String::from("no node");
        for (addr, url) in &self.urls {
            match query::<String>(url, redis::cmd("CLUSTER").arg("NODES"))
                .and_then(|text| parse_cluster_nodes(&text))
            {
                Ok((nodes, _)) => return Ok(nodes),
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(ServerError::Cluster(format!(
            "has no node that answers CLUSTER NODES ({last})"
        )))
    }

    /// One command to the node at `addr` (a node of this cluster), within half a second.
    pub fn ask<T: redis::FromRedisValue>(
        &self,
        addr: SocketAddr,
        cmd: &redis::Cmd,
    ) -> Result<T, String> {
        let (_, url) = self
            .urls
            .iter()
            .find(|(a, _)| *a == addr)
            .ok_or_else(|| format!("{addr} is not a node of this cluster"))?;
        query(url, cmd)
    }

    /// MOVED/ASK replies each node that answers has sent since it (re)started.
    pub fn redirections(&self) -> Vec<(SocketAddr, Redirections)> {
        self.urls
            .iter()
            .filter_map(|(addr, url)| {
                let info: String = query(url, redis::cmd("INFO").arg("errorstats")).ok()?;
                Some((*addr, parse_errorstats(&info)))
            })
            .collect()
    }

    /// Ok once every node answers, reports `cluster_state:ok`, knows every node, sees the
    /// full shape ([`check_shape`]) and has its replication link up (a replica) or a replica
    /// online (a primary); else what is still missing.
    pub fn settled(&self) -> Result<(), String> {
        for (addr, url) in &self.urls {
            node_settled(url, self.urls.len()).map_err(|e| format!("node {addr}: {e}"))?;
        }
        Ok(())
    }

    /// Waits until [`settled`](Self::settled); `cancel` ends the wait with
    /// [`ServerError::Cancelled`].
    pub fn wait_settled(&self, timeout: Duration, cancel: &AtomicBool) -> Result<(), ServerError> {
        wait_for(timeout, cancel, "settled", || self.settled())
    }

    /// Waits until the slots `old` served are served by another primary that no node
    /// flags as failing, and every node other than `old` reports `cluster_state:ok`;
    /// returns that primary. `cancel` ends the wait with [`ServerError::Cancelled`].
    pub fn wait_promoted(
        &self,
        old: &ClusterNodeInfo,
        timeout: Duration,
        cancel: &AtomicBool,
    ) -> Result<ClusterNodeInfo, ServerError> {
        let slot = old
            .slots
            .first()
            .map(|s| s.0)
            .ok_or_else(|| ServerError::Cluster(format!("{} serves no slots", old.addr)))?;
        let mut promoted = None;
        wait_for(timeout, cancel, "promoted a replica", || {
            let mut new: Option<ClusterNodeInfo> = None;
            for (addr, url) in self.urls.iter().filter(|(a, _)| *a != old.addr) {
                let (view, state) = node_view(url).map_err(|e| format!("node {addr}: {e}"))?;
                if state != "ok" {
                    return Err(format!("node {addr} reports cluster_state:{state}"));
                }
                let owner = view
                    .iter()
                    .find(|n| n.role == ClusterRole::Primary && n.serves(slot))
                    .ok_or_else(|| format!("node {addr} sees no primary for slot {slot}"))?;
                if owner.id == old.id || owner.failing {
                    return Err(format!("node {addr} sees slot {slot} on {}", owner.addr));
                }
                if new.as_ref().is_some_and(|n| n.id != owner.id) {
                    return Err(format!("the nodes disagree on who serves slot {slot}"));
                }
                new = Some(owner.clone());
            }
            promoted = new;
            promoted.as_ref().map(|_| ()).ok_or("no other node".into())
        })?;
        promoted.ok_or_else(|| ServerError::Cluster("has no other node".into()))
    }
}

/// Polls `check` until it is Ok, `timeout` passes (an error saying what was missing) or
/// `cancel` is set.
fn wait_for(
    timeout: Duration,
    cancel: &AtomicBool,
    what: &str,
    mut check: impl FnMut() -> Result<(), String>,
) -> Result<(), ServerError> {
    let deadline = Instant::now() + timeout;
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(ServerError::Cancelled);
        }
        let reason = match check() {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        if Instant::now() >= deadline {
            return Err(ServerError::Cluster(format!(
                "has not {what} within {timeout:?}: {reason}"
            )));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// `CLUSTER NODES` and `cluster_state` of the node at `url`, on one connection.
fn node_view(url: &str) -> Result<(Vec<ClusterNodeInfo>, String), String> {
    with_connection(url, |con| {
        let info: String = redis::cmd("CLUSTER").arg("INFO").query(con)?;
        let text: String = redis::cmd("CLUSTER").arg("NODES").query(con)?;
        Ok((info, text))
    })
    .and_then(|(info, text)| {
        let state = info_field(&info, "cluster_state").unwrap_or("unknown");
        Ok((parse_cluster_nodes(&text)?.0, state.to_string()))
    })
}

/// The settled check of one node (see [`ClusterWatch::settled`]).
fn node_settled(url: &str, expected_nodes: usize) -> Result<(), String> {
    let (info, text, replication) = with_connection(url, |con| {
        let info: String = redis::cmd("CLUSTER").arg("INFO").query(con)?;
        let text: String = redis::cmd("CLUSTER").arg("NODES").query(con)?;
        let replication: String = redis::cmd("INFO").arg("replication").query(con)?;
        Ok((info, text, replication))
    })?;
    let state = info_field(&info, "cluster_state").unwrap_or("unknown");
    if state != "ok" {
        return Err(format!("cluster_state:{state}"));
    }
    let (view, myself) = parse_cluster_nodes(&text)?;
    if view.len() != expected_nodes {
        return Err(format!("knows {} nodes of {expected_nodes}", view.len()));
    }
    check_shape(&view)?;
    let me = myself
        .map(|i| &view[i])
        .ok_or("CLUSTER NODES names no `myself`")?;
    match me.role {
        ClusterRole::Replica => {
            if info_field(&replication, "master_link_status") != Some("up") {
                return Err("its replication link is not up yet".into());
            }
        }
        ClusterRole::Primary => {
            let online = replication
                .lines()
                .filter(|l| l.starts_with("slave") && l.contains("state=online"))
                .count();
            if online < REPLICAS_PER_PRIMARY {
                return Err("has no replica in sync yet".into());
            }
        }
    }
    Ok(())
}

/// Runs `f` on a fresh connection to `url`, every step within [`QUERY_TIMEOUT`]. Errors
/// are strings (redacted): they only ever explain why the cluster is not as wanted.
fn with_connection<T>(
    url: &str,
    f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
) -> Result<T, String> {
    let run = || -> redis::RedisResult<T> {
        let client = redis::Client::open(url)?;
        let mut con = client.get_connection_with_timeout(QUERY_TIMEOUT)?;
        con.set_read_timeout(Some(QUERY_TIMEOUT))?;
        con.set_write_timeout(Some(QUERY_TIMEOUT))?;
        f(&mut con)
    };
    run().map_err(|e| crate::cache::config::redact_text(&e.to_string()))
}

/// One command on a fresh connection to `url` (see [`with_connection`]).
pub(super) fn query<T: redis::FromRedisValue>(url: &str, cmd: &redis::Cmd) -> Result<T, String> {
    with_connection(url, |con| cmd.query(con))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c3 127.0.0.1:30004@31004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383
6ec2 127.0.0.1:30005@31005,host.example slave 67ed 0 1426238316232 5 connected
824f 127.0.0.1:30006@31006 slave 292f 0 1426238317741 6 connected
e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [5461->-67ed]
";

    #[test]
    fn cluster_nodes_lines_become_nodes_with_roles_slots_and_primaries() {
        let (nodes, myself) = parse_cluster_nodes(NODES).unwrap();
        assert_eq!(nodes.len(), 6);
        let me = &nodes[myself.unwrap()];
        assert_eq!(me.id, "e7d1");
        assert_eq!(me.addr, "127.0.0.1:30001".parse().unwrap());
        assert_eq!(me.slots, vec![(0, 5460)]);
        assert_eq!(nodes[3].addr.port(), 30005);
        assert_eq!(nodes[3].primary_id.as_deref(), Some("67ed"));
        assert_eq!(nodes[3].role, ClusterRole::Replica);
        let order: Vec<String> = primaries_by_slot(&nodes)
            .into_iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(order, ["e7d1", "67ed", "292f"]);
        assert!(nodes[1].serves(5461) && !nodes[1].serves(5460));
        check_shape(&nodes).unwrap();
    }

    #[test]
    fn an_unsettled_view_says_what_is_missing() {
        let failing = NODES.replace("slave 292f", "slave,fail 292f");
        assert!(check_shape(&parse_cluster_nodes(&failing).unwrap().0)
            .unwrap_err()
            .contains("30006 is flagged as failing"));
        let lost = NODES.replace(" 10923-16383", "");
        assert_eq!(
            check_shape(&parse_cluster_nodes(&lost).unwrap().0).unwrap_err(),
            "2 primaries serve slots, not 3"
        );
        let handshake = NODES.replace("slave 292f", "handshake 292f");
        assert!(parse_cluster_nodes(&handshake).is_err());
        let bad = NODES.replace("10923-16383", "10923-16384");
        assert!(parse_cluster_nodes(&bad).is_err());
        assert!(parse_cluster_nodes("x y").is_err());
    }

    #[test]
    fn errorstats_give_moved_and_ask_counts() {
        let info = "# Errorstats\r\nerrorstat_ERR:count=3\r\nerrorstat_MOVED:count=12\r\nerrorstat_ASK:count=2\r\n";
        assert_eq!(parse_errorstats(info), Redirections { moved: 12, ask: 2 });
        assert_eq!(
            parse_errorstats("# Errorstats\r\n"),
            Redirections::default()
        );
        assert_eq!(
            info_field("cluster_state:ok\r\n", "cluster_state"),
            Some("ok")
        );
    }
}
