//! Baseline comparison (`redline compare BASELINE CURRENT`, `redline run --baseline`): each
//! metric of two reports side by side with its change, judged against a regression limit
//! ([`limits`]) and a significance test on the per-second samples both reports carry
//! ([`stats`]). A metric regresses only when it got worse by more than its limit AND the
//! seconds of the current run are significantly worse than the baseline's (one-sided
//! Mann–Whitney U, p < [`ALPHA`]); otherwise it is "no significant change", "worse, within
//! limit" or "improved". [`markdown`] renders the result as a CI job summary table.
//!
//! The change is taken from the reports' run-wide figures (the p95 over all operations, the
//! run's throughput), the figures people know; the test from the per-second series, where
//! the run-to-run noise shows.

pub mod limits;
pub mod markdown;
pub mod stats;

pub use limits::{CompareMetric, Limit, LimitError, Limits};
pub use stats::{mann_whitney, RankTest};

use super::summary::RunSummary;
use super::verdict::Verdict;
use super::TimePoint;

/// Significance level of the one-sided test: a change counts only when a difference at least
/// this large would arise by chance less than 1 time in 100 between identical runs.
pub const ALPHA: f64 = 0.01;

/// Fewest measured seconds on each side for the test to be trusted; fewer gives "too few
/// samples", never a regression.
pub const MIN_SAMPLES: usize = 5;

/// How one metric fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricVerdict {
    /// Worse by more than the limit, and significantly so.
    Regression,
    /// Significantly worse, but within the limit.
    WorseWithinLimit,
    /// No significant difference between the runs' seconds.
    NoSignificantChange,
    /// Significantly better.
    Improved,
    /// Fewer than [`MIN_SAMPLES`] measured seconds with this metric on one side.
    TooFewSamples,
    /// The metric is missing from one report (e.g. no reads, so no hit rate).
    NotComparable,
}

impl MetricVerdict {
    /// Words for tables and test reports.
    pub fn label(self) -> &'static str {
        match self {
            MetricVerdict::Regression => "regression",
            MetricVerdict::WorseWithinLimit => "worse, within limit",
            MetricVerdict::NoSignificantChange => "no significant change",
            MetricVerdict::Improved => "improved",
            MetricVerdict::TooFewSamples => "too few samples",
            MetricVerdict::NotComparable => "not comparable",
        }
    }
}

/// One metric of the two reports.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricComparison {
    /// Which metric.
    pub metric: CompareMetric,
    /// The baseline's run-wide value (µs, ops/s or a fraction); `None` when it has none.
    pub baseline: Option<f64>,
    /// The current run's value.
    pub current: Option<f64>,
    /// The limit it was judged against.
    pub limit: Limit,
    /// The significance test on the per-second samples.
    pub test: RankTest,
    /// The outcome.
    pub verdict: MetricVerdict,
}

impl MetricComparison {
    /// current − baseline relative to the baseline, in percent; `None` without both values or
    /// with a zero baseline.
    pub fn change_percent(&self) -> Option<f64> {
        let (b, c) = (self.baseline?, self.current?);
        (b != 0.0).then(|| (c - b) / b * 100.0)
    }

    /// current − baseline in percentage points (rates only).
    pub fn change_points(&self) -> Option<f64> {
        Some((self.current? - self.baseline?) * 100.0)
    }

    /// The one-sided p-value in the direction the run-wide value moved (worse or better).
    pub fn p_value(&self) -> f64 {
        if self.got_worse() {
            self.p_worse()
        } else {
            self.p_better()
        }
    }

    fn p_worse(&self) -> f64 {
        if self.metric.higher_is_better() {
            self.test.p_less
        } else {
            self.test.p_greater
        }
    }

    fn p_better(&self) -> f64 {
        if self.metric.higher_is_better() {
            self.test.p_greater
        } else {
            self.test.p_less
        }
    }

