//! Each chart parses as XML and holds its series: one polyline per series with one vertex
//! per second of a synthetic report, shaded fault windows and breaker segments.

use super::theme::{AMBER, BLUE, FAULT, GREEN, GREY, PURPLE, RED};
use super::*;
use crate::cache::BreakerState;
use crate::report::faults::FaultRecord;
use crate::report::fixture;
use crate::report::{BreakerTransition, TimePoint};

/// Seconds in the synthetic report.
const POINTS: usize = 20;

/// A 20 s report: 2 s warmup, a fault from 6 to 11 s, the breaker opening at 6.4 s,
/// half-open at 10 s and closed at 11.2 s; errors and fallback while it was open.
pub(crate) fn synthetic() -> RunSummary {
    let mut s = fixture::summary();
    let template = s.timeseries[0].clone();
    s.timeseries = (1..=POINTS)
        .map(|i| {
            let t = i as f64;
            let faulty = (7..=11).contains(&i);
            TimePoint {
                t_s: t,
                ops: 1_000,
                throughput: 1_000.0 + 10.0 * t,
                p50_us: Some(400 + i as u64),
                p95_us: Some(900 + 10 * i as u64),
                p99_us: Some(if faulty { 45_000 } else { 2_000 }),
                hits: 800,
                misses: 200,
                errors: if faulty { 50 } else { 0 },
                fallback_ops: if faulty { 900 } else { 0 },
                breaker: Some(if faulty {
                    BreakerState::Open
                } else {
                    BreakerState::Closed
                }),
                warmup: i <= 2,
                ..template.clone()
            }
        })
        .collect();
    s.duration_s = POINTS as f64;
    s.measured_window = crate::report::Window::new(2.0, POINTS as f64);
    let tr = |t_s, from, to| BreakerTransition {
        t_s,
        from,
        to,
        cause: "test".into(),
        failures: Default::default(),
    };
    s.breaker.transitions = vec![
        tr(6.4, BreakerState::Closed, BreakerState::Open),
        tr(10.0, BreakerState::Open, BreakerState::HalfOpen),
        tr(11.2, BreakerState::HalfOpen, BreakerState::Closed),
    ];
    s.breaker.final_state = Some(BreakerState::Closed);
    s.faults = vec![FaultRecord {
        name: "cut-redis".into(),
        kind: "blackhole".into(),
        planned_at_s: 6.0,
        planned_for_s: 5.0,
        started_s: Some(6.0),
        ended_s: Some(11.0),
        undone: true,
        detail: String::new(),
        error: None,
        breaker_failures_at_start: None,
    }];
    s
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// Vertex counts of the polylines stroked in `color`.
fn polylines(doc: &roxmltree::Document, color: RGBColor) -> Vec<usize> {
    let color = hex(color);
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(color.as_str()))
        .map(|n| {
            n.attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .count()
        })
        .collect()
}

/// `rect`s filled in `color`.
fn rects(doc: &roxmltree::Document, color: RGBColor) -> usize {
    let color = hex(color);
    doc.descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(color.as_str()))
        .count()
}

fn texts(doc: &roxmltree::Document) -> String {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("|")
}

fn chart<'a>(charts: &'a [Chart], name: &str) -> &'a Chart {
    charts.iter().find(|c| c.name == name).expect("chart")
}

/// A data series: its polyline has one vertex per point (the legend's sample has 2).
fn assert_series(doc: &roxmltree::Document, color: RGBColor, points: usize, what: &str) {
    let lines = polylines(doc, color);
    assert!(
        lines.contains(&points),
        "{what}: polylines {lines:?}, want one of {points}"
    );
    assert!(lines.contains(&2), "{what}: no legend sample in {lines:?}");
}

#[test]
fn every_chart_parses_and_the_time_charts_hold_one_vertex_per_second() {
    let charts = charts(&synthetic(), None).expect("charts");
    let names: Vec<_> = charts.iter().map(|c| c.name).collect();
    assert_eq!(names, CHART_NAMES);
    for c in &charts {
        for svg in [c.svg(), c.inline_svg(), c.light_svg()] {
            let doc = roxmltree::Document::parse(&svg)
                .unwrap_or_else(|e| panic!("{} is not XML: {e}", c.name));
            assert_eq!(doc.root_element().tag_name().name(), "svg");
        }
    }
    let raw = |name| chart(&charts, name).raw.clone();

    let latency = raw("latency");
    let doc = roxmltree::Document::parse(&latency).unwrap();
    assert_series(&doc, BLUE, POINTS, "p50");
    assert_series(&doc, AMBER, POINTS, "p95");
    assert_series(&doc, RED, POINTS, "p99");
    let labels = texts(&doc);
    for want in [
        "p50",
        "p95",
        "p99",
        "response time (ms, log scale)",
        "time since start (s)",
    ] {
        assert!(
            labels.contains(want),
            "latency chart lacks {want:?}: {labels}"
        );
    }
    // One shaded fault window plus its legend swatch.
    assert_eq!(rects(&doc, FAULT), 2);

    let throughput = raw("throughput");
    let doc = roxmltree::Document::parse(&throughput).unwrap();
    assert_series(&doc, GREEN, POINTS, "throughput");
    assert_series(&doc, AMBER, POINTS, "hit rate");
    let labels = texts(&doc);
    assert!(labels.contains("throughput (ops/s)") && labels.contains("hit rate (%)"));

    let errors = raw("errors");
    let doc = roxmltree::Document::parse(&errors).unwrap();
    assert_series(&doc, RED, POINTS, "error rate");
    assert_series(&doc, PURPLE, POINTS, "fallback");
    assert!(texts(&doc).contains("share of operations (%)"));
}

