//! The run's interval histograms (`histograms.intervals`, written as `latency.hlog`), kept
//! bounded however long the run: one per time-series point (one a second) up to
//! [`MAX_INTERVALS`]; past that, neighbouring intervals are merged in pairs (each then covers
//! 2 points, then 4, 8 ...), so the log still covers the whole run with at most
//! [`MAX_INTERVALS`] entries and report.json says so in `histograms.intervals_coarsened`.
//! A compressed histogram is a few KB, so the bound keeps report.json (and the aggregator's
//! memory) to a few MB where a day-long run would otherwise write hundreds.
//!
//! Warmup and measured points are never merged into one interval, so every interval's
//! `warmup` flag stays true to all of it.

use super::hdr::{add_histogram, decode_histogram, encode_compressed};
use super::hlog::IntervalHistogram;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Most interval histograms a run keeps: per-second intervals for runs up to 15 minutes.
pub const MAX_INTERVALS: usize = 900;

/// How the intervals were merged to stay within [`MAX_INTERVALS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coarsening {
    /// Time-series points each interval adds up (a power of two; the interval where warmup
    /// ends, and the last one, may hold fewer).
    pub points_per_interval: u32,
    /// The bound that made the merge necessary.
    pub max_intervals: u32,
}

/// The interval still taking points, decoded so points add into it cheaply.
struct Open {
    start_s: f64,
    end_s: f64,
    warmup: bool,
    points: u32,
    histogram: Histogram<u64>,
}

/// The interval histograms of a run as they are collected, bounded (see the module docs).
pub struct IntervalLog {
    closed: Vec<IntervalHistogram>,
    open: Option<Open>,
    /// Points per interval now: 1 until the first merge, then doubling with each.
    per_interval: u32,
    max: usize,
}

impl Default for IntervalLog {
    fn default() -> Self {
        IntervalLog::new(MAX_INTERVALS)
    }
}

impl IntervalLog {
    /// An empty log keeping at most `max` intervals (at least 4, so a merge always halves).
    pub fn new(max: usize) -> IntervalLog {
        IntervalLog {
            closed: Vec::new(),
            open: None,
            per_interval: 1,
            max: max.max(4),
        }
    }

    /// Adds one point's response-time histogram, covering `start_s` for `length_s` seconds.
    pub fn push(&mut self, start_s: f64, length_s: f64, warmup: bool, h: &Histogram<u64>) {
        let end_s = start_s + length_s;
        if let Some(open) = self.open.as_mut() {
            if open.points < self.per_interval && open.warmup == warmup {
                add_histogram(&mut open.histogram, h);
                open.end_s = open.end_s.max(end_s);
                open.points += 1;
                return;
            }
        }
        self.close_open();
        if self.closed.len() + 1 >= self.max {
            self.coarsen();
        }
        self.open = Some(Open {
            start_s,
            end_s,
            warmup,
            points: 1,
            histogram: h.clone(),
        });
    }

    /// Intervals kept so far (the open one included).
    pub fn len(&self) -> usize {
        self.closed.len() + usize::from(self.open.is_some())
    }

    /// True before the first point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every interval, in order, and how they were merged (`None`: one per point).
    pub fn finish(mut self) -> (Vec<IntervalHistogram>, Option<Coarsening>) {
        self.close_open();
        let coarsened = (self.per_interval > 1).then_some(Coarsening {
            points_per_interval: self.per_interval,
            max_intervals: self.max as u32,
        });
        (self.closed, coarsened)
    }

    fn close_open(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        let h = &open.histogram;
        match encode_compressed(h) {
            Ok(histogram) => self.closed.push(IntervalHistogram {
                start_s: super::summary::round_to(open.start_s, 3),
                length_s: super::summary::round_to(open.end_s - open.start_s, 3),
                max_us: if h.is_empty() { 0 } else { h.max() },
                warmup: open.warmup,
                histogram,
            }),
            // Only a counter beyond i64 can fail to encode; the log then has a gap there.
            Err(e) => tracing::warn!(
                "interval at {:.3}s left out of the interval log: {e}",
                open.start_s
            ),
        }
    }

