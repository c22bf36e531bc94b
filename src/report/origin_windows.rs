//! Origin load during windows of the run: each fault window and each period the breaker was
//! not closed. While Redis is out and the fallback is empty, every miss goes to the origin
//! (the herd behind the fallback); these figures show how hard it was hit, so a drill with
//! `cache.single_flight` on and one with it off can be compared side by side.
//!
//! The figures come from the per-second time series: every interval that overlaps the window
//! counts whole, so a window is widened to the seconds it touches. Calls per second are the
//! calls over those seconds; the queue-wait p99 is the worst second's p99 (an upper bound of
//! the window's own p99, which the series cannot give exactly); peak and max are exact.

use super::aggregate::TimePoint;
use super::summary::{round_to, BreakerTransition};
use crate::cache::BreakerState;
use serde::{Deserialize, Serialize};

/// Why a window is reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// A fault of the scenario's timeline was in effect.
    Fault,
    /// The breaker was open or half-open: the fallback served.
    #[default]
    BreakerOpen,
}

/// Origin load during one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OriginWindow {
    /// Fault window or breaker-open period.
    pub kind: WindowKind,
    /// The fault's name, or `breaker open #n`.
    pub name: String,
    /// Start of the window, seconds since the load started.
    pub start_s: f64,
    /// End of the window (the run's end for a breaker that never closed again).
    pub end_s: f64,
    /// Length of the time-series intervals that overlap the window, seconds.
    pub covered_s: f64,
    /// Origin calls in those intervals.
    pub calls: u64,
    /// calls / covered_s.
    pub calls_per_s: f64,
    /// Most origin connections in use at once.
    pub peak_concurrency: u64,
    /// The worst second's 99th percentile wait for an origin connection, µs.
    pub queue_wait_p99_us: u64,
    /// Longest wait for an origin connection, µs.
    pub queue_wait_max_us: u64,
}

/// Origin load in `[start_s, end_s]` from `series`.
pub fn measure(
    kind: WindowKind,
    name: String,
    start_s: f64,
    end_s: f64,
    series: &[TimePoint],
) -> OriginWindow {
    let mut w = OriginWindow {
        kind,
        name,
        start_s: round_to(start_s, 3),
        end_s: round_to(end_s, 3),
        ..OriginWindow::default()
    };
    let mut previous_end = 0.0;
    for p in series {
        let (from, to) = (previous_end, p.t_s);
        previous_end = p.t_s;
        if to <= start_s || from >= end_s.max(start_s + f64::EPSILON) {
            continue;
        }
        w.covered_s += to - from;
        w.calls += p.origin_calls;
        w.peak_concurrency = w.peak_concurrency.max(p.backlog.origin_peak);
        w.queue_wait_p99_us = w.queue_wait_p99_us.max(p.backlog.origin_wait_p99_us);
        w.queue_wait_max_us = w.queue_wait_max_us.max(p.backlog.origin_wait_max_us);
    }
    w.covered_s = round_to(w.covered_s, 3);
    if w.covered_s > 0.0 {
        w.calls_per_s = round_to(w.calls as f64 / w.covered_s, 1);
    }
    w
}

/// The periods the breaker was not closed: from each transition out of CLOSED to the next
/// transition back to it, or to `end_s` when it never closed again.
pub fn breaker_periods(transitions: &[BreakerTransition], end_s: f64) -> Vec<(f64, f64)> {
    let mut periods = Vec::new();
    let mut opened: Option<f64> = None;
    for t in transitions {
        match (t.from, t.to, opened) {
            (BreakerState::Closed, to, None) if to != BreakerState::Closed => opened = Some(t.t_s),
            (_, BreakerState::Closed, Some(from)) => {
                periods.push((from, t.t_s));
                opened = None;
            }
            _ => {}
        }
    }
    if let Some(from) = opened {
        periods.push((from, end_s.max(from)));
    }
    periods
}

/// Origin load during every breaker-open period of `transitions`.
pub fn while_breaker_open(
    transitions: &[BreakerTransition],
    end_s: f64,
    series: &[TimePoint],
) -> Vec<OriginWindow> {
    breaker_periods(transitions, end_s)
        .into_iter()
        .enumerate()
        .map(|(i, (from, to))| {
            let name = format!("breaker open #{}", i + 1);
            measure(WindowKind::BreakerOpen, name, from, to, series)
        })
        .collect()
}

/// Origin load during every fault that took effect, from its actual start to its end (the
/// run's end when it was never undone).
pub fn during_faults(
    faults: &[super::faults::FaultRecord],
    end_s: f64,
    series: &[TimePoint],
) -> Vec<OriginWindow> {
    faults
        .iter()
        .filter_map(|f| {
            let start = f.started_s?;
            let end = f.ended_s.unwrap_or(end_s).max(start);
            Some(measure(
                WindowKind::Fault,
                f.name.clone(),
                start,
                end,
                series,
            ))
        })
        .collect()
}

