//! The [`Aggregator`]: once a second it empties every worker's [`Recorder`], folds the
//! interval into one [`TimePoint`] of the time series and, outside warmup, into the run's
//! totals. It is the only reader of the workers' recorders; the live progress line and the
//! final [`Measured`] both come from it.
//!
//! Memory stays flat however long the run: the interval and totals are histograms that are
//! reused, the interval log is bounded ([`IntervalLog`]), and the time series grows by one
//! small `TimePoint` per tick (a 5-minute run keeps 300 of them).

use super::backlog::BacklogPoint;
use super::hdr::new_histogram;
use super::hlog::IntervalHistogram;
use super::intervals::{Coarsening, IntervalLog};
use super::recorder::Recorder;
use crate::cache::BreakerState;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// One second (one tick) of the run, as plotted and as compared between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    /// End of the interval, seconds since the run started.
    pub t_s: f64,
    /// Operations completed in the interval.
    pub ops: u64,
    /// ops divided by the interval's length (ops/s).
    pub throughput: f64,
    /// Response-time percentiles of the interval in µs; `None` when nothing completed, so a
    /// stalled second is not drawn as a fast one.
    pub p50_us: Option<u64>,
    /// 95th percentile response time, µs.
    pub p95_us: Option<u64>,
    /// 99th percentile response time, µs.
    pub p99_us: Option<u64>,
    /// Keys found in the cache.
    pub hits: u64,
    /// Keys not found.
    pub misses: u64,
    /// Failed operations, all kinds.
    pub errors: u64,
    /// Loads from the origin: shows the origin absorbing load while the breaker is open.
    pub origin_calls: u64,
    /// Operations served by the in-memory fallback.
    pub fallback_ops: u64,
    /// Breaker state at the end of the interval; `None` when the target has no breaker.
    pub breaker: Option<BreakerState>,
    /// True for warmup intervals, which are plotted but excluded from the totals.
    pub warmup: bool,
    /// 99th percentile of the generator's own lag behind its schedule, µs; `None` when
    /// nothing was released (and always for the closed model).
    #[serde(default)]
    pub lag_p99_us: Option<u64>,
    /// Queueing in the interval: where operations waited, and what was dropped.
    #[serde(default)]
    pub backlog: BacklogPoint,
    /// Redis-level failures in the interval (those the fallback absorbed included).
    #[serde(default)]
    pub redis_errors: u64,
    /// Reads the stale-read checker judged stale beyond the TTL's bound in the interval.
    #[serde(default)]
    pub stale_reads: u64,
    /// Names of the drill's faults active during the interval (see the report's `faults`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
}

/// What the live progress line shows, taken from the last tick.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveLine {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Throughput of the last interval.
    pub ops_per_s: f64,
    /// p95 response time of the last interval, µs.
    pub p95_us: Option<u64>,
    /// p99 response time of the last interval, µs.
    pub p99_us: Option<u64>,
    /// Hit rate of the last interval; `None` without reads.
    pub hit_rate: Option<f64>,
    /// Errors since the start of the run, warmup included: an operator watching the line
    /// wants to see any error at all.
    pub errors: u64,
    /// Breaker state at the last tick; `None` when the target has no breaker.
    pub breaker: Option<BreakerState>,
    /// True while warming up.
    pub warmup: bool,
}

/// The aggregated result of a run, handed to [`RunSummary::build`](super::RunSummary::build).
#[derive(Debug, Clone)]
pub struct Measured {
    /// Everything recorded during measured (non-warmup) intervals.
    pub totals: Recorder,
    /// One point per tick, warmup included.
    pub timeseries: Vec<TimePoint>,
    /// Total length of the measured intervals: the denominator of throughput.
    pub measured: Duration,
    /// Operations completed inside the measured intervals: the numerator of throughput.
    /// Those that completed during the graceful stop count in `totals` but not here, or
    /// a run that drained a backlog would claim a rate it never sustained.
    pub timed_ops: u64,
    /// The response-time histograms of the points of `timeseries`, in the same order: the
    /// interval log (`.hlog`), one per point unless `intervals_coarsened` says otherwise.
    pub intervals: Vec<IntervalHistogram>,
    /// How the intervals were merged to stay bounded; `None`: one per point.
    pub intervals_coarsened: Option<Coarsening>,
    /// Elapsed time at the last tick.
    pub elapsed: Duration,
    /// When the intervals counted in `totals` began and ended: from the end of warmup to
    /// the last measured or graceful-stop interval; `None` when nothing was measured.
    pub counted: Option<(Duration, Duration)>,
}

