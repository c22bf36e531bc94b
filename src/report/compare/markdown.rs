//! A [`Comparison`] as Markdown: one table ready for a CI job summary (GitHub's
//! `$GITHUB_STEP_SUMMARY`), each verdict with its evidence, then the result in one line.

use super::{CompareMetric, Comparison, Limit, MetricComparison, MetricVerdict, ALPHA};
use crate::report::format;
use std::io::{self, Write};

/// Writes the comparison table. `baseline` and `current` name the two reports (paths).
pub fn write(c: &Comparison, baseline: &str, current: &str, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "### redline compare: {}", cell(&c.scenario))?;
    writeln!(w)?;
    writeln!(
        w,
        "Baseline `{}` → current `{}`.",
        tick(baseline),
        tick(current)
    )?;
    writeln!(w)?;
    for warning in &c.warnings {
        writeln!(w, "> **warning:** {}", cell(warning))?;
        writeln!(w)?;
    }
    writeln!(
        w,
        "| metric | baseline | current | change | limit | evidence | verdict |"
    )?;
    writeln!(w, "|---|---:|---:|---:|---:|---|---|")?;
    for m in &c.metrics {
        writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.metric.label(),
            value(m.metric, m.baseline),
            value(m.metric, m.current),
            change(m),
            limit(m),
            evidence(m),
            verdict(m.verdict),
        )?;
    }
    writeln!(w)?;
    let regressed: Vec<String> = c
        .regressions()
        .map(|m| format!("{} ({})", m.metric.label(), change(m)))
        .collect();
    if regressed.is_empty() {
        writeln!(w, "**Result: no regression.**")?;
    } else {
        writeln!(w, "**Result: regression** in {}.", regressed.join(", "))?;
    }
    writeln!(
        w,
        "The current run's own verdict: **{}**.",
        c.current_verdict.name()
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "<sub>Evidence: one-sided Mann–Whitney U test on the per-second values of the measured \
         phases (n = seconds in baseline/current); a change is significant at p < {ALPHA}, and a \
         regression is a significant change beyond its limit.</sub>"
    )
}

/// The verdict, marked so a reader's eye finds the regressions.
pub fn verdict(v: MetricVerdict) -> String {
    match v {
        MetricVerdict::Regression => "❌ **regression**".to_string(),
        MetricVerdict::Improved => "✅ improved".to_string(),
        other => other.label().to_string(),
    }
}

/// A metric's value in its unit.
pub fn value(metric: CompareMetric, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "-".to_string();
    };
    match metric {
        CompareMetric::P50 | CompareMetric::P95 | CompareMetric::P99 => format::us_f64(v),
        CompareMetric::Throughput => format::per_second(v),
        CompareMetric::HitRate => format::percent(v, 2),
        CompareMetric::ErrorRate => format::percent(v, 3),
    }
}

/// The change in the limit's unit: `+12.5%` or `-1.20pt`.
pub fn change(m: &MetricComparison) -> String {
    match m.limit {
        Limit::Percent(_) => m
            .change_percent()
            .map_or_else(|| "-".to_string(), |p| format!("{p:+.1}%")),
        Limit::Points(_) => m
            .change_points()
            .map_or_else(|| "-".to_string(), |p| format!("{p:+.2}pt")),
    }
}

/// The limit as the direction that counts as worse: `+10%` for latency, `-5%` for throughput.
pub fn limit(m: &MetricComparison) -> String {
    let sign = if m.metric.higher_is_better() {
        '-'
    } else {
        '+'
    };
    format!("{sign}{}", m.limit)
}

/// The p-value of the change's direction and the sample sizes.
pub fn evidence(m: &MetricComparison) -> String {
    let n = format!("n = {}/{}", m.test.n_baseline, m.test.n_current);
    if m.verdict == MetricVerdict::NotComparable {
        return n;
    }
    format!("{}, {n}", p_value(m.p_value()))
}

/// `p = 0.032`, `p < 0.0001`.
pub fn p_value(p: f64) -> String {
    if p < 0.0001 {
        "p < 0.0001".to_string()
    } else if p < 0.01 {
        format!("p = {p:.4}")
    } else {
        format!("p = {p:.2}")
    }
}

/// Text inside a table cell: a `|` would end the cell, a newline the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Text inside backticks.
fn tick(s: &str) -> String {
    cell(s).replace('`', "'")
}
