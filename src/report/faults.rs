//! The report's `faults` section: each fault of the drill's timeline with its planned and
//! actual start and end, on the clock of `timeseries[].t_s`, and the marking of the time
//! series with the faults active in each second.

use super::aggregate::TimePoint;
use serde::{Deserialize, Serialize};

/// One fault as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// The fault's name (`kill1`), as expectations name it.
    pub name: String,
    /// Its kind (`kill`, `latency`, ...).
    pub kind: String,
    /// Planned start, seconds since the load started.
    pub planned_at_s: f64,
    /// Planned length, seconds.
    pub planned_for_s: f64,
    /// When it took effect (the server killed, the toxic in place), seconds since the load
    /// started; `None` when it never started (the run ended first, or it failed).
    pub started_s: Option<f64>,
    /// When it was undone (the server answering again, the toxic removed); `None` when it
    /// never started.
    pub ended_s: Option<f64>,
    /// True once everything it changed is back as it was.
    pub undone: bool,
    /// What was done, in words (`SIGKILL pid 4242; restarted on port 6390`).
    pub detail: String,
    /// Why the fault could not be applied or undone; the verdict is then inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The breaker's count of failures when the fault started (for
    /// `breaker.failures_before_open`); `None` without a breaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_failures_at_start: Option<u64>,
}

/// Commands the fault proxy forwarded while the breaker was OPEN, as one observation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CallsWhileOpen {
    /// When they were seen, seconds since the load started.
    pub t_s: f64,
    /// How many.
    pub commands: u64,
}

/// `4.02–8.10 s`, or why there is no window.
fn window(f: &FaultRecord) -> String {
    match (f.started_s, f.ended_s) {
        (Some(a), Some(b)) => format!("{a:.2}–{b:.2} s"),
        (Some(a), None) => format!("from {a:.2} s, never undone"),
        (None, _) => "never started".into(),
    }
}

/// One line per fault for the terminal summary: `kill (kill) 4.02–8.10 s, undone`.
pub fn terminal_lines(faults: &[FaultRecord]) -> Vec<String> {
    faults
        .iter()
        .map(|f| {
            let state = match (&f.error, f.undone) {
                (Some(e), _) => format!(", error: {e}"),
                (None, _) if f.started_s.is_none() => String::new(),
                (None, true) => ", undone".into(),
                (None, false) => ", not undone".into(),
            };
            format!("{} ({}) {}{state}", f.name, f.kind, window(f))
        })
        .collect()
}

/// The `## Faults` section of summary.md (nothing without faults).
pub fn markdown(faults: &[FaultRecord], w: &mut dyn std::io::Write) -> std::io::Result<()> {
    if faults.is_empty() {
        return Ok(());
    }
    writeln!(w, "## Faults")?;
    writeln!(w)?;
    writeln!(
        w,
        "| Fault | Kind | Planned | Actual | Undone | What was done |"
    )?;
    writeln!(w, "|---|---|--:|--:|---|---|")?;
    for f in faults {
        let done = match &f.error {
            Some(e) => format!("{} (error: {e})", f.detail),
            None => f.detail.clone(),
        };
        writeln!(
            w,
            "| {} | {} | {:.2}–{:.2} s | {} | {} | {} |",
            f.name,
            f.kind,
            f.planned_at_s,
            f.planned_at_s + f.planned_for_s,
            window(f),
            if f.undone { "yes" } else { "**no**" },
            done.replace('|', "\\|")
        )?;
    }
    writeln!(w)
}

/// Fills each point's `faults` with the names of the faults active during its interval
/// (from the previous point's `t_s` to its own): a fault is active from `started_s` to
/// `ended_s`, or to the end of the run when it was never undone.
pub fn mark_timeseries(points: &mut [TimePoint], faults: &[FaultRecord]) {
    let mut previous = 0.0;
    for p in points.iter_mut() {
        p.faults = faults
            .iter()
            .filter(|f| match f.started_s {
                Some(start) => start < p.t_s && f.ended_s.is_none_or(|end| end > previous),
                None => false,
            })
            .map(|f| f.name.clone())
            .collect();
        previous = p.t_s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, started: Option<f64>, ended: Option<f64>) -> FaultRecord {
        FaultRecord {
            name: name.into(),
            kind: "kill".into(),
            planned_at_s: 0.0,
            planned_for_s: 0.0,
            started_s: started,
            ended_s: ended,
            undone: true,
            detail: String::new(),
            error: None,
            breaker_failures_at_start: None,
        }
    }

    #[test]
    fn summaries_list_each_fault_with_its_window() {
        let mut kill = record("kill", Some(4.02), Some(8.1));
        kill.detail = "SIGKILL pid 1; started again".into();
        let faults = [kill, record("oom", None, None)];
        assert_eq!(
            terminal_lines(&faults),
            [
                "kill (kill) 4.02–8.10 s, undone",
                "oom (kill) never started"
            ]
        );
        let mut md = Vec::new();
        markdown(&faults, &mut md).unwrap();
        let md = String::from_utf8(md).unwrap();
        assert!(
            md.contains(
                "| kill | kill | 0.00–0.00 s | 4.02–8.10 s | yes | SIGKILL pid 1; started again |"
            ),
            "{md}"
        );
    }

    #[test]
    fn points_name_the_faults_active_in_their_second() {
        let mut points: Vec<TimePoint> = (1..=5)
            .map(|t| TimePoint {
                t_s: t as f64,
                ..crate::report::fixture::point(0.0, 0, false)
            })
            .collect();
        let faults = [
            record("kill", Some(1.5), Some(3.2)),
            record("never", None, None),
            record("oom", Some(4.0), None),
        ];
        mark_timeseries(&mut points, &faults);
        let marks: Vec<Vec<String>> = points.into_iter().map(|p| p.faults).collect();
        assert_eq!(
            marks,
            [
                vec![],
                vec!["kill".to_string()],
                vec!["kill".into()],
                vec!["kill".into()],
                vec!["oom".into()]
            ]
        );
    }
}
