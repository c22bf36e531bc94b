//! Batches on the raw target's lean wire path (`pipeline_depth > 1`): in the closed model
//! each client's batch goes out in one write, like `redis-benchmark -P`; in the open model
//! each connection sends what the pacer released to it as one pipeline. Either way every
//! reply is counted once, agrees with the server's own INFO counters, authenticates like
//! the store and survives the server going away mid-run.

use crate::engine::{options, run, scenario};
use crate::support::{connection, info_field, redis, redis_with, wait_until};
use redline::op::OpKind;
use redline::report::RunSummary;
use redline::server::ServerOptions;
use std::time::Duration;

/// Four clients, each with a connection of its own.
const CLOSED: &str = "model = \"closed\"\nclients = 4";
/// 4 000 arrivals a second over four connections.
const OPEN: &str = "model = \"open\"\nrate = 4000";

fn batches(model: &str, extra_load: &str) -> String {
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
{model}
connections = 4
pipeline_depth = 16
preload = true
{extra_load}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_of_a_batch_is_counted_and_agrees_with_info() {
    let summary = every_reply_counted_once(CLOSED).await;
    assert!(!summary.generator.open_model);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_batches_are_counted_once_and_timed_from_the_schedule() {
    let summary = every_reply_counted_once(OPEN).await;
    assert!(summary.generator.open_model);
    // Response time runs from each arrival's place in the schedule, service time from the
    // send: the first can never be the shorter.
    let all = &summary.latency.overall;
    assert!(
        all.response.p50_us >= all.service.p50_us && all.response.max_us >= all.service.max_us,
        "{all:?}"
    );
}

/// Runs 3 200 operations of a GET/SET/DEL mix with `model`, checks every reply was counted
/// once and agrees with the server's INFO counters, and returns the summary.
async fn every_reply_counted_once(model: &str) -> RunSummary {
    let server = redis_with(ServerOptions {
        password: Some("batch-secret".into()),
        ..ServerOptions::default()
    });
    let s = scenario(&batches(model, "total_ops = 3200\nduration = \"30s\""));
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
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_reconnect_after_the_server_is_killed_and_restarted() {
    reconnects_after_kill_and_restart(CLOSED, 5_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_batches_reconnect_after_the_server_is_killed_and_restarted() {
    reconnects_after_kill_and_restart(OPEN, 1_000).await;
}

/// Kills the server under load with `model` and restarts it on the same port: the run
/// counts the outage as errors, reconnects, and ends on time with clean last seconds.
/// `busy` is how many commands the server must have processed to count as loaded.
async fn reconnects_after_kill_and_restart(model: &str, busy: u64) {
    let mut server = redis();
    let s = scenario(&batches(model, "duration = \"4s\""));
    let opts = options(&server, 3, false);
    let run = tokio::spawn(async move { run(&s, &opts).await });

    let mut con = connection(&server);
    let processed = |con: &mut redis::Connection| {
        let text: String = redis::cmd("INFO").arg("stats").query(con).expect("INFO");
        info_field(&text, "total_commands_processed")
    };
    wait_until(Duration::from_secs(10), "load reaches the server", || {
        processed(&mut con) > busy
    });
    server.kill().expect("kill");
    server.restart().expect("restart");
    let mut con = connection(&server);
    wait_until(
        Duration::from_secs(10),
        "load comes back after restart",
        || processed(&mut con) > busy,
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
