//! Charts of a run, drawn with plotters from a [`RunSummary`] alone (so `redline report`
//! re-draws them from report.json): [`charts`] returns each as SVG text.
//!
//! - [`timeline`]: latency percentiles (log scale), throughput with hit rate, and error and
//!   fallback rates, one point per second, warmup and fault windows shaded.
//! - [`breaker`]: the circuit breaker's state as a coloured band, fault windows beneath.
//! - [`percentile`]: latency by percentile in HdrHistogram's style (x from 0 to 99.999 % on
//!   a log `1/(1-p)` scale) from the histograms, with a baseline's curve when given.
//! - [`theme`]: colours that follow the page's light or dark scheme.
//!
//! Charts are drawn in sentinel colours and themed afterwards (see [`theme`]); [`Chart::svg`]
//! is the standalone file, [`Chart::inline_svg`] the version report.html embeds.

pub mod breaker;
pub mod percentile;
pub mod png;
pub mod theme;
pub mod timeline;

use crate::report::summary::RunSummary;
use plotters::chart::{ChartBuilder, ChartContext, SeriesLabelPosition};
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::io;
use theme::{BG, FG, FONT};

/// Width of every chart, pixels.
pub const WIDTH: u32 = 900;
/// Height of every chart but the breaker band, pixels.
pub const HEIGHT: u32 = 340;
/// Height of the breaker band chart, pixels: two rows need less room.
pub const BAND_HEIGHT: u32 = 230;

/// A plotters result whose error is the backend's.
pub(crate) type DrawResult<T, DB> =
    Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// What drawing into an SVG string can fail with.
pub(crate) type SvgResult = Result<(), DrawingAreaErrorKind<io::Error>>;

/// One drawn chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File stem: `latency` is written as `latency.svg`.
    pub name: &'static str,
    /// What it shows, as the figure's caption in report.html.
    pub title: &'static str,
    /// The chart as drawn, in sentinel colours (see [`theme`]).
    raw: String,
}

impl Chart {
    /// The standalone SVG file, following the viewer's colour scheme.
    pub fn svg(&self) -> String {
        theme::adaptive(&self.raw, true)
    }

    /// The SVG for embedding in an HTML page that sets the colours.
    pub fn inline_svg(&self) -> String {
        theme::adaptive(&self.raw, false)
    }

    /// The SVG in fixed light-theme colours (for rasterizing).
    pub fn light_svg(&self) -> String {
        theme::light(&self.raw)
    }
}

/// Every chart's file stem, in the order [`charts`] returns them.
pub const CHART_NAMES: [&str; 5] = ["latency", "throughput", "errors", "breaker", "percentiles"];

/// Draws every chart of `summary`; `baseline` adds its latency-by-percentile curve.
pub fn charts(summary: &RunSummary, baseline: Option<&RunSummary>) -> io::Result<Vec<Chart>> {
    let spans = Spans::of(summary);
    let chart = |name, title, raw| Chart { name, title, raw };
    Ok(vec![
        chart(
            "latency",
            "Response time per second: p50, p95 and p99",
            timeline::latency(summary, &spans)?,
        ),
        chart(
            "throughput",
            "Throughput and hit rate per second",
            timeline::throughput(summary, &spans)?,
        ),
        chart(
            "errors",
            "Error and fallback rates per second",
            timeline::errors(summary, &spans)?,
        ),
        chart(
            "breaker",
            "Circuit breaker state and fault windows",
            breaker::band(summary, &spans)?,
        ),
        chart(
            "percentiles",
            "Response time by percentile",
            percentile::curve(summary, baseline)?,
        ),
    ])
}

/// A span of the run drawn shaded.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpan {
    /// Seconds since the run started.
    pub start: f64,
    /// Seconds since the run started.
    pub end: f64,
    /// The fault's name and kind, e.g. `kill-primary (kill)`.
    pub label: String,
}