/// A worker's shared recorder and the aggregator's spare, swapped every tick.
struct Slot {
    shared: Arc<Mutex<Recorder>>,
    /// Reset outside the lock and swapped in, so the worker keeps allocated histograms and
    /// the lock is held only for a pointer swap.
    spare: Recorder,
}

/// Folds worker recorders into a time series and totals. See the module docs.
pub struct Aggregator {
    /// Every worker's recorder, in registration order.
    slots: Vec<Slot>,
    /// The current interval, reused tick after tick.
    interval: Recorder,
    /// Reused buffer for the interval's all-operations response histogram.
    interval_overall: Histogram<u64>,
    /// Sum of the measured intervals.
    totals: Recorder,
    timeseries: Vec<TimePoint>,
    /// The response-time histograms of the points of `timeseries`, bounded, for the
    /// interval log.
    intervals: IntervalLog,
    /// Elapsed time at the previous tick: the start of the next interval.
    last_elapsed: Duration,
    measured: Duration,
    /// Start and end of the intervals counted in the totals (measured and grace).
    counted: Option<(Duration, Duration)>,
    /// Operations completed in measured (timed) intervals.
    timed_ops: u64,
    /// Errors since the start, warmup included, for the live line.
    errors_seen: u64,
}

impl Default for Aggregator {
    fn default() -> Self {
        Self::new()
    }
}

