//! Closed-model batches on the raw target (`pipeline_depth > 1`): each client's batch goes
//! out in one write on the lean wire path, like `redis-benchmark -P`. Every reply is
//! counted once, agrees with the server's own INFO counters, authenticates like the store
//! and survives the server going away mid-run.

use crate::engine::{options, run, scenario};
use crate::support::{connection, info_field, redis, redis_with, wait_until};
use redline::op::OpKind;
use redline::server::ServerOptions;
use std::time::Duration;

fn batches(extra_load: &str) -> String {
    format!(
        r#"
name = "batches"
thresholds = []

[target]
kind = "redis"

[keyspace]
keys = 500
value_size = "100B"

[[ops]]
kind = "get"
weight = 8

[[ops]]
kind = "set"
weight = 1

[[ops]]
kind = "del"
weight = 1

[load]
model = "closed"
clients = 4
connections = 4
pipeline_depth = 16
preload = true
{extra_load}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_of_a_batch_is_counted_and_agrees_with_info() {
    let server = redis_with(ServerOptions {
        password: Some("batch-secret".into()),
        ..ServerOptions::default()
    });
    let s = scenario(&batches("total_ops = 3200\nduration = \"30s\""));
    let summary = run(&s, &options(&server, 7, false)).await;

    assert_eq!(summary.totals.ops, 3200, "{:?}", summary.totals);
    assert_eq!(
        summary.totals.errors_total, 0,
        "{:?}",
        summary.totals.errors
    );
    let count = |op| {
        summary
            .latency
            .per_op
            .get(&op)
            .map_or(0, |l| l.response.count)
    };
    let (gets, sets, dels) = (count(OpKind::Get), count(OpKind::Set), count(OpKind::Del));
    assert_eq!(gets + sets + dels, 3200);
    assert!(sets > 0 && dels > 0 && gets > 2000, "{gets} {sets} {dels}");
    assert_eq!(summary.totals.hits + summary.totals.misses, gets);
    assert!(summary.totals.hits > 0 && summary.totals.misses > 0);

    let stats = summary.server.as_ref().expect("server stats from INFO");
    assert_eq!(stats.keyspace_hits, summary.totals.hits, "{stats:?}");
    assert_eq!(stats.keyspace_misses, summary.totals.misses, "{stats:?}");
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut connection(&server))
        .expect("INFO commandstats");
    let calls = |cmd: &str| {
        let line = info
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{cmd}:")))
            .unwrap_or_else(|| panic!("no cmdstat_{cmd} in {info}"));
        info_field(
            &line.replace(',', "\n").replace('=', ":"),
            &format!("cmdstat_{cmd}:calls"),
        )
    };
    assert_eq!(calls("get"), gets);
    // Every latency is the time to the command's own reply: positive and far below 1 s.
    let all = &summary.latency.overall.response;
    assert!(all.max_us < 1_000_000, "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_reconnect_after_the_server_is_killed_and_restarted() {
    let mut server = redis();
    let s = scenario(&batches("duration = \"4s\""));
    let opts = options(&server, 3, false);
    let run = tokio::spawn(async move { run(&s, &opts).await });

    let mut con = connection(&server);
    let processed = |con: &mut redis::Connection| {
        let text: String = redis::cmd("INFO").arg("stats").query(con).expect("INFO");
        info_field(&text, "total_commands_processed")
    };
    wait_until(Duration::from_secs(10), "load reaches the server", || {
        processed(&mut con) > 5_000
    });
    server.kill().expect("kill");
    server.restart().expect("restart");
    let mut con = connection(&server);
    wait_until(
        Duration::from_secs(10),
        "load comes back after restart",
        || processed(&mut con) > 5_000,
    );

    let summary = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the run ends on time")
        .expect("run task");
    let errors = summary.totals.errors_total;
    assert!(errors > 0, "{:?}", summary.totals.errors);
    // Reconnects back off (50 ms, 100 ms, ...) instead of spinning on a refused port.
    eprintln!(
        "errors while the server was down: {:?}",
        summary.totals.errors
    );
    let last = summary.timeseries.last().expect("timeseries");
    assert!(last.ops > 0 && last.errors == 0, "{:?}", summary.timeseries);
}
