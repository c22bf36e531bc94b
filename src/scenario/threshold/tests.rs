use super::*;

fn parse(e: &str) -> Threshold {
    Threshold::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"))
}

#[test]
fn latency_thresholds_convert_to_microseconds() {
    let t = parse("p95 < 50ms");
    assert_eq!(
        t.metric,
        Metric::Latency {
            op: None,
            stat: Stat::P95
        }
    );
    assert_eq!((t.cmp, t.limit), (Cmp::Lt, 50_000.0));
    assert_eq!(parse("p99.9<=1.5s").limit, 1_500_000.0);
    assert_eq!(parse("max > 200us").cmp, Cmp::Gt);
    assert_eq!(parse("mean >= 500ns").limit, 0.5);
    assert_eq!(parse("p999 < 2ms").metric.to_string(), "p99.9");
}

#[test]
fn per_operation_latency() {
    let t = parse("get.p99 < 5ms");
    assert_eq!(
        t.metric,
        Metric::Latency {
            op: Some(OpKind::Get),
            stat: Stat::P99
        }
    );
    let t = parse("invalidate.p99.9 < 5ms");
    assert_eq!(
        t.metric,
        Metric::Latency {
            op: Some(OpKind::Del),
            stat: Stat::P999
        }
    );
    assert_eq!(t.metric.to_string(), "del.p99.9");
    assert_eq!(
        parse("get_or_set.max < 1s").metric.to_string(),
        "get_or_set.max"
    );
}

#[test]
fn fractions_accept_percentages() {
    assert_eq!(parse("hit_rate >= 0.80").limit, 0.8);
    assert_eq!(parse("memory < 80%").limit, 0.8);
    assert_eq!(parse("error_rate < 0.1%").limit, 0.001);
    assert_eq!(parse("evictions<0.01").metric, Metric::Evictions);
    assert_eq!(
        Threshold::parse("hit_rate >= 1.5"),
        Err(ThresholdError::Fraction("1.5".into()))
    );
}

#[test]
fn throughput_in_ops_per_second() {
    assert_eq!(parse("throughput > 5000").limit, 5000.0);
    assert_eq!(parse("throughput >= 5000/s").limit, 5000.0);
    assert_eq!(parse("throughput >= 2.5e3 ops/s").limit, 2500.0);
}

#[test]
fn hot_shard_skew_is_a_plain_ratio_at_least_one() {
    let t = parse("hot_shard_skew < 1.5");
    assert_eq!((t.metric, t.limit), (Metric::HotShardSkew, 1.5));
    assert_eq!(t.metric.to_string(), "hot_shard_skew");
    assert_eq!(parse("hot_shard_skew <= 1").limit, 1.0);
    assert_eq!(
        Threshold::parse("hot_shard_skew < 1"),
        Err(ThresholdError::Impossible("hot_shard_skew < 1".into()))
    );
    assert_eq!(
        Threshold::parse("hot_shard_skew < 150%"),
        Err(ThresholdError::Skew("150%".into()))
    );
    assert!(matches!(
        Threshold::parse("hot_shard_skew == 1"),
        Err(ThresholdError::ExactOnMeasurement(_))
    ));
}

#[test]
fn refusals_say_what_is_wrong() {
    use ThresholdError::*;
    let cases = [
        ("p95 50ms", Syntax),
        ("p95 == 50ms", ExactOnMeasurement("p95".into())),
        ("p95 = 50ms", Syntax),
        ("p95[kill1] < 50ms", NotPerFault("p95".into())),
        (
            "breaker.opens_within[] < 1s",
            FaultName("breaker.opens_within[]".into()),
        ),
        (
            "breaker.opens_within[a < 1s",
            FaultName("breaker.opens_within[a".into()),
        ),
        ("breaker.opens_within < 2", LatencyUnit("2".into())),
        ("breaker.half_open_probes <= 1.5", Count("1.5".into())),
        ("breaker.final_state == shut", State("shut".into())),
        (
            "breaker.opens_soon < 1s",
            UnknownMetric("breaker.opens_soon".into()),
        ),
        ("stale_reads == none", Count("none".into())),
        ("< 50ms", Syntax),
        ("p95 <", Syntax),
        ("p96 < 5ms", UnknownMetric("p96".into())),
        ("fetch.p99 < 5ms", UnknownOp("fetch".into())),
        ("get.p98 < 5ms", UnknownMetric("get.p98".into())),
        ("get.hit_rate > 0.5", NotPerOp("get.hit_rate".into())),
        ("p95 < 50", LatencyUnit("50".into())),
        ("p95 < 50 parsecs", LatencyUnit("50 parsecs".into())),
        ("throughput > fast", Throughput("fast".into())),
        ("p95 < -5ms", Negative("-5ms".into())),
        ("hit_rate >= -0.5", Negative("-0.5".into())),
        ("p95 < 0ms", Impossible("p95 < 0ms".into())),
        ("error_rate < 0", Impossible("error_rate < 0".into())),
        ("hit_rate > 1", Impossible("hit_rate > 1".into())),
    ];
    for (expr, want) in cases {
        assert_eq!(Threshold::parse(expr), Err(want), "{expr}");
    }
    assert!(UnknownMetric("x".into()).to_string().contains("hit_rate"));
}

#[test]
fn checker_counts_compare_for_equality() {
    let t = parse("stale_reads == 0");
    assert_eq!(
        (t.metric, t.cmp, t.limit),
        (Metric::StaleReads, Cmp::Eq, 0.0)
    );
    assert!(t.passes(0.0) && !t.passes(1.0));
    assert_eq!(t.metric.to_string(), "stale_reads");
    let t = parse("lost_invalidations <= 3");
    assert_eq!((t.metric, t.limit), (Metric::LostInvalidations, 3.0));
}

#[test]
fn breaker_expectations_name_their_fault() {
    let t = parse("breaker.opens_within[kill1] < 2s");
    assert_eq!(t.metric, Metric::Breaker(BreakerMetric::OpensWithin));
    assert_eq!((t.cmp, t.limit), (Cmp::Lt, 2_000_000.0));
    assert_eq!(t.fault.as_deref(), Some("kill1"));
    assert_eq!(t.metric.to_string(), "breaker.opens_within");
    let t = parse("breaker.failures_before_open <= 5");
    assert_eq!((t.limit, t.fault), (5.0, None));
    let t = parse("redis_calls_while_open[ pause ] == 0");
    assert_eq!(t.metric, Metric::RedisCallsWhileOpen);
    assert_eq!((t.cmp, t.fault.as_deref()), (Cmp::Eq, Some("pause")));
    let t = parse("breaker.final_state == CLOSED");
    assert_eq!((t.cmp, t.limit), (Cmp::Eq, 0.0));
    assert!(t.passes(0.0) && !t.passes(1.0));
    assert_eq!(
        Threshold::parse("breaker.final_state[kill1] == closed"),
        Err(ThresholdError::NotPerFault("breaker.final_state".into()))
    );
    assert_eq!(parse("breaker.recovers_within < 65s").limit, 65e6);
}

#[test]
fn guide_defaults_all_parse() {
    let t = guide_defaults();
    assert_eq!(t.len(), GUIDE_DEFAULTS.len());
    assert_eq!(t[1].metric, Metric::HitRate);
    assert!(t[0].passes(49_000.0) && !t[0].passes(50_000.0));
}
