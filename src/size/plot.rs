//! The sizing's two plots as SVG (plotters): offered rate against p50/p95/p99 (log scale,
//! the latency threshold and the knee marked), and maxmemory as a share of the working set
//! against hit rate (the target marked). Rendered from the study values alone.

use super::report::{HitRateStudy, KneeStudy, Targets};
use plotters::prelude::*;

const SIZE: (u32, u32) = (800, 480);

/// One latency statistic of a step, µs.
type Stat = fn(&super::report::KneeStep) -> u64;

/// Rate against latency percentiles.
pub fn rate_latency(k: &KneeStudy, targets: &Targets) -> String {
    // The attempt that counted at each rate: a step run again after its generator fell
    // behind appears twice, and only the later one is the curve.
    let mut steps: Vec<super::report::KneeStep> = Vec::new();
    for s in &k.steps {
        steps.retain(|t| t.rate_per_s != s.rate_per_s);
        steps.push(s.clone());
    }
    steps.sort_by(|a, b| a.rate_per_s.total_cmp(&b.rate_per_s));
    let mut svg = String::new();
    let ms = |us: u64| (us as f64 / 1000.0).max(0.01);
    let x_max = steps.iter().map(|s| s.rate_per_s).fold(1.0, f64::max) * 1.05;
    let y_max = steps.iter().map(|s| ms(s.p99_us)).fold(1.0, f64::max) * 1.5;
    let y_min = steps
        .iter()
        .map(|s| ms(s.p50_us))
        .fold(f64::MAX, f64::min)
        .min(y_max)
        / 2.0;
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Offered rate against response time", ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(0f64..x_max, (y_min.max(0.001)..y_max).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("offered rate (ops/s)")
            .y_desc("response time (ms, log)")
            .draw()?;
        let series: [(&str, RGBColor, Stat); 3] = [
            ("p50", BLUE, |s| s.p50_us),
            ("p95", RGBColor(230, 120, 0), |s| s.p95_us),
            ("p99", RED, |s| s.p99_us),
        ];
        for (name, color, stat) in series {
            let points: Vec<(f64, f64)> =
                steps.iter().map(|s| (s.rate_per_s, ms(stat(s)))).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        for t in &targets.knee_thresholds {
            if let Some(limit_ms) = latency_limit_ms(t) {
                chart
                    .draw_series(LineSeries::new(
                        vec![(0.0, limit_ms), (x_max, limit_ms)],
                        BLACK.mix(0.5),
                    ))?
                    .label(t.as_str())
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
            }
        }
        if let Some(knee) = k.knee_per_s {
            chart
                .draw_series(LineSeries::new(
                    vec![(knee, y_min.max(0.001)), (knee, y_max)],
                    GREEN.stroke_width(2),
                ))?
                .label("knee")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => svg,
        Err(e) => fallback(&e.to_string()),
    }
}

/// Memory against hit rate.
pub fn memory_hit_rate(h: &HitRateStudy, target: f64) -> String {
    let mut svg = String::new();
    let points: Vec<(f64, f64)> = h
        .points
        .iter()
        .filter_map(|p| Some((p.fraction * 100.0, p.hit_rate? * 100.0)))
        .collect();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Hit rate against maxmemory ({})", h.policy),
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..100.0, 0f64..100.0)?;
        chart
            .configure_mesh()
            .x_desc("maxmemory (% of the working set)")
            .y_desc("hit rate (%)")
            .draw()?;
        chart
            .draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)))?
            .label("hit rate")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))?;
        let t = target * 100.0;
        chart
            .draw_series(LineSeries::new(vec![(0.0, t), (100.0, t)], BLACK.mix(0.5)))?
            .label(format!("target {t:.0}%"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
        if let Some(f) = h.fraction_needed {
            chart
                .draw_series(LineSeries::new(
                    vec![(f * 100.0, 0.0), (f * 100.0, 100.0)],
                    GREEN.stroke_width(2),
                ))?
                .label("needed")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => svg,
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
