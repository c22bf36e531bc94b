//! The per-node figures and the hot-shard skew: the collector reads real servers' INFO
//! (data commands counted exactly, its own INFO left out, a node that stops answering
//! named).

use crate::support::{connection, redis};
use redline::cache::{RedisConfig, RedisStore};
use redline::report::nodes::{self, NodeRole};
use redline::report::Window;
use redline::server::EmbeddedRedis;
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
