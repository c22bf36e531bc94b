//! What summary.md, report.html and the terminal summary say alike, worded once so they
//! agree: the cache effect (which must stay sensible when the cache is slower than the
//! origin or caused extra loads), the window the client and server numbers cover, the
//! error and Redis-failure counts, and the rows of the page reports' warnings and
//! thresholds table (each renderer adds its own markup).

use super::format;
use super::summary::{CacheEffect, Provider, RunSummary};
use super::verdict::ThresholdStatus;
use crate::op::ErrorKind;

/// A warning summary.md and report.html put above the numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// What is wrong, in a few words: `Run aborted`.
    pub title: &'static str,
    /// What it means for the numbers.
    pub text: String,
}

/// The run's warnings, most serious first: a saturated generator, an interrupted run, keys
/// left behind, no Redis measured, the target's own warning.
pub fn warnings(s: &RunSummary) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |title, text| out.push(Warning { title, text });
    if s.generator.saturated {
        warn(
            "Load generator saturated",
            format!(
                "it fell behind its schedule (lag p99 {}, max {}). The latencies below are not \
                 what the schedule asked for; treat them as a lower bound.",
                format::us(s.generator.schedule_lag_p99_us),
                format::us(s.generator.schedule_lag_max_us),
            ),
        );
    }
    if s.aborted {
        warn(
            "Run aborted",
            format!(
                "it was interrupted{}; every number is partial.",
                super::phase::during(s.aborted_in)
            ),
        );
    }
    if let Some(left) = s.cleanup.as_ref().and_then(|c| c.sentence()) {
        warn("Keys", format!("{left}."));
    }
    if s.target.provider == Provider::Memory {
        warn(
            "No Redis server",
            "this run measured the in-memory fallback store. Latencies include no network or \
             Redis; eviction and memory thresholds are not applicable."
                .to_string(),
        );
    }
    if let Some(warning) = &s.target.warning {
        warn("Target", warning.clone());
    }
    out
}

/// One row of the thresholds table.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRow<'a> {
    pub status: ThresholdStatus,
    /// The threshold as written: `p95 < 50ms`.
    pub expr: &'a str,
    /// The measured value in the metric's unit, `—` when nothing was measured.
    pub measured: String,
    /// Why it came out so (no data, not applicable, ...), when the judge said.
    pub note: Option<&'a str>,
}

/// The rows of the thresholds table, in the scenario's order.
pub fn threshold_rows(s: &RunSummary) -> impl Iterator<Item = ThresholdRow<'_>> {
    s.thresholds.iter().map(|t| ThresholdRow {
        status: t.status,
        expr: &t.expr,
        measured: t
            .measured
            .map_or_else(|| "—".to_string(), |v| format::metric(&t.metric, v)),
        note: t.note.as_deref(),
    })
}

/// Redis's own failures, the fallback's answers notwithstanding:
/// `"2 of 1,100 commands failed (0.182%): timeout 2"`; `None` without Redis.
pub fn redis_failures(s: &RunSummary) -> Option<String> {
    let r = s.redis.as_ref()?;
    let kinds: Vec<String> = r
        .failures
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{} {}", k.name(), format::count(*n)))
        .collect();
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(": {}", kinds.join(", "))
    };
    Some(format!(
        "{} of {} failed ({}){kinds}",
        format::count(r.failures_total),
        format::plural(r.calls as usize, "command"),
        format::percent_opt(r.error_rate, 3),
    ))
}

