//! Judging thresholds: measures each [`Threshold`]'s metric in a [`RunSummary`] and gives it
//! one of three states ([`ThresholdStatus`]):
//!
//! - **pass** / **fail**: measured, and the comparison held or not.
//! - **fail with "no data"**: the metric exists for this target but nothing was measured
//!   ("p95 < 50ms" over zero operations, `del.p99` when no DEL ran, memory when INFO could
//!   not be read). A release gate must not pass on numbers that were never taken.
//! - **not applicable**: the metric cannot exist for this target (evictions, memory and the
//!   Redis error rate without a Redis server, memory when the server has no maxmemory). It
//!   is counted apart — never as passed — in [`tally`], the line every renderer prints.
//!
//! [`verdict`](super::verdict) turns the judged thresholds into the run's verdict.

use super::summary::{round_to, Provider, RunSummary, RATE_DECIMALS};
use crate::scenario::threshold::{BreakerMetric, Metric, Threshold};
use serde::{Deserialize, Serialize};

/// How one threshold came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdStatus {
    /// Measured, and the comparison held.
    Pass,
    /// Measured and the comparison did not hold, or there was no data although the metric
    /// exists for this target (a latency over zero operations never passes).
    Fail,
    /// The metric cannot exist for this target (memory without maxmemory, evictions or memory
    /// without a Redis server). Counted apart: never as passed, never as failed.
    NotApplicable,
}

impl ThresholdStatus {
    /// Lower-case name, as in report.json.
    pub fn name(self) -> &'static str {
        match self {
            ThresholdStatus::Pass => "pass",
            ThresholdStatus::Fail => "fail",
            ThresholdStatus::NotApplicable => "not_applicable",
        }
    }
}

/// The unit of a threshold's `limit` and `measured`, named in report.json so that no number
/// there is unitless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdUnit {
    /// Microseconds (latency thresholds).
    Us,
    /// A fraction 0..=1 (hit rate, error rate, evictions, memory).
    Fraction,
    /// Operations per second (throughput).
    OpsPerS,
    /// A whole count (failures before the breaker opened, half-open probes, Redis calls).
    Count,
    /// A breaker state: 0 closed, 1 open, 2 half-open.
    State,
    /// A ratio against an even share (the hot-shard skew: 1.0 = even).
    Ratio,
}

impl ThresholdUnit {
    /// The unit `metric` is measured in.
    pub fn of(metric: &Metric) -> ThresholdUnit {
        match metric {
            Metric::Latency { .. } => ThresholdUnit::Us,
            Metric::HitRate
            | Metric::ErrorRate
            | Metric::RedisErrorRate
            | Metric::Evictions
            | Metric::Memory => ThresholdUnit::Fraction,
            Metric::Throughput => ThresholdUnit::OpsPerS,
            Metric::HotShardSkew => ThresholdUnit::Ratio,
            Metric::Breaker(BreakerMetric::OpensWithin | BreakerMetric::RecoversWithin) => {
                ThresholdUnit::Us
            }
            Metric::Breaker(BreakerMetric::FinalState) => ThresholdUnit::State,
            Metric::Breaker(_)
            | Metric::RedisCallsWhileOpen
            | Metric::StaleReads
            | Metric::LostInvalidations
            | Metric::LostWrites => ThresholdUnit::Count,
        }
    }
}

/// One threshold as judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The expression as written, e.g. `"p95 < 50ms"`.
    pub expr: String,
    /// What was measured; kept so renderers format the value in its unit and `compare` can
    /// match thresholds between reports.
    pub metric: Metric,
    /// The comparison.
    pub cmp: crate::scenario::threshold::Cmp,
    /// The limit, in `unit`.
    pub limit: f64,
    /// The fault a per-fault expectation was measured for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// The measured value, in `unit`; `None` when there was no data or the metric does not
    /// apply.
    pub measured: Option<f64>,
    /// The unit of `limit` and `measured`: `us`, `fraction` or `ops_per_s`.
    pub unit: ThresholdUnit,
    /// pass, fail or not_applicable.
    pub status: ThresholdStatus,
    /// Why there is no value: "no data: ..." (status fail) or the reason the metric does not
    /// exist for this target (status not_applicable).
    pub note: Option<String>,
}

