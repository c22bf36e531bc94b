//! Test fixtures: a realistic [`RunSummary`] built through the real builder, shared by the
//! verdict, JSON, Markdown and terminal tests.

use super::aggregate::{Measured, TimePoint};
use super::assemble::{GeneratorInputs, SummaryInputs};
use super::backlog::Limits;
use super::recorder::Recorder;
use super::summary::{
    BreakerReport, BreakerTransition, Provider, RunSummary, ScenarioInfo, ServerStats, TargetInfo,
    TargetKind, Window,
};
use crate::cache::BreakerState;
use crate::op::{ErrorKind, OpKind, RedisCalls};
use crate::scenario::threshold::{Cmp, Metric, Stat, Threshold};
use chrono::TimeZone;
use std::time::Duration;

/// A threshold.
pub fn threshold(expr: &str, metric: Metric, cmp: Cmp, limit: f64) -> Threshold {
    Threshold {
        expr: expr.to_string(),
        metric,
        cmp,
        limit,
        fault: None,
    }
}

/// Overall response-time latency metric.
pub fn latency(stat: Stat) -> Metric {
    Metric::Latency { op: None, stat }
}

/// GET's response-time latency metric.
pub fn get_latency(stat: Stat) -> Metric {
    Metric::Latency {
        op: Some(OpKind::Get),
        stat,
    }
}

/// The five default thresholds plus a per-op one.
pub fn default_thresholds() -> Vec<Threshold> {
    vec![
        threshold("p95 < 50ms", latency(Stat::P95), Cmp::Lt, 50_000.0),
        threshold("hit_rate >= 0.80", Metric::HitRate, Cmp::Ge, 0.80),
        threshold("error_rate < 0.001", Metric::ErrorRate, Cmp::Lt, 0.001),
        threshold("evictions < 0.01", Metric::Evictions, Cmp::Lt, 0.01),
        threshold("memory < 0.80", Metric::Memory, Cmp::Lt, 0.80),
        threshold("get.p99 < 5ms", get_latency(Stat::P99), Cmp::Lt, 5_000.0),
    ]
}

/// Totals with GET response times 1..=1000 µs (service half of that), 100 SETs at 2 ms,
/// 800 hits / 200 misses, 2 timeouts (also Redis's: 2 of 2 100 calls), gzip bytes and some scheduler lag.
pub fn totals() -> Recorder {
    let mut r = Recorder::new();
    for v in 1..=1000 {
        r.record(OpKind::Get, v, v / 2);
    }
    for _ in 0..100 {
        r.record(OpKind::Set, 2_000, 1_500);
    }
    r.hits(800);
    r.misses(200);
    for _ in 0..200 {
        r.origin_call();
    }
    r.fallback_op();
    r.error(ErrorKind::Timeout);
    r.error(ErrorKind::Timeout);
    r.bytes("gzip", 10_000, 2_500);
    r.commands(1100);
    // 2 of 2 100 Redis calls failed (0.095 %): below the implicit redis_error_rate limit,
    // so a run judged by the fixture's thresholds can pass.
    r.redis(RedisCalls::answered(2098));
    r.redis(RedisCalls::failed(2, ErrorKind::Timeout));
    for lag in [10, 20, 30, 400] {
        r.lag(lag);
    }
    r
}

/// One second of a healthy run.
pub fn point(t_s: f64, ops: u64, warmup: bool) -> TimePoint {
    TimePoint {
        t_s,
        ops,
        throughput: ops as f64,
        p50_us: Some(500),
        p95_us: Some(950),
        p99_us: Some(990),
        hits: 80,
        misses: 20,
        errors: 0,
        origin_calls: 20,
        fallback_ops: 0,
        breaker: Some(BreakerState::Closed),
        redis_errors: 0,
        stale_reads: 0,
        warmup,
        lag_p99_us: Some(400),
        backlog: Default::default(),
        faults: Vec::new(),
    }
}

