//! Where the time went while operations queued, and what never ran: the wait for an
//! in-flight slot (`load.max_in_flight`), for a Redis command slot (`load.connections ×
//! load.pipeline_depth`) and for an origin connection (`origin.concurrency`), the peak
//! occupancy of each, and the operations dropped at the end of the measured phase.
//!
//! [`OpWaits`] is one operation's record (filled by the engine), [`Queueing`] what a
//! [`Recorder`](super::recorder::Recorder) accumulates, [`BacklogPoint`] one second of it in
//! the time series, and [`BacklogReport`] / [`OriginReport`] the report.json sections, with
//! [`bottleneck`] naming the resource that held operations longest and the knob for it.

use super::format;
use super::hdr::{add_histogram, new_histogram, record_us};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A wait shorter than this is ordinary scheduling noise, not a bottleneck worth naming.
pub const NOTABLE_WAIT_US: u64 = 1_000;

/// What one operation waited for; `None` where it did not queue for that resource at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpWaits {
    /// Wait for an in-flight slot (open model), µs.
    pub in_flight_us: Option<u64>,
    /// In-flight slots in use once it got one.
    pub in_flight_in_use: u64,
    /// Total wait for Redis command slots over its Redis calls, µs.
    pub redis_us: Option<u64>,
    /// Most Redis slots in use once it got one.
    pub redis_in_use: u64,
    /// Wait for an origin connection, µs.
    pub origin_us: Option<u64>,
    /// Origin connections in use once it got one.
    pub origin_in_use: u64,
}

/// Queueing measurements of one recorder (one interval or the totals).
#[derive(Debug, Clone)]
pub struct Queueing {
    /// In-flight slot wait per open-model operation, µs.
    pub in_flight_wait: Histogram<u64>,
    /// Most in-flight slots in use at once.
    pub in_flight_peak: u64,
    /// Redis slot wait per operation that called Redis, µs.
    pub redis_wait: Histogram<u64>,
    /// Most Redis slots in use at once.
    pub redis_peak: u64,
    /// Origin pool wait per origin call, µs.
    pub origin_wait: Histogram<u64>,
    /// Most origin connections in use at once.
    pub origin_peak: u64,
    /// Arrivals that never started before the measured phase ended.
    pub dropped: u64,
    /// Operations still running when `load.graceful_stop` ran out.
    pub interrupted: u64,
}

impl Default for Queueing {
    fn default() -> Self {
        Queueing {
            in_flight_wait: new_histogram(),
            in_flight_peak: 0,
            redis_wait: new_histogram(),
            redis_peak: 0,
            origin_wait: new_histogram(),
            origin_peak: 0,
            dropped: 0,
            interrupted: 0,
        }
    }
}

impl Queueing {
    /// Adds one operation's waits.
    pub fn record(&mut self, w: &OpWaits) {
        if let Some(us) = w.in_flight_us {
            record_us(&mut self.in_flight_wait, us);
            self.in_flight_peak = self.in_flight_peak.max(w.in_flight_in_use);
        }
        if let Some(us) = w.redis_us {
            record_us(&mut self.redis_wait, us);
            self.redis_peak = self.redis_peak.max(w.redis_in_use);
        }
        if let Some(us) = w.origin_us {
            record_us(&mut self.origin_wait, us);
            self.origin_peak = self.origin_peak.max(w.origin_in_use);
        }
    }

    /// Empties everything, keeping the histograms' allocations.
    pub fn reset(&mut self) {
        self.in_flight_wait.reset();
        self.redis_wait.reset();
        self.origin_wait.reset();
        self.in_flight_peak = 0;
        self.redis_peak = 0;
        self.origin_peak = 0;
        self.dropped = 0;
        self.interrupted = 0;
    }

    /// Adds `other` (histograms added, peaks maxed, counts summed).
    pub fn merge(&mut self, other: &Queueing) {
        add_histogram(&mut self.in_flight_wait, &other.in_flight_wait);
        add_histogram(&mut self.redis_wait, &other.redis_wait);
        add_histogram(&mut self.origin_wait, &other.origin_wait);
        self.in_flight_peak = self.in_flight_peak.max(other.in_flight_peak);
        self.redis_peak = self.redis_peak.max(other.redis_peak);
        self.origin_peak = self.origin_peak.max(other.origin_peak);
        self.dropped += other.dropped;
        self.interrupted += other.interrupted;
    }

