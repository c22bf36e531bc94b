//! The charts over time, one point per second of `timeseries`: latency percentiles (log
//! scale), throughput with hit rate, and error and fallback rates. Each shades the warmup
//! and every fault window, so a spike can be read against what caused it.

use super::theme::{AMBER, BLUE, FAULT, FG, GREEN, PURPLE, RED};
use super::{frame, new_svg, DrawResult, Spans};
use crate::report::summary::RunSummary;
use crate::report::TimePoint;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Seconds since the run started (x axis) and a value per point, `None` where the point has
/// no value (no operation completed), which breaks the line.
type Series = Vec<(f64, Option<f64>)>;

/// Splits a series at its gaps: each run of present values is drawn as one line.
pub(super) fn runs(series: &Series) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for &(t, v) in series {
        match v {
            Some(v) if v.is_finite() => current.push((t, v)),
            _ if !current.is_empty() => out.push(std::mem::take(&mut current)),
            _ => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn series(points: &[TimePoint], f: impl Fn(&TimePoint) -> Option<f64>) -> Series {
    points.iter().map(|p| (p.t_s, f(p))).collect()
}

/// `part / whole` in percent; `None` when `whole` is 0.
fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// Draws `series` (split at gaps) in `color`, labelled once in the legend.
fn draw_line<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    series: &Series,
    label: &str,
    color: RGBColor,
) -> DrawResult<(), DB> {
    let style = color.stroke_width(2);
    for (i, run) in runs(series).into_iter().enumerate() {
        let drawn = chart.draw_series(LineSeries::new(run, style))?;
        if i == 0 {
            drawn
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
    }
    Ok(())
}

/// Shades the warmup and the fault windows between `lo` and `hi` on the y axis; fault
/// windows get one legend entry.
pub(super) fn shade<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    spans: &Spans,
    lo: f64,
    hi: f64,
) -> DrawResult<(), DB> {
    if let Some((a, b)) = spans.warmup {
        chart
            .draw_series([Rectangle::new([(a, lo), (b, hi)], FG.mix(0.07).filled())])?
            .label("warmup")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], FG.mix(0.15).filled()));
    }
    if spans.faults.is_empty() {
        return Ok(());
    }
    let rects = (spans.faults.iter())
        .map(|f| Rectangle::new([(f.start, lo), (f.end, hi)], FAULT.mix(0.16).filled()));
    chart
        .draw_series(rects)?
        .label("fault window")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], FAULT.mix(0.35).filled()));
    Ok(())
}

/// Builds a time chart with `y` as the y axis and draws mesh and shading.
fn time_chart<'a, DB: DrawingBackend + 'a, Y: AsRangedCoord<Value = f64>>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    spans: &Spans,
    y: Y,
) -> DrawResult<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y::CoordDescType>>, DB>
where
    Y::CoordDescType: Ranged<ValueType = f64>,
{
    frame(root, title)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..spans.end, y)
}

/// Latency percentiles per second, log scale, in milliseconds.
pub fn latency(s: &RunSummary, spans: &Spans) -> std::io::Result<String> {
    let ms = |v: Option<u64>| v.map(|us| (us.max(1)) as f64 / 1_000.0);
    let lines = [
        ("p50", BLUE, series(&s.timeseries, |p| ms(p.p50_us))),
        ("p95", AMBER, series(&s.timeseries, |p| ms(p.p95_us))),
        ("p99", RED, series(&s.timeseries, |p| ms(p.p99_us))),
    ];
    let values = || {
        lines
            .iter()
            .flat_map(|(_, _, s)| s.iter().filter_map(|p| p.1))
    };
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        (lo / 2.0, hi * 2.0)
    } else {
        (0.01, 10.0)
    };
    new_svg(super::HEIGHT, |root| {
        let mut chart = time_chart(
            root,
            "Response time per second",
            spans,
            (lo..hi).log_scale(),
        )?;
        super::mesh(
            &mut chart,
            "time since start (s)",
            "response time (ms, log scale)",
            &|v| super::short_number(*v),
        )?;
        shade(&mut chart, spans, lo, hi)?;
        for (label, color, series) in &lines {
            draw_line(&mut chart, series, label, *color)?;
        }
        super::legend(&mut chart)
    })
}

