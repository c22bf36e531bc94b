//! Overload is measured and named: an operation waiting on the origin holds no Redis slot,
//! the measured phase ends at its duration (plus a bounded grace) however far behind the
//! target is, arrivals that never started are counted as dropped, and the report names where
//! the time went. Timings are compared with the run's own configured durations by a wide
//! factor, never with an absolute budget.

use crate::engine::{options, scenario};
use crate::support::redis;
use redline::report::summary::RunSummary;
use redline::report::verdict::Verdict;
use redline::scenario::Scenario;
use redline::server::EmbeddedRedis;
use std::time::{Duration, Instant};

/// The one place these tests call the engine.
async fn run(scenario: &Scenario, server: &EmbeddedRedis) -> RunSummary {
    crate::engine::run(scenario, &options(server, 7, false)).await
}

/// Cache-aside reads over a keyspace so large that nearly every read misses and goes to an
/// origin taking `origin_latency`.
fn cache_aside(origin_latency: &str, origin_pool: u32, load: &str) -> Scenario {
    scenario(&format!(
        r#"
name = "overload"
thresholds = ["error_rate < 0.001"]

[target]
kind = "managed"

[keyspace]
keys = 10_000_000
value_size = "32B"

[[ops]]
kind = "get_or_set"
weight = 1
ttl = "1m"

[origin]
latency = "{origin_latency}"
concurrency = {origin_pool}

[load]
model = "open"
{load}
"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_aside_with_a_slow_origin_reaches_its_rate_on_few_connections() {
    let server = redis();
    // 8 connections and a 20 ms origin: if an operation held a Redis slot while it waited on
    // the origin, 8 slots would cap the run at 8 / 20 ms = 400 ops/s.
    let rate = 2_000.0;
    let s = cache_aside(
        "20ms",
        200,
        &format!("rate = {rate}\nconnections = 8\npipeline_depth = 1\nduration = \"3s\""),
    );
    let summary = run(&s, &server).await;
    let t = &summary.totals;
    assert!(
        t.origin_calls * 10 >= t.ops * 9,
        "nearly every read should miss and call the origin: {t:?}"
    );
    assert!(
        t.throughput >= rate * 0.6,
        "achieved {} ops/s of the {rate} scheduled; backlog {:?}",
        t.throughput,
        summary.backlog
    );
    let b = &summary.backlog;
    assert!(
        b.in_flight_peak > b.redis_slots,
        "more operations in progress ({}) than Redis slots ({}): the origin wait holds none",
        b.in_flight_peak,
        b.redis_slots
    );
    assert_eq!(b.redis_slots, 8);
    assert_eq!(b.dropped, 0, "{b:?}");
    assert!(summary.origin.peak_concurrency > 8, "{:?}", summary.origin);
    assert!(summary.origin.calls > 0);
    let g = &summary.generator;
    assert!(g.open_model);
    assert!(
        g.cpu_s > 0.0 && g.cpu_us_per_op.is_some_and(|us| us > 0.0),
        "{g:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_the_target_cannot_take_ends_near_its_duration_and_counts_what_it_dropped() {
    let server = redis();
    // A 200 ms origin with one connection takes 5 ops/s; 4 in-flight slots; 500 ops/s asked.
    let (duration, grace) = (Duration::from_secs(2), Duration::from_secs(1));
    let s = cache_aside(
        "200ms",
        1,
        "rate = 500\nmax_in_flight = 4\nduration = \"2s\"\ngraceful_stop = \"1s\"",
    );
    let started = Instant::now();
    let summary = run(&s, &server).await;
    let took = started.elapsed();
    assert!(
        took < (duration + grace) * 3,
        "a {duration:?} run with a {grace:?} graceful stop took {took:?}"
    );
    let b = &summary.backlog;
    assert!(
        b.dropped > 100,
        "most of the ~1000 arrivals never started: {b:?}"
    );
    assert_eq!(
        summary.totals.errors[&redline::op::ErrorKind::Dropped],
        b.dropped + b.interrupted
    );
    assert_ne!(
        summary.verdict,
        Verdict::Pass,
        "{:?}",
        summary.verdict_reason
    );
    let bottleneck = b.bottleneck.as_deref().expect("a bottleneck is named");
    assert!(
        bottleneck.contains("one of 4 in-flight slots: raise load.max_in_flight"),
        "{bottleneck}"
    );
    assert!(
        summary.origin.queue_wait_max_us > 0 && summary.origin.peak_concurrency == 1,
        "{:?}",
        summary.origin
    );
    assert!(
        summary
            .timeseries
            .iter()
            .any(|p| p.backlog.in_flight_wait_max_us > 100_000),
        "the per-second series shows the in-flight wait: {:?}",
        summary.timeseries
    );
    assert!(
        summary
            .timeseries
            .iter()
            .map(|p| p.backlog.dropped)
            .sum::<u64>()
            > 0,
        "the series shows the drops"
    );
    // The throughput denominator is the declared duration, not the grace after it.
    assert!(
        (summary.measured_s - duration.as_secs_f64()).abs() < 0.5,
        "measured {} s",
        summary.measured_s
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_highest_rate_still_ends_at_its_duration() {
    let server = redis();
    let (duration, grace) = (Duration::from_secs(1), Duration::from_secs(1));
    let s = scenario(
        r#"
name = "absurd"
thresholds = []

[target]
kind = "redis"

[keyspace]
keys = 100
value_size = "8B"

[[ops]]
kind = "get"
weight = 1

[load]
model = "open"
rate = 1e7
max_in_flight = 16
duration = "1s"
graceful_stop = "1s"
"#,
    );
    let started = Instant::now();
    let summary = run(&s, &server).await;
    let took = started.elapsed();
    assert!(
        took < (duration + grace) * 3,
        "a {duration:?} run at 1e7 ops/s (the validated maximum) took {took:?}"
    );
    assert!(summary.backlog.dropped > 5_000_000, "{:?}", summary.backlog);
    assert_ne!(
        summary.verdict,
        Verdict::Pass,
        "{:?}",
        summary.verdict_reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_drained_in_the_graceful_stop_do_not_inflate_the_throughput() {
    let server = redis();
    // An origin pool of 2 at 50 ms serves at most 40 loads per second whatever the machine,
    // so a 100 ops/s schedule builds a backlog that drains during the graceful stop. Counting
    // those completions over the measured seconds claimed about 99 ops/s.
    let s = cache_aside(
        "50ms",
        2,
        "rate = 100\nconnections = 2\nduration = \"2s\"\ngraceful_stop = \"5s\"",
    );
    let summary = run(&s, &server).await;
    let ceiling = 2.0 / 0.050;
    assert!(
        summary.totals.throughput <= ceiling * 1.5,
        "throughput {} ops/s although the origin serves at most {ceiling} ops/s ({} ops in {} s)",
        summary.totals.throughput,
        summary.totals.ops,
        summary.measured_s
    );
    assert!(
        summary.totals.ops as f64 > summary.totals.throughput * summary.measured_s,
        "the drained operations still count in the totals: {:?}",
        summary.totals
    );
}