    /// This interval as a time-series point.
    pub fn point(&self) -> BacklogPoint {
        BacklogPoint {
            in_flight_peak: self.in_flight_peak,
            in_flight_wait_max_us: max(&self.in_flight_wait),
            redis_peak: self.redis_peak,
            redis_wait_max_us: max(&self.redis_wait),
            origin_peak: self.origin_peak,
            origin_wait_p99_us: p99(&self.origin_wait),
            origin_wait_max_us: max(&self.origin_wait),
            dropped: self.dropped + self.interrupted,
        }
    }
}

fn max(h: &Histogram<u64>) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.max()
    }
}

fn p99(h: &Histogram<u64>) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(0.99)
    }
}

/// One second of queueing in the time series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BacklogPoint {
    /// Most in-flight slots in use.
    pub in_flight_peak: u64,
    /// Longest wait for an in-flight slot, µs.
    pub in_flight_wait_max_us: u64,
    /// Most Redis command slots in use.
    pub redis_peak: u64,
    /// Longest wait for a Redis command slot, µs.
    pub redis_wait_max_us: u64,
    /// Most origin connections in use.
    pub origin_peak: u64,
    /// 99th percentile wait for an origin connection, µs.
    pub origin_wait_p99_us: u64,
    /// Longest wait for an origin connection, µs.
    pub origin_wait_max_us: u64,
    /// Operations dropped or cut off (counted in the last interval).
    pub dropped: u64,
}

/// The limits each queue had, from the scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// `load.max_in_flight`.
    pub max_in_flight: u64,
    /// `load.connections × load.pipeline_depth`.
    pub redis_slots: u64,
    /// `load.connections` and `load.pipeline_depth`, for the knob's wording.
    pub connections: u64,
    /// `origin.concurrency`.
    pub origin_concurrency: u64,
    /// `load.graceful_stop`, seconds.
    pub graceful_stop_s: f64,
}

/// report.json `backlog`: queueing for in-flight and Redis slots, what was dropped, and the
/// bottleneck in one sentence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BacklogReport {
    /// `load.max_in_flight`.
    pub max_in_flight: u64,
    /// Most operations in progress at once (open model; 0 for the closed model).
    pub in_flight_peak: u64,
    /// 99th percentile wait for an in-flight slot, µs.
    pub in_flight_wait_p99_us: u64,
    /// Longest wait for an in-flight slot, µs.
    pub in_flight_wait_max_us: u64,
    /// Redis command slots (`connections × pipeline_depth`).
    pub redis_slots: u64,
    /// Most Redis slots in use at once.
    pub redis_slots_peak: u64,
    /// 99th percentile wait for a Redis slot, µs.
    pub redis_wait_p99_us: u64,
    /// Longest wait for a Redis slot, µs.
    pub redis_wait_max_us: u64,
    /// Arrivals that never started before the measured phase ended (k6's dropped_iterations).
    pub dropped: u64,
    /// Operations still running when `graceful_stop_s` ran out, cut off.
    pub interrupted: u64,
    /// `load.graceful_stop`, seconds.
    pub graceful_stop_s: f64,
    /// The resource operations waited on longest and the knob that controls it, in one
    /// sentence; `None` when no wait was notable.
    pub bottleneck: Option<String>,
}

/// report.json `origin`: the simulated database's pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OriginReport {
    /// Pool size (`origin.concurrency`).
    pub concurrency: u64,
    /// Calls during the measured phase.
    pub calls: u64,
    /// Most connections in use at once.
    pub peak_concurrency: u64,
    /// 99th percentile wait for a connection, µs.
    pub queue_wait_p99_us: u64,
    /// Longest wait for a connection, µs.
    pub queue_wait_max_us: u64,
    /// The same figures during each fault window and each period the breaker was not
    /// closed (the herd behind the fallback), from the time series.
    #[serde(default)]
    pub windows: Vec<super::origin_windows::OriginWindow>,
}

