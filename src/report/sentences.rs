//! Sentences that summary.md and the terminal summary both print, worded once so they agree:
//! the cache effect (which must stay sensible when the cache is slower than the origin or
//! caused extra loads) and the window the client and server numbers cover.

use super::format;
use super::summary::{CacheEffect, RunSummary};

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