/// Inputs for a Redis run measured for 10 s (12 s with warmup), with server stats.
pub fn inputs() -> SummaryInputs {
    SummaryInputs {
        measured: Measured {
            totals: totals(),
            timeseries: vec![point(1.0, 50, true), point(2.0, 110, false)],
            intervals: Vec::new(),
            intervals_coarsened: None,
            measured: Duration::from_secs(10),
            elapsed: Duration::from_secs(12),
            counted: Some((Duration::from_secs(2), Duration::from_secs(12))),
            timed_ops: 1100,
        },
        thresholds: default_thresholds(),
        scenario: ScenarioInfo {
            name: "read-heavy".to_string(),
            config: serde_json::json!({"name": "read-heavy", "rate": 110, "mix": {"get": 0.9}}),
        },
        target: TargetInfo {
            kind: TargetKind::Redis,
            provider: Provider::Redis,
            server_version: Some("7.2.4".to_string()),
            url: Some("redis://127.0.0.1:6399".to_string()),
            warning: None,
            run_id: "5eed0001".to_string(),
            key_prefix: Some("redline:5eed0001:".to_string()),
            cluster_batches: None,
        },
        server: Some(ServerStats {
            window: Window::new(2.0, 12.0),
            keyspace_hits: 790,
            keyspace_misses: 210,
            evicted_keys: 1,
            keys_written: 300,
            used_memory: 50 * 1024 * 1024,
            maxmemory: 100 * 1024 * 1024,
            total_commands_processed: 1_400,
            hit_rate_server: Some(0.79),
        }),
        breaker: BreakerReport {
            transitions: vec![BreakerTransition {
                t_s: 5.5,
                from: BreakerState::Closed,
                to: BreakerState::Open,
                cause: "5 consecutive failures".to_string(),
                failures: 5,
            }],
            final_state: Some(BreakerState::Open),
            calls_while_open: None,
        },
        generator: GeneratorInputs {
            open_model: true,
            cpu: Duration::from_millis(1_600),
            wall: Duration::from_secs(12),
            cores: 2,
        },
        limits: Limits {
            max_in_flight: 1_000,
            redis_slots: 8,
            connections: 8,
            origin_concurrency: 10,
            graceful_stop_s: 30.0,
        },
        checker: Some(crate::report::consistency::CheckerInputs {
            checked_keys: 1_000,
            replay_invalidations: true,
        }),
        origin_p50_us: Some(5_000.0),
        aborted_in: None,
        cleanup: None,
        started_at: chrono::Utc
            .with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
            .single()
            .unwrap_or_default(),
        duration: Duration::from_millis(12_345),
        faults: Vec::new(),
        failover: None,
        nodes: None,
    }
}

/// The summary built from [`inputs`]: verdict fail (error rate 2/1100 > 0.1 %).
pub fn summary() -> RunSummary {
    RunSummary::build(inputs())
}

/// A synthetic passing run: a cache slower than its origin (p50 500 µs vs 42 µs), memory
/// not applicable (no maxmemory), and a resolved scenario with an in-flight limit for the
/// load line.
pub fn slow_cache() -> RunSummary {
    let scenario = crate::scenario::parse_str(
        r#"
name = "slow-cache"
[keyspace]
keys = 1_000
distribution = { kind = "zipfian", exponent = 0.99 }
value_size = "1KiB"
[[ops]]
kind = "get_or_set"
weight = 9
[[ops]]
kind = "set"
weight = 1
[origin]
latency = "200us"
concurrency = 16
[load]
model = "open"
rate = 110
connections = 4
warmup = "2s"
duration = "10s"
preload = true
"#,
        crate::scenario::Format::Toml,
        "slow-cache.toml",
        &[],
    )
    .expect("valid scenario");
    let mut inputs = inputs();
    inputs.scenario.name = scenario.name.clone();
    inputs.scenario.config = serde_json::to_value(&scenario).expect("json");
    inputs.scenario.config["load"]["max_in_flight"] = 1_000.into();
    inputs.thresholds.retain(|t| t.metric != Metric::ErrorRate);
    inputs.origin_p50_us = Some(42.0);
    if let Some(server) = &mut inputs.server {
        server.maxmemory = 0;
    }
    RunSummary::build(inputs)
}