/// Builds the two report sections from the measured totals and the limits.
pub fn report(q: &Queueing, limits: &Limits, origin_calls: u64) -> (BacklogReport, OriginReport) {
    let origin = OriginReport {
        concurrency: limits.origin_concurrency,
        calls: origin_calls,
        peak_concurrency: q.origin_peak,
        queue_wait_p99_us: p99(&q.origin_wait),
        queue_wait_max_us: max(&q.origin_wait),
        windows: Vec::new(),
    };
    let mut backlog = BacklogReport {
        max_in_flight: limits.max_in_flight,
        in_flight_peak: q.in_flight_peak,
        in_flight_wait_p99_us: p99(&q.in_flight_wait),
        in_flight_wait_max_us: max(&q.in_flight_wait),
        redis_slots: limits.redis_slots,
        redis_slots_peak: q.redis_peak,
        redis_wait_p99_us: p99(&q.redis_wait),
        redis_wait_max_us: max(&q.redis_wait),
        dropped: q.dropped,
        interrupted: q.interrupted,
        graceful_stop_s: limits.graceful_stop_s,
        bottleneck: None,
    };
    backlog.bottleneck = bottleneck(&backlog, &origin, limits);
    (backlog, origin)
}

/// The resource operations waited on longest, with the knob: "operations waited up to 23 s
/// for one of 8 in-flight slots: raise load.max_in_flight". `None` when every wait stayed
/// under [`NOTABLE_WAIT_US`].
pub fn bottleneck(b: &BacklogReport, o: &OriginReport, limits: &Limits) -> Option<String> {
    let candidates = [
        (
            b.in_flight_wait_max_us,
            format!("{} in-flight slots", format::count(b.max_in_flight)),
            "raise load.max_in_flight".to_string(),
        ),
        (
            b.redis_wait_max_us,
            format!(
                "{} Redis command slots ({} connections × pipeline depth)",
                format::count(b.redis_slots),
                format::count(limits.connections)
            ),
            "raise load.connections or load.pipeline_depth".to_string(),
        ),
        (
            o.queue_wait_max_us,
            format!("{} origin connections", format::count(o.concurrency)),
            "raise origin.concurrency".to_string(),
        ),
    ];
    let (wait, what, knob) = candidates.into_iter().max_by_key(|c| c.0)?;
    (wait >= NOTABLE_WAIT_US).then(|| {
        format!(
            "operations waited up to {} for one of {what}: {knob}",
            format::us(wait)
        )
    })
}

