//! Server INFO over the measured phase: a snapshot when it starts (when warmup ends, after
//! preload) and one when it ends, so preload, warmup and cleanup traffic are left out as in
//! the client counts. Each snapshot reads the server's counters (a cluster's summed over its
//! primaries) and, on a Cluster target, every node apart; the two become the report's
//! `server` and `nodes` sections.

use super::ops::Workload;
use crate::cache::RedisStore;
use crate::report::nodes::{self, NodeSample, NodesReport};
use crate::report::summary::{ServerStats, Window};
use crate::target::node_info::{self, NodeAddr};
use crate::target::{info, Target};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// What a snapshot reads: the admin connection and a cluster's nodes.
pub(super) struct Sources {
    /// The server's admin connection; `None` without Redis (nothing to read).
    admin: Option<RedisStore>,
    /// A Cluster target's nodes with their direct connections; `None` for other targets.
    /// The list as of opening serves both snapshots: each node's role is read from its own
    /// INFO, so a failover during the run shows, and a connection reconnects after a
    /// restart.
    nodes: Option<Vec<NodeAddr>>,
}

impl Sources {
    /// The sources of `target` when the run loads Redis (`admin` is `Some`); none for the
    /// memory layer, which never touches Redis.
    pub(super) fn new(target: &Target, admin: Option<&RedisStore>) -> Sources {
        let nodes = target
            .cluster_nodes()
            .filter(|_| admin.is_some())
            .map(|nodes| {
                (nodes.iter())
                    .map(|n| (n.addr.clone(), n.id.clone(), n.admin.clone()))
                    .collect()
            });
        Sources {
            admin: admin.cloned(),
            nodes,
        }
    }
}

/// Server INFO at one instant, with the client's own count of keys written.
pub(super) struct Snapshot {
    /// The server's counters; `None` if INFO failed.
    counters: Option<info::InfoCounters>,
    keys_written: u64,
    /// Seconds since the load started.
    at_s: f64,
    /// Each node of a Cluster target (`None` for other targets): the samples of those that
    /// answered, and the addresses of those that did not.
    nodes: Option<(Vec<NodeSample>, Vec<String>)>,
}

/// INFO as of now: the client's count of keys written and the time are taken at the call,
/// the INFO requests run in the returned future (`None` without Redis or if nothing
/// answered). The future owns what it needs, so it can be spawned and a slow server never
/// holds up the engine's loop.
pub(super) fn snapshot(
    sources: &Sources,
    workload: &Workload,
    start: Instant,
) -> impl Future<Output = Option<Snapshot>> + Send + 'static {
    let store = sources.admin.clone();
    let nodes = sources.nodes.clone();
    let keys_written = workload.keys_written.load(Ordering::Relaxed);
    let at_s = start.elapsed().as_secs_f64();
    async move {
        let store = store?;
        let sample_nodes = async move {
            match nodes {
                Some(nodes) => Some(node_info::sample_all(nodes).await),
                None => None,
            }
        };
        // Apart: a cluster's summed INFO fails when one primary is down, while the nodes
        // that answered still have their figures.
        let (counters, nodes) = tokio::join!(info::counters(&store), sample_nodes);
        (counters.is_some() || nodes.is_some()).then_some(Snapshot {
            counters,
            keys_written,
            at_s,
            nodes,
        })
    }
}

/// The `server` and `nodes` sections from the snapshots at both ends of the measured
/// phase; each `None` when either end lacks it.
pub(super) fn compare(
    before: Option<Snapshot>,
    after: Option<Snapshot>,
) -> (Option<ServerStats>, Option<NodesReport>) {
    let (Some(before), Some(after)) = (before, after) else {
        return (None, None);
    };
    let window = Window::new(before.at_s, after.at_s);
    let server = match (before.counters, after.counters) {
        (Some(b), Some(a)) => Some(ServerStats {
            window,
            ..info::server_stats(b, a, after.keys_written.saturating_sub(before.keys_written))
        }),
        _ => None,
    };
    let nodes = match (before.nodes, after.nodes) {
        (Some((before, _)), Some((after, unanswered))) => {
            nodes::build(&before, &after, unanswered, window)
        }
        _ => None,
    };
    (server, nodes)
}