/// Throughput (left axis, ops/s) and hit rate (right axis, %) per second.
pub fn throughput(s: &RunSummary, spans: &Spans) -> std::io::Result<String> {
    let ops = series(&s.timeseries, |p| Some(p.throughput));
    let hit = series(&s.timeseries, |p| percent(p.hits, p.hits + p.misses));
    let top = ops.iter().filter_map(|p| p.1).fold(0.0, f64::max).max(1.0) * 1.15;
    new_svg(super::HEIGHT, |root| {
        let mut chart = frame(root, "Throughput and hit rate per second")
            .x_label_area_size(40)
            .y_label_area_size(70)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0.0..spans.end, 0.0..top)?
            .set_secondary_coord(0.0..spans.end, 0.0..105.0);
        super::mesh(
            &mut chart,
            "time since start (s)",
            "throughput (ops/s)",
            &|v| super::short_number(*v),
        )?;
        chart
            .configure_secondary_axes()
            .y_desc("hit rate (%)")
            .y_label_formatter(&|v| super::short_number(*v))
            .axis_style(FG)
            .label_style(super::label_font())
            .axis_desc_style(super::label_font())
            .draw()?;
        shade(&mut chart, spans, 0.0, top)?;
        draw_line(&mut chart, &ops, "throughput (ops/s)", GREEN)?;
        let style = AMBER.stroke_width(2);
        for (i, run) in runs(&hit).into_iter().enumerate() {
            let drawn = chart.draw_secondary_series(LineSeries::new(run, style))?;
            if i == 0 {
                drawn
                    .label("hit rate (%)")
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
        }
        super::legend(&mut chart)
    })
}

/// Error and fallback rates per second, in % of the operations of that second.
pub fn errors(s: &RunSummary, spans: &Spans) -> std::io::Result<String> {
    let err = series(&s.timeseries, |p| percent(p.errors, p.ops));
    let fallback = series(&s.timeseries, |p| percent(p.fallback_ops, p.ops));
    let top = (err.iter().chain(&fallback))
        .filter_map(|p| p.1)
        .fold(0.0, f64::max);
    // An error-free run still gets a readable axis (0–1 %) rather than a degenerate one.
    let top = if top > 0.0 {
        (top * 1.15).min(105.0)
    } else {
        1.0
    };
    new_svg(super::HEIGHT, |root| {
        let mut chart = time_chart(root, "Errors and fallback per second", spans, 0.0..top)?;
        super::mesh(
            &mut chart,
            "time since start (s)",
            "share of operations (%)",
            &|v| super::short_number(*v),
        )?;
        shade(&mut chart, spans, 0.0, top)?;
        draw_line(&mut chart, &err, "error rate (%)", RED)?;
        draw_line(&mut chart, &fallback, "served by fallback (%)", PURPLE)?;
        super::legend(&mut chart)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_at_gaps_and_drop_empty_ones() {
        let s = vec![
            (1.0, None),
            (2.0, Some(1.0)),
            (3.0, Some(2.0)),
            (4.0, None),
            (5.0, Some(3.0)),
            (6.0, Some(f64::NAN)),
        ];
        assert_eq!(
            runs(&s),
            vec![vec![(2.0, 1.0), (3.0, 2.0)], vec![(5.0, 3.0)]]
        );
        assert!(runs(&vec![(1.0, None)]).is_empty());
    }

    #[test]
    fn percent_of_nothing_is_none() {
        assert_eq!(percent(1, 0), None);
        assert_eq!(percent(1, 4), Some(25.0));
    }

    #[test]
    fn theme_sentinel_is_not_a_series_colour() {
        for c in [
            AMBER,
            BLUE,
            FAULT,
            GREEN,
            PURPLE,
            RED,
            super::super::theme::GREY,
        ] {
            assert_ne!(c, FG);
        }
    }
}
