//! The verdict: pass / fail / inconclusive from a summary whose thresholds are judged (see
//! [`thresholds`](super::thresholds)), and the process exit code. A failed threshold fails
//! the run (no data included); a run whose every threshold is not applicable is
//! inconclusive, not a pass: nothing was judged.

use super::summary::{GeneratorReport, Provider, RunSummary, TargetKind};
use crate::scenario::threshold::Metric;
use serde::{Deserialize, Serialize};

pub use super::thresholds::{
    evaluate, measure, measurement, tally, Measurement, ThresholdResult, ThresholdStatus,
    ThresholdUnit,
};

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
/// in-memory store without the scenario asking for it (`target.kind = "memory"`); else fail
/// if any threshold failed or scheduled operations were dropped; else inconclusive if
/// thresholds were set but none could be judged (all not applicable); else pass.
pub fn decide(summary: &RunSummary) -> (Verdict, Option<String>) {
    if summary.aborted {
        let reason = format!(
            "the run was interrupted{}; its numbers are partial",
            super::phase::during(summary.aborted_in)
        );
        return (Verdict::Inconclusive, Some(reason));
    }
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
    if let Some(f) = summary.faults.iter().find(|f| f.error.is_some()) {
        let reason = format!(
            "fault `{}` ({}) {}: the drill did not run as declared",
            f.name,
            f.kind,
            match &f.error {
                Some(e) if f.started_s.is_none() => format!("could not be applied: {e}"),
                Some(e) => e.clone(),
                None => String::new(),
            }
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
    let failed: Vec<&ThresholdResult> = summary.thresholds.iter().filter(|t| t.failed()).collect();
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
        if let Some(reason) = unaccepted_redis_failures(summary) {
            return (Verdict::Fail, Some(reason));
        }
        let all_na = !summary.thresholds.is_empty()
            && summary
                .thresholds
                .iter()
                .all(ThresholdResult::not_applicable);
        if all_na {
            let reason = format!(
                "no threshold could be judged: {}",
                tally(&summary.thresholds)
            );
            return (Verdict::Inconclusive, Some(reason));
        }
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

/// Redis failure rate above which a run fails even when no threshold names
/// `redis_error_rate`: the default threshold's limit.
pub const IMPLICIT_REDIS_ERROR_LIMIT: f64 = 0.001;

/// Why a run whose thresholds held still fails: Redis failed more than
/// [`IMPLICIT_REDIS_ERROR_LIMIT`] of its commands (the fallback hiding it from the
/// application's error rate) and the scenario did not say how many Redis failures it accepts
/// with a `redis_error_rate` threshold of its own. A failover drill that expects Redis to
/// fail declares one (e.g. `redis_error_rate <= 1`); everything else never passes while
/// Redis answered nonsense or was gone.
fn unaccepted_redis_failures(summary: &RunSummary) -> Option<String> {
    let declared = summary
        .thresholds
        .iter()
        .any(|t| t.metric == Metric::RedisErrorRate);
    let redis = summary.redis.as_ref()?;
    let rate = redis.error_rate?;
    if declared || rate <= IMPLICIT_REDIS_ERROR_LIMIT {
        return None;
    }
    Some(format!(
        "Redis failed {} of {} commands ({}) although the application saw {}: no \
         redis_error_rate threshold accepts that (declare one, e.g. \"redis_error_rate < 0.5\" \
         in a failover drill, to judge Redis failures yourself)",
        super::format::count(redis.failures_total),
        super::format::count(redis.calls),
        super::format::percent(rate, 3),
        summary.totals.error_rate.map_or_else(
            || "no errors".to_string(),
            |r| { format!("{} errors", super::format::percent(r, 3)) }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::ErrorKind;
    use crate::report::fixture::{self, get_latency, threshold};
    use crate::scenario::threshold::{Cmp, Metric, Stat};

    #[test]
    fn a_run_whose_thresholds_are_all_not_applicable_is_inconclusive() {
        let mut inputs = fixture::inputs();
        inputs.target.kind = TargetKind::Memory;
        inputs.target.provider = Provider::Memory;
        inputs.server = None;
        inputs
            .thresholds
            .retain(|t| matches!(t.metric, Metric::Evictions | Metric::Memory));
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!(s.verdict, Verdict::Inconclusive);
        assert_eq!(exit_code(s.verdict), 3);
        let reason = s.verdict_reason.as_deref().expect("reason");
        assert!(
            reason.starts_with("no threshold could be judged: 0 passed, 2 not applicable"),
            "{reason}"
        );
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
    fn redis_failures_the_fallback_hid_fail_a_run_unless_a_threshold_accepts_them() {
        use crate::op::RedisCalls;
        // Thresholds that hold, without redis_error_rate, while half of Redis's commands failed.
        let mut inputs = fixture::inputs();
        inputs.thresholds.retain(|t| t.metric != Metric::ErrorRate);
        inputs
            .measured
            .totals
            .redis(RedisCalls::failed(1100, ErrorKind::Connection));
        let s = crate::report::RunSummary::build(inputs.clone());
        assert_eq!(s.verdict, Verdict::Fail);
        let reason = s.verdict_reason.expect("a reason");
        assert!(
            reason.starts_with("Redis failed 1,102 of 3,200 commands")
                && reason.contains("redis_error_rate"),
            "{reason}"
        );
        // A drill that declares how many Redis failures it accepts is judged by that.
        inputs.thresholds.push(threshold(
            "redis_error_rate < 0.6",
            Metric::RedisErrorRate,
            Cmp::Lt,
            0.6,
        ));
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!((s.verdict, s.verdict_reason), (Verdict::Pass, None));
    }

    #[test]
    fn an_interrupted_run_is_named_interrupted_even_when_it_also_lagged() {
        let mut inputs = fixture::inputs();
        inputs.measured.totals.lag(SATURATION_LAG_US * 2);
        inputs.measured.totals.lag(SATURATION_LAG_US * 2);
        inputs.aborted_in = Some(crate::report::summary::Phase::Cleanup);
        let s = crate::report::RunSummary::build(inputs);
        assert_eq!(s.verdict, Verdict::Inconclusive);
        let reason = s.verdict_reason.expect("a reason");
        assert!(reason.contains("interrupted during cleanup"), "{reason}");
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
                threshold("get.p99 <= 990us", get_latency(Stat::P99), Cmp::Le, 990.0),
                threshold("hit_rate > 0.9", Metric::HitRate, Cmp::Gt, 0.9),
            ],
        );
        let passes: Vec<bool> = r.iter().map(ThresholdResult::passed).collect();
        assert_eq!(passes, [true, false, true, false]);
        assert_eq!(r[1].measured, Some(110.0));
        assert_eq!(Verdict::Inconclusive.name(), "inconclusive");
    }
}
