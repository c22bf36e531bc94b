//! Reading each node of a Redis Cluster target for the report's `nodes` section: one
//! `INFO all` per node over its direct connection, parsed into a [`NodeSample`] (role, run
//! id, data commands from commandstats, keyspace hits and misses, evictions, memory). The
//! engine takes a sample of every node when it snapshots the server INFO, at both ends of
//! the measured phase; [`crate::report::nodes`] turns the two into figures and the skew.

use crate::cache::RedisStore;
use crate::report::nodes::NodeSample;
use redis::InfoDict;

/// Commands that touch no key of the workload: connection handling, server administration,
/// replication, cluster management and transactions' brackets. Every other command in
/// INFO commandstats is a data command. Subcommands (`client|setname`, `cluster|slots`)
/// count as their command.
pub const NOT_DATA_COMMANDS: &[&str] = &[
    "acl",
    "asking",
    "auth",
    "bgrewriteaof",
    "bgsave",
    "client",
    "cluster",
    "command",
    "config",
    "dbsize",
    "debug",
    "discard",
    "echo",
    "exec",
    "failover",
    "hello",
    "info",
    "lastsave",
    "latency",
    "memory",
    "module",
    "monitor",
    "multi",
    "ping",
    "psync",
    "quit",
    "readonly",
    "readwrite",
    "replconf",
    "replicaof",
    "reset",
    "role",
    "save",
    "scan",
    "select",
    "sentinel",
    "slaveof",
    "slowlog",
    "sync",
    "time",
    "unwatch",
    "wait",
    "waitaof",
    "watch",
];

/// A node to sample: its address (`host:port`), cluster node id and a direct connection.
pub type NodeAddr = (String, String, RedisStore);

/// The INFO of every node in `nodes`, read at once: the samples of the nodes that
/// answered, and the addresses of those that did not.
pub async fn sample_all(nodes: Vec<NodeAddr>) -> (Vec<NodeSample>, Vec<String>) {
    let reads = nodes.into_iter().map(|(addr, id, store)| async move {
        // Plain INFO leaves commandstats out; `all` has every section but modules'.
        let info = store
            .raw::<InfoDict>(redis::cmd("INFO").arg("all"))
            .await
            .ok();
        (addr, id, info)
    });
    let mut samples = Vec::new();
    let mut unanswered = Vec::new();
    for (addr, id, info) in futures::future::join_all(reads).await {
        match info {
            Some(info) => samples.push(sample(addr, id, &info)),
            None => unanswered.push(addr),
        }
    }
    (samples, unanswered)
}

/// The sample in `info` (INFO with the server, replication, stats, memory and
/// commandstats sections) of the node at `addr`; a missing field reads as 0 or empty.
pub fn sample(addr: String, id: String, info: &InfoDict) -> NodeSample {
    let n = |k: &str| info.get::<u64>(k).unwrap_or(0);
    let primary = info.get::<String>("role").as_deref() != Some("slave");
    let primary_addr = match (
        info.get::<String>("master_host"),
        info.get::<u16>("master_port"),
    ) {
        (Some(host), Some(port)) if !primary => Some(format!("{host}:{port}")),
        _ => None,
    };
    NodeSample {
        addr,
        id,
        primary,
        primary_addr,
        run_id: info.get::<String>("run_id").unwrap_or_default(),
        data_commands: data_commands(info),
        keyspace_hits: n("keyspace_hits"),
        keyspace_misses: n("keyspace_misses"),
        evicted_keys: n("evicted_keys"),
        used_memory: n("used_memory"),
        maxmemory: n("maxmemory"),
    }
}

/// The `calls` of every data command in INFO commandstats
/// (`cmdstat_get:calls=10,usec=...`), summed.
pub fn data_commands(info: &InfoDict) -> u64 {
    info.keys()
        .filter_map(|key| {
            let command = key.strip_prefix("cmdstat_")?;
            let base = command.split('|').next().unwrap_or(command);
            if NOT_DATA_COMMANDS.contains(&base.to_ascii_lowercase().as_str()) {
                return None;
            }
            let stats = info.get::<String>(key)?;
            stats
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_commands_leave_admin_and_cluster_commands_out() {
        let info = InfoDict::new(
            "# Commandstats\r\n\
             cmdstat_get:calls=70,usec=100,usec_per_call=1.4,rejected_calls=3,failed_calls=0\r\n\
             cmdstat_set:calls=20,usec=50,usec_per_call=2.5,rejected_calls=0,failed_calls=1\r\n\
             cmdstat_mget:calls=10,usec=50,usec_per_call=5.0,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_info:calls=4,usec=400,usec_per_call=100.0,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_cluster|slots:calls=9,usec=9,usec_per_call=1.0,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_client|setinfo:calls=2,usec=2,usec_per_call=1.0,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_ping:calls=5,usec=5,usec_per_call=1.0,rejected_calls=0,failed_calls=0\r\n\
             # Stats\r\ntotal_commands_processed:120\r\n",
        );
        assert_eq!(data_commands(&info), 100);
    }

    #[test]
    fn a_replica_names_its_primary() {
        let info = InfoDict::new(
            "# Server\r\nrun_id:abc\r\n# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n\
             master_port:7001\r\n# Stats\r\nkeyspace_hits:5\r\n# Memory\r\nused_memory:1024\r\n",
        );
        let s = sample("127.0.0.1:7004".into(), "n4".into(), &info);
        assert!(!s.primary);
        assert_eq!(s.primary_addr.as_deref(), Some("127.0.0.1:7001"));
        assert_eq!(
            (s.run_id.as_str(), s.keyspace_hits, s.used_memory),
            ("abc", 5, 1024)
        );
        let primary = sample(
            "a:1".into(),
            String::new(),
            &InfoDict::new("role:master\r\n"),
        );
        assert!(primary.primary && primary.primary_addr.is_none());
    }
}
