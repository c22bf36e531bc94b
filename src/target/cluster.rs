//! The nodes of a Redis Cluster target, each with a direct single-node admin connection:
//! what per-node figures read (INFO per node), and what a sweep or a fault addresses one
//! node with. The list comes from `CLUSTER NODES` through the target's cluster connection;
//! after a failover the roles change, so [`Target::refresh_cluster_nodes`] reads it again.

use super::{Target, TargetError};
use crate::cache::cluster::ClusterNode;
use crate::cache::{RedisConfig, RedisStore};

/// One node of a cluster target.
#[derive(Clone, Debug)]
pub struct NodeAdmin {
    /// `host:port` as the cluster announces it.
    pub addr: String,
    /// The cluster node id.
    pub id: String,
    /// True for a primary (as of the last read of the node list), false for a replica.
    pub primary: bool,
    /// A direct, single-node connection to this node (no key prefix): INFO, SCAN, faults.
    pub admin: RedisStore,
}

/// Opens a direct admin connection to every reachable node of the cluster `cluster` (a
/// cluster-mode store) names, with the settings of `endpoint` (credentials, timeouts).
/// Connections in `known` to the same address are reused. Nodes flagged failed are left
/// out; a node that does not answer is too (it is down, e.g. during a failover).
pub async fn open_nodes(
    cluster: &RedisStore,
    endpoint: &RedisConfig,
    admin_timeout: std::time::Duration,
    known: &[NodeAdmin],
) -> Result<Vec<NodeAdmin>, TargetError> {
    let seeds = endpoint.cluster()?.ok_or_else(|| {
        TargetError::Connect(format!("{} is not a cluster", endpoint.redacted_url()))
    })?;
    let nodes = cluster.cluster_nodes().await.map_err(|e| {
        TargetError::Connect(format!(
            "cannot read the node list of the cluster at {}: {e}",
            endpoint.redacted_url()
        ))
    })?;
    let opened = nodes
        .into_iter()
        .filter(|n| !n.failed)
        .map(|node: ClusterNode| {
            let reuse = known
                .iter()
                .find(|k| k.addr == node.addr() && k.id == node.id)
                .map(|k| k.admin.clone());
            let mut config = RedisConfig::new(seeds.node_url(&node.host, node.port));
            config.password = endpoint.password.clone();
            config.connect_timeout = endpoint.connect_timeout;
            config.response_timeout = admin_timeout;
            config.max_retries = 0;
            async move {
                let admin = match reuse {
                    Some(store) => store,
                    None => RedisStore::connect(config).await.ok()?,
                };
                Some(NodeAdmin {
                    addr: node.addr(),
                    id: node.id,
                    primary: node.primary,
                    admin,
                })
            }
        });
    let mut nodes: Vec<NodeAdmin> = futures::future::join_all(opened)
        .await
        .into_iter()
        .flatten()
        .collect();
    nodes.sort_by(|a, b| a.addr.cmp(&b.addr));
    Ok(nodes)
}

impl Target {
    /// The nodes of a cluster target with their direct admin connections (as of opening,
    /// or the last [`refresh_cluster_nodes`](Self::refresh_cluster_nodes)); `None` for any
    /// other target.
    pub fn cluster_nodes(&self) -> Option<&[NodeAdmin]> {
        self.server.as_ref()?.cluster_nodes.as_deref()
    }

    /// True when the target is a Redis Cluster (`redis+cluster://` or an embedded cluster).
    pub fn is_cluster(&self) -> bool {
        self.server
            .as_ref()
            .is_some_and(|s| s.endpoint.is_cluster())
    }

    /// Reads the node list again (roles change on a failover, a restarted node comes back
    /// as a replica); connections to known nodes are kept. A no-op on other targets.
    pub async fn refresh_cluster_nodes(&mut self) -> Result<(), TargetError> {
        let Some(fresh) = self.current_cluster_nodes().await? else {
            return Ok(());
        };
        if let Some(server) = self.server.as_mut() {
            server.cluster_nodes = Some(fresh);
        }
        Ok(())
    }

    /// The node list as the cluster names it now, without changing the target's (for
    /// callers holding a shared reference during a run); `None` on other targets.
    pub async fn current_cluster_nodes(&self) -> Result<Option<Vec<NodeAdmin>>, TargetError> {
        let Some(server) = self.server.as_ref().filter(|s| s.endpoint.is_cluster()) else {
            return Ok(None);
        };
        let known = server.cluster_nodes.as_deref().unwrap_or_default();
        let timeout = server.admin.config().response_timeout;
        open_nodes(&server.admin, &server.endpoint, timeout, known)
            .await
            .map(Some)
    }
}