/// Locks a worker's recorder. A worker that panicked mid-record leaves counters that are at
/// worst one sample short, so a poisoned lock is used rather than propagated.
fn lock(m: &Mutex<Recorder>) -> MutexGuard<'_, Recorder> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Aggregator {
    /// An aggregator with no workers yet; add them with [`Aggregator::register`] or
    /// [`Aggregator::add_worker`].
    pub fn new() -> Self {
        Aggregator {
            slots: Vec::new(),
            interval: Recorder::new(),
            interval_overall: new_histogram(),
            totals: Recorder::new(),
            timeseries: Vec::new(),
            intervals: IntervalLog::default(),
            last_elapsed: Duration::ZERO,
            measured: Duration::ZERO,
            counted: None,
            timed_ops: 0,
            errors_seen: 0,
        }
    }

    /// An aggregator reading the given workers' recorders.
    pub fn with_workers(workers: impl IntoIterator<Item = Arc<Mutex<Recorder>>>) -> Self {
        let mut a = Self::new();
        for w in workers {
            a.add_worker(w);
        }
        a
    }

    /// Creates a recorder for a new worker and starts aggregating it.
    pub fn register(&mut self) -> Arc<Mutex<Recorder>> {
        let shared = Arc::new(Mutex::new(Recorder::new()));
        self.add_worker(Arc::clone(&shared));
        shared
    }

    /// Starts aggregating an existing worker recorder (e.g. one added by a ramp stage).
    pub fn add_worker(&mut self, shared: Arc<Mutex<Recorder>>) {
        self.slots.push(Slot {
            shared,
            spare: Recorder::new(),
        });
    }

    /// Number of workers aggregated.
    pub fn workers(&self) -> usize {
        self.slots.len()
    }

    /// Closes the interval ending at `elapsed` (time since the run started): empties every
    /// worker, appends a [`TimePoint`] and, when `measuring` (not warmup), adds the interval
    /// to the totals. Call once a second, and once more at the end for the last partial
    /// interval before [`Aggregator::finish`].
    pub fn tick(
        &mut self,
        elapsed: Duration,
        breaker_state: Option<BreakerState>,
        measuring: bool,
    ) {
        self.close(elapsed, breaker_state, measuring, measuring);
    }

    /// Closes an interval after the measured phase ended (the graceful stop): what
    /// completed in it counts in the totals, but its length does not count as measured
    /// time, so throughput stays operations per second of the declared duration.
    pub fn tick_grace(&mut self, elapsed: Duration, breaker_state: Option<BreakerState>) {
        self.close(elapsed, breaker_state, true, false);
    }

    fn close(
        &mut self,
        elapsed: Duration,
        breaker_state: Option<BreakerState>,
        measuring: bool,
        timed: bool,
    ) {
        self.interval.reset();
        for slot in &mut self.slots {
            slot.spare.reset();
            lock(&slot.shared).swap_with(&mut slot.spare);
            self.interval.merge(&slot.spare);
        }

        let length = elapsed.saturating_sub(self.last_elapsed);
        if measuring {
            let from = self.counted.map_or(self.last_elapsed, |(from, _)| from);
            self.counted = Some((from, elapsed.max(from)));
        }
        let interval_start = self.last_elapsed;
        self.last_elapsed = self.last_elapsed.max(elapsed);
        let iv = &self.interval;
        if measuring && timed {
            self.timed_ops += iv.ops();
        }
        if !timed && iv.ops() == 0 && iv.errors_total() == 0 {
            // A grace interval in which nothing finished: no point to plot.
            return;
        }
        iv.response_overall_into(&mut self.interval_overall);
        let h = &self.interval_overall;
        let pct = |q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q));
        let ops = iv.ops();
        let errors = iv.errors_total();
        self.timeseries.push(TimePoint {
            t_s: super::summary::round_to(elapsed.as_secs_f64(), 3),
            ops,
            throughput: super::summary::round_to(per_second(ops, length), 3),
            p50_us: pct(0.50),
            p95_us: pct(0.95),
            p99_us: pct(0.99),
            hits: iv.hit_count(),
            misses: iv.miss_count(),
            errors,
            origin_calls: iv.origin_call_count(),
            fallback_ops: iv.fallback_op_count(),
            breaker: breaker_state,
            warmup: !measuring,
            lag_p99_us: iv.lag_histogram().map(|h| h.value_at_quantile(0.99)),
            backlog: iv.queueing().map(|q| q.point()).unwrap_or_default(),
            redis_errors: iv.redis_calls().failures(),
            stale_reads: iv.check_counts().stale,
            faults: Vec::new(),
        });
        self.intervals.push(
            interval_start.as_secs_f64(),
            length.as_secs_f64(),
            !measuring,
            h,
        );
        self.errors_seen += errors;
        if measuring {
            self.totals.merge(&self.interval);
        }
        if timed {
            self.measured += length;
        }
    }

    /// The progress line as of the last tick.
    pub fn live(&self) -> LiveLine {
        match self.timeseries.last() {
            Some(p) => LiveLine {
                elapsed: self.last_elapsed,
                ops_per_s: p.throughput,
                p95_us: p.p95_us,
                p99_us: p.p99_us,
                hit_rate: ratio(p.hits, p.hits + p.misses),
                errors: self.errors_seen,
                breaker: p.breaker,
                warmup: p.warmup,
            },
            None => LiveLine {
                elapsed: Duration::ZERO,
                ops_per_s: 0.0,
                p95_us: None,
                p99_us: None,
                hit_rate: None,
                errors: 0,
                breaker: None,
                warmup: false,
            },
        }
    }

    /// The time series so far.
    pub fn timeseries(&self) -> &[TimePoint] {
        &self.timeseries
    }

    /// The interval closed last (what its time-series point was made from).
    pub fn last_interval(&self) -> &Recorder {
        &self.interval
    }

    /// The measured totals so far.
    pub fn totals(&self) -> &Recorder {
        &self.totals
    }

    /// Ends aggregation. Whatever workers recorded after the last tick is not included.
    pub fn finish(self) -> Measured {
        let (intervals, intervals_coarsened) = self.intervals.finish();
        Measured {
            totals: self.totals,
            timeseries: self.timeseries,
            intervals,
            intervals_coarsened,
            measured: self.measured,
            elapsed: self.last_elapsed,
            counted: self.counted,
            timed_ops: self.timed_ops,
        }
    }
}

