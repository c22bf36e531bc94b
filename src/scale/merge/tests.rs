//! Merging fixture reports: sums, exact percentiles, the verdict recomputed, a saturated
//! shard making the run inconclusive, and every kind of mismatch refused.

use super::*;
use crate::report::fixture;
use crate::report::summary::ShardInfo;

/// Shard `index` of `count` of one run, from the fixture (its own histograms, counts and
/// a start `index` ms after shard 0's).
fn shard(index: u32, count: u32) -> (String, RunSummary) {
    let mut r = fixture::summary();
    r.started_at += chrono::Duration::milliseconds(i64::from(index));
    let run_load = r.scenario.config.get("load").cloned().unwrap_or_default();
    r.shard = Some(ShardInfo {
        index,
        count,
        run_load,
        start_at: None,
    });
    (format!("shard-{index}.json"), r)
}

fn error(reports: &[(String, RunSummary)]) -> String {
    match merge(reports) {
        Err(MergeError::Mismatch(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn counts_add_up_and_percentiles_come_from_the_added_histograms() {
    let shards: Vec<_> = (0..3).map(|i| shard(i, 3)).collect();
    let m = merge(&shards).expect("merge");
    let one = &shards[0].1;
    assert_eq!(m.totals.ops, one.totals.ops * 3);
    assert_eq!(m.totals.hits, one.totals.hits * 3);
    assert_eq!(m.totals.errors_total, one.totals.errors_total * 3);
    assert_eq!(m.totals.hit_rate, one.totals.hit_rate, "a rate, recomputed");
    assert_eq!(m.totals.error_rate, one.totals.error_rate);
    assert!((m.totals.throughput - one.totals.throughput * 3.0).abs() < 1e-6);
    let mut added = decode_histogram(&one.histograms.response["overall"]).expect("decode");
    for (_, r) in &shards[1..] {
        added
            .add(decode_histogram(&r.histograms.response["overall"]).expect("decode"))
            .expect("add");
    }
    assert_eq!(
        m.latency.overall.response,
        Percentiles::from_histogram(&added)
    );
    assert_eq!(
        m.latency.per_op[&OpKind::Get].response.count,
        one.latency.per_op[&OpKind::Get].response.count * 3
    );
    let redis = m.redis.as_ref().expect("redis");
    assert_eq!(redis.calls, one.redis.as_ref().expect("redis").calls * 3);
    let server = m.server.as_ref().expect("server");
    let one_server = one.server.as_ref().expect("server");
    assert_eq!(
        server.evicted_keys, one_server.evicted_keys,
        "one server's INFO"
    );
    assert_eq!(
        server.keys_written,
        one_server.keys_written * 3,
        "clients' writes summed"
    );
    assert_eq!(m.thresholds.len(), one.thresholds.len());
    assert_eq!(
        m.verdict, one.verdict,
        "the fixture fails its error rate, merged too"
    );
    let info = m.merged.as_ref().expect("merged");
    assert_eq!(info.count, 3);
    assert_eq!(info.shards[2].offset_s, 0.002);
    assert_eq!(
        m.timeseries.len(),
        one.timeseries.len(),
        "aligned, not appended"
    );
    assert_eq!(m.timeseries[0].ops, one.timeseries[0].ops * 3);
    assert_eq!(
        m.breaker.transitions.len(),
        one.breaker.transitions.len() * 3
    );
    assert!(m.breaker.transitions[0].cause.starts_with("shard 0: "));
}

#[test]
fn one_saturated_shard_makes_the_merged_run_inconclusive_and_is_named() {
    let mut shards: Vec<_> = (0..3).map(|i| shard(i, 3)).collect();
    shards[1].1.generator.saturated = true;
    shards[1].1.generator.schedule_lag_p99_us = 80_000;
    let m = merge(&shards).expect("merge");
    assert_eq!(m.verdict, Verdict::Inconclusive);
    let reason = m.verdict_reason.expect("a reason");
    assert!(
        reason.starts_with("shard 1/3: the load generator could not keep"),
        "{reason}"
    );
    let kept = &m.merged.expect("merged").shards;
    assert!(kept[1].generator.saturated && !kept[0].generator.saturated);
}

#[test]
fn mismatched_reports_are_refused_with_the_reason() {
    let good = || (0..3).map(|i| shard(i, 3)).collect::<Vec<_>>();

    let mut other_run = good();
    other_run[2].1.target.run_id = "elsewhere".into();
    assert!(error(&other_run).contains("different runs"));

    let mut other_scenario = good();
    other_scenario[1].1.scenario.name = "another".into();
    assert!(error(&other_scenario).contains("different scenarios"));

    let mut other_config = good();
    for (_, r) in &mut other_config {
        r.scenario.config["keyspace"] = serde_json::json!({"keys": 10, "prefix": "app:"});
    }
    other_config[1].1.scenario.config["keyspace"]["keys"] = 1.into();
    let why = error(&other_config);
    assert!(why.contains("differ in keyspace.keys"), "{why}");

    let mut other_count = good();
    other_count[2] = shard(2, 4);
    assert!(error(&other_count).contains("share one count"));

    let mut twice = good();
    twice[2] = shard(1, 3);
    let why = error(&twice);
    assert!(why.contains("both shard 1/3"), "{why}");
    assert!(error(&good()[..2]).contains("shard(s) 2/3 missing"));

    let mut unsharded = good();
    unsharded[0].1.shard = None;
    assert!(error(&unsharded).contains("run without --shard"));

    let merged = merge(&good()).expect("merge");
    let mut again = good();
    again[0] = ("merged.json".into(), merged);
    assert!(error(&again).contains("already a merged report"));
}

#[test]
fn the_whole_runs_load_comes_back_in_the_merged_scenario() {
    let mut shards: Vec<_> = (0..2).map(|i| shard(i, 2)).collect();
    let whole = serde_json::json!({"connections": 8, "marker": "whole"});
    for (_, r) in &mut shards {
        r.scenario.config["load"]["connections"] = 4.into();
        r.shard.as_mut().expect("shard").run_load = whole.clone();
    }
    let m = merge(&shards).expect("merge");
    assert_eq!(m.scenario.config["load"], whole);
    assert!(m.shard.is_none());
}

#[test]
fn per_node_figures_come_whole_from_the_lowest_shard_that_read_them() {
    let mut shards: Vec<_> = (0..3).map(|i| shard(i, 3)).collect();
    // Shard 0 could not read the nodes; shards 1 and 2 saw the same nodes a moment apart.
    let one = crate::report::nodes::tests::report();
    let mut two = one.clone();
    two.nodes[0].ops += 5;
    shards[1].1.nodes = Some(one.clone());
    shards[2].1.nodes = Some(two);
    let m = merge(&shards).expect("merge");
    assert_eq!(
        m.nodes.as_ref(),
        Some(&one),
        "every shard's snapshot already counts every shard's load: not summed"
    );
    let plain: Vec<_> = (0..2).map(|i| shard(i, 2)).collect();
    assert_eq!(merge(&plain).expect("merge").nodes, None);
}