/// The load generator and queueing in a few lines, shared by the terminal and summary.md:
/// CPU and the schedule (open model only, and "kept" only when it was), the queues (unless
/// `compact`), what was dropped and the bottleneck.
pub fn describe(s: &super::summary::RunSummary, compact: bool) -> Vec<String> {
    let g = &s.generator;
    let (b, o) = (&s.backlog, &s.origin);
    let mut lines = Vec::new();
    let per_op = g.cpu_us_per_op.map_or_else(String::new, |us| {
        // Fractions of a microsecond matter here (µs per operation is the cost figure).
        let text = if us < 1_000.0 {
            format!("{us:.1}µs")
        } else {
            format::us_f64(us)
        };
        format!(", {text} per operation")
    });
    let mut generator = format!(
        "generator: CPU {} of the machine ({:.2}s){per_op}",
        format::percent(g.cpu_share, 1),
        g.cpu_s,
    );
    if g.open_model {
        let lag = format!(
            "lag p99 {}, max {}",
            format::us(g.schedule_lag_p99_us),
            format::us(g.schedule_lag_max_us)
        );
        generator.push_str(&if g.saturated {
            format!("; fell behind its schedule ({lag}): verdict inconclusive")
        } else {
            format!("; kept its schedule ({lag})")
        });
    }
    lines.push(generator);
    let queue = |name: &str, peak: u64, size: u64, p99: u64, max: u64| {
        format!(
            "{name} peak {} of {} (wait p99 {}, max {})",
            format::count(peak),
            format::count(size),
            format::us(p99),
            format::us(max)
        )
    };
    let mut queues = Vec::new();
    if g.open_model {
        queues.push(queue(
            "in-flight slots",
            b.in_flight_peak,
            b.max_in_flight,
            b.in_flight_wait_p99_us,
            b.in_flight_wait_max_us,
        ));
    }
    if b.redis_slots_peak > 0 {
        queues.push(queue(
            "Redis slots",
            b.redis_slots_peak,
            b.redis_slots,
            b.redis_wait_p99_us,
            b.redis_wait_max_us,
        ));
    }
    if o.calls > 0 {
        queues.push(queue(
            "origin pool",
            o.peak_concurrency,
            o.concurrency,
            o.queue_wait_p99_us,
            o.queue_wait_max_us,
        ));
    }
    if !compact && !queues.is_empty() {
        lines.push(format!("queues: {}", queues.join(" · ")));
    }
    if b.dropped + b.interrupted > 0 {
        lines.push(format!(
            "dropped: {} never started, {} cut off after the {} graceful stop",
            format::count(b.dropped),
            format::count(b.interrupted),
            format::us((b.graceful_stop_s * 1e6) as u64)
        ));
    }
    if let Some(sentence) = &b.bottleneck {
        lines.push(format!("bottleneck: {sentence}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_in_flight: 8,
            redis_slots: 64,
            connections: 8,
            origin_concurrency: 10,
            graceful_stop_s: 30.0,
        }
    }

    fn waits(in_flight: u64, redis: u64, origin: Option<u64>) -> OpWaits {
        OpWaits {
            in_flight_us: Some(in_flight),
            in_flight_in_use: 8,
            redis_us: Some(redis),
            redis_in_use: 3,
            origin_us: origin,
            origin_in_use: 10,
        }
    }

    #[test]
    fn the_longest_wait_is_named_with_its_knob() {
        let mut q = Queueing::default();
        q.record(&waits(23_000_000, 10, Some(2_000)));
        q.record(&waits(5, 0, None));
        let (b, o) = report(&q, &limits(), 1);
        assert_eq!(b.in_flight_peak, 8);
        assert_eq!(b.redis_slots_peak, 3);
        assert_eq!(o.peak_concurrency, 10);
        assert_eq!(o.calls, 1);
        let sentence = b.bottleneck.expect("a 23 s wait is notable");
        assert!(
            sentence.starts_with("operations waited up to 23"),
            "{sentence}"
        );
        assert!(
            sentence.ends_with("for one of 8 in-flight slots: raise load.max_in_flight"),
            "{sentence}"
        );

        let mut q = Queueing::default();
        q.record(&waits(0, 10, Some(40_000)));
        let (b, _) = report(&q, &limits(), 1);
        let sentence = b.bottleneck.expect("a 40 ms origin wait");
        assert!(sentence.contains("10 origin connections: raise origin.concurrency"));
    }

    #[test]
    fn short_waits_name_no_bottleneck() {
        let mut q = Queueing::default();
        q.record(&waits(200, 300, Some(999)));
        let (b, _) = report(&q, &limits(), 1);
        assert_eq!(b.bottleneck, None);
    }

    #[test]
    fn kept_its_schedule_only_when_it_did_and_never_for_the_closed_model() {
        let mut s = crate::report::fixture::summary();
        let lines = describe(&s, false).join("\n");
        assert!(
            lines.contains("kept its schedule (lag p99 400µs"),
            "{lines}"
        );
        assert!(lines.contains("CPU 6.7% of the machine (1.60s)"), "{lines}");
        assert!(lines.contains("queues: in-flight slots peak"), "{lines}");
        assert!(!describe(&s, true).join("\n").contains("queues"));
        s.generator.saturated = true;
        let lines = describe(&s, false).join("\n");
        assert!(!lines.contains("kept"), "{lines}");
        assert!(lines.contains("fell behind"), "{lines}");
        s.generator.open_model = false;
        s.generator.saturated = false;
        let lines = describe(&s, false).join("\n");
        assert!(!lines.contains("schedule"), "closed model: {lines}");
        assert!(!lines.contains("in-flight"), "closed model: {lines}");
    }

    #[test]
    fn merge_maxes_peaks_and_sums_counts() {
        let mut a = Queueing::default();
        let mut b = Queueing::default();
        a.record(&waits(10, 10, None));
        b.record(&OpWaits {
            in_flight_in_use: 20,
            ..waits(30, 10, Some(7))
        });
        b.dropped = 3;
        b.interrupted = 1;
        a.merge(&b);
        assert_eq!(a.in_flight_peak, 20);
        assert_eq!(a.in_flight_wait.len(), 2);
        assert_eq!(a.origin_wait.len(), 1);
        let p = a.point();
        assert_eq!((p.in_flight_wait_max_us, p.dropped), (30, 4));
        a.reset();
        assert_eq!(a.point(), BacklogPoint::default());
    }
}
