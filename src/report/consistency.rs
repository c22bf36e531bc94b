//! What the stale-read checker found ([`crate::engine::stale`] states the rule): the counts
//! one operation adds ([`Checks`], recorded per worker and per second like every other
//! counter) and report.json's `consistency` section ([`ConsistencyReport`]).

use serde::{Deserialize, Serialize};

/// The checker's counts over some operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checks {
    /// Reads of cached values that carried a version and were judged.
    pub checked: u64,
    /// Reads that got a value older than the origin's beyond what the TTL permits.
    pub stale: u64,
    /// Reads that got an older value within what the TTL permits (a cache-aside race).
    pub stale_within_ttl: u64,
    /// Invalidations a read proved lost (each counted once).
    pub lost_invalidations: u64,
}

impl Checks {
    /// Adds `other`.
    pub fn add(&mut self, other: Checks) {
        self.checked += other.checked;
        self.stale += other.stale;
        self.stale_within_ttl += other.stale_within_ttl;
        self.lost_invalidations += other.lost_invalidations;
    }
}

/// What only the engine knows about the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckerInputs {
    /// Keys the checker followed.
    pub checked_keys: u64,
    /// `cache.replay_invalidations`.
    pub replay_invalidations: bool,
}

/// report.json `consistency`: the stale-read checker over the measured phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsistencyReport {
    /// Reads of cached values the checker judged (values too short to carry a version, and
    /// keys past the followed ones, are not judged).
    pub checked_reads: u64,
    /// Stale reads beyond the bound: the value was older than the origin's and either an
    /// invalidation that had returned before the read should have removed it, or it was
    /// older than its TTL. The `stale_reads` threshold metric.
    pub stale_reads: u64,
    /// Older values the TTL permits (a reader stored what it loaded after a write's
    /// invalidation): cache-aside's own staleness, never a failure.
    pub stale_reads_within_ttl: u64,
    /// Invalidations (deletions or rewrites) a later read proved lost, each counted once.
    /// The `lost_invalidations` threshold metric.
    pub lost_invalidations: u64,
    /// Keys the checker follows (the first ones of the keyspace, at most 262,144).
    pub checked_keys: u64,
    /// Whether the cache layer replayed invalidations made during an outage
    /// (`cache.replay_invalidations`).
    pub replay_invalidations: bool,
}

impl ConsistencyReport {
    /// The report of `checks` over a run following `checked_keys` keys.
    pub fn new(checks: Checks, checked_keys: u64, replay_invalidations: bool) -> Self {
        ConsistencyReport {
            checked_reads: checks.checked,
            stale_reads: checks.stale,
            stale_reads_within_ttl: checks.stale_within_ttl,
            lost_invalidations: checks.lost_invalidations,
            checked_keys,
            replay_invalidations,
        }
    }

    /// One line for the terminal and summary.md, e.g. "stale reads: 0 of 12,345 checked
    /// (3 within the TTL), lost invalidations: 0".
    pub fn line(&self) -> String {
        let count = super::format::count;
        let mut line = format!(
            "stale reads: {} of {} checked",
            count(self.stale_reads),
            count(self.checked_reads)
        );
        if self.stale_reads_within_ttl > 0 {
            line.push_str(&format!(
                " ({} within the TTL)",
                count(self.stale_reads_within_ttl)
            ));
        }
        line.push_str(&format!(
            ", lost invalidations: {}",
            count(self.lost_invalidations)
        ));
        if !self.replay_invalidations {
            line.push_str(" (invalidation replay off)");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_stale_reads_and_lost_invalidations() {
        let mut checks = Checks::default();
        checks.add(Checks {
            checked: 12_345,
            stale: 4,
            stale_within_ttl: 3,
            lost_invalidations: 2,
        });
        let report = ConsistencyReport::new(checks, 1000, false);
        assert_eq!(
            report.line(),
            "stale reads: 4 of 12,345 checked (3 within the TTL), lost invalidations: 2 \
             (invalidation replay off)"
        );
        let clean = ConsistencyReport::new(Checks::default(), 10, true);
        assert_eq!(clean.checked_keys, 10);
        assert_eq!(
            clean.line(),
            "stale reads: 0 of 0 checked, lost invalidations: 0"
        );
    }

    #[test]
    fn both_summaries_print_the_checker_and_the_origin_load_while_the_breaker_was_open() {
        use crate::report::origin_windows::{OriginWindow, WindowKind};
        let mut s = crate::report::fixture::summary();
        let checks = Checks {
            checked: 900,
            stale: 2,
            stale_within_ttl: 0,
            lost_invalidations: 1,
        };
        s.consistency = Some(ConsistencyReport::new(checks, 1000, false));
        s.origin.windows = vec![OriginWindow {
            kind: WindowKind::BreakerOpen,
            name: "breaker open #1".into(),
            start_s: 1.0,
            end_s: 2.6,
            covered_s: 2.0,
            calls: 1220,
            calls_per_s: 610.0,
            peak_concurrency: 10,
            queue_wait_p99_us: 6_800_000,
            queue_wait_max_us: 7_100_000,
        }];
        let mut terminal = Vec::new();
        crate::report::terminal::write_summary(&s, &mut terminal).expect("terminal");
        let terminal = String::from_utf8(terminal).expect("utf-8");
        assert!(
            terminal.contains("  stale       stale reads: 2 of 900 checked, lost invalidations: 1"),
            "{terminal}"
        );
        assert!(
            terminal.contains("  origin      breaker open #1 (1.0–2.6 s): 610 origin calls/s"),
            "{terminal}"
        );
        let mut md = Vec::new();
        crate::report::markdown::write(&s, &mut md).expect("markdown");
        let md = String::from_utf8(md).expect("utf-8");
        assert!(
            md.contains("| Stale-read checker | stale reads: 2 of 900"),
            "{md}"
        );
        assert!(
            md.contains("- breaker open #1 (1.0–2.6 s): 610 origin calls/s"),
            "{md}"
        );
    }
}
