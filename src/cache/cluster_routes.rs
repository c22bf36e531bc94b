//! The cluster store's direct path for commands on one hash slot (GET, SET, and the
//! per-slot groups of a split MGET, MSET, DEL or UNLINK): the slot map as last read, and per
//! primary the store's own capped connections, so such a command goes straight to its
//! node's multiplexed connection — one channel hop, as on a single server — instead of
//! through the cluster client's routing task (a copy of the command, a second channel and a
//! routing pass per command: about 40 % more client CPU per GET in
//! `benches/cluster-compare.sh`).
//!
//! The cluster client stays in charge of everything else and of every exception: a reply
//! that says the map is stale (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, READONLY) or a failed
//! connection drops the map and the command is sent again through the cluster client, which
//! follows redirects and failovers.
//!
//! The map is read again (`CLUSTER NODES`) over fresh connections of its own to the known
//! nodes, never through the cluster client: right after a failover the crate's connection
//! can sit in a slot-map refresh for seconds, and every command queued behind it times out
//! (that stalled the replay of an outage's invalidations, a batch of per-slot DELs, until
//! the breaker gave up). A caller that finds the map missing rebuilds it inline, once at a
//! time and at most every [`REBUILD_EVERY`], and tries the direct path again.

use super::cluster::{ClusterNode, ClusterUrl};
use super::cluster_link::CappedNode;
use super::config::RedisConfig;
use arc_swap::ArcSwapOption;
use redis::aio::ConnectionLike;
use redis::cluster_async::Connect;
use redis::{AsyncConnectionConfig, Cmd, IntoConnectionInfo, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Hash slots in a cluster.
const SLOTS: usize = 16384;
/// Marks a slot no primary serves in [`Routes::owner`].
const UNSERVED: u16 = u16::MAX;

/// The slot map with connections: `owner[slot]` indexes `nodes`, and each node has one
/// connection per cluster client of the store (`nodes[n][i % width]`).
pub struct Routes {
    owner: Vec<u16>,
    nodes: Vec<Vec<CappedNode>>,
}

/// What the direct path needs to (re)build its routes.
pub struct DirectPath {
    routes: ArcSwapOption<Routes>,
    /// Held while a rebuild runs (callers that also found the map missing wait for it);
    /// holds when the last one started: while the map is missing (a node is down), a new
    /// attempt is made at most every [`REBUILD_EVERY`].
    last_rebuild: tokio::sync::Mutex<Option<Instant>>,
    /// `host:port` of the nodes to ask for the map: the seeds, then every node the last
    /// map named (so a seed that died is not needed).
    known: std::sync::Mutex<Vec<(String, u16)>>,
    seeds: ClusterUrl,
    password: Option<String>,
    /// The store's settings entry, passed as the database index (see `cluster_link`).
    registry_id: i64,
    width: usize,
}

/// Why the direct path did not answer: the cluster client must.
pub enum Detour {
    /// Not a command on one slot.
    NotDirect,
    /// No map (never built, or dropped and not yet rebuilt), or the map was stale or the
    /// connection failed (then the map is dropped): the caller may rebuild it
    /// ([`DirectPath::ensure_routes`]) and try again.
    Stale,
}

/// Least time between two rebuild attempts.
const REBUILD_EVERY: Duration = Duration::from_millis(500);

impl DirectPath {
    pub fn new(config: &RedisConfig, seeds: ClusterUrl, registry_id: i64, width: usize) -> Self {
        DirectPath {
            routes: ArcSwapOption::empty(),
            last_rebuild: tokio::sync::Mutex::new(None),
            known: std::sync::Mutex::new(seeds.seeds.clone()),
            seeds,
            password: config.password.clone(),
            registry_id,
            width: width.max(1),
        }
    }

    /// Builds the routes from `nodes` (the primaries that serve slots), opening the
    /// connections; on any failure the direct path stays off until the next rebuild.
    pub async fn build(&self, nodes: &[ClusterNode]) {
        let mut owner = vec![UNSERVED; SLOTS];
        let mut conns = Vec::new();
        for (n, node) in nodes.iter().filter(|n| n.primary && !n.failed).enumerate() {
            let mut per_node = Vec::with_capacity(self.width);
            for _ in 0..self.width {
                match self.open(node).await {
                    Some(c) => per_node.push(c),
                    None => return,
                }
            }
            conns.push(per_node);
            for &(a, b) in &node.slots {
                for s in a..=b.min(SLOTS as u16 - 1) {
                    owner[s as usize] = n as u16;
                }
            }
        }
        if conns.is_empty() {
            return;
        }
        self.routes.store(Some(Arc::new(Routes {
            owner,
            nodes: conns,
        })));
    }

    async fn open(&self, node: &ClusterNode) -> Option<CappedNode> {
        let mut config = RedisConfig::new(self.seeds.node_url(&node.host, node.port));
        config.password = self.password.clone();
        let info = config.connection_info().ok()?.into_connection_info().ok()?;
        let redis = info.redis_settings().clone().set_db(self.registry_id);
        let info = info.set_redis_settings(redis);
        CappedNode::connect_with_config(info, AsyncConnectionConfig::new())
            .await
            .ok()
    }

    /// Makes sure a map is there: when it is missing and no rebuild ran in the last
    /// [`REBUILD_EVERY`], reads `CLUSTER NODES` from the first known node that answers and
    /// rebuilds the routes. Callers arriving meanwhile wait for that rebuild. The caller
    /// bounds the wait (its response timeout).
    pub async fn ensure_routes(&self) {
        let mut last = self.last_rebuild.lock().await;
        if self.routes.load().is_some() || last.is_some_and(|at| at.elapsed() < REBUILD_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        if let Some(nodes) = self.read_nodes().await {
            self.build(&nodes).await;
        }
    }

    /// `CLUSTER NODES` from the first known node that answers, asked all at once, each
    /// over a connection opened for it (bounded by the connect timeout of the node
    /// connections); the nodes it names become the known ones.
    async fn read_nodes(&self) -> Option<Vec<ClusterNode>> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let asks = known.into_iter().map(|(host, port)| {
            Box::pin(async move {
                let node = ClusterNode {
                    id: String::new(),
                    host,
                    port,
                    primary: true,
                    primary_id: None,
                    slots: Vec::new(),
                    failed: false,
                };
                let mut conn = self.open(&node).await.ok_or(())?;
                let cmd = redis::cmd("CLUSTER").arg("NODES").clone();
                let v = conn.req_packed_command(&cmd).await.map_err(|_| ())?;
                let text = super::reply::text("CLUSTER NODES", v).map_err(|_| ())?;
                super::cluster::parse_nodes(&text).map_err(|_| ())
            })
        });
        let (nodes, _) = futures::future::select_ok(asks).await.ok()?;
        let mut known = self.seeds.seeds.clone();
        for n in nodes.iter().filter(|n| !n.failed) {
            let addr = (n.host.clone(), n.port);
            if !known.contains(&addr) {
                known.push(addr);
            }
        }
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = known;
        Some(nodes)
    }

    /// Drops the map (its connections with it): the next command that finds it missing
    /// reads it again over fresh connections.
    pub fn forget(&self) {
        self.routes.store(None);
    }

    /// Sends `cmd` directly when it is a command on one slot and the map names its node;
    /// `conn` picks the connection among the node's. A reply that says the map is stale, or
    /// a failed connection, drops the map: the caller sends the command through the
    /// cluster client and rebuilds.
    pub async fn send(&self, conn: usize, cmd: &Cmd) -> Result<redis::RedisResult<Value>, Detour> {
        let Some(key) = one_slot_key(cmd) else {
            return Err(Detour::NotDirect);
        };
        let Some(routes) = self.routes.load_full() else {
            return Err(Detour::Stale);
        };
        let node = routes.owner[slot_index(key)];
        if node == UNSERVED {
            // Its primary failed and no replica took over yet: the cluster client answers
            // (CLUSTERDOWN) until the map is read again.
            self.routes.store(None);
            return Err(Detour::Stale);
        }
        let conns = &routes.nodes[node as usize];
        let mut c = conns[conn % conns.len()].clone();
        let reply = c.req_packed_command(cmd).await;
        let stale = match &reply {
            Ok(Value::ServerError(e)) => matches!(
                e.code(),
                "MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN" | "READONLY" | "MASTERDOWN"
            ),
            Ok(_) => false,
            Err(e) => e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error(),
        };
        if stale {
            self.routes.store(None);
            return Err(Detour::Stale);
        }
        Ok(reply)
    }
}

/// The first key of a command the direct path takes: GET, SET, or a DEL, UNLINK, MGET or
/// MSET whose keys all hash to one slot (the store splits batches by slot, so each of its
/// groups qualifies).
fn one_slot_key(cmd: &Cmd) -> Option<&[u8]> {
    let mut args = cmd.args_iter().map(|a| match a {
        redis::Arg::Simple(b) => Some(b),
        _ => None,
    });
    let name = args.next()??;
    let key = args.next()??;
    if name.eq_ignore_ascii_case(b"GET") || name.eq_ignore_ascii_case(b"SET") {
        return Some(key);
    }
    let every_other = name.eq_ignore_ascii_case(b"MSET");
    let multi = every_other
        || name.eq_ignore_ascii_case(b"DEL")
        || name.eq_ignore_ascii_case(b"UNLINK")
        || name.eq_ignore_ascii_case(b"MGET");
    if !multi {
        return None;
    }
    let slot = slot_index(key);
    loop {
        if every_other {
            // The value of the previous key: MSET needs pairs.
            match args.next() {
                Some(Some(_)) => {}
                _ => return None,
            }
        }
        match args.next() {
            Some(Some(k)) if slot_index(k) == slot => {}
            None => return Some(key),
            _ => return None,
        }
    }
}

/// `key`'s hash slot as an index into the slot map: CRC16/XMODEM of the key's hash tag
/// (the first non-empty `{...}`) or of the whole key, modulo 16384 (the crate's `Slot` does
/// not expose its number).
fn slot_index(key: &[u8]) -> usize {
    let tagged = key.iter().position(|b| *b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|b| *b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    usize::from(crc16::State::<crc16::XMODEM>::calculate(
        tagged.unwrap_or(key),
    )) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_commands_on_one_slot_go_direct() {
        assert_eq!(one_slot_key(redis::cmd("GET").arg("k")), Some(&b"k"[..]));
        assert_eq!(
            one_slot_key(redis::cmd("SET").arg("k").arg("v").arg("PX").arg(5)),
            Some(&b"k"[..])
        );
        assert_eq!(one_slot_key(redis::cmd("DEL").arg("k")), Some(&b"k"[..]));
        // "foo" and "bar" hash to different slots; a hash tag puts keys in one.
        assert_eq!(one_slot_key(redis::cmd("DEL").arg("foo").arg("bar")), None);
        let tagged = redis::cmd("UNLINK").arg("{t}a").arg("{t}b").clone();
        assert_eq!(one_slot_key(&tagged), Some(&b"{t}a"[..]));
        let mget = redis::cmd("MGET").arg("{t}a").arg("{t}b").clone();
        assert_eq!(one_slot_key(&mget), Some(&b"{t}a"[..]));
        assert_eq!(one_slot_key(redis::cmd("MGET").arg("foo").arg("bar")), None);
        let mset = redis::cmd("MSET")
            .arg("{t}a")
            .arg(1)
            .arg("{t}b")
            .arg(2)
            .clone();
        assert_eq!(one_slot_key(&mset), Some(&b"{t}a"[..]));
        let odd = redis::cmd("MSET").arg("{t}a").arg(1).arg("{t}b").clone();
        assert_eq!(one_slot_key(&odd), None);
        let split = redis::cmd("MSET")
            .arg("foo")
            .arg(1)
            .arg("bar")
            .arg(2)
            .clone();
        assert_eq!(one_slot_key(&split), None);
        assert_eq!(one_slot_key(&redis::cmd("PING")), None);
        assert_eq!(one_slot_key(redis::cmd("EXPIRE").arg("k").arg(1)), None);
    }

    #[test]
    fn slots_are_redis_cluster_hash_slots() {
        // CLUSTER KEYSLOT values from Redis; an empty tag hashes the whole key.
        assert_eq!(slot_index(b"x{}1"), 14136);
        assert_eq!(slot_index(b"y{}1"), 396);
        assert_eq!(slot_index(b"foo"), 12182);
        assert_eq!(slot_index(b"{a}x"), 15495);
        assert_eq!(slot_index(b"bar"), 5061);
    }
}
