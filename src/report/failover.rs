//! report.json's `failover` section: what a Sentinel or Redis Cluster failover did to the
//! run.
//!
//! - [`AckedWrites`]: the acknowledged-writes check (Jepsen's set checker): versioned keys
//!   written one after another through the run, the ones Redis acknowledged remembered, all
//!   read back from the primary after the failover. `lost` counts acknowledged writes that
//!   are gone, which Redis's asynchronous replication allows.
//! - [`FailoverWindow`]: per `failover` or `cluster_failover` fault, the primaries before
//!   and after, when the switch happened, when writes failed and succeeded again, the
//!   breaker's path, and on a cluster the MOVED/ASK redirections the nodes sent.
//!
//! Times are seconds on the clock of `timeseries[].t_s`.

use super::summary::BreakerTransition;
use crate::cache::BreakerState;
use serde::{Deserialize, Serialize};

/// Most acknowledged ranges and lost sequence numbers kept in the report: enough to find
/// them, bounded whatever the run does.
pub const MAX_LISTED: usize = 100;

/// The `failover` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverReport {
    /// The acknowledged-writes check over the whole run.
    pub writes: AckedWrites,
    /// One entry per `failover` fault, in timeline order.
    #[serde(default)]
    pub failovers: Vec<FailoverWindow>,
}

/// Acknowledged writes and what became of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AckedWrites {
    /// Key prefix of the versioned keys: `<prefix><n>` holds `n`.
    pub key_prefix: String,
    /// Writes sent (sequence numbers `0..attempted`).
    pub attempted: u64,
    /// Writes Redis acknowledged (`OK`).
    pub acknowledged: u64,
    /// Writes that failed or timed out (their outcome is unknown).
    pub failed: u64,
    /// Acknowledged writes missing (or changed) when read back after the failover.
    pub lost: u64,
    /// Writes that failed or timed out but were found applied (allowed: indeterminate).
    #[serde(default)]
    pub unacknowledged_present: u64,
    /// True when every acknowledged key could be read back; `lost` means nothing otherwise.
    pub checked: bool,
    /// Why the read-back was incomplete, when it was.
    #[serde(default)]
    pub check_error: Option<String>,
    /// Acknowledged sequence numbers as inclusive `[first, last]` ranges (first 100).
    #[serde(default)]
    pub acknowledged_ranges: Vec<[u64; 2]>,
    /// Lost sequence numbers (first 100).
    #[serde(default)]
    pub lost_sample: Vec<u64>,
    /// Spans in which writes failed: `[first failure, next success]` (success `None` when
    /// writes never came back), first 100.
    #[serde(default)]
    pub outages: Vec<WriteOutage>,
}

/// A span of failed writes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WriteOutage {
    /// When the first write of the span was sent.
    pub failed_from_s: f64,
    /// When the first write after it was acknowledged; `None`: never within the run.
    pub resumed_s: Option<f64>,
}

/// `MOVED` and `ASK` error replies the nodes of a Redis Cluster sent, counted by the nodes
/// themselves (`INFO errorstats`): every one was a redirection a client of the cluster had
/// to follow. The redis crate follows them inside its cluster client and exposes no count,
/// so the nodes' count is the one there is; on redline's own cluster redline's are the only
/// clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirections {
    /// `-MOVED`: the slot is served by another node now (after a failover, a client that
    /// still asks the old primary, demoted to a replica, is told where the slot went).
    pub moved: u64,
    /// `-ASK`: the slot is being migrated (a failover alone sends none).
    pub ask: u64,
}