impl ThresholdResult {
    /// True when the threshold was measured and held.
    pub fn passed(&self) -> bool {
        self.status == ThresholdStatus::Pass
    }

    /// True when the threshold failed (no data included).
    pub fn failed(&self) -> bool {
        self.status == ThresholdStatus::Fail
    }

    /// True when the metric does not exist for this target.
    pub fn not_applicable(&self) -> bool {
        self.status == ThresholdStatus::NotApplicable
    }
}

/// True when the run's target was a Redis Cluster (its URL names the scheme).
fn is_cluster(summary: &RunSummary) -> bool {
    (summary.target.url.as_deref()).is_some_and(|u| u.contains("+cluster://"))
}

/// A metric's value in a summary, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    /// The measured value.
    Value(f64),
    /// The metric could exist but nothing was measured; the threshold fails.
    NoData(String),
    /// The metric cannot exist for this target; the threshold is counted apart.
    NotApplicable(String),
}

/// The value of `metric` in `summary`, `None` when there is none (no data or not applicable).
pub fn measure(summary: &RunSummary, metric: &Metric) -> Option<f64> {
    match measurement(summary, metric) {
        Measurement::Value(v) => Some(v),
        Measurement::NoData(_) | Measurement::NotApplicable(_) => None,
    }
}

/// The value of `metric` in `summary`, with the reason when there is none. Per-fault
/// metrics are measured for the scenario's only fault; see [`measurement_of`].
pub fn measurement(summary: &RunSummary, metric: &Metric) -> Measurement {
    measurement_of(summary, metric, None)
}