/// One line per window for the summaries, e.g. "breaker open #1 (2.0–5.5 s): 610 origin
/// calls/s, peak 10 connections, queue wait p99 6.8s, max 7.1s".
pub fn describe(w: &OriginWindow) -> String {
    format!(
        "{} ({:.1}–{:.1} s): {} origin calls/s, peak {} connections, queue wait p99 {}, max {}",
        w.name,
        w.start_s,
        w.end_s,
        super::format::count(w.calls_per_s.round() as u64),
        super::format::count(w.peak_concurrency),
        super::format::us(w.queue_wait_p99_us),
        super::format::us(w.queue_wait_max_us)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::backlog::BacklogPoint;

    fn point(t_s: f64, calls: u64, peak: u64, p99: u64, max: u64) -> TimePoint {
        TimePoint {
            t_s,
            ops: 0,
            throughput: 0.0,
            p50_us: None,
            p95_us: None,
            p99_us: None,
            hits: 0,
            misses: 0,
            errors: 0,
            origin_calls: calls,
            fallback_ops: 0,
            breaker: None,
            warmup: false,
            lag_p99_us: None,
            backlog: BacklogPoint {
                origin_peak: peak,
                origin_wait_p99_us: p99,
                origin_wait_max_us: max,
                ..BacklogPoint::default()
            },
            redis_errors: 0,
            stale_reads: 0,
            faults: Vec::new(),
        }
    }

    fn transition(t_s: f64, from: BreakerState, to: BreakerState) -> BreakerTransition {
        BreakerTransition {
            t_s,
            from,
            to,
            cause: String::new(),
            failures: 0,
        }
    }

    #[test]
    fn a_window_takes_the_seconds_it_touches() {
        let series = [
            point(1.0, 10, 2, 100, 200),
            point(2.0, 600, 10, 6_000_000, 6_800_000),
            point(3.0, 620, 10, 5_000_000, 7_100_000),
            point(4.0, 20, 3, 0, 10),
        ];
        let w = measure(WindowKind::Fault, "pause".into(), 1.5, 2.5, &series);
        assert_eq!((w.covered_s, w.calls), (2.0, 1220));
        assert_eq!(w.calls_per_s, 610.0);
        assert_eq!(w.peak_concurrency, 10);
        assert_eq!(w.queue_wait_p99_us, 6_000_000, "the worst second's p99");
        assert_eq!(w.queue_wait_max_us, 7_100_000);
        let line = describe(&w);
        assert!(
            line.starts_with("pause (1.5–2.5 s): 610 origin calls/s, peak 10"),
            "{line}"
        );
        let empty = measure(WindowKind::Fault, "late".into(), 9.0, 10.0, &series);
        assert_eq!((empty.calls, empty.calls_per_s), (0, 0.0));
    }

    #[test]
    fn each_fault_that_took_effect_gets_its_window() {
        use crate::report::faults::FaultRecord;
        let fault = |name: &str, started: Option<f64>, ended: Option<f64>| FaultRecord {
            name: name.into(),
            kind: "pause".into(),
            planned_at_s: 1.0,
            planned_for_s: 1.0,
            started_s: started,
            ended_s: ended,
            undone: ended.is_some(),
            detail: String::new(),
            error: None,
            breaker_failures_at_start: None,
        };
        let series = [
            point(1.0, 5, 1, 0, 0),
            point(2.0, 600, 10, 100, 200),
            point(3.0, 7, 1, 0, 0),
        ];
        let windows = during_faults(
            &[
                fault("pause1", Some(1.02), Some(1.98)),
                fault("never", None, None),
                fault("stuck", Some(2.5), None),
            ],
            3.0,
            &series,
        );
        assert_eq!(windows.len(), 2, "a fault that never started has no window");
        assert_eq!(
            (windows[0].kind, windows[0].name.as_str()),
            (WindowKind::Fault, "pause1")
        );
        assert_eq!((windows[0].calls, windows[0].calls_per_s), (600, 600.0));
        assert_eq!((windows[1].end_s, windows[1].calls), (3.0, 7));
    }

    #[test]
    fn breaker_periods_run_from_leaving_closed_to_closing_again() {
        use BreakerState::{Closed, HalfOpen, Open};
        let transitions = [
            transition(1.2, Closed, Open),
            transition(2.2, Open, HalfOpen),
            transition(2.3, HalfOpen, Open),
            transition(3.3, Open, HalfOpen),
            transition(3.4, HalfOpen, Closed),
            transition(5.0, Closed, Open),
        ];
        assert_eq!(breaker_periods(&transitions, 6.0), [(1.2, 3.4), (5.0, 6.0)]);
        let series = [point(1.0, 1, 1, 0, 0), point(2.0, 50, 4, 10, 20)];
        let windows = while_breaker_open(&transitions, 6.0, &series);
        assert_eq!(windows[0].name, "breaker open #1");
        assert_eq!(windows[0].calls, 50, "the second from 1 s to 2 s");
        assert_eq!(windows[1].kind, WindowKind::BreakerOpen);
    }
}
