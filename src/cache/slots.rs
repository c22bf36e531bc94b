//! Batches on a Redis Cluster. A multi-key command (MGET, MSET, DEL, UNLINK) whose keys
//! hash to different slots is refused with CROSSSLOT, even when one node serves them all,
//! so the store splits a batch into one command per hash slot, sends them together (the
//! cluster client routes each to its node) and puts the replies back in the batch's order.
//! Keys that share a hash tag (`{tag}`, `keyspace.hash_tags`) fall in one slot and go out
//! as one command, as on a single server.
//!
//! The rest of the store's work on a cluster lives here too: pipelines (each command routed
//! by its own key) and `del_pattern`, which sweeps every primary.

use super::error::OpError;
use super::redis_store::{to_reply, Command, RedisStore, Reply};
use super::reply;
use redis::cluster_routing::Slot;
use redis::Value;
use std::collections::HashMap;
use std::time::Instant;

/// Positions of `keys` grouped by hash slot, groups in order of first appearance.
pub fn group_by_slot<K: AsRef<[u8]>>(keys: &[K]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<Slot, usize> = HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        let slot = Slot::for_key(k.as_ref());
        let g = *index.entry(slot).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

/// The first error of `results`, or every value.
fn all<T>(results: Vec<Result<T, OpError>>) -> Result<Vec<T>, OpError> {
    results.into_iter().collect()
}

impl RedisStore {
    /// MGET split by slot; values in the order of `keys`.
    pub(super) async fn cluster_mget(
        &self,
        keys: &[&str],
    ) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let full: Vec<String> = keys.iter().map(|k| self.full_key(k)).collect();
        let groups = group_by_slot(&full);
        let slot = self.pick();
        let sent = groups.iter().map(|g| {
            let mut cmd = redis::cmd("MGET");
            for &i in g {
                cmd.arg(&full[i]);
            }
            async move { reply::values("MGET", g.len(), self.call(slot, &cmd).await?) }
        });
        let replies = all(futures::future::join_all(sent).await)?;
        let mut out = vec![None; keys.len()];
        for (g, values) in groups.iter().zip(replies) {
            for (&i, v) in g.iter().zip(values) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// MSET (no TTL) split by slot.
    pub(super) async fn cluster_mset(&self, items: &[(&str, &[u8])]) -> Result<(), OpError> {
        let full: Vec<String> = items.iter().map(|(k, _)| self.full_key(k)).collect();
        let slot = self.pick();
        let sent = group_by_slot(&full).into_iter().map(|g| {
            let mut cmd = redis::cmd("MSET");
            for i in g {
                cmd.arg(&full[i]).arg(items[i].1);
            }
            async move { reply::ok("MSET", self.call(slot, &cmd).await?) }
        });
        all(futures::future::join_all(sent).await).map(|_| ())
    }

    /// DEL split by slot; how many keys existed.
    pub(super) async fn cluster_del(&self, keys: &[&str]) -> Result<u64, OpError> {
        let full: Vec<String> = keys.iter().map(|k| self.full_key(k)).collect();
        let slot = self.pick();
        let sent = group_by_slot(&full).into_iter().map(|g| {
            let mut cmd = redis::cmd("DEL");
            for i in g {
                cmd.arg(&full[i]);
            }
            async move { reply::count("DEL", self.call(slot, &cmd).await?) }
        });
        Ok(all(futures::future::join_all(sent).await)?
            .into_iter()
            .sum())
    }

    /// A pipeline on a cluster: every command sent at once, each to the node serving its
    /// key, each reply with the instant it arrived.
    pub(super) async fn cluster_pipeline(
        &self,
        slot: usize,
        commands: &[Command],
    ) -> Vec<(Result<Reply, OpError>, Instant)> {
        let sent = commands.iter().map(|c| {
            let cmd = self.command(c);
            async move {
                let r = self.call(slot, &cmd).await.and_then(|v| to_reply(c, v));
                (r, Instant::now())
            }
        });
        futures::future::join_all(sent).await
    }

    /// SCAN MATCH `pattern` + UNLINK (split by slot) on every primary the cluster names
    /// now; how many keys were removed. A primary that fails the sweep fails it.
    pub(super) async fn cluster_del_pattern(
        &self,
        pattern: &str,
        batch: usize,
    ) -> Result<u64, OpError> {
        let mut removed = 0;
        for node in self.cluster_primaries().await? {
            let mut sender = NodeSender {
                store: self,
                host: &node.host,
                port: node.port,
            };
            removed += super::sweep::unlink_matching(&mut sender, pattern, batch).await?;
        }
        Ok(removed)
    }

    /// The cluster's primaries that are up, as one node sees them now; empty on a single
    /// server.
    pub async fn cluster_primaries(&self) -> Result<Vec<super::cluster::ClusterNode>, OpError> {
        let Some(wire) = self.cluster() else {
            return Ok(Vec::new());
        };
        let timeout = self.config().response_timeout;
        let nodes = wire.nodes(timeout).await?;
        Ok(nodes
            .into_iter()
            .filter(|n| n.primary && !n.failed && !n.slots.is_empty())
            .collect())
    }

    /// The cluster's nodes (primaries and replicas) as one node sees them now; empty on a
    /// single server.
    pub async fn cluster_nodes(&self) -> Result<Vec<super::cluster::ClusterNode>, OpError> {
        match self.cluster() {
            Some(wire) => wire.nodes(self.config().response_timeout).await,
            None => Ok(Vec::new()),
        }
    }

    /// Sends `cmd` to the cluster node at `host:port` (no prefix applied), bounded by the
    /// store's response timeout. On a single server it goes to that server.
    pub async fn raw_on(&self, host: &str, port: u16, cmd: &redis::Cmd) -> Result<Value, OpError> {
        match self.cluster() {
            Some(wire) => {
                wire.call_on(host, port, cmd, self.config().response_timeout)
                    .await
            }
            None => self.call(self.pick(), cmd).await,
        }
    }
}

/// Commands of a sweep sent to one cluster node; UNLINK batches are split by slot.
struct NodeSender<'a> {
    store: &'a RedisStore,
    host: &'a str,
    port: u16,
}

impl super::sweep::Send1 for NodeSender<'_> {
    fn send<'s>(
        &'s mut self,
        cmd: &'s redis::Cmd,
    ) -> impl std::future::Future<Output = Result<Value, OpError>> + Send + 's {
        self.store.raw_on(self.host, self.port, cmd)
    }

    fn per_slot(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_group_by_slot_and_hash_tags_share_one() {
        let keys = ["{w1}:100", "a", "{w1}:199", "b", "a"];
        let groups = group_by_slot(&keys);
        assert_eq!(groups[0], vec![0, 2], "one tag, one slot");
        assert!(groups.iter().any(|g| g == &vec![1, 4]), "{groups:?}");
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), keys.len());
        let spread: Vec<String> = (0..100).map(|i| format!("w0:{i}")).collect();
        assert!(group_by_slot(&spread).len() > 90, "untagged keys spread");
    }
}