    /// True when the run-wide value moved in the bad direction.
    fn got_worse(&self) -> bool {
        match (self.baseline, self.current) {
            (Some(b), Some(c)) if self.metric.higher_is_better() => c < b,
            (Some(b), Some(c)) => c > b,
            _ => false,
        }
    }

    /// True when the run-wide value got worse by more than the limit.
    fn beyond_limit(&self) -> bool {
        if !self.got_worse() {
            return false;
        }
        let worse = |x: f64| {
            if self.metric.higher_is_better() {
                -x
            } else {
                x
            }
        };
        match self.limit {
            Limit::Percent(max) => self.change_percent().is_none_or(|p| worse(p) > max),
            Limit::Points(max) => self.change_points().is_some_and(|p| worse(p) > max),
        }
    }
}

/// Two reports compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The current run's scenario name.
    pub scenario: String,
    /// Every metric, in [`CompareMetric::ALL`] order.
    pub metrics: Vec<MetricComparison>,
    /// Things that make the comparison weaker but not void (a mismatch the user allowed, an
    /// inconclusive run, a changed scenario setting); each is shown with the table.
    pub warnings: Vec<String>,
    /// The current run's verdict, repeated so a gate on the comparison sees failed
    /// thresholds too.
    pub current_verdict: Verdict,
}

impl Comparison {
    /// The metrics that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &MetricComparison> {
        self.metrics
            .iter()
            .filter(|m| m.verdict == MetricVerdict::Regression)
    }
}

/// Why two reports cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// The reports are of different scenarios.
    #[error("the reports are of different scenarios: baseline `{baseline}`, current `{current}` (pass --allow-mismatch to compare them anyway)")]
    Scenario {
        /// The baseline's scenario name.
        baseline: String,
        /// The current report's.
        current: String,
    },
    /// The reports have different schema versions.
    #[error("the reports have different schema versions: baseline `{baseline}`, current `{current}` (pass --allow-mismatch to compare them anyway)")]
    Schema {
        /// The baseline's schema.
        baseline: String,
        /// The current report's.
        current: String,
    },
}

/// Every reason the two reports should not be compared.
pub fn mismatches(baseline: &RunSummary, current: &RunSummary) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if baseline.schema != current.schema {
        out.push(Mismatch::Schema {
            baseline: baseline.schema.clone(),
            current: current.schema.clone(),
        });
    }
    if baseline.scenario.name != current.scenario.name {
        out.push(Mismatch::Scenario {
            baseline: baseline.scenario.name.clone(),
            current: current.scenario.name.clone(),
        });
    }
    out
}

/// Compares `current` with `baseline`. Mismatches ([`mismatches`]) are the caller's to refuse
/// or allow; allowed ones should be passed in `allowed` so the output carries them.
pub fn compare(
    baseline: &RunSummary,
    current: &RunSummary,
    limits: &Limits,
    allowed: &[Mismatch],
) -> Comparison {
    let metrics = CompareMetric::ALL
        .iter()
        .map(|&m| judge(m, baseline, current, limits.get(m)))
        .collect();
    let mut warnings: Vec<String> = allowed
        .iter()
        .map(|m| format!("compared anyway: {m}"))
        .map(|w| w.replace(" (pass --allow-mismatch to compare them anyway)", ""))
        .collect();
    for (which, s) in [("baseline", baseline), ("current run", current)] {
        if s.verdict == Verdict::Inconclusive {
            let why = s.verdict_reason.as_deref().unwrap_or("see its report");
            warnings.push(format!(
                "the {which} is inconclusive ({why}): its numbers may not be what they seem"
            ));
        }
    }
    let changed = config_changes(&baseline.scenario.config, &current.scenario.config);
    if !changed.is_empty() {
        warnings.push(format!(
            "the scenario's settings differ between the runs: {}",
            changed.join(", ")
        ));
    }
    Comparison {
        scenario: current.scenario.name.clone(),
        metrics,
        warnings,
        current_verdict: current.verdict,
    }
}

