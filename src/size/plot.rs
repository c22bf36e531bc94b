//! The sizing's two plots as SVG (plotters): offered rate against p50/p95/p99 (log scale,
//! the latency threshold and the knee marked), and maxmemory as a share of the working set
//! against hit rate (the target marked). Rendered from the study values alone, on the run
//! charts' frame, axes, legend and colours (`report::plot`).

use super::report::{HitRateStudy, KneeStep, KneeStudy, Targets};
use crate::report::plot::theme::{self, AMBER, BLUE, FG, GREEN, RED};
use crate::report::plot::{frame, legend, mesh, new_svg, short_number, HEIGHT};
use plotters::prelude::*;
use std::io;

/// One latency statistic of a step, µs.
type Stat = fn(&KneeStep) -> u64;

/// A legend mark: a short line in `style`.
fn mark(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style)
}

/// Rate against latency percentiles.
pub fn rate_latency(k: &KneeStudy, targets: &Targets) -> String {
    // The attempt that counted at each rate: a step run again after its generator fell
    // behind appears twice, and only the later one is the curve.
    let mut steps: Vec<KneeStep> = Vec::new();
    for s in &k.steps {
        steps.retain(|t| t.rate_per_s != s.rate_per_s);
        steps.push(s.clone());
    }
    steps.sort_by(|a, b| a.rate_per_s.total_cmp(&b.rate_per_s));
    let ms = |us: u64| (us as f64 / 1000.0).max(0.01);
    let x_max = steps.iter().map(|s| s.rate_per_s).fold(1.0, f64::max) * 1.05;
    let y_max = steps.iter().map(|s| ms(s.p99_us)).fold(1.0, f64::max) * 1.5;
    let y_min = (steps
        .iter()
        .map(|s| ms(s.p50_us))
        .fold(f64::MAX, f64::min)
        .min(y_max)
        / 2.0)
        .max(0.001);
    standalone(new_svg(HEIGHT, |root| {
        let mut chart = frame(root, "Offered rate against response time")
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, (y_min..y_max).log_scale())?;
        mesh(
            &mut chart,
            "offered rate (ops/s)",
            "response time (ms, log scale)",
            &|v| short_number(*v),
        )?;
        let series: [(&str, RGBColor, Stat); 3] = [
            ("p50", BLUE, |s| s.p50_us),
            ("p95", AMBER, |s| s.p95_us),
            ("p99", RED, |s| s.p99_us),
        ];
        for (name, color, stat) in series {
            let points: Vec<(f64, f64)> =
                steps.iter().map(|s| (s.rate_per_s, ms(stat(s)))).collect();
            let style = color.stroke_width(2);
            chart
                .draw_series(LineSeries::new(points.clone(), style))?
                .label(name)
                .legend(mark(style));
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        for t in &targets.knee_thresholds {
            if let Some(limit_ms) = latency_limit_ms(t) {
                let style = FG.mix(0.5).into();
                chart
                    .draw_series(LineSeries::new([(0.0, limit_ms), (x_max, limit_ms)], style))?
                    .label(t.as_str())
                    .legend(mark(style));
            }
        }
        if let Some(knee) = k.knee_per_s {
            let style = GREEN.stroke_width(2);
            chart
                .draw_series(LineSeries::new([(knee, y_min), (knee, y_max)], style))?
                .label("knee")
                .legend(mark(style));
        }
        legend(&mut chart)
    }))
}

/// Memory against hit rate.
pub fn memory_hit_rate(h: &HitRateStudy, target: f64) -> String {
    // Only points that measured a hit rate: one where Redis refused writes is in the table.
    let points: Vec<(f64, f64)> = super::hit_rate::measured(&h.points)
        .map(|(p, hit_rate)| (p.fraction * 100.0, hit_rate * 100.0))
        .collect();
    let caption = format!("Hit rate against maxmemory ({})", h.policy);
    standalone(new_svg(HEIGHT, |root| {
        let mut chart = frame(root, &caption)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..100.0, 0f64..100.0)?;
        mesh(
            &mut chart,
            "maxmemory (% of the working set)",
            "hit rate (%)",
            &|v| short_number(*v),
        )?;
        let style = BLUE.stroke_width(2);
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label("hit rate")
            .legend(mark(style));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))?;
        let t = target * 100.0;
        let style = FG.mix(0.5).into();
        chart
            .draw_series(LineSeries::new([(0.0, t), (100.0, t)], style))?
            .label(format!("target {t:.0}%"))
            .legend(mark(style));
        if let Some(f) = h.fraction_needed {
            let style = GREEN.stroke_width(2);
            chart
                .draw_series(LineSeries::new(
                    [(f * 100.0, 0.0), (f * 100.0, 100.0)],
                    style,
                ))?
                .label("needed")
                .legend(mark(style));
        }
        legend(&mut chart)
    }))
}

/// The standalone SVG file (following the viewer's colour scheme, as the run's charts do),
/// or one saying why the plot could not be drawn.
fn standalone(drawn: io::Result<String>) -> String {
    match drawn {
        Ok(raw) => theme::adaptive(&raw, true),
        Err(e) => fallback(&e.to_string()),
    }
}

/// `"p95 < 50ms"` → 50.0 (overall latency thresholds only).
fn latency_limit_ms(expr: &str) -> Option<f64> {
    let t = crate::scenario::Threshold::parse(expr).ok()?;
    match t.metric {
        crate::scenario::Metric::Latency { op: None, .. } => Some(t.limit / 1000.0),
        _ => None,
    }
}

/// An SVG saying the plot could not be drawn (never an empty file).
fn fallback(why: &str) -> String {
    let why = why.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"60\"><text x=\"10\" \
         y=\"30\">plot not drawn: {why}</text></svg>"
    )
}
