//! The drills' breaker expectations, measured from report.json alone: the fault's actual
//! window (`faults[]`), the breaker's transitions (`breaker.transitions`, with the failure
//! count at each) and the commands the fault proxy saw while the breaker was open
//! (`breaker.calls_while_open`).
//!
//! Each per-fault metric reads the fault's *episode*: from its actual start until the
//! breaker is CLOSED again after its actual end (or the end of the run if it never is).
//!
//! - `breaker.opens_within`: start → the first OPEN at or after it (0 if already open).
//! - `breaker.failures_before_open`: failures counted from the start until that OPEN.
//! - `breaker.recovers_within`: end → the first CLOSED at or after it (0 if closed then).
//! - `breaker.half_open_probes`: HALF_OPEN entries during the episode.
//! - `redis_calls_while_open`: commands forwarded to Redis while OPEN during the episode.
//! - `breaker.final_state`: the state at the end of the run.

use super::faults::FaultRecord;
use super::summary::{BreakerTransition, RunSummary};
use super::thresholds::Measurement;
use crate::cache::BreakerState;
use crate::scenario::threshold::BreakerMetric;
use crate::scenario::TargetKind;

/// The value of a `breaker.*` expectation for `fault` (`None`: the run's only fault).
pub fn breaker(summary: &RunSummary, metric: BreakerMetric, fault: Option<&str>) -> Measurement {
    use Measurement::{NoData, NotApplicable, Value};
    if summary.breaker.final_state.is_none() {
        return NotApplicable(format!(
            "no circuit breaker (target.kind = {}); only the managed layer has one",
            kind_name(summary.target.kind)
        ));
    }
    if metric == BreakerMetric::FinalState {
        return Value(state_number(
            summary.breaker.final_state.unwrap_or(BreakerState::Closed),
        ));
    }
    let f = match episode(summary, fault) {
        Ok(f) => f,
        Err(why) => return NoData(why),
    };
    let transitions = &summary.breaker.transitions;
    match metric {
        BreakerMetric::OpensWithin => match f.opened {
            Some(t) => Value(((t.t_s - f.start).max(0.0) * 1e6).round()),
            None => NoData(format!(
                "no data: the breaker never opened after `{}` started",
                f.name
            )),
        },
        BreakerMetric::FailuresBeforeOpen => match (f.opened, f.failures_at_start) {
            (Some(t), Some(before)) if t.t_s >= f.start => {
                Value(t.failures.saturating_sub(before) as f64)
            }
            (Some(_), _) => Value(0.0),
            (None, _) => NoData(format!(
                "no data: the breaker never opened after `{}` started",
                f.name
            )),
        },
        BreakerMetric::RecoversWithin => match (f.end, f.closed) {
            (None, _) => NoData(format!("no data: `{}` was never undone", f.name)),
            (Some(end), Some(closed_at)) => Value(((closed_at - end).max(0.0) * 1e6).round()),
            (Some(_), None) => NoData(format!(
                "no data: the breaker did not close after `{}` ended",
                f.name
            )),
        },
        BreakerMetric::HalfOpenProbes => {
            let until = f.closed.unwrap_or(f64::INFINITY);
            let n = transitions
                .iter()
                .filter(|t| t.to == BreakerState::HalfOpen && t.t_s >= f.start && t.t_s <= until)
                .count();
            Value(n as f64)
        }
        BreakerMetric::FinalState => unreachable!("handled above"),
    }
}

/// `redis_calls_while_open` for `fault` (`None`: the run's only fault; a report read back
/// without faults counts the whole run).
pub fn calls_while_open(summary: &RunSummary, fault: Option<&str>) -> Measurement {
    use Measurement::{NoData, NotApplicable, Value};
    let Some(seen) = &summary.breaker.calls_while_open else {
        return NotApplicable(
            "no fault proxy counted the commands (the run had no breaker or no proxy)".into(),
        );
    };
    if summary.faults.is_empty() && fault.is_none() {
        return Value(seen.iter().map(|c| c.commands).sum::<u64>() as f64);
    }
    let f = match episode(summary, fault) {
        Ok(f) => f,
        Err(why) => return NoData(why),
    };
    let until = f.closed.unwrap_or(f64::INFINITY);
    let n: u64 = seen
        .iter()
        .filter(|c| c.t_s >= f.start && c.t_s <= until)
        .map(|c| c.commands)
        .sum();
    Value(n as f64)
}

/// One fault's episode on the breaker's timeline.
struct Episode<'a> {
    name: &'a str,
    start: f64,
    end: Option<f64>,
    failures_at_start: Option<u64>,
    /// The first change to OPEN at or after the start (or the one in force then).
    opened: Option<&'a BreakerTransition>,
    /// When the breaker was CLOSED again at or after the end (the end itself when it was
    /// closed then).
    closed: Option<f64>,
}