/// What one `failover` or `cluster_failover` fault did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverWindow {
    /// The fault's name.
    pub fault: String,
    /// `kill` or `sentinel` (`failover`); `kill` or `command` (`cluster_failover`).
    pub method: String,
    /// When the fault was injected.
    pub started_s: Option<f64>,
    /// The primary before (`host:port`).
    pub old_primary: Option<String>,
    /// The primary the sentinels named afterwards (on a cluster: the node serving the old
    /// primary's slots).
    pub new_primary: Option<String>,
    /// When a majority of sentinels first named the new primary (on a cluster: when every
    /// other node reported `cluster_state:ok` with the slots on the new primary).
    pub promoted_s: Option<f64>,
    /// First failed write at or after the fault's start.
    pub writes_failed_from_s: Option<f64>,
    /// When writes succeeded again after the last failure that began in the window.
    pub writes_resumed_s: Option<f64>,
    /// `writes_resumed_s - started_s` in ms: how long writes were unavailable (0 when no
    /// write failed).
    pub writes_resumed_after_ms: Option<u64>,
    /// Breaker transitions from the fault's start until it closed again (or the run ended).
    pub breaker_path: Vec<BreakerTransition>,
    /// What went wrong injecting or watching it, if anything.
    #[serde(default)]
    pub error: Option<String>,
    /// On a Redis Cluster: MOVED/ASK replies the nodes sent from the fault's start until
    /// the next failover fault or the end of the run. Absent for Sentinel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirections: Option<Redirections>,
}

/// What the injector saw of one failover; the rest of a [`FailoverWindow`] comes from the
/// writes and the breaker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailoverEvent {
    /// The fault's name.
    pub fault: String,
    /// `kill` or `sentinel`.
    pub method: String,
    /// When it was injected.
    pub started_s: Option<f64>,
    /// The primary before.
    pub old_primary: Option<String>,
    /// The primary after.
    pub new_primary: Option<String>,
    /// When the sentinels named the new primary.
    pub promoted_s: Option<f64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// MOVED/ASK the cluster's nodes sent in the window (cluster failovers only).
    pub redirections: Option<Redirections>,
}

impl FailoverWindow {
    /// The window of `event`: write outages still going on at its start or beginning after
    /// it (before the next failover, `until_s`) and the breaker transitions from its start
    /// until CLOSED.
    pub fn build(
        event: &FailoverEvent,
        writes: &AckedWrites,
        transitions: &[BreakerTransition],
        until_s: Option<f64>,
    ) -> FailoverWindow {
        let start = event.started_s;
        let in_window = |t: f64| start.is_some_and(|s| t >= s) && until_s.is_none_or(|u| t < u);
        let outages: Vec<&WriteOutage> = writes
            .outages
            .iter()
            .filter(|o| {
                let ongoing = start
                    .is_some_and(|s| o.failed_from_s < s && o.resumed_s.is_none_or(|r| r >= s));
                ongoing || in_window(o.failed_from_s)
            })
            .collect();
        let writes_failed_from_s = outages.first().map(|o| o.failed_from_s);
        let writes_resumed_s = match outages.last() {
            Some(o) => o.resumed_s,
            None => start,
        };
        let writes_resumed_after_ms = match (start, writes_resumed_s) {
            (Some(s), Some(r)) => Some(((r - s).max(0.0) * 1000.0).round() as u64),
            _ => None,
        };
        let mut breaker_path = Vec::new();
        for t in transitions.iter().filter(|t| in_window(t.t_s)) {
            breaker_path.push(t.clone());
            if t.to == BreakerState::Closed {
                break;
            }
        }
        FailoverWindow {
            fault: event.fault.clone(),
            method: event.method.clone(),
            started_s: start,
            old_primary: event.old_primary.clone(),
            new_primary: event.new_primary.clone(),
            promoted_s: event.promoted_s,
            writes_failed_from_s,
            writes_resumed_s,
            writes_resumed_after_ms,
            breaker_path,
            error: event.error.clone(),
            redirections: event.redirections,
        }
    }
}

/// The section from the injector's events, the checked writes and the breaker history.
pub fn report(
    events: &[FailoverEvent],
    writes: AckedWrites,
    transitions: &[BreakerTransition],
) -> FailoverReport {
    let failovers = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let until = events.get(i + 1).and_then(|n| n.started_s);
            FailoverWindow::build(e, &writes, transitions, until)
        })
        .collect();
    FailoverReport { writes, failovers }
}

