//! The cluster store's direct path for single-key commands (GET, SET, one-key DEL): the
//! slot map as last read, and per primary the store's own capped connections, so such a
//! command goes straight to its node's multiplexed connection — one channel hop, as on a
//! single server — instead of through the cluster client's routing task (a copy of the
//! command, a second channel and a routing pass per command: about 40 % more client CPU per
//! GET in `benches/cluster-compare.sh`).
//!
//! The cluster client stays in charge of everything else and of every exception: a reply
//! that says the map is stale (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, READONLY) or a failed
//! connection drops the map and the command is sent again through the cluster client, which
//! follows redirects and failovers; the map is read again in the background, once at a time.

use super::cluster::{ClusterNode, ClusterUrl};
use super::cluster_link::CappedNode;
use super::config::RedisConfig;
use arc_swap::ArcSwapOption;
use redis::aio::ConnectionLike;
use redis::cluster_async::Connect;
use redis::{AsyncConnectionConfig, Cmd, IntoConnectionInfo, Value};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Set while a rebuild runs, so a burst of failures starts one.
    rebuilding: AtomicBool,
    /// When the last rebuild started: while the map is missing (a node is down), a new
    /// attempt is made at most every [`REBUILD_EVERY`].
    last_rebuild: std::sync::Mutex<Option<Instant>>,
    seeds: ClusterUrl,
    password: Option<String>,
    /// The store's settings entry, passed as the database index (see `cluster_link`).
    registry_id: i64,
    width: usize,
}

/// Why the direct path did not answer: the cluster client must.
pub enum Detour {
    /// Not a single-key command.
    NotDirect,
    /// No map (never built, or dropped and not yet rebuilt), or the map was stale or the
    /// connection failed (then the map is dropped): the caller may start a rebuild.
    Stale,
}

/// Least time between two rebuild attempts.
const REBUILD_EVERY: Duration = Duration::from_millis(500);

impl DirectPath {
    pub fn new(config: &RedisConfig, seeds: ClusterUrl, registry_id: i64, width: usize) -> Self {
        DirectPath {
            routes: ArcSwapOption::empty(),
            rebuilding: AtomicBool::new(false),
            last_rebuild: std::sync::Mutex::new(None),
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

    /// True when a rebuild should start (none is running, none started lately); the
    /// caller runs it.
    pub fn claim_rebuild(&self) -> bool {
        let mut last = self.last_rebuild.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < REBUILD_EVERY) {
            return false;
        }
        if self.rebuilding.swap(true, Ordering::AcqRel) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Marks the rebuild claimed by [`claim_rebuild`](Self::claim_rebuild) as done.
    pub fn rebuilt(&self) {
        self.rebuilding.store(false, Ordering::Release);
    }

    /// Sends `cmd` directly when it is a single-key command and the map names its node;
    /// `conn` picks the connection among the node's. A reply that says the map is stale, or
    /// a failed connection, drops the map: the caller sends the command through the
    /// cluster client and rebuilds.
    pub async fn send(&self, conn: usize, cmd: &Cmd) -> Result<redis::RedisResult<Value>, Detour> {
        let Some(key) = single_key(cmd) else {
            return Err(Detour::NotDirect);
        };
        let Some(routes) = self.routes.load_full() else {
            return Err(Detour::Stale);
        };
        let node = routes.owner[slot_index(key)];
        if node == UNSERVED {
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

/// The key of a command the direct path takes: GET, SET or a DEL of one key.
fn single_key(cmd: &Cmd) -> Option<&[u8]> {
    let mut args = cmd.args_iter();
    let name = match args.next()? {
        redis::Arg::Simple(n) => n,
        _ => return None,
    };
    let key = match args.next()? {
        redis::Arg::Simple(k) => k,
        _ => return None,
    };
    let one_key = name.eq_ignore_ascii_case(b"GET")
        || name.eq_ignore_ascii_case(b"SET")
        || (name.eq_ignore_ascii_case(b"DEL") && args.len() == 0);
    one_key.then_some(key)
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
    fn only_single_key_commands_go_direct() {
        assert_eq!(single_key(redis::cmd("GET").arg("k")), Some(&b"k"[..]));
        assert_eq!(
            single_key(redis::cmd("SET").arg("k").arg("v").arg("PX").arg(5)),
            Some(&b"k"[..])
        );
        assert_eq!(single_key(redis::cmd("DEL").arg("k")), Some(&b"k"[..]));
        assert_eq!(single_key(redis::cmd("DEL").arg("a").arg("b")), None);
        assert_eq!(single_key(redis::cmd("MGET").arg("a")), None);
        assert_eq!(single_key(&redis::cmd("PING")), None);
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