fn episode<'a>(summary: &'a RunSummary, fault: Option<&str>) -> Result<Episode<'a>, String> {
    let f: &FaultRecord = match fault {
        Some(name) => summary.faults.iter().find(|f| f.name == name),
        None if summary.faults.len() == 1 => summary.faults.first(),
        None => None,
    }
    .ok_or_else(|| match fault {
        Some(name) => format!("no data: the run had no fault `{name}`"),
        None => "no data: name the fault, like breaker.opens_within[kill1]".to_string(),
    })?;
    let start = f
        .started_s
        .ok_or_else(|| format!("no data: `{}` never started", f.name))?;
    let transitions = &summary.breaker.transitions;
    let in_force = |t: f64| {
        transitions
            .iter()
            .rev()
            .find(|tr| tr.t_s <= t)
            .map_or(BreakerState::Closed, |tr| tr.to)
    };
    let opened = if in_force(start) == BreakerState::Open {
        transitions.iter().rev().find(|tr| tr.t_s <= start)
    } else {
        transitions
            .iter()
            .find(|tr| tr.t_s >= start && tr.to == BreakerState::Open)
    };
    let closed = f.ended_s.and_then(|end| {
        if in_force(end) == BreakerState::Closed {
            Some(end)
        } else {
            transitions
                .iter()
                .find(|tr| tr.t_s >= end && tr.to == BreakerState::Closed)
                .map(|tr| tr.t_s)
        }
    });
    Ok(Episode {
        name: &f.name,
        start,
        end: f.ended_s,
        failures_at_start: f.breaker_failures_at_start,
        opened,
        closed,
    })
}

fn state_number(s: BreakerState) -> f64 {
    match s {
        BreakerState::Closed => 0.0,
        BreakerState::Open => 1.0,
        BreakerState::HalfOpen => 2.0,
    }
}

fn kind_name(k: TargetKind) -> &'static str {
    match k {
        TargetKind::Managed => "managed",
        TargetKind::Redis => "redis",
        TargetKind::Memory => "memory",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::faults::CallsWhileOpen;
    use crate::report::fixture;
    use crate::report::thresholds::measurement_of;
    use crate::scenario::threshold::Metric;

    fn tr(t_s: f64, from: BreakerState, to: BreakerState, failures: u64) -> BreakerTransition {
        BreakerTransition {
            t_s,
            from,
            to,
            cause: String::new(),
            failures,
        }
    }

    /// A kill from 2 s to 5 s: OPEN at 2.4 s after 6 failures (3 before), HALF_OPEN at
    /// 3.4 s (probe fails), 4.4 s (probe fails) and 5.4 s, CLOSED at 5.6 s.
    fn drill() -> RunSummary {
        use BreakerState::*;
        let mut s = fixture::summary();
        s.breaker.transitions = vec![
            tr(2.4, Closed, Open, 9),
            tr(3.4, Open, HalfOpen, 9),
            tr(3.5, HalfOpen, Open, 10),
            tr(4.4, Open, HalfOpen, 10),
            tr(4.5, HalfOpen, Open, 11),
            tr(5.4, Open, HalfOpen, 11),
            tr(5.6, HalfOpen, Closed, 11),
        ];
        s.breaker.final_state = Some(Closed);
        s.breaker.calls_while_open = Some(vec![
            CallsWhileOpen {
                t_s: 1.0,
                commands: 7,
            },
            CallsWhileOpen {
                t_s: 3.0,
                commands: 2,
            },
        ]);
        s.faults = vec![FaultRecord {
            name: "kill1".into(),
            kind: "kill".into(),
            planned_at_s: 2.0,
            planned_for_s: 3.0,
            started_s: Some(2.01),
            ended_s: Some(5.2),
            undone: true,
            detail: String::new(),
            error: None,
            breaker_failures_at_start: Some(3),
        }];
        s
    }

    fn value(s: &RunSummary, m: Metric, fault: Option<&str>) -> Measurement {
        measurement_of(s, &m, fault)
    }

    #[test]
    fn a_kill_episode_is_measured_from_the_faults_actual_window() {
        let s = drill();
        let b = |m| value(&s, Metric::Breaker(m), Some("kill1"));
        assert_eq!(b(BreakerMetric::OpensWithin), Measurement::Value(390_000.0));
        assert_eq!(
            b(BreakerMetric::FailuresBeforeOpen),
            Measurement::Value(6.0)
        );
        assert_eq!(
            b(BreakerMetric::RecoversWithin),
            Measurement::Value(400_000.0)
        );
        assert_eq!(b(BreakerMetric::HalfOpenProbes), Measurement::Value(3.0));
        assert_eq!(b(BreakerMetric::FinalState), Measurement::Value(0.0));
        // Only the commands seen during the episode count.
        assert_eq!(
            value(&s, Metric::RedisCallsWhileOpen, None),
            Measurement::Value(2.0)
        );
    }

    #[test]
    fn a_breaker_that_never_opened_or_never_closed_has_no_data() {
        let mut s = drill();
        s.breaker.transitions.clear();
        let m = value(&s, Metric::Breaker(BreakerMetric::OpensWithin), None);
        assert_eq!(
            m,
            Measurement::NoData("no data: the breaker never opened after `kill1` started".into())
        );
        // Closed at the end of a fault it never opened for: recovered at once.
        assert_eq!(
            value(&s, Metric::Breaker(BreakerMetric::RecoversWithin), None),
            Measurement::Value(0.0)
        );
        let mut s = drill();
        s.breaker.transitions.truncate(1);
        assert!(matches!(
            value(&s, Metric::Breaker(BreakerMetric::RecoversWithin), None),
            Measurement::NoData(_)
        ));
        assert!(matches!(
            value(&s, Metric::Breaker(BreakerMetric::OpensWithin), Some("kill9")),
            Measurement::NoData(why) if why.contains("no fault `kill9`")
        ));
    }

    #[test]
    fn without_a_breaker_or_a_proxy_the_expectations_do_not_apply() {
        let mut s = drill();
        s.breaker.calls_while_open = None;
        assert!(matches!(
            value(&s, Metric::RedisCallsWhileOpen, None),
            Measurement::NotApplicable(_)
        ));
        s.breaker.final_state = None;
        assert!(matches!(
            value(&s, Metric::Breaker(BreakerMetric::FinalState), None),
            Measurement::NotApplicable(_)
        ));
    }
}