fn judge(
    metric: CompareMetric,
    baseline: &RunSummary,
    current: &RunSummary,
    limit: Limit,
) -> MetricComparison {
    let b = samples(metric, baseline);
    let c = samples(metric, current);
    let mut out = MetricComparison {
        metric,
        baseline: overall(metric, baseline),
        current: overall(metric, current),
        limit,
        test: mann_whitney(&b, &c),
        verdict: MetricVerdict::NotComparable,
    };
    out.verdict = if out.baseline.is_none() || out.current.is_none() {
        MetricVerdict::NotComparable
    } else if b.len() < MIN_SAMPLES || c.len() < MIN_SAMPLES {
        MetricVerdict::TooFewSamples
    } else if out.got_worse() && out.p_worse() < ALPHA {
        if out.beyond_limit() {
            MetricVerdict::Regression
        } else {
            MetricVerdict::WorseWithinLimit
        }
    } else if !out.got_worse() && out.p_better() < ALPHA {
        MetricVerdict::Improved
    } else {
        MetricVerdict::NoSignificantChange
    };
    out
}

/// The run-wide value of a metric.
fn overall(metric: CompareMetric, s: &RunSummary) -> Option<f64> {
    let r = &s.latency.overall.response;
    let latency = |v: u64| (r.count > 0).then_some(v as f64);
    match metric {
        CompareMetric::P50 => latency(r.p50_us),
        CompareMetric::P95 => latency(r.p95_us),
        CompareMetric::P99 => latency(r.p99_us),
        CompareMetric::Throughput => (s.measured_s > 0.0).then_some(s.totals.throughput),
        CompareMetric::HitRate => s.totals.hit_rate,
        CompareMetric::ErrorRate => s.totals.error_rate,
    }
}

/// The metric's value in every measured second of the run (warmup and the graceful stop
/// left out; seconds without the metric, e.g. without reads for the hit rate, skipped).
pub fn samples(metric: CompareMetric, s: &RunSummary) -> Vec<f64> {
    measured_points(s)
        .filter_map(|p| match metric {
            CompareMetric::P50 => p.p50_us.map(|v| v as f64),
            CompareMetric::P95 => p.p95_us.map(|v| v as f64),
            CompareMetric::P99 => p.p99_us.map(|v| v as f64),
            CompareMetric::Throughput => Some(p.throughput),
            CompareMetric::HitRate => {
                (p.hits + p.misses > 0).then(|| p.hits as f64 / (p.hits + p.misses) as f64)
            }
            CompareMetric::ErrorRate => (p.ops > 0).then(|| p.errors as f64 / p.ops as f64),
        })
        .collect()
}

/// Points of the measured phase: not warmup, ending by the end of the measured phase (the
/// graceful stop's points come after it).
fn measured_points(s: &RunSummary) -> impl Iterator<Item = &TimePoint> {
    let end = s.measured_window.start_s + s.measured_s + 0.001;
    s.timeseries
        .iter()
        .filter(move |p| !p.warmup && p.t_s <= end)
}

/// The resolved-scenario settings that differ, as `path: before → after`, at most five.
fn config_changes(baseline: &serde_json::Value, current: &serde_json::Value) -> Vec<String> {
    fn walk(path: &str, b: &serde_json::Value, c: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value::Object;
        match (b, c) {
            (Object(bm), Object(cm)) => {
                let keys: std::collections::BTreeSet<&String> =
                    bm.keys().chain(cm.keys()).collect();
                for k in keys {
                    let here = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let null = serde_json::Value::Null;
                    walk(
                        &here,
                        bm.get(k).unwrap_or(&null),
                        cm.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ if b != c => out.push(format!("{path}: {b} → {c}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", baseline, current, &mut out);
    if out.len() > 5 {
        let more = out.len() - 5;
        out.truncate(5);
        out.push(format!("and {more} more"));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