/// The time axis every time chart shares: its end, the warmup and the fault windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Spans {
    /// End of the x axis, seconds (at least 1).
    pub end: f64,
    /// Warmup, from the first point to the start of the measured window; `None` without one.
    pub warmup: Option<(f64, f64)>,
    /// When each fault was in force, clipped to the axis.
    pub faults: Vec<FaultSpan>,
}

impl Spans {
    /// The spans of `s`: a fault that started but never ended lasts to the end of the run;
    /// one that never started is not drawn.
    pub fn of(s: &RunSummary) -> Spans {
        let last_point = s.timeseries.last().map_or(0.0, |p| p.t_s);
        let fault_ends = s.faults.iter().filter_map(|f| f.ended_s);
        let end = fault_ends
            .chain([last_point, s.duration_s, s.measured_window.end_s])
            .fold(1.0, f64::max);
        let warmup = s.timeseries.iter().any(|p| p.warmup).then(|| {
            let t = s.measured_window.start_s;
            (0.0, if t > 0.0 { t } else { last_warmup_end(s) })
        });
        let faults = s
            .faults
            .iter()
            .filter_map(|f| {
                let start = f.started_s?;
                let end = f
                    .ended_s
                    .or(Some(start + f.planned_for_s))
                    .unwrap_or(end)
                    .clamp(start, end);
                Some(FaultSpan {
                    start,
                    end,
                    label: format!("{} ({})", f.name, f.kind),
                })
            })
            .collect();
        Spans {
            end,
            warmup: warmup.filter(|(a, b)| b > a),
            faults,
        }
    }
}

fn last_warmup_end(s: &RunSummary) -> f64 {
    s.timeseries
        .iter()
        .filter(|p| p.warmup)
        .map(|p| p.t_s)
        .fold(0.0, f64::max)
}

/// Draws a chart into a fresh SVG string; `draw` gets the whole drawing area.
pub(crate) fn new_svg(
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> SvgResult,
) -> io::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&BG).map_err(io::Error::other)?;
        draw(&root).map_err(|e| io::Error::other(format!("cannot draw a chart: {e}")))?;
        root.present()
            .map_err(|e| io::Error::other(format!("cannot draw a chart: {e}")))?;
    }
    Ok(out)
}

/// A chart builder with the common margins and caption.
pub(crate) fn frame<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(root);
    b.margin(12)
        .margin_right(36)
        .caption(caption, (FONT, 17).into_font().color(&FG));
    b
}

/// The font of tick labels and axis descriptions.
pub(crate) fn label_font() -> TextStyle<'static> {
    (FONT, 13).into_font().color(&FG)
}

/// Axes, grid and labels in the foreground colour, on a linear x axis with short numbers.
pub(crate) fn mesh<
    'a,
    DB: DrawingBackend + 'a,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    x_desc: &str,
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
) -> DrawResult<(), DB> {
    mesh_xy(chart, x_desc, y_desc, &|v| short_number(*v), y_format)
}

/// Axes, grid and labels in the foreground colour, with both axes' tick labels given.
pub(crate) fn mesh_xy<
    'a,
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    x_desc: &str,
    y_desc: &str,
    x_format: &dyn Fn(&f64) -> String,
    y_format: &dyn Fn(&f64) -> String,
) -> DrawResult<(), DB> {
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_style(FG)
        .bold_line_style(FG.mix(0.16))
        .light_line_style(FG.mix(0.06))
        .label_style(label_font())
        .axis_desc_style(label_font())
        .x_label_formatter(x_format)
        .y_label_formatter(y_format)
        .draw()
}

/// The legend, top left, on the chart's background.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> DrawResult<(), DB> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(BG.mix(0.85))
        .border_style(FG.mix(0.3))
        .label_font(label_font())
        .draw()
}

/// A tick label: `0.05`, `2.5`, `40`, `12k`, `1.5M`.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        trim(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.1}"))
    } else if a >= 0.01 {
        trim(format!("{v:.2}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
pub(crate) mod tests;
