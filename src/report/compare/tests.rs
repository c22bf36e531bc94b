//! Golden tests of the comparison on small synthetic reports: a clear regression, a clear
//! improvement, pure noise, and what the table says.

use super::*;
use crate::report::fixture;
use crate::report::summary::Window;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// What a synthetic run looks like per second, before noise.
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) p50_us: f64,
    pub(crate) p95_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) ops_per_s: f64,
    pub(crate) hit_rate: f64,
    pub(crate) error_rate: f64,
    /// Relative standard deviation of every per-second value.
    pub(crate) noise: f64,
    pub(crate) seconds: u32,
}

pub(crate) const SHAPE: Shape = Shape {
    p50_us: 500.0,
    p95_us: 1_200.0,
    p99_us: 3_000.0,
    ops_per_s: 10_000.0,
    hit_rate: 0.9,
    error_rate: 0.001,
    noise: 0.05,
    seconds: 30,
};

/// A report whose time series draws every per-second value around `shape` and whose
/// run-wide figures follow from that series (latency: the median second; rates: the sums).
pub(crate) fn synthetic(shape: Shape, seed: u64) -> RunSummary {
    let mut rng = SmallRng::seed_from_u64(seed);
    let normal = Normal::new(1.0, shape.noise).expect("valid");
    let mut jitter = |x: f64| (x * normal.sample(&mut rng)).max(0.0);
    let mut s = fixture::summary();
    let mut timeseries = Vec::new();
    for i in 1..=shape.seconds {
        let ops = jitter(shape.ops_per_s).round() as u64;
        let hits = (ops as f64 * jitter(shape.hit_rate).min(1.0)).round() as u64;
        let errors = (ops as f64 * jitter(shape.error_rate)).round() as u64;
        timeseries.push(TimePoint {
            t_s: f64::from(i),
            ops,
            throughput: ops as f64,
            p50_us: Some(jitter(shape.p50_us) as u64),
            p95_us: Some(jitter(shape.p95_us) as u64),
            p99_us: Some(jitter(shape.p99_us) as u64),
            hits,
            misses: ops - hits,
            errors,
            origin_calls: 0,
            fallback_ops: 0,
            breaker: None,
            warmup: false,
            lag_p99_us: None,
            backlog: Default::default(),
            redis_errors: 0,
            faults: Vec::new(),
            stale_reads: 0,
        });
    }
    let median = |f: fn(&TimePoint) -> Option<u64>| {
        let mut v: Vec<u64> = timeseries.iter().filter_map(f).collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let r = &mut s.latency.overall.response;
    r.p50_us = median(|p| p.p50_us);
    r.p95_us = median(|p| p.p95_us);
    r.p99_us = median(|p| p.p99_us);
    let sum = |f: fn(&TimePoint) -> u64| timeseries.iter().map(f).sum::<u64>();
    let (ops, hits, errors) = (sum(|p| p.ops), sum(|p| p.hits), sum(|p| p.errors));
    s.measured_s = f64::from(shape.seconds);
    s.measured_window = Window::new(0.0, f64::from(shape.seconds));
    s.totals.throughput = ops as f64 / s.measured_s;
    s.totals.hit_rate = Some(hits as f64 / ops as f64);
    s.totals.error_rate = Some(errors as f64 / ops as f64);
    s.timeseries = timeseries;
    s
}

fn verdicts(c: &Comparison) -> Vec<(CompareMetric, MetricVerdict)> {
    c.metrics.iter().map(|m| (m.metric, m.verdict)).collect()
}

fn verdict_of(c: &Comparison, metric: CompareMetric) -> MetricVerdict {
    c.metrics
        .iter()
        .find(|m| m.metric == metric)
        .expect("every metric is compared")
        .verdict
}

#[test]
fn a_clear_regression_is_called_with_its_evidence() {
    let baseline = synthetic(SHAPE, 1);
    let worse = Shape {
        p95_us: SHAPE.p95_us * 1.3,
        p99_us: SHAPE.p99_us * 1.5,
        ops_per_s: SHAPE.ops_per_s * 0.85,
        hit_rate: SHAPE.hit_rate - 0.05,
        ..SHAPE
    };
    let current = synthetic(worse, 2);
    let c = compare(&baseline, &current, &Limits::default(), &[]);
    use CompareMetric::*;
    use MetricVerdict::*;
    assert_eq!(
        verdicts(&c),
        [
            (P50, NoSignificantChange),
            (P95, Regression),
            (P99, Regression),
            (Throughput, Regression),
            (HitRate, Regression),
            (ErrorRate, NoSignificantChange),
        ]
    );
    let p95 = &c.metrics[1];
    assert!(p95.p_value() < 1e-6, "{p95:?}");
    assert!((p95.change_percent().expect("both") - 30.0).abs() < 5.0);
    assert_eq!(c.regressions().count(), 4);
}

#[test]
fn a_clear_improvement_is_not_a_regression() {
    let baseline = synthetic(SHAPE, 3);
    let better = Shape {
        p50_us: SHAPE.p50_us * 0.7,
        p95_us: SHAPE.p95_us * 0.7,
        p99_us: SHAPE.p99_us * 0.7,
        ops_per_s: SHAPE.ops_per_s * 1.2,
        error_rate: 0.0,
        ..SHAPE
    };
    let current = synthetic(better, 4);
    let c = compare(&baseline, &current, &Limits::default(), &[]);
    use CompareMetric::*;
    for m in [P50, P95, P99, Throughput, ErrorRate] {
        assert_eq!(verdict_of(&c, m), MetricVerdict::Improved, "{m:?}");
    }
    assert_eq!(verdict_of(&c, HitRate), MetricVerdict::NoSignificantChange);
    assert_eq!(c.regressions().count(), 0);
}

#[test]
fn a_small_significant_slowdown_stays_within_its_limit() {
    let baseline = synthetic(SHAPE, 5);
    let current = synthetic(
        Shape {
            p95_us: SHAPE.p95_us * 1.05,
            noise: 0.01,
            ..SHAPE
        },
        6,
    );
    let baseline = RunSummary {
        timeseries: synthetic(
            Shape {
                noise: 0.01,
                ..SHAPE
            },
            5,
        )
        .timeseries,
        ..baseline
    };
    let c = compare(&baseline, &current, &Limits::default(), &[]);
    assert_eq!(
        verdict_of(&c, CompareMetric::P95),
        MetricVerdict::WorseWithinLimit
    );
    // The same change judged against a tighter limit is a regression.
    let tight = Limits::parse("p95=2%").expect("valid");
    let c = compare(&baseline, &current, &tight, &[]);
    assert_eq!(
        verdict_of(&c, CompareMetric::P95),
        MetricVerdict::Regression
    );
}

/// Pure noise: two runs drawn from the same distribution, 100 seeded trials of 6 metrics.
/// Each metric's test has a false-positive rate of ALPHA = 1 % (one-sided), so about one
/// trial in 100 per metric is expected to look significantly worse by chance (binomial(100,
/// 1 %): more than 4 has probability 0.3 %), and about 6 of the 600 comparisons in all
/// (binomial(600, 1 %): more than 12 has probability under 1 %); a regression also needs
/// the change beyond its limit, so it can only be rarer. The noise (20 % per second) is large
/// enough that the run-wide figures often move beyond their limits (the hit rate in about
/// half the trials), so it is the test, not the limit, that keeps noise from being called.
/// Observed with these seeds: regressions [1, 2, 0, 2, 1, 0] (6 of 600), beyond the limit
/// [6, 6, 0, 17, 45, 0].
#[test]
fn pure_noise_is_not_called_a_regression_beyond_the_false_positive_rate() {
    let noisy = Shape {
        noise: 0.2,
        ..SHAPE
    };
    let mut regressions = [0usize; 6];
    let mut significant_worse = [0usize; 6];
    let mut beyond_limit = [0usize; 6];
    for trial in 0..100u64 {
        let baseline = synthetic(noisy, 1_000 + 2 * trial);
        let current = synthetic(noisy, 1_001 + 2 * trial);
        let c = compare(&baseline, &current, &Limits::default(), &[]);
        for (i, m) in c.metrics.iter().enumerate() {
            regressions[i] += usize::from(m.verdict == MetricVerdict::Regression);
            significant_worse[i] += usize::from(m.got_worse() && m.p_worse() < ALPHA);
            beyond_limit[i] += usize::from(m.beyond_limit());
        }
    }
    let total: usize = regressions.iter().sum();
    eprintln!(
        "100 noise trials: regressions {regressions:?} (total {total}), significant worse \
         {significant_worse:?}, beyond limit {beyond_limit:?} \
         (order p50, p95, p99, throughput, hit rate, error rate)"
    );
    for i in 0..6 {
        assert!(
            significant_worse[i] <= 4,
            "metric {i}: {significant_worse:?}"
        );
        assert!(regressions[i] <= 4, "metric {i}: {regressions:?}");
    }
    assert!(total <= 12, "{total} regressions in 600 noise comparisons");
    assert!(
        beyond_limit.iter().sum::<usize>() > 4 * total.max(1),
        "the noise should often exceed a limit for the test to matter: {beyond_limit:?}"
    );
}

#[test]
fn too_few_seconds_are_never_a_regression() {
    let short = Shape {
        seconds: 3,
        ..SHAPE
    };
    let baseline = synthetic(short, 7);
    let current = synthetic(
        Shape {
            p95_us: SHAPE.p95_us * 3.0,
            ..short
        },
        8,
    );
    let c = compare(&baseline, &current, &Limits::default(), &[]);
    assert_eq!(
        verdict_of(&c, CompareMetric::P95),
        MetricVerdict::TooFewSamples
    );
    assert_eq!(c.regressions().count(), 0);
}

#[test]
fn a_missing_metric_is_not_comparable() {
    let baseline = synthetic(SHAPE, 9);
    let mut current = synthetic(SHAPE, 10);
    current.totals.hit_rate = None;
    let c = compare(&baseline, &current, &Limits::default(), &[]);
    assert_eq!(
        verdict_of(&c, CompareMetric::HitRate),
        MetricVerdict::NotComparable
    );
}

#[test]
fn warmup_and_graceful_stop_seconds_are_left_out() {
    let mut s = synthetic(SHAPE, 11);
    let n = s.timeseries.len();
    s.timeseries[0].warmup = true;
    let mut grace = s.timeseries[n - 1].clone();
    grace.t_s += 1.0;
    s.timeseries.push(grace);
    assert_eq!(samples(CompareMetric::Throughput, &s).len(), n - 1);
}

#[test]
fn different_scenarios_and_schemas_are_mismatches() {
    let a = synthetic(SHAPE, 12);
    let mut b = synthetic(SHAPE, 13);
    assert!(mismatches(&a, &b).is_empty());
    b.scenario.name = "write-heavy".into();
    b.schema = "redline.report/v3".into();
    let m = mismatches(&a, &b);
    assert_eq!(m.len(), 2, "{m:?}");
    let text: Vec<String> = m.iter().map(ToString::to_string).collect();
    assert!(text[0].contains("schema versions"), "{text:?}");
    assert!(text[1].contains("`read-heavy`") && text[1].contains("`write-heavy`"));
    // Allowed, they become warnings in the output.
    let c = compare(&a, &b, &Limits::default(), &m);
    assert!(c.warnings[1].starts_with("compared anyway: the reports are of different scenarios"));
    assert!(!c.warnings[1].contains("--allow-mismatch"));
}

#[test]
fn changed_settings_are_named() {
    let a = synthetic(SHAPE, 14);
    let mut b = synthetic(SHAPE, 15);
    b.scenario.config["rate"] = 220.into();
    let c = compare(&a, &b, &Limits::default(), &[]);
    assert!(
        c.warnings.iter().any(|w| w.contains("rate: 110 → 220")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn markdown_table_is_ready_for_a_job_summary() {
    let baseline = synthetic(SHAPE, 1);
    let current = synthetic(
        Shape {
            p95_us: SHAPE.p95_us * 1.3,
            ..SHAPE
        },
        2,
    );
    let c = compare(&baseline, &current, &Limits::default(), &[]);
    let mut out = Vec::new();
    markdown::write(&c, "base/report.json", "cur/report.json", &mut out).expect("write");
    let md = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines[0], "### redline compare: read-heavy");
    assert!(md.contains("Baseline `base/report.json` → current `cur/report.json`."));
    let header = lines
        .iter()
        .position(|l| l.starts_with("| metric |"))
        .expect("table header");
    assert_eq!(
        lines[header],
        "| metric | baseline | current | change | limit | evidence | verdict |"
    );
    assert_eq!(lines[header + 1], "|---|---:|---:|---:|---:|---|---|");
    let rows = &lines[header + 2..header + 8];
    assert!(rows.iter().all(|r| r.matches('|').count() == 8), "{rows:?}");
    let p95 = c.metrics[1].clone();
    assert_eq!(
        rows[1],
        format!(
            "| p95 latency | {} | {} | {} | +10% | p < 0.0001, n = 30/30 | ❌ **regression** |",
            markdown::value(CompareMetric::P95, p95.baseline),
            markdown::value(CompareMetric::P95, p95.current),
            markdown::change(&p95),
        )
    );
    assert!(rows[3].starts_with("| throughput |") && rows[3].contains("| -5% |"));
    assert!(rows[4].contains("| -1pt |"), "{}", rows[4]);
    assert!(rows[4].contains("pt |"));
    assert!(md.contains("**Result: regression** in p95 latency (+"));
    assert!(md.contains("The current run's own verdict: **fail**."));
}

#[test]
fn p_values_read_well() {
    assert_eq!(markdown::p_value(0.000_01), "p < 0.0001");
    assert_eq!(markdown::p_value(0.004_56), "p = 0.0046");
    assert_eq!(markdown::p_value(0.456), "p = 0.46");
}