impl FailoverReport {
    /// One sentence per failover and one for the writes, for the terminal and Markdown:
    /// `kill: 127.0.0.1:7001 → 127.0.0.1:7002 promoted at 6.3 s; writes back after 2.3 s;
    /// breaker CLOSED → OPEN → HALF_OPEN → CLOSED`.
    pub fn sentences(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .failovers
            .iter()
            .map(FailoverWindow::sentence)
            .collect();
        out.push(self.writes.sentence());
        out
    }
}

impl FailoverWindow {
    fn sentence(&self) -> String {
        let mut parts = vec![format!(
            "{} ({}): {} → {}",
            self.fault,
            self.method,
            self.old_primary.as_deref().unwrap_or("?"),
            self.new_primary.as_deref().unwrap_or("no new primary"),
        )];
        if let Some(p) = self.promoted_s {
            parts.push(format!("promoted at {p:.1} s"));
        }
        match self.writes_resumed_after_ms {
            Some(ms) => parts.push(format!("writes back after {:.1} s", ms as f64 / 1000.0)),
            None => parts.push("writes never came back".into()),
        }
        if let Some(first) = self.breaker_path.first() {
            let mut path = vec![first.from.name()];
            path.extend(self.breaker_path.iter().map(|t| t.to.name()));
            parts.push(format!("breaker {}", path.join(" → ")));
        }
        if let Some(r) = &self.redirections {
            parts.push(format!("{} MOVED and {} ASK redirections", r.moved, r.ask));
        }
        if let Some(e) = &self.error {
            parts.push(format!("error: {e}"));
        }
        parts.join("; ")
    }
}

impl AckedWrites {
    fn sentence(&self) -> String {
        let outcome = if self.checked {
            format!(
                "{} of {} acknowledged writes lost",
                super::format::count(self.lost),
                super::format::count(self.acknowledged)
            )
        } else {
            format!(
                "{} acknowledged writes not checked ({})",
                super::format::count(self.acknowledged),
                self.check_error.as_deref().unwrap_or("no read-back")
            )
        };
        format!(
            "{outcome} ({} failed, outcome unknown)",
            super::format::count(self.failed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(t_s: f64, from: BreakerState, to: BreakerState) -> BreakerTransition {
        BreakerTransition {
            t_s,
            from,
            to,
            cause: String::new(),
            failures: 0,
        }
    }

    #[test]
    fn the_window_spans_the_outages_after_the_fault_and_the_breaker_until_closed() {
        use BreakerState::*;
        let writes = AckedWrites {
            outages: vec![
                WriteOutage {
                    failed_from_s: 1.0,
                    resumed_s: Some(1.1),
                },
                WriteOutage {
                    failed_from_s: 5.2,
                    resumed_s: Some(6.0),
                },
                WriteOutage {
                    failed_from_s: 6.5,
                    resumed_s: Some(8.25),
                },
            ],
            ..AckedWrites::default()
        };
        let transitions = [
            tr(0.5, Closed, Open),
            tr(5.4, Closed, Open),
            tr(7.4, Open, HalfOpen),
            tr(8.5, HalfOpen, Closed),
            tr(9.0, Closed, Open),
        ];
        let event = FailoverEvent {
            fault: "failover".into(),
            method: "kill".into(),
            started_s: Some(5.0),
            ..FailoverEvent::default()
        };
        let w = FailoverWindow::build(&event, &writes, &transitions, None);
        assert_eq!(w.writes_failed_from_s, Some(5.2));
        assert_eq!(w.writes_resumed_s, Some(8.25));
        assert_eq!(w.writes_resumed_after_ms, Some(3250));
        let path: Vec<(BreakerState, BreakerState)> =
            w.breaker_path.iter().map(|t| (t.from, t.to)).collect();
        assert_eq!(path, [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]);
        // No failed write in the window: writes never stopped.
        let quiet = FailoverWindow::build(&event, &AckedWrites::default(), &[], None);
        assert_eq!(quiet.writes_resumed_after_ms, Some(0));
        assert!(quiet.breaker_path.is_empty());
    }
}
