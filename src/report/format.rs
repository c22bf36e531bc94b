//! Human formatting shared by every renderer: durations in µs (`950µs`, `1.2ms`, `2.35s`),
//! counts with thousands separators, percentages, byte sizes, and a threshold metric's value
//! in its own unit. One place, so the terminal, Markdown and HTML agree.

use super::summary::Window;
use crate::scenario::threshold::{BreakerMetric, Metric, BREAKER_STATES};

/// A duration in microseconds: `950µs`, `1.2ms`, `2.35s`, `4012s`.
pub fn us(value: u64) -> String {
    if value < 1_000 {
        format!("{value}µs")
    } else if value < 999_950 {
        // Below 999.95 ms one decimal of milliseconds cannot round up to "1000.0ms".
        format!("{:.1}ms", value as f64 / 1_000.0)
    } else if value < 99_995_000 {
        format!("{:.2}s", value as f64 / 1_000_000.0)
    } else {
        format!("{:.0}s", value as f64 / 1_000_000.0)
    }
}

/// [`us`] for a fractional value (a mean), rounded to the microsecond.
pub fn us_f64(value: f64) -> String {
    if value.is_finite() && value >= 0.0 {
        us(value.round() as u64)
    } else {
        "-".to_string()
    }
}

/// An integer with thousands separators: `2,447,500`.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `"1 transition"`, `"3 transitions"`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", count(n as u64))
    }
}

/// A rate in events per second, whole units with separators: `48,950 ops/s`.
pub fn per_second(value: f64) -> String {
    if value.is_finite() && value >= 0.0 {
        format!("{} ops/s", count(value.round() as u64))
    } else {
        "-".to_string()
    }
}

/// A fraction as a percentage with `decimals` places: `0.824` → `82.4%`.
pub fn percent(fraction: f64, decimals: usize) -> String {
    format!("{:.*}%", decimals, fraction * 100.0)
}

/// An optional fraction as a percentage, `n/a` when absent.
pub fn percent_opt(fraction: Option<f64>, decimals: usize) -> String {
    fraction.map_or_else(|| "n/a".to_string(), |f| percent(f, decimals))
}

/// A byte size in binary units: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn bytes(value: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if value < 1024 {
        return format!("{value} B");
    }
    let mut v = value as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A span of the run: `2.0–12.0 s`.
pub fn window(w: &Window) -> String {
    format!("{:.1}–{:.1} s", w.start_s, w.end_s)
}

/// A ratio as a factor: `1.5×` below 10, `12×` above.
pub fn times(ratio: f64) -> String {
    if !ratio.is_finite() {
        "-".to_string()
    } else if ratio < 9.95 {
        format!("{ratio:.1}×")
    } else {
        format!("{}×", count(ratio.round() as u64))
    }
}

/// A threshold metric's value in its unit: latency as a duration, rates as percentages,
/// throughput as ops/s.
pub fn metric(metric: &Metric, value: f64) -> String {
    match metric {
        Metric::Latency { .. } => us_f64(value),
        Metric::HitRate => percent(value, 1),
        // Error-rate limits are typically 0.1 %, so show enough places to compare.
        Metric::ErrorRate | Metric::RedisErrorRate => percent(value, 3),
        Metric::Evictions => percent(value, 2),
        Metric::Memory => percent(value, 1),
        Metric::Throughput => per_second(value),
        Metric::HotShardSkew => format!("{value:.2}×"),
        Metric::StaleReads | Metric::LostInvalidations => count(value.round() as u64),
        Metric::Breaker(BreakerMetric::OpensWithin | BreakerMetric::RecoversWithin) => {
            us_f64(value)
        }
        Metric::Breaker(BreakerMetric::FinalState) => BREAKER_STATES
            .get(value as usize)
            .map_or_else(|| format!("{value}"), |s| s.to_string()),
        Metric::Breaker(_) | Metric::RedisCallsWhileOpen | Metric::LostWrites => {
            count(value as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::OpKind;
    use crate::scenario::threshold::Stat;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(us(0), "0µs");
        assert_eq!(us(950), "950µs");
        assert_eq!(us(999), "999µs");
        assert_eq!(us(1_000), "1.0ms");
        assert_eq!(us(1_234), "1.2ms");
        assert_eq!(us(999_949), "999.9ms");
        assert_eq!(us(999_950), "1.00s");
        assert_eq!(us(2_350_000), "2.35s");
        assert_eq!(us(3_600_000_000), "3600s");
        assert_eq!(us_f64(949.6), "950µs");
        assert_eq!(us_f64(f64::NAN), "-");
    }

    #[test]
    fn counts_rates_and_sizes() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(2_447_500), "2,447,500");
        assert_eq!(per_second(48_950.4), "48,950 ops/s");
        assert_eq!(plural(1, "transition"), "1 transition");
        assert_eq!(plural(0, "transition"), "0 transitions");
        assert_eq!(percent(0.824, 1), "82.4%");
        assert_eq!(percent_opt(None, 1), "n/a");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(times(1.54), "1.5×");
        assert_eq!(times(9.96), "10×");
        assert_eq!(times(1453.6), "1,454×");
        assert_eq!(window(&Window::new(2.0, 12.04)), "2.0–12.0 s");
    }

    #[test]
    fn metric_values_carry_their_unit() {
        let p95 = Metric::Latency {
            op: Some(OpKind::Get),
            stat: Stat::P95,
        };
        assert_eq!(metric(&p95, 1_200.0), "1.2ms");
        assert_eq!(metric(&Metric::HitRate, 0.8), "80.0%");
        assert_eq!(metric(&Metric::ErrorRate, 0.0005), "0.050%");
        assert_eq!(metric(&Metric::Throughput, 1000.0), "1,000 ops/s");
    }
}
