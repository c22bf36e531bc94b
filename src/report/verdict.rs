//! Thresholds and verdict: measures each [`Threshold`]'s metric in a [`RunSummary`], decides
//! pass / fail / inconclusive and maps the verdict to the process exit code.
//!
//! A threshold whose metric has no data fails: "p95 < 50ms" over zero operations is not a
//! pass. The one exception is a metric that cannot exist for this target (evictions and
//! memory without a Redis server, memory without maxmemory): it is reported as skipped, with
//! a note, and does not fail the run.

use super::summary::{Provider, RunSummary};
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
            Some(s) if s.keys_written > 0 => Value(s.evicted_keys as f64 / s.keys_written as f64),
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
            Some(s) => Value(s.used_memory as f64 / s.maxmemory as f64),
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

/// The verdict and its reason from a summary whose thresholds are already evaluated:
/// inconclusive if the generator saturated or the run was aborted, else fail if any
/// threshold failed, else pass.
pub fn decide(summary: &RunSummary) -> (Verdict, Option<String>) {
    let g = &summary.generator;
    if g.saturated {
        let reason = format!(
            "the load generator could not keep its schedule (lag p99 {}, max {}); \
             latencies were not measured as scheduled",
            super::format::us(g.schedule_lag_p99_us),
            super::format::us(g.schedule_lag_max_us),
        );
        return (Verdict::Inconclusive, Some(reason));
    }
    if summary.aborted {
        let reason = "the run was interrupted; its numbers are partial".to_string();
        return (Verdict::Inconclusive, Some(reason));
    }
    let failed: Vec<&ThresholdResult> = summary.thresholds.iter().filter(|t| !t.pass).collect();
    if failed.is_empty() {
        return (Verdict::Pass, None);
    }
    let list: Vec<String> = failed
        .iter()
        .map(|t| match (t.measured, &t.note) {
            (Some(v), _) => format!("{} (measured {})", t.expr, super::format::metric(&t.metric, v)),
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