    /// Merges neighbouring closed intervals in pairs and doubles the points per interval.
    fn coarsen(&mut self) {
        self.per_interval = self.per_interval.saturating_mul(2);
        let mut merged: Vec<IntervalHistogram> = Vec::with_capacity(self.closed.len() / 2 + 1);
        let mut pending: Option<IntervalHistogram> = None;
        for iv in self.closed.drain(..) {
            match pending.take() {
                None => pending = Some(iv),
                Some(first) if first.warmup != iv.warmup => {
                    merged.push(first);
                    pending = Some(iv);
                }
                Some(first) => merged.push(merge_pair(first, &iv)),
            }
        }
        merged.extend(pending);
        self.closed = merged;
    }
}

/// `a` and the interval `b` right after it as one interval.
fn merge_pair(a: IntervalHistogram, b: &IntervalHistogram) -> IntervalHistogram {
    let added = decode_histogram(&a.histogram).and_then(|mut h| {
        add_histogram(&mut h, &decode_histogram(&b.histogram)?);
        Ok(h)
    });
    let histogram = match added.map(|h| encode_compressed(&h)) {
        Ok(Ok(text)) => text,
        // Our own encodings decode; should one not, the interval keeps the first's counts
        // rather than the bound giving way.
        failed => {
            tracing::warn!(
                "interval at {:.3}s merged without its second half: {failed:?}",
                b.start_s
            );
            a.histogram
        }
    };
    IntervalHistogram {
        start_s: a.start_s,
        length_s: super::summary::round_to(b.start_s + b.length_s - a.start_s, 3),
        max_us: a.max_us.max(b.max_us),
        warmup: a.warmup,
        histogram,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::hdr::new_histogram;

    fn second(v: u64) -> Histogram<u64> {
        let mut h = new_histogram();
        h.record(v).expect("record");
        h
    }

    fn count(iv: &IntervalHistogram) -> u64 {
        decode_histogram(&iv.histogram).expect("decode").len()
    }

    #[test]
    fn a_short_run_keeps_one_interval_per_point() {
        let mut log = IntervalLog::new(8);
        for t in 0..7 {
            log.push(t as f64, 1.0, t < 2, &second(100 + t));
        }
        let (ivs, coarsened) = log.finish();
        assert_eq!(ivs.len(), 7);
        assert_eq!(coarsened, None);
        assert_eq!(ivs[6].start_s, 6.0);
        assert_eq!(ivs[6].max_us, 106);
    }

    #[test]
    fn a_long_run_stays_within_the_bound_covers_every_second_and_loses_no_count() {
        let mut log = IntervalLog::new(8);
        for t in 0..1_000u64 {
            log.push(t as f64, 1.0, t < 3, &second(100 + t));
            assert!(log.len() <= 8, "{} intervals at t={t}", log.len());
        }
        let (ivs, coarsened) = log.finish();
        let c = coarsened.expect("coarsened");
        assert_eq!(c.max_intervals, 8);
        assert!(c.points_per_interval >= 128, "{c:?}");
        assert!(ivs.len() <= 8);
        // Contiguous from 0 to 1000 s, every operation counted once, the maximum kept.
        assert_eq!(ivs[0].start_s, 0.0);
        for w in ivs.windows(2) {
            assert_eq!(w[0].start_s + w[0].length_s, w[1].start_s, "{ivs:?}");
        }
        let last = ivs.last().unwrap();
        assert_eq!(last.start_s + last.length_s, 1_000.0);
        assert_eq!(ivs.iter().map(count).sum::<u64>(), 1_000);
        assert_eq!(last.max_us, 1_099);
        // Warmup (the first 3 s) is never merged with measured seconds.
        assert!(ivs[0].warmup && ivs[0].length_s == 3.0, "{:?}", ivs[0]);
        assert!(ivs[1..].iter().all(|iv| !iv.warmup));
    }

    #[test]
    fn report_json_says_when_they_were_coarsened_and_older_reports_still_read() {
        use crate::report::summary::Histograms;
        let h = Histograms {
            intervals_coarsened: Some(Coarsening {
                points_per_interval: 4,
                max_intervals: 900,
            }),
            ..Histograms::default()
        };
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(
            json["intervals_coarsened"],
            serde_json::json!({"points_per_interval": 4, "max_intervals": 900})
        );
        let plain = serde_json::to_value(Histograms::default()).unwrap();
        assert!(plain.get("intervals_coarsened").is_none(), "{plain}");
        let old: Histograms =
            serde_json::from_value(serde_json::json!({"response": {}, "service": {}})).unwrap();
        assert_eq!(old.intervals_coarsened, None);
    }
}