/// The value of `metric` in `summary` for the fault named `fault` (per-fault metrics only;
/// `None`: the run's only fault), with the reason when there is none.
pub fn measurement_of(summary: &RunSummary, metric: &Metric, fault: Option<&str>) -> Measurement {
    use Measurement::{NoData, NotApplicable, Value};
    let no_redis = summary.target.provider == Provider::Memory;
    match *metric {
        Metric::Breaker(b) => super::expectations::breaker(summary, b, fault),
        Metric::RedisCallsWhileOpen => super::expectations::calls_while_open(summary, fault),
        Metric::LostWrites => match &summary.failover {
            Some(f) if f.writes.checked => Value(f.writes.lost as f64),
            Some(f) => NoData(format!(
                "no data: {}",
                f.writes
                    .check_error
                    .as_deref()
                    .unwrap_or("the acknowledged writes were not read back")
            )),
            None if no_redis => NotApplicable("no Redis: nothing was written to lose".into()),
            None => NoData("no data: the run checked no acknowledged writes".into()),
        },
        Metric::HotShardSkew => match &summary.nodes {
            Some(n) => match &n.hot_shard {
                Some(h) => Value(h.skew),
                None => NoData("no data: the primaries executed no data command".into()),
            },
            None if no_redis => NotApplicable("no Redis server (in-memory store)".into()),
            None if is_cluster(summary) => {
                NoData("no data: the cluster's nodes did not answer INFO".into())
            }
            None => NotApplicable("a single-node target has no shards".into()),
        },
        Metric::Latency { op: None, stat } => {
            let p = &summary.latency.overall.response;
            if p.count == 0 {
                NoData("no data: no operations completed".into())
            } else {
                Value(p.stat(stat))
            }
        }
        Metric::Latency { op: Some(op), stat } => match summary.latency.per_op.get(&op) {
            Some(l) if l.response.count > 0 => Value(l.response.stat(stat)),
            _ => NoData(format!("no data: {} never ran", op.name())),
        },
        Metric::HitRate => match summary.totals.hit_rate {
            Some(r) => Value(r),
            None => NoData("no data: no reads".into()),
        },
        Metric::ErrorRate => match summary.totals.error_rate {
            Some(r) => Value(r),
            None => NoData("no data: no operations completed".into()),
        },
        Metric::RedisErrorRate if no_redis => {
            NotApplicable("no Redis server (in-memory store)".into())
        }
        Metric::RedisErrorRate => match summary.redis.as_ref().and_then(|r| r.error_rate) {
            Some(r) => Value(r),
            None => NoData("no data: no command reached Redis or its breaker".into()),
        },
        Metric::Throughput => {
            if summary.measured_s > 0.0 {
                Value(summary.totals.throughput)
            } else {
                NoData("no data: no measured phase".into())
            }
        }
        Metric::StaleReads | Metric::LostInvalidations => match &summary.consistency {
            None => NoData("no data: no load ran, so no read was checked".into()),
            Some(c) if c.checked_reads == 0 => NoData(
                "no data: no read got a cached value the stale-read checker could judge".into(),
            ),
            Some(c) if *metric == Metric::StaleReads => Value(c.stale_reads as f64),
            Some(c) => Value(c.lost_invalidations as f64),
        },
        Metric::Evictions | Metric::Memory if no_redis => {
            NotApplicable("no Redis server (in-memory store)".into())
        }
        Metric::Evictions => match &summary.server {
            None => NoData("no data: Redis INFO was not read".into()),
            Some(s) if s.keys_written > 0 => Value(round_to(
                s.evicted_keys as f64 / s.keys_written as f64,
                RATE_DECIMALS,
            )),
            Some(s) if s.evicted_keys == 0 => Value(0.0),
            Some(s) => NoData(format!(
                "no data: {} keys evicted but none written by the run",
                s.evicted_keys
            )),
        },
        Metric::Memory => match &summary.server {
            None => NoData("no data: Redis INFO was not read".into()),
            Some(s) if s.maxmemory == 0 => NotApplicable("the server has no maxmemory".into()),
            Some(s) => Value(round_to(
                s.used_memory as f64 / s.maxmemory as f64,
                RATE_DECIMALS,
            )),
        },
    }
}

/// Judges every threshold against `summary`, in order.
pub fn evaluate(summary: &RunSummary, thresholds: &[Threshold]) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| {
            let (measured, status, note) =
                match measurement_of(summary, &t.metric, t.fault.as_deref()) {
                    Measurement::Value(v) if t.cmp.holds(v, t.limit) => {
                        (Some(v), ThresholdStatus::Pass, None)
                    }
                    Measurement::Value(v) => (Some(v), ThresholdStatus::Fail, None),
                    Measurement::NoData(why) => (None, ThresholdStatus::Fail, Some(why)),
                    Measurement::NotApplicable(why) => {
                        (None, ThresholdStatus::NotApplicable, Some(why))
                    }
                };
            ThresholdResult {
                expr: t.expr.clone(),
                metric: t.metric,
                cmp: t.cmp,
                limit: t.limit,
                fault: t.fault.clone(),
                measured,
                unit: ThresholdUnit::of(&t.metric),
                status,
                note,
            }
        })
        .collect()
}

