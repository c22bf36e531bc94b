//! Thresholds and verdict: measures each [`Threshold`]'s metric in a [`RunSummary`], decides
//! pass / fail / inconclusive and maps the verdict to the process exit code.
//!
//! A threshold whose metric has no data fails: "p95 < 50ms" over zero operations is not a
//! pass. The one exception is a metric that cannot exist for this target (evictions and
//! memory without a Redis server, memory without maxmemory): it is reported as skipped, with
//! a note, and does not fail the run.

use super::summary::{round_to, GeneratorReport, Provider, RunSummary, TargetKind, RATE_DECIMALS};
use crate::scenario::threshold::{Cmp, Metric, Threshold};
use serde::{Deserialize, Serialize};

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every threshold held.
    Pass,
    /// At least one threshold failed.
    Fail,
    /// The numbers cannot be trusted: the generator fell behind or the run was interrupted.
    Inconclusive,
}

impl Verdict {
    /// Lower-case name, as in report.json.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// Process exit code for a verdict: 0 pass, 1 fail, 3 inconclusive (2 is usage/connection
/// errors, decided before any verdict exists).
pub fn exit_code(verdict: Verdict) -> i32 {
    match verdict {
        Verdict::Pass => 0,
        Verdict::Fail => 1,
        Verdict::Inconclusive => 3,
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
    pub cmp: Cmp,
    /// The limit in the metric's unit (µs, fraction, ops/s).
    pub limit: f64,
    /// The measured value in the same unit; `None` when there was no data or the metric does
    /// not apply.
    pub measured: Option<f64>,
    /// Whether the threshold held. No data means false; not applicable means true.
    pub pass: bool,
    /// Why there is no value ("no data: ...", "not applicable: ...").
    pub note: Option<String>,
}

/// A metric's value in a summary, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    /// The measured value.
    Value(f64),
    /// The metric could exist but nothing was measured; the threshold fails.
    NoData(String),
    /// The metric cannot exist for this target; the threshold is skipped.
    NotApplicable(String),
}

/// The value of `metric` in `summary`, `None` when there is none (no data or not applicable).
pub fn measure(summary: &RunSummary, metric: &Metric) -> Option<f64> {
    match measurement(summary, metric) {
        Measurement::Value(v) => Some(v),
        Measurement::NoData(_) | Measurement::NotApplicable(_) => None,
    }
}

/// The value of `metric` in `summary`, with the reason when there is none.
pub fn measurement(summary: &RunSummary, metric: &Metric) -> Measurement {
    use Measurement::{NoData, NotApplicable, Value};
    let no_redis = summary.target.provider == Provider::Memory;
    match *metric {
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
            NotApplicable("not applicable: no Redis server".into())
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
        Metric::Evictions | Metric::Memory if no_redis => {
            NotApplicable("not applicable: no Redis server".into())
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
            Some(s) if s.maxmemory == 0 => {
                NotApplicable("not applicable: maxmemory not set".into())
            }
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
            let (measured, pass, note) = match measurement(summary, &t.metric) {
                Measurement::Value(v) => (Some(v), t.cmp.holds(v, t.limit), None),
                Measurement::NoData(why) => (None, false, Some(why)),
                Measurement::NotApplicable(why) => (None, true, Some(why)),
            };
            ThresholdResult {
                expr: t.expr.clone(),
                metric: t.metric,
                cmp: t.cmp,
                limit: t.limit,
                measured,
                pass,
                note,
            }
        })
        .collect()
}

/// p99 of the generator's own lag beyond which the open model is judged saturated, µs.
pub const SATURATION_LAG_US: u64 = 5_000;
/// Share of the machine's CPU beyond which the generator is judged saturated: it was
/// competing with the system under test, so its timestamps are late.
pub const SATURATION_CPU_SHARE: f64 = 0.95;

/// Whether the load generator was saturated: the one place this is judged. Only the open
/// model has a schedule to fall behind: it saturates when its own lag (not the wait for
/// in-flight slots, which is the system's latency) passes [`SATURATION_LAG_US`] at p99, or
/// when it used more than [`SATURATION_CPU_SHARE`] of the machine. A closed model running
/// flat out is meant to use what it can; its CPU is reported, not judged.
pub fn saturated(g: &GeneratorReport) -> bool {
    g.open_model
        && (g.schedule_lag_p99_us > SATURATION_LAG_US || g.cpu_share > SATURATION_CPU_SHARE)
}

/// The verdict and its reason from a summary whose thresholds are already evaluated:
/// inconclusive if the generator saturated, the run was aborted, or it measured the
/// in-memory store without the scenario asking for it (`target.kind = "memory"`), else fail
/// if any threshold failed or scheduled operations were dropped, else pass.
pub fn decide(summary: &RunSummary) -> (Verdict, Option<String>) {
    let g = &summary.generator;
    if g.saturated {
        let reason = format!(
            "the load generator could not keep its schedule (lag p99 {}, max {}; CPU {} of \
             the machine, {} per operation); latencies were not measured as scheduled",
            super::format::us(g.schedule_lag_p99_us),
            super::format::us(g.schedule_lag_max_us),
            super::format::percent(g.cpu_share, 0),
            g.cpu_us_per_op
                .map_or_else(|| "n/a".to_string(), super::format::us_f64),
        );
        return (Verdict::Inconclusive, Some(reason));
    }
    if summary.aborted {
        let reason = format!(
            "the run was interrupted{}; its numbers are partial",
            super::phase::during(summary.aborted_in)
        );
        return (Verdict::Inconclusive, Some(reason));
    }
    if summary.target.provider == Provider::Memory && summary.target.kind != TargetKind::Memory {
        let reason = "measured the in-memory fallback, not Redis (no redis-server was found): \
                      install redis-server or pass --redis URL, or set target.kind = \"memory\" \
                      to measure the fallback on purpose"
            .to_string();
        return (Verdict::Inconclusive, Some(reason));
    }
    let failed: Vec<&ThresholdResult> = summary.thresholds.iter().filter(|t| !t.pass).collect();
    let b = &summary.backlog;
    if failed.is_empty() && b.dropped + b.interrupted > 0 {
        let mut reason = format!(
            "{} scheduled operations never completed ({} never started before the measured \
             phase ended, {} cut off after the {} graceful stop): the target did not take \
             the load",
            super::format::count(b.dropped + b.interrupted),
            super::format::count(b.dropped),
            super::format::count(b.interrupted),
            super::format::us((b.graceful_stop_s * 1e6) as u64),
        );
        if let Some(bottleneck) = &b.bottleneck {
            reason.push_str("; ");
            reason.push_str(bottleneck);
        }
        return (Verdict::Fail, Some(reason));
    }
    if failed.is_empty() {
        return (Verdict::Pass, None);
    }
    let list: Vec<String> = failed
        .iter()
        .map(|t| match (t.measured, &t.note) {
            (Some(v), _) => format!(
                "{} (measured {})",
                t.expr,
                super::format::metric(&t.metric, v)
            ),
            (None, Some(note)) => format!("{} ({note})", t.expr),
            (None, None) => t.expr.clone(),
        })
        .collect();
    let reason = format!(
        "{} of {} thresholds failed: {}",
        failed.len(),
        summary.thresholds.len(),
        list.join("; ")
    );
    (Verdict::Fail, Some(reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::OpKind;
    use crate::report::fixture::{self, latency, threshold};
    use crate::report::Recorder;
    use crate::scenario::threshold::Stat;

    fn get(stat: Stat) -> Metric {
        Metric::Latency {
            op: Some(OpKind::Get),
            stat,
        }
    }

    #[test]
    fn measures_every_metric() {
        let s = fixture::summary();
        assert_eq!(
            measure(&s, &latency(Stat::P50)),
            Some(s.latency.overall.response.p50 as f64)
        );
        assert_eq!(measure(&s, &latency(Stat::Max)), Some(2000.0));
        assert_eq!(measure(&s, &get(Stat::P99)), Some(990.0));
        assert_eq!(measure(&s, &get(Stat::Mean)), Some(500.5));
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
        assert!(!r[0].pass, "no data never passes");
        assert_eq!(r[0].note.as_deref(), Some("no data: del never ran"));
    }

    #[test]
    fn no_operations_fails_every_data_threshold() {
        let mut inputs = fixture::inputs();
        inputs.measured.totals = Recorder::new();
        let s = crate::report::RunSummary::build(inputs);
        for t in &s.thresholds {
            match t.metric {
                Metric::Evictions | Metric::Memory => assert!(t.pass, "{}", t.expr),
                _ => {
                    assert!(!t.pass, "{} passed without data", t.expr);
                    assert!(t.note.as_deref().is_some_and(|n| n.starts_with("no data")));
                }
            }
        }
        assert_eq!(s.verdict, Verdict::Fail);
    }

    #[test]
    fn memory_provider_skips_server_metrics_with_a_note() {
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
            assert!(t.pass);
            assert_eq!(t.measured, None);
            assert_eq!(t.note.as_deref(), Some("not applicable: no Redis server"));
        }
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
            Measurement::NotApplicable("not applicable: maxmemory not set".into())
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
    fn verdict_fail_names_the_failed_thresholds() {
        let s = fixture::summary();
        assert_eq!(s.verdict, Verdict::Fail);
        let reason = s.verdict_reason.as_deref().expect("reason");
        assert_eq!(
            reason,
            "1 of 6 thresholds failed: error_rate < 0.001 (measured 0.182%)"
        );
        assert_eq!(exit_code(s.verdict), 1);
    }

    #[test]
    fn verdict_pass_when_all_hold() {
        let mut inputs = fixture::inputs();
        inputs.thresholds.retain(|t| t.metric != Metric::ErrorRate);
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!((s.verdict, s.verdict_reason.clone()), (Verdict::Pass, None));
        assert_eq!(exit_code(s.verdict), 0);
    }

    #[test]
    fn saturation_and_abort_are_inconclusive_even_with_failures() {
        let mut inputs = fixture::inputs();
        inputs.measured.totals.lag(SATURATION_LAG_US * 2);
        inputs.measured.totals.lag(SATURATION_LAG_US * 2);
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!(s.verdict, Verdict::Inconclusive);
        assert!(s
            .verdict_reason
            .as_deref()
            .is_some_and(|r| r.contains("schedule")));
        assert_eq!(exit_code(s.verdict), 3);

        let mut inputs = fixture::inputs();
        inputs.aborted_in = Some(crate::report::summary::Phase::Measured);
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!(s.verdict, Verdict::Inconclusive);
        assert!(s
            .verdict_reason
            .as_deref()
            .is_some_and(|r| r.contains("interrupted")));
    }

    #[test]
    fn saturation_is_judged_from_lag_and_cpu_for_the_open_model_only() {
        let g = fixture::summary().generator;
        assert!(!saturated(&g), "{g:?}");
        let lagging = GeneratorReport {
            schedule_lag_p99_us: SATURATION_LAG_US + 1,
            ..g
        };
        assert!(saturated(&lagging));
        let busy = GeneratorReport {
            cpu_share: 0.99,
            ..g
        };
        assert!(saturated(&busy));
        let closed = GeneratorReport {
            open_model: false,
            ..busy
        };
        assert!(
            !saturated(&closed),
            "the closed model has no schedule to miss"
        );
    }

    #[test]
    fn dropped_operations_fail_a_run_whose_thresholds_held() {
        let mut inputs = fixture::inputs();
        inputs.thresholds.clear();
        inputs.measured.totals.dropped(40);
        inputs.measured.totals.interrupted(2);
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!(s.verdict, Verdict::Fail);
        let reason = s.verdict_reason.expect("a reason");
        assert!(
            reason.starts_with("42 scheduled operations never completed (40 never started"),
            "{reason}"
        );
        assert_eq!(s.totals.errors[&crate::op::ErrorKind::Dropped], 42);
    }

    #[test]
    fn the_memory_store_passes_only_when_the_scenario_asked_for_it() {
        let mut inputs = fixture::inputs();
        inputs.thresholds.clear();
        inputs.target.provider = Provider::Memory;
        inputs.server = None;
        for kind in [TargetKind::Managed, TargetKind::Redis] {
            inputs.target.kind = kind;
            let s = crate::report::RunSummary::build(inputs.clone());
            assert_eq!(s.verdict, Verdict::Inconclusive, "{kind:?}");
            let reason = s.verdict_reason.unwrap_or_default();
            assert!(reason.contains("in-memory fallback, not Redis"), "{reason}");
            assert!(reason.contains("target.kind = \"memory\""), "{reason}");
        }
        inputs.target.kind = TargetKind::Memory;
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!(s.verdict, Verdict::Pass);
    }

    #[test]
    fn comparisons_apply_to_the_measured_value() {
        let s = fixture::summary();
        let r = evaluate(
            &s,
            &[
                threshold("throughput >= 100", Metric::Throughput, Cmp::Ge, 100.0),
                threshold("throughput > 110", Metric::Throughput, Cmp::Gt, 110.0),
                threshold("get.p99 <= 990us", get(Stat::P99), Cmp::Le, 990.0),
                threshold("hit_rate > 0.9", Metric::HitRate, Cmp::Gt, 0.9),
            ],
        );
        let passes: Vec<bool> = r.iter().map(|t| t.pass).collect();
        assert_eq!(passes, [true, false, true, false]);
        assert_eq!(r[1].measured, Some(110.0));
        assert_eq!(Verdict::Inconclusive.name(), "inconclusive");
    }
}