/// Non-zero error counts, `"timeout 2, connection 1"`; `None` when there were none.
pub fn errors_by_kind(s: &RunSummary) -> Option<String> {
    let parts: Vec<String> = ErrorKind::ALL
        .into_iter()
        .filter_map(|k| {
            let n = s.totals.errors.get(&k).copied().unwrap_or(0);
            (n > 0).then(|| format!("{} {}", k.name(), format::count(n)))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The cache's latency effect on reads, e.g. `"cached reads took 90.0% less time than the
/// origin (p50 500µs vs 5.0ms)"` or, when the cache is slower, `"cached reads were 12×
/// slower than the origin (p50 3.1ms vs 250µs)"`. Never a negative percentage.
pub fn cache_latency(c: &CacheEffect) -> String {
    let p50s = format!(
        "p50 {} vs {}",
        format::us_f64(c.cached_p50_us),
        format::us_f64(c.origin_p50_us)
    );
    if c.origin_p50_us <= 0.0 || !c.cached_p50_us.is_finite() {
        return format!("no latency comparison: the origin-only p50 was 0µs ({p50s})");
    }
    if c.cached_p50_us > c.origin_p50_us {
        let factor = c.cached_p50_us / c.origin_p50_us;
        if factor >= 1.05 {
            return format!(
                "cached reads were {} slower than the origin ({p50s})",
                format::times(factor)
            );
        }
        return format!("cached reads were about as fast as the origin ({p50s})");
    }
    let reduction = 1.0 - c.cached_p50_us / c.origin_p50_us;
    format!(
        "cached reads took {} less time than the origin ({p50s})",
        format::percent(reduction, 1)
    )
}

/// The cache's effect on origin load, e.g. `"200 origin calls for 1,000 key reads: 80.0%
/// fewer than without the cache"`; says so when the cache caused extra loads.
pub fn origin_load(c: &CacheEffect) -> String {
    let calls = format!(
        "{} for {} key reads",
        format::plural(c.origin_calls as usize, "origin call"),
        format::count(c.reads)
    );
    match c.origin_load_reduction {
        None => format!("{calls}: no reads to compare"),
        Some(r) if r >= 0.0 => format!(
            "{calls}: {} fewer than without the cache",
            format::percent(r, 1)
        ),
        Some(r) => format!(
            "{calls}: {} more origin calls than reads (the cache caused extra loads)",
            format::percent(-r, 1)
        ),
    }
}

/// Which span the client counts and the server INFO deltas cover, e.g. `"measured phase
/// 2.0–12.0 s; Redis INFO 2.0–12.1 s"`. Times are seconds since the load started.
pub fn windows(s: &RunSummary) -> String {
    let mut text = format!("measured phase {}", format::window(&s.measured_window));
    if let Some(server) = &s.server {
        text.push_str(&format!("; Redis INFO {}", format::window(&server.window)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_come_most_serious_first_and_rows_follow_the_thresholds() {
        let mut s = crate::report::fixture::summary();
        assert!(warnings(&s).is_empty());
        s.generator.saturated = true;
        s.aborted = true;
        s.target.provider = Provider::Memory;
        let titles: Vec<_> = warnings(&s).iter().map(|w| w.title).collect();
        assert_eq!(
            titles,
            ["Load generator saturated", "Run aborted", "No Redis server"]
        );
        let rows: Vec<_> = threshold_rows(&s).collect();
        assert_eq!(rows.len(), s.thresholds.len());
        for (row, t) in rows.iter().zip(&s.thresholds) {
            assert_eq!((row.status, row.expr), (t.status, t.expr.as_str()));
            assert_eq!(row.measured == "—", t.measured.is_none(), "{row:?}");
        }
    }

    #[test]
    fn a_faster_cache_is_a_reduction() {
        let c = CacheEffect::compute(500.0, 5_000.0, 1_000, 200);
        assert_eq!(
            cache_latency(&c),
            "cached reads took 90.0% less time than the origin (p50 500µs vs 5.0ms)"
        );
        assert_eq!(
            origin_load(&c),
            "200 origin calls for 1,000 key reads: 80.0% fewer than without the cache"
        );
    }

    #[test]
    fn a_slower_cache_says_so_instead_of_a_negative_percentage() {
        // The probe that printed "-145363.0% lower": a 3.1 ms cache in front of a ~2 µs origin.
        let c = CacheEffect::compute(3_100.0, 2.0, 1_000, 1_500);
        let latency = cache_latency(&c);
        assert_eq!(
            latency,
            "cached reads were 1,550× slower than the origin (p50 3.1ms vs 2µs)"
        );
        assert!(!latency.contains('-'), "{latency}");
        let c = CacheEffect::compute(3_100.0, 250.0, 100, 150);
        assert_eq!(
            cache_latency(&c),
            "cached reads were 12× slower than the origin (p50 3.1ms vs 250µs)"
        );
        assert_eq!(
            origin_load(&c),
            "150 origin calls for 100 key reads: 50.0% more origin calls than reads \
             (the cache caused extra loads)"
        );
    }

    #[test]
    fn equal_and_degenerate_latencies_read_sensibly() {
        let c = CacheEffect::compute(1_010.0, 1_000.0, 10, 0);
        assert_eq!(
            cache_latency(&c),
            "cached reads were about as fast as the origin (p50 1.0ms vs 1.0ms)"
        );
        let c = CacheEffect::compute(1_000.0, 0.0, 0, 0);
        assert!(cache_latency(&c).starts_with("no latency comparison"));
        assert_eq!(
            origin_load(&c),
            "0 origin calls for 0 key reads: no reads to compare"
        );
    }
}
