//! The circuit breaker's state over time as a coloured band (closed, half-open, open),
//! with the fault windows as labelled bars beneath it and shaded across both rows: whether
//! the breaker opened when the fault began and closed after it ended is read at a glance.

use super::theme::{AMBER, FAULT, FG, GREEN, RED};
use super::{frame, new_svg, Spans};
use crate::cache::BreakerState;
use crate::report::summary::RunSummary;
use plotters::prelude::*;

/// One stretch of constant breaker state, seconds since the run started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Start, s.
    pub start: f64,
    /// End, s.
    pub end: f64,
    /// The state throughout.
    pub state: BreakerState,
}

/// The breaker's states from 0 to `end`: the state before the first transition (its `from`,
/// else the series' first known state, else the final state) and one segment per
/// transition. Empty when the target has no breaker.
pub fn segments(s: &RunSummary, end: f64) -> Vec<Segment> {
    let transitions = &s.breaker.transitions;
    let initial = transitions
        .first()
        .map(|t| t.from)
        .or_else(|| s.timeseries.iter().find_map(|p| p.breaker))
        .or(s.breaker.final_state);
    let Some(mut state) = initial else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut start = 0.0;
    for t in transitions {
        let at = t.t_s.clamp(start, end);
        if at > start {
            out.push(Segment {
                start,
                end: at,
                state,
            });
        }
        start = at;
        state = t.to;
    }
    if end > start {
        out.push(Segment { start, end, state });
    }
    out
}

fn color(state: BreakerState) -> RGBColor {
    match state {
        BreakerState::Closed => GREEN,
        BreakerState::HalfOpen => AMBER,
        BreakerState::Open => RED,
    }
}

/// Row centres on the y axis.
const BREAKER_ROW: f64 = 1.5;
const FAULT_ROW: f64 = 0.5;

/// The band chart.
pub fn band(s: &RunSummary, spans: &Spans) -> std::io::Result<String> {
    let segs = segments(s, spans.end);
    new_svg(super::BAND_HEIGHT, |root| {
        let mut chart = frame(root, "Circuit breaker state and fault windows")
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..spans.end, 0.0..2.0)?;
        let row_name = |y: &f64| {
            if (y - BREAKER_ROW).abs() < 1e-9 {
                "breaker".to_string()
            } else if (y - FAULT_ROW).abs() < 1e-9 {
                "faults".to_string()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .axis_style(FG)
            .disable_y_mesh()
            .bold_line_style(FG.mix(0.16))
            .light_line_style(FG.mix(0.06))
            .label_style(super::label_font())
            .axis_desc_style(super::label_font())
            .x_label_formatter(&|v| super::short_number(*v))
            .y_labels(5)
            .y_label_formatter(&row_name)
            .draw()?;
        // Faults shaded across both rows, then drawn as labelled bars in their own row.
        if !spans.faults.is_empty() {
            let shaded = (spans.faults.iter())
                .map(|f| Rectangle::new([(f.start, 0.0), (f.end, 2.0)], FAULT.mix(0.12).filled()));
            chart.draw_series(shaded)?;
            let bars = (spans.faults.iter()).map(|f| {
                Rectangle::new(
                    [(f.start, FAULT_ROW - 0.3), (f.end, FAULT_ROW + 0.3)],
                    FAULT.mix(0.55).filled(),
                )
            });
            chart
                .draw_series(bars)?
                .label("fault window")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 18, y + 5)], FAULT.mix(0.55).filled())
                });
            let names = (spans.faults.iter()).map(|f| {
                Text::new(
                    f.label.clone(),
                    (f.start, FAULT_ROW + 0.42),
                    super::label_font(),
                )
            });
            chart.draw_series(names)?;
        } else {
            chart.draw_series([Text::new(
                "no faults injected",
                (spans.end * 0.01, FAULT_ROW + 0.1),
                super::label_font(),
            )])?;
        }
        if segs.is_empty() {
            chart.draw_series([Text::new(
                "no circuit breaker on this target",
                (spans.end * 0.01, BREAKER_ROW + 0.1),
                super::label_font(),
            )])?;
        }
        // One series per state, so each state has one legend entry.
        for state in [
            BreakerState::Closed,
            BreakerState::HalfOpen,
            BreakerState::Open,
        ] {
            let rects: Vec<_> = (segs.iter().filter(|g| g.state == state))
                .map(|g| {
                    Rectangle::new(
                        [(g.start, BREAKER_ROW - 0.3), (g.end, BREAKER_ROW + 0.3)],
                        color(state).mix(0.85).filled(),
                    )
                })
                .collect();
            if rects.is_empty() {
                continue;
            }
            let c = color(state);
            chart
                .draw_series(rects)?
                .label(state.name())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(plotters::chart::SeriesLabelPosition::UpperRight)
            .background_style(super::theme::BG.mix(0.85))
            .border_style(FG.mix(0.3))
            .label_font(super::label_font())
            .draw()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use crate::report::BreakerTransition;

    fn transition(t_s: f64, from: BreakerState, to: BreakerState) -> BreakerTransition {
        BreakerTransition {
            t_s,
            from,
            to,
            cause: String::new(),
            failures: Default::default(),
        }
    }

    #[test]
    fn segments_follow_the_transitions_from_the_first_state() {
        let mut s = fixture::summary();
        s.breaker.transitions = vec![
            transition(3.0, BreakerState::Closed, BreakerState::Open),
            transition(8.0, BreakerState::Open, BreakerState::HalfOpen),
            transition(8.5, BreakerState::HalfOpen, BreakerState::Closed),
        ];
        let segs = segments(&s, 12.0);
        let got: Vec<_> = segs.iter().map(|g| (g.start, g.end, g.state)).collect();
        assert_eq!(
            got,
            vec![
                (0.0, 3.0, BreakerState::Closed),
                (3.0, 8.0, BreakerState::Open),
                (8.0, 8.5, BreakerState::HalfOpen),
                (8.5, 12.0, BreakerState::Closed),
            ]
        );
    }

    #[test]
    fn no_breaker_means_no_segments_and_no_transitions_one_segment() {
        let mut s = fixture::summary();
        s.breaker.transitions.clear();
        s.breaker.final_state = None;
        for p in &mut s.timeseries {
            p.breaker = None;
        }
        assert!(segments(&s, 10.0).is_empty());
        s.breaker.final_state = Some(BreakerState::Closed);
        assert_eq!(
            segments(&s, 10.0),
            vec![Segment {
                start: 0.0,
                end: 10.0,
                state: BreakerState::Closed
            }]
        );
    }
}