/// One line counting the thresholds by status, the not-applicable ones named with their
/// reason: `"4 passed, 1 not applicable: memory — the server has no maxmemory"`. Every
/// renderer prints this, so a not-applicable threshold is never shown as passed.
pub fn tally(thresholds: &[ThresholdResult]) -> String {
    if thresholds.is_empty() {
        return "no thresholds were set".to_string();
    }
    let passed = thresholds.iter().filter(|t| t.passed()).count();
    let failed = thresholds.iter().filter(|t| t.failed()).count();
    let na: Vec<String> = thresholds
        .iter()
        .filter(|t| t.not_applicable())
        .map(|t| match &t.note {
            Some(why) => format!("{} — {why}", t.metric),
            None => t.metric.to_string(),
        })
        .collect();
    let mut parts = vec![format!("{passed} passed")];
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    let mut line = parts.join(", ");
    if !na.is_empty() {
        line.push_str(&format!(", {} not applicable: {}", na.len(), na.join("; ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::OpKind;
    use crate::report::fixture::{self, get_latency, latency, threshold};
    use crate::report::summary::TargetKind;
    use crate::report::verdict::Verdict;
    use crate::report::Recorder;
    use crate::scenario::threshold::{Cmp, Stat};

    #[test]
    fn measures_every_metric() {
        let s = fixture::summary();
        assert_eq!(
            measure(&s, &latency(Stat::P50)),
            Some(s.latency.overall.response.p50_us as f64)
        );
        assert_eq!(measure(&s, &latency(Stat::Max)), Some(2000.0));
        assert_eq!(measure(&s, &get_latency(Stat::P99)), Some(990.0));
        assert_eq!(measure(&s, &get_latency(Stat::Mean)), Some(500.5));
        assert_eq!(measure(&s, &Metric::HitRate), Some(0.8));
        assert_eq!(measure(&s, &Metric::ErrorRate), Some(0.001818182));
        assert_eq!(measure(&s, &Metric::Evictions), Some(0.003333333));
        assert_eq!(measure(&s, &Metric::Memory), Some(0.5));
        assert_eq!(measure(&s, &Metric::Throughput), Some(110.0));
    }
    #[test]
    fn per_op_latency_of_an_op_that_never_ran_is_no_data_and_fails() {
        let s = fixture::summary();
        let del_p99 = Metric::Latency {
            op: Some(OpKind::Del),
            stat: Stat::P99,
        };
        assert_eq!(measure(&s, &del_p99), None);
        let r = evaluate(&s, &[threshold("del.p99 < 1s", del_p99, Cmp::Lt, 1e6)]);
        assert_eq!(r[0].status, ThresholdStatus::Fail, "no data never passes");
        assert_eq!(r[0].note.as_deref(), Some("no data: del never ran"));
    }
    #[test]
    fn no_operations_fails_every_data_threshold() {
        let mut inputs = fixture::inputs();
        inputs.measured.totals = Recorder::new();
        let s = crate::report::RunSummary::build(inputs);
        for t in &s.thresholds {
            match t.metric {
                // The server's INFO still holds data without client operations.
                Metric::Evictions | Metric::Memory => assert!(t.passed(), "{}", t.expr),
                _ => {
                    assert!(t.failed(), "{} passed without data", t.expr);
                    assert!(t.note.as_deref().is_some_and(|n| n.starts_with("no data")));
                }
            }
        }
        assert_eq!(s.verdict, Verdict::Fail);
        let reason = s.verdict_reason.as_deref().expect("reason");
        assert!(
            reason.contains("p95 < 50ms (no data: no operations completed)"),
            "{reason}"
        );
    }
    #[test]
    fn memory_provider_makes_server_metrics_not_applicable() {
        let mut inputs = fixture::inputs();
        inputs.target.kind = TargetKind::Memory;
        inputs.target.provider = Provider::Memory;
        inputs.server = None;
        let s = crate::report::RunSummary::build(inputs);
        for metric in [Metric::Evictions, Metric::Memory] {
            let t = s
                .thresholds
                .iter()
                .find(|t| t.metric == metric)
                .expect("default");
            assert_eq!(t.status, ThresholdStatus::NotApplicable);
            assert!(!t.passed() && !t.failed());
            assert_eq!(t.measured, None);
            assert_eq!(t.note.as_deref(), Some("no Redis server (in-memory store)"));
        }
        assert_eq!(
            tally(&s.thresholds),
            "3 passed, 1 failed, 2 not applicable: evictions — no Redis server (in-memory \
             store); memory — no Redis server (in-memory store)"
        );
    }
    #[test]
    fn not_applicable_is_counted_apart_never_as_passed() {
        let mut inputs = fixture::inputs();
        inputs.thresholds.retain(|t| t.metric != Metric::ErrorRate);
        if let Some(server) = &mut inputs.server {
            server.maxmemory = 0;
        }
        let s = crate::report::RunSummary::build(inputs);
        let memory = s.thresholds.iter().find(|t| t.metric == Metric::Memory);
        assert_eq!(
            memory.map(|t| t.status),
            Some(ThresholdStatus::NotApplicable)
        );
        assert_eq!(s.verdict, Verdict::Pass, "{:?}", s.verdict_reason);
        assert_eq!(
            tally(&s.thresholds),
            "4 passed, 1 not applicable: memory — the server has no maxmemory"
        );
    }
    #[test]
    fn no_thresholds_at_all_is_a_pass_that_says_so() {
        let mut inputs = fixture::inputs();
        inputs.thresholds.clear();
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!(s.verdict, Verdict::Pass);
        assert_eq!(tally(&s.thresholds), "no thresholds were set");
    }
    #[test]
    fn every_result_names_its_unit() {
        let s = fixture::summary();
        let units: Vec<(String, ThresholdUnit)> = s
            .thresholds
            .iter()
            .map(|t| (t.expr.clone(), t.unit))
            .collect();
        assert_eq!(units[0], ("p95 < 50ms".to_string(), ThresholdUnit::Us));
        assert_eq!(units[1].1, ThresholdUnit::Fraction);
        let r = evaluate(
            &s,
            &[threshold(
                "throughput > 1",
                Metric::Throughput,
                Cmp::Gt,
                1.0,
            )],
        );
        assert_eq!(r[0].unit, ThresholdUnit::OpsPerS);
    }
    #[test]
    fn redis_without_info_is_no_data_and_unlimited_memory_is_skipped() {
        let mut s = fixture::summary();
        let server = s.server.take();
        assert_eq!(
            measurement(&s, &Metric::Evictions),
            Measurement::NoData("no data: Redis INFO was not read".into())
        );
        let mut server = server.expect("fixture has server stats");
        server.maxmemory = 0;
        server.keys_written = 0;
        server.evicted_keys = 0;
        s.server = Some(server.clone());
        assert_eq!(
            measurement(&s, &Metric::Memory),
            Measurement::NotApplicable("the server has no maxmemory".into())
        );
        assert_eq!(measure(&s, &Metric::Evictions), Some(0.0));
        server.evicted_keys = 5;
        s.server = Some(server);
        assert_eq!(measure(&s, &Metric::Evictions), None);
    }
    #[test]
    fn no_reads_means_no_hit_rate() {
        let mut inputs = fixture::inputs();
        let mut r = Recorder::new();
        r.record(OpKind::Set, 100, 100);
        inputs.measured.totals = r;
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!(measure(&s, &Metric::HitRate), None);
        assert_eq!(measure(&s, &Metric::ErrorRate), Some(0.0));
    }

    #[test]
    fn checker_counts_are_measured_and_without_checked_reads_there_is_no_data() {
        use crate::report::consistency::{Checks, ConsistencyReport};
        let mut s = fixture::summary();
        let stale = Metric::StaleReads;
        assert!(matches!(measurement(&s, &stale), Measurement::NoData(_)));
        let checks = Checks {
            checked: 10,
            stale: 3,
            stale_within_ttl: 1,
            lost_invalidations: 2,
        };
        s.consistency = Some(ConsistencyReport::new(checks, 10, true));
        assert_eq!(measure(&s, &stale), Some(3.0));
        assert_eq!(measure(&s, &Metric::LostInvalidations), Some(2.0));
        s.consistency = None;
        assert!(matches!(measurement(&s, &stale), Measurement::NoData(_)));
        let t = Threshold::parse("stale_reads == 0").expect("parses");
        assert_eq!(ThresholdUnit::of(&t.metric), ThresholdUnit::Count);
    }
}
