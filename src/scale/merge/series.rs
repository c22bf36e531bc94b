//! The merged time series: every shard's points put on one clock (the earliest shard's
//! start is t = 0; a shard that started 3 ms later has its points shifted by 3 ms) and
//! added per whole second.
//!
//! Counts (operations, hits, misses, errors, origin calls, fallback operations, Redis
//! errors, dropped) are summed; the throughput is the sum of each shard's rate over the
//! second; the faults active in a second are every shard's. Per-second percentiles cannot be exact: report.json keeps each second's
//! percentiles, not its histogram. The merged point takes the slowest shard's (the
//! percentile of a mixture never exceeds the largest of its parts'), an upper bound, never
//! an average. The whole run's percentiles are exact: they come from the added histograms.

use crate::cache::BreakerState;
use crate::report::backlog::BacklogPoint;
use crate::report::TimePoint;
use std::collections::BTreeMap;

/// One shard's points with its offset from the earliest shard's start, seconds.
pub struct ShardSeries<'a> {
    /// Seconds between the earliest shard's start and this shard's.
    pub offset_s: f64,
    /// Its points, in order.
    pub points: &'a [TimePoint],
}

/// How bad a breaker state is, for the merged point: the worst shard's state is shown.
fn severity(state: BreakerState) -> u8 {
    match state {
        BreakerState::Closed => 0,
        BreakerState::HalfOpen => 1,
        BreakerState::Open => 2,
    }
}

/// The worse of two breaker states.
pub fn worse(a: Option<BreakerState>, b: Option<BreakerState>) -> Option<BreakerState> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if severity(y) > severity(x) { y } else { x }),
        (x, y) => x.or(y),
    }
}

/// What one second accumulates.
#[derive(Default)]
struct Second {
    point: Option<TimePoint>,
    /// Per shard: operations and seconds of interval falling in this second.
    rates: BTreeMap<usize, (u64, f64)>,
}

fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn add_backlog(a: &mut BacklogPoint, b: &BacklogPoint) {
    a.in_flight_peak += b.in_flight_peak;
    a.in_flight_wait_max_us = a.in_flight_wait_max_us.max(b.in_flight_wait_max_us);
    a.redis_peak += b.redis_peak;
    a.redis_wait_max_us = a.redis_wait_max_us.max(b.redis_wait_max_us);
    a.origin_peak += b.origin_peak;
    a.origin_wait_max_us = a.origin_wait_max_us.max(b.origin_wait_max_us);
    a.dropped += b.dropped;
}

/// The shards' series on one clock, one point per second (see the module docs).
pub fn merge(shards: &[ShardSeries<'_>]) -> Vec<TimePoint> {
    let mut seconds: BTreeMap<i64, Second> = BTreeMap::new();
    for (s, shard) in shards.iter().enumerate() {
        let mut previous_t = 0.0;
        for p in shard.points {
            let length = (p.t_s - previous_t).max(0.0);
            previous_t = p.t_s;
            let t = p.t_s + shard.offset_s;
            let second = seconds.entry(t.round() as i64).or_default();
            let rate = second.rates.entry(s).or_default();
            rate.0 += p.ops;
            rate.1 += length;
            match &mut second.point {
                None => second.point = Some(p.clone()),
                Some(m) => {
                    m.ops += p.ops;
                    m.p50_us = max_opt(m.p50_us, p.p50_us);
                    m.p95_us = max_opt(m.p95_us, p.p95_us);
                    m.p99_us = max_opt(m.p99_us, p.p99_us);
                    m.hits += p.hits;
                    m.misses += p.misses;
                    m.errors += p.errors;
                    m.origin_calls += p.origin_calls;
                    m.fallback_ops += p.fallback_ops;
                    m.breaker = worse(m.breaker, p.breaker);
                    m.warmup |= p.warmup;
                    m.lag_p99_us = max_opt(m.lag_p99_us, p.lag_p99_us);
                    add_backlog(&mut m.backlog, &p.backlog);
                    m.redis_errors += p.redis_errors;
                    m.stale_reads += p.stale_reads;
                    for fault in &p.faults {
                        if !m.faults.contains(fault) {
                            m.faults.push(fault.clone());
                        }
                    }
                }
            }
        }
    }
    seconds
        .into_iter()
        .filter_map(|(t, second)| {
            let mut point = second.point?;
            point.t_s = t as f64;
            let rate: f64 = (second.rates.values())
                .filter(|(_, length)| *length > 0.0)
                .map(|(ops, length)| *ops as f64 / length)
                .sum();
            point.throughput = (rate * 1000.0).round() / 1000.0;
            Some(point)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t_s: f64, ops: u64, p99: u64) -> TimePoint {
        TimePoint {
            t_s,
            ops,
            throughput: ops as f64,
            p50_us: Some(p99 / 2),
            p95_us: Some(p99),
            p99_us: Some(p99),
            hits: ops / 2,
            misses: ops / 2,
            errors: 1,
            origin_calls: 0,
            fallback_ops: 0,
            breaker: Some(BreakerState::Closed),
            warmup: false,
            lag_p99_us: None,
            backlog: BacklogPoint::default(),
            redis_errors: 0,
            faults: Vec::new(),
            stale_reads: 0,
        }
    }

    #[test]
    fn shards_line_up_by_second_and_add_their_counts() {
        let a = [point(1.0, 100, 500), point(2.0, 100, 700)];
        let mut open = point(0.997, 50, 900);
        open.breaker = Some(BreakerState::Open);
        let b = [open, point(1.997, 50, 300)];
        let merged = merge(&[
            ShardSeries {
                offset_s: 0.0,
                points: &a,
            },
            ShardSeries {
                offset_s: 0.004,
                points: &b,
            },
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            (merged[0].t_s, merged[0].ops, merged[0].errors),
            (1.0, 150, 2)
        );
        assert_eq!(
            merged[0].p99_us,
            Some(900),
            "the slowest shard's, an upper bound"
        );
        assert_eq!(merged[0].breaker, Some(BreakerState::Open));
        assert_eq!(merged[1].p99_us, Some(700));
        let r = merged[0].throughput;
        assert!((r - (100.0 + 50.0 / 0.997)).abs() < 0.01, "{r}");
    }

    #[test]
    fn a_short_last_interval_joins_its_second() {
        let a = [point(1.0, 100, 500), point(1.002, 1, 500)];
        let merged = merge(&[ShardSeries {
            offset_s: 0.0,
            points: &a,
        }]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].ops, 101);
        assert!((merged[0].throughput - 101.0 / 1.002).abs() < 0.01);
    }
}
