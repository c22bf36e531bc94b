//! The per-node figures and the hot-shard skew: the collector reads real servers' INFO
//! (data commands counted exactly, its own INFO left out, a node that stops answering
//! named), and on an embedded Redis Cluster a zipfian run reports a hot shard where a
//! uniform one does not, its nodes' operations adding up to the run's commands.

use crate::engine::scenario;
use crate::failover::open_topology;
use crate::support::{connection, redis};
use redline::cache::{RedisConfig, RedisStore};
use redline::engine::{self, RunOptions};
use redline::report::nodes::{self, NodeRole};
use redline::report::{RunSummary, ThresholdStatus, Window};
use redline::scenario::Scenario;
use redline::server::EmbeddedRedis;
use redline::shutdown::Shutdown;
use redline::target::node_info;
use std::time::Duration;

async fn node(server: &EmbeddedRedis) -> node_info::NodeAddr {
    let mut config = RedisConfig::new(server.url());
    config.connections = 1;
    config.response_timeout = Duration::from_secs(2);
    config.connect_timeout = Duration::from_secs(2);
    config.max_retries = 0;
    let store = RedisStore::connect(config).await.expect("connect");
    (server.addr().to_string(), String::new(), store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_figures_count_each_nodes_data_commands_and_name_the_busiest() {
    let (a, b, mut c) = (redis(), redis(), redis());
    let nodes = vec![node(&a).await, node(&b).await, node(&c).await];
    let (before, unanswered) = node_info::sample_all(nodes.clone()).await;
    assert_eq!((before.len(), unanswered.len()), (3, 0));

    let (mut ca, mut cb) = (connection(&a), connection(&b));
    for i in 0..30 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut ca)
            .unwrap();
        // INFO and PING are not data commands.
        let _: String = redis::cmd("PING").query(&mut ca).unwrap();
    }
    let _: String = redis::cmd("INFO").query(&mut cb).unwrap();
    for i in 0..10 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("v")
            .query(&mut cb)
            .unwrap();
    }
    let _: Option<String> = redis::cmd("GET").arg("k1").query(&mut cb).unwrap();
    c.kill().expect("kill");

    let (after, unanswered) = node_info::sample_all(nodes).await;
    assert_eq!(unanswered, [c.addr().to_string()]);
    let report = nodes::build(&before, &after, unanswered, Window::new(0.0, 1.0)).expect("nodes");
    let by_addr = |s: &EmbeddedRedis| {
        let addr = s.addr().to_string();
        report
            .nodes
            .iter()
            .find(|n| n.addr == addr)
            .cloned()
            .expect("node")
    };
    let (na, nb) = (by_addr(&a), by_addr(&b));
    assert_eq!(
        (na.ops, na.keyspace_misses, na.role),
        (30, 30, NodeRole::Primary)
    );
    assert_eq!((nb.ops, nb.keyspace_hits, nb.hit_rate), (11, 1, Some(1.0)));
    assert!(na.used_memory > 0);
    let hot = report.hot_shard.as_ref().expect("hot shard");
    // 30 of 41 over two primaries that answered: 30/41 × 2.
    assert_eq!(hot.addr, a.addr().to_string());
    assert!((hot.skew - 60.0 / 41.0).abs() < 1e-3, "{hot:?}");
    assert!(report.skew_sentence().contains("did not answer INFO"));
}