/// `count / length` in events per second; 0 for an empty interval.
fn per_second(count: u64, length: Duration) -> f64 {
    let secs = length.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// `part / whole`, `None` when `whole` is 0.
pub(crate) fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{ErrorKind, OpKind};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn tick_builds_timeseries_and_excludes_warmup_from_totals() {
        let mut agg = Aggregator::new();
        let w1 = agg.register();
        let w2 = agg.register();

        // Warmup second.
        w1.lock().expect("lock").record(OpKind::Get, 5_000, 5_000);
        w1.lock().expect("lock").error(ErrorKind::Timeout);
        agg.tick(secs(1), Some(BreakerState::Closed), false);

        // Two measured seconds.
        for v in 1..=100 {
            w1.lock().expect("lock").record(OpKind::Get, v, v);
            w2.lock().expect("lock").record(OpKind::Set, v + 100, v);
        }
        w1.lock().expect("lock").hits(3);
        w2.lock().expect("lock").miss();
        agg.tick(secs(2), Some(BreakerState::Closed), true);
        w2.lock().expect("lock").record(OpKind::Get, 10, 10);
        agg.tick(secs(3), Some(BreakerState::Open), true);

        let ts = agg.timeseries();
        assert_eq!(ts.len(), 3);
        assert!(ts[0].warmup);
        assert_eq!(ts[0].errors, 1);
        assert_eq!(ts[1].ops, 200);
        assert_eq!(ts[1].throughput, 200.0);
        assert_eq!(ts[1].p50_us, Some(100));
        assert_eq!((ts[1].hits, ts[1].misses), (3, 1));
        assert_eq!(ts[2].breaker, Some(BreakerState::Open));

        let live = agg.live();
        assert_eq!(live.elapsed, secs(3));
        assert_eq!(live.ops_per_s, 1.0);
        assert_eq!(live.errors, 1, "the live line counts warmup errors");
        assert_eq!(live.hit_rate, None);

        let m = agg.finish();
        assert_eq!(m.totals.ops(), 201, "warmup op excluded");
        assert_eq!(m.totals.errors_total(), 0);
        assert_eq!(m.measured, secs(2));
        assert_eq!(m.elapsed, secs(3));
        assert_eq!(m.timeseries.len(), 3);
    }

    #[test]
    fn grace_intervals_count_operations_but_not_measured_time() {
        let mut agg = Aggregator::new();
        let w = agg.register();
        w.lock().expect("lock").record(OpKind::Get, 10, 10);
        agg.tick(secs(2), None, true);
        w.lock().expect("lock").record(OpKind::Get, 3_000_000, 10);
        w.lock().expect("lock").dropped(5);
        agg.tick_grace(secs(3), None);
        agg.tick_grace(secs(4), None);
        assert_eq!(
            agg.timeseries().len(),
            2,
            "an empty grace interval adds no point"
        );
        assert_eq!(agg.timeseries()[1].backlog.dropped, 5);
        let m = agg.finish();
        assert_eq!(m.totals.ops(), 2);
        assert_eq!(m.totals.error_count(ErrorKind::Dropped), 5);
        assert_eq!(
            m.measured,
            secs(2),
            "throughput is per second of the declared duration"
        );
    }

    #[test]
    fn the_counted_window_runs_from_the_end_of_warmup_through_the_graceful_stop() {
        let mut agg = Aggregator::new();
        let w = agg.register();
        w.lock().expect("lock").record(OpKind::Get, 10, 10);
        agg.tick(secs(1), None, false);
        w.lock().expect("lock").record(OpKind::Get, 10, 10);
        agg.tick(secs(2), None, true);
        agg.tick(secs(3), None, true);
        w.lock().expect("lock").record(OpKind::Get, 10, 10);
        agg.tick_grace(secs(4), None);
        let m = agg.finish();
        assert_eq!(m.counted, Some((secs(1), secs(4))));
        assert_eq!(
            m.measured,
            secs(2),
            "the graceful stop is counted, not timed"
        );
        assert_eq!(m.totals.ops(), 2, "the grace's completion is in the totals");
        assert_eq!(
            m.timed_ops, 1,
            "but not in the throughput's numerator: a drained backlog is no sustained rate"
        );
        assert_eq!(Aggregator::new().finish().counted, None);
    }

    #[test]
    fn empty_interval_has_no_percentiles() {
        let mut agg = Aggregator::new();
        let _w = agg.register();
        agg.tick(secs(1), Some(BreakerState::Closed), true);
        let p = &agg.timeseries()[0];
        assert_eq!(p.ops, 0);
        assert_eq!(p.p95_us, None);
        assert_eq!(agg.live().hit_rate, None);
    }

    #[test]
    fn workers_keep_recording_after_a_tick() {
        let shared = Arc::new(Mutex::new(Recorder::new()));
        let mut agg = Aggregator::with_workers([Arc::clone(&shared)]);
        for round in 1..=3u64 {
            shared
                .lock()
                .expect("lock")
                .record(OpKind::Get, round, round);
            agg.tick(secs(round), Some(BreakerState::Closed), true);
            assert_eq!(shared.lock().expect("lock").ops(), 0);
        }
        assert_eq!(agg.totals().ops(), 3);
        assert_eq!(agg.workers(), 1);
    }

    #[test]
    fn a_poisoned_worker_lock_is_still_read() {
        let mut agg = Aggregator::new();
        let w = agg.register();
        w.lock().expect("lock").record(OpKind::Get, 1, 1);
        let w2 = Arc::clone(&w);
        let _ = std::thread::spawn(move || {
            let _guard = w2.lock();
            panic!("worker died holding its recorder");
        })
        .join();
        assert!(w.is_poisoned());
        agg.tick(secs(1), Some(BreakerState::Closed), true);
        assert_eq!(agg.totals().ops(), 1);
    }
}