#[test]
fn breaker_band_has_a_segment_per_state_and_the_fault_labelled() {
    let charts = charts(&synthetic(), None).expect("charts");
    let band = chart(&charts, "breaker").raw.clone();
    let doc = roxmltree::Document::parse(&band).unwrap();
    // closed, open, half-open, closed: 2 closed segments + legend, 1 open + legend, ...
    assert_eq!(rects(&doc, GREEN), 3);
    assert_eq!(rects(&doc, RED), 2);
    assert_eq!(rects(&doc, AMBER), 2);
    // Shading across both rows, the bar in the fault row and the legend swatch.
    assert_eq!(rects(&doc, FAULT), 3);
    let labels = texts(&doc);
    for want in [
        "cut-redis (blackhole)",
        "CLOSED",
        "OPEN",
        "HALF_OPEN",
        "breaker",
        "faults",
    ] {
        assert!(labels.contains(want), "band lacks {want:?}: {labels}");
    }
}

#[test]
fn percentile_curve_overlays_the_baseline_when_given() {
    let s = synthetic();
    let alone = charts(&s, None).expect("charts");
    let doc_text = chart(&alone, "percentiles").raw.clone();
    let doc = roxmltree::Document::parse(&doc_text).unwrap();
    let response = polylines(&doc, BLUE);
    assert!(
        response.iter().any(|&n| n > 10),
        "response curve: {response:?}"
    );
    assert!(polylines(&doc, PURPLE).iter().any(|&n| n > 10));
    assert!(polylines(&doc, GREY).is_empty());
    let labels = texts(&doc);
    assert!(
        labels.contains("99.9%") && labels.contains("0%"),
        "{labels}"
    );

    let with = charts(&s, Some(&fixture::slow_cache())).expect("charts");
    let doc_text = chart(&with, "percentiles").raw.clone();
    let doc = roxmltree::Document::parse(&doc_text).unwrap();
    assert!(polylines(&doc, GREY).iter().any(|&n| n > 10));
    assert!(texts(&doc).contains("baseline response time"));
}

#[test]
fn a_report_without_points_or_faults_still_draws_every_chart() {
    let mut s = fixture::summary();
    s.timeseries.clear();
    s.histograms = Default::default();
    s.breaker = Default::default();
    let charts = charts(&s, None).expect("charts");
    assert_eq!(charts.len(), CHART_NAMES.len());
    let band = chart(&charts, "breaker").svg();
    assert!(band.contains("no circuit breaker on this target"));
    assert!(band.contains("no faults injected"));
    assert!(chart(&charts, "percentiles")
        .svg()
        .contains("no operations were measured"));
}

#[test]
fn a_corrupt_histogram_is_named() {
    let mut s = fixture::summary();
    s.histograms
        .response
        .insert("overall".into(), "not base64!".into());
    let err = charts(&s, None).expect_err("corrupt histogram");
    assert!(
        err.to_string().contains("histograms.response.overall"),
        "{err}"
    );
}

#[test]
fn spans_cover_warmup_and_clip_faults_to_the_run() {
    let mut s = synthetic();
    s.faults[0].ended_s = None;
    // Planned to last past the run's end.
    s.faults[0].planned_for_s = 1e9;
    s.faults.push(FaultRecord {
        started_s: None,
        ..s.faults[0].clone()
    });
    let spans = Spans::of(&s);
    assert_eq!(spans.end, POINTS as f64);
    assert_eq!(spans.warmup, Some((0.0, 2.0)));
    assert_eq!(
        spans.faults.len(),
        1,
        "a fault that never started is not drawn"
    );
    assert_eq!(
        (spans.faults[0].start, spans.faults[0].end),
        (6.0, POINTS as f64)
    );
}

#[test]
fn tick_labels_are_short() {
    assert_eq!(short_number(0.0), "0");
    assert_eq!(short_number(0.05), "0.05");
    assert_eq!(short_number(2.5), "2.5");
    assert_eq!(short_number(40.0), "40");
    assert_eq!(short_number(12_000.0), "12k");
    assert_eq!(short_number(1_500_000.0), "1.5M");
}