/// A raw GET/SET run against an embedded cluster, over `distribution`: every operation is
/// one single-key command, so the nodes' data commands add up to the run's commands.
fn cluster_run(distribution: &str) -> Scenario {
    scenario(&format!(
        r#"
name = "cluster-skew"
thresholds = ["hot_shard_skew < 1.5"]

[target]
kind = "redis"
server = {{ topology = "cluster" }}

[keyspace]
keys = 2000
value_size = "32B"
distribution = {distribution}

[[ops]]
kind = "get"
weight = 3

[[ops]]
kind = "set"
weight = 1

[load]
model = "open"
rate = 600
duration = "2s"
"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipfian_keys_make_a_hot_shard_where_uniform_keys_do_not() {
    let zipfian = cluster_run(r#"{ kind = "zipfian", exponent = 2.0 }"#);
    let uniform = cluster_run(r#""uniform""#);
    // One cluster for both runs: each run writes under its own run id.
    let target = open_topology(&zipfian).await;
    assert!(target.is_cluster(), "{target:?}");
    let run = |s: Scenario, seed: u64| {
        let target = &target;
        async move {
            let opts = RunOptions {
                run_id: Some(format!("skew{seed}")),
                seed: Some(seed),
                ..RunOptions::default()
            };
            engine::run(&s, target, &opts, Shutdown::never(), &mut |_| {})
                .await
                .expect("run")
        }
    };
    let hot = run(zipfian, 1).await;
    let even = run(uniform, 2).await;

    let skew = |r: &RunSummary| {
        let nodes = r.nodes.as_ref().expect("a cluster run has a nodes section");
        assert_eq!(nodes.primaries, 3, "{nodes:?}");
        assert_eq!(nodes.nodes.len(), 6, "replicas listed too: {nodes:?}");
        assert!(nodes.unanswered.is_empty(), "{nodes:?}");
        nodes.hot_shard.clone().expect("the primaries did work")
    };
    let (h, e) = (skew(&hot), skew(&even));
    // Exponent 2 sends about 61 % of the operations to the hottest key alone, so its node
    // takes well over half of them (skew near 2); uniform keys spread evenly (near 1).
    assert!(
        h.skew > 1.5 * e.skew,
        "zipfian skew {h:?} should stand well above uniform {e:?}"
    );
    for r in [&hot, &even] {
        let nodes = r.nodes.as_ref().expect("nodes");
        let primaries: u64 = (nodes.nodes.iter())
            .filter(|n| n.role == NodeRole::Primary)
            .map(|n| n.ops)
            .sum();
        let commands = r.totals.commands;
        assert!(commands > 500, "{:?}", r.totals);
        let off = primaries.abs_diff(commands);
        assert!(
            off <= commands / 50 + 5,
            "the primaries executed {primaries} data commands, the run sent {commands}"
        );
    }
    // The threshold judges the same figure: the hot run fails it, the even one passes.
    let judged = |r: &RunSummary| {
        let t = (r.thresholds.iter())
            .find(|t| t.expr == "hot_shard_skew < 1.5")
            .expect("threshold");
        (t.measured, t.status)
    };
    assert_eq!(judged(&hot), (Some(h.skew), ThresholdStatus::Fail));
    assert_eq!(judged(&even), (Some(e.skew), ThresholdStatus::Pass));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_after_a_cluster_failover_are_read_from_each_node() {
    let s = scenario(
        r#"
name = "cluster-roles"
thresholds = []

[target]
kind = "redis"
server = { topology = "cluster" }

[keyspace]
keys = 500
value_size = "32B"

[[ops]]
kind = "get"
weight = 1

[[ops]]
kind = "set"
weight = 1

[load]
model = "open"
rate = 200
duration = "3s"

[[faults]]
kind = "cluster_failover"
method = "command"
primary = 0
at = "1s"
for = "1s"
"#,
    );
    let target = open_topology(&s).await;
    let opts = RunOptions {
        run_id: Some("roles".into()),
        seed: Some(3),
        ..RunOptions::default()
    };
    let r = engine::run(&s, &target, &opts, Shutdown::never(), &mut |_| {})
        .await
        .expect("run");
    let failover = r.failover.as_ref().expect("failover section");
    let switch = &failover.failovers[0];
    let (old, new) = (
        switch.old_primary.clone().expect("old primary"),
        switch.new_primary.clone().expect("new primary"),
    );
    let nodes = r.nodes.as_ref().expect("nodes");
    let role = |addr: &str| {
        (nodes.nodes.iter())
            .find(|n| n.addr == addr)
            .unwrap_or_else(|| panic!("{addr} not in {nodes:?}"))
    };
    // The target's node list is as of opening; the roles come from each node's INFO.
    assert_eq!(role(&new).role, NodeRole::Primary, "{nodes:?}");
    assert_eq!(role(&old).role, NodeRole::Replica, "{nodes:?}");
    assert_eq!(role(&old).replica_of.as_deref(), Some(new.as_str()));
    assert!(
        !role(&old).restarted,
        "a coordinated switch restarts nothing"
    );
    assert_eq!((nodes.primaries, nodes.nodes.len()), (3, 6), "{nodes:?}");
    assert!(nodes.hot_shard.is_some(), "{nodes:?}");
}
