//! The open model's schedule: the intended start time of every operation, from the arrival
//! profile (constant rate or ramp stages, after a warmup) and the pacing (even or Poisson).
//!
//! Arrival k happens when the cumulative expected count `N(t) = ∫ rate` reaches `s_k`, where
//! `s_k = k` for even pacing and a sum of unit exponentials for Poisson (a unit-rate Poisson
//! process, time-changed by the rate profile). Pure and deterministic given its seed.

use crate::scenario::load::{Arrival, Pacing};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// A stretch of the rate profile where the rate moves linearly from `r0` to `r1`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: f64,
    len: f64,
    r0: f64,
    r1: f64,
}

impl Segment {
    fn area(&self) -> f64 {
        (self.r0 + self.r1) / 2.0 * self.len
    }

    /// Time into the segment at which `s` arrivals (of its area) have happened.
    fn time_for(&self, s: f64) -> f64 {
        let slope = (self.r1 - self.r0) / self.len;
        if slope.abs() < 1e-12 {
            return s / self.r0;
        }
        // r0·x + slope/2·x² = s
        let disc = (self.r0 * self.r0 + 2.0 * slope * s).max(0.0);
        ((disc.sqrt() - self.r0) / slope).clamp(0.0, self.len)
    }
}

/// Produces intended start offsets (from the start of the run) in order.
#[derive(Debug)]
pub struct Schedule {
    segments: Vec<Segment>,
    /// Rate after the last segment (holds forever).
    tail_rate: f64,
    tail_start: f64,
    pacing: Pacing,
    rng: SmallRng,
    /// Cumulative target count of the next arrival.
    next_s: f64,
    /// Index of the current segment and the area of the segments before it.
    seg: usize,
    area_before: f64,
}

impl Schedule {
    /// The schedule of an open or ramping arrival process, with `warmup` played first at the
    /// profile's opening rate (or, when a ramp opens at 0, at its first stage's target).
    /// `None` for the closed model.
    pub fn new(arrival: &Arrival, warmup: Duration, seed: u64) -> Option<Schedule> {
        let (mut segments, tail_rate, pacing) = match arrival {
            Arrival::Closed { .. } => return None,
            Arrival::Open { rate, pacing } => (Vec::new(), *rate, *pacing),
            Arrival::Ramp {
                start_rate,
                stages,
                pacing,
            } => {
                let mut segs = Vec::new();
                let mut t = 0.0;
                let mut from = *start_rate;
                for st in stages {
                    let len = st.duration.as_secs_f64();
                    if len > 0.0 {
                        segs.push(Segment {
                            start: t,
                            len,
                            r0: from,
                            r1: st.target,
                        });
                    }
                    t += len;
                    from = st.target;
                }
                (segs, from, *pacing)
            }
        };
        let w = warmup.as_secs_f64();
        if w > 0.0 {
            let opening = segments.first().map_or(tail_rate, |s| s.r0);
            let opening = if opening > 0.0 {
                opening
            } else {
                segments.first().map_or(tail_rate, |s| s.r1)
            };
            for s in &mut segments {
                s.start += w;
            }
            segments.insert(
                0,
                Segment {
                    start: 0.0,
                    len: w,
                    r0: opening,
                    r1: opening,
                },
            );
        }
        let tail_start = segments.last().map_or(0.0, |s| s.start + s.len);
        let mut schedule = Schedule {
            segments,
            tail_rate,
            tail_start,
            pacing,
            rng: SmallRng::seed_from_u64(seed),
            next_s: 0.0,
            seg: 0,
            area_before: 0.0,
        };
        schedule.next_s = schedule.step();
        Some(schedule)
    }

    fn step(&mut self) -> f64 {
        match self.pacing {
            Pacing::Even => 1.0,
            Pacing::Poisson => {
                let u: f64 = self.rng.random::<f64>();
                -(1.0 - u).ln()
            }
        }
    }

    /// Expected number of arrivals in `[0, t)`: the area under the rate profile.
    fn cumulative(&self, t: f64) -> f64 {
        let mut area = 0.0;
        for seg in &self.segments {
            if t <= seg.start {
                return area;
            }
            let x = (t - seg.start).min(seg.len);
            let slope = (seg.r1 - seg.r0) / seg.len;
            area += seg.r0 * x + slope / 2.0 * x * x;
            if t < seg.start + seg.len {
                return area;
            }
        }
        area + self.tail_rate * (t - self.tail_start).max(0.0)
    }

    /// How many arrivals not yet returned by [`Schedule::next_offset`] fall before `until`,
    /// without producing them (a rate of 1e15 ops/s leaves far too many to count one by
    /// one). Exact for even pacing; for Poisson pacing, the expected number.
    pub fn remaining_before(&self, until: Duration) -> u64 {
        let left = self.cumulative(until.as_secs_f64()) - self.next_s;
        if left.is_finite() && left > 0.0 {
            left.ceil().min(u64::MAX as f64) as u64
        } else {
            0
        }
    }

    /// The next intended start offset, or `None` if the rate stays at zero forever.
    pub fn next_offset(&mut self) -> Option<Duration> {
        let s = self.next_s;
        let t = loop {
            match self.segments.get(self.seg) {
                Some(seg) => {
                    let area = seg.area();
                    if s <= self.area_before + area && area > 0.0 {
                        break seg.start + seg.time_for(s - self.area_before);
                    }
                    self.area_before += area;
                    self.seg += 1;
                }
                None => {
                    if self.tail_rate <= 0.0 {
                        return None;
                    }
                    break self.tail_start + (s - self.area_before) / self.tail_rate;
                }
            }
        };
        self.next_s += self.step();
        Some(Duration::from_secs_f64(t.max(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load::Stage;

    fn offsets(arrival: &Arrival, warmup: Duration, until: f64) -> Vec<f64> {
        let mut s = Schedule::new(arrival, warmup, 7).unwrap();
        let mut out = Vec::new();
        while let Some(t) = s.next_offset() {
            let t = t.as_secs_f64();
            if t > until {
                break;
            }
            out.push(t);
        }
        out
    }

    #[test]
    fn even_pacing_spaces_arrivals_exactly() {
        let a = Arrival::Open {
            rate: 1000.0,
            pacing: Pacing::Even,
        };
        let o = offsets(&a, Duration::ZERO, 1.0);
        assert_eq!(o.len(), 1000);
        for w in o.windows(2) {
            assert!((w[1] - w[0] - 0.001).abs() < 1e-9, "gap {}", w[1] - w[0]);
        }
    }

    #[test]
    fn poisson_pacing_has_the_rate_and_exponential_gaps() {
        let a = Arrival::Open {
            rate: 10_000.0,
            pacing: Pacing::Poisson,
        };
        let o = offsets(&a, Duration::ZERO, 10.0);
        let n = o.len() as f64;
        assert!((n - 100_000.0).abs() < 2_000.0, "{n} arrivals");
        let gaps: Vec<f64> = o.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        // Exponential: standard deviation equals the mean.
        assert!((var.sqrt() / mean - 1.0).abs() < 0.05);
    }

    #[test]
    fn ramp_follows_the_stages() {
        let a = Arrival::Ramp {
            start_rate: 0.0,
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    target: 1000.0,
                },
                Stage {
                    duration: Duration::from_secs(10),
                    target: 1000.0,
                },
            ],
            pacing: Pacing::Even,
        };
        let o = offsets(&a, Duration::ZERO, 20.0);
        // Ramp 0→1000 over 10 s = 5000, then 10 s at 1000 = 10 000.
        assert!((o.len() as i64 - 15_000).abs() <= 1, "{}", o.len());
        let first_second = o.iter().filter(|t| **t < 1.0).count();
        assert!((first_second as i64 - 50).abs() <= 1, "{first_second}");
        let last_second = o.iter().filter(|t| **t >= 19.0).count();
        assert!((last_second as i64 - 1000).abs() <= 1, "{last_second}");
    }

    #[test]
    fn warmup_runs_first_at_the_opening_rate() {
        let a = Arrival::Open {
            rate: 100.0,
            pacing: Pacing::Even,
        };
        let o = offsets(&a, Duration::from_secs(2), 3.0);
        assert_eq!(o.len(), 300);
    }

    #[test]
    fn a_rate_that_stays_zero_ends_the_schedule() {
        let a = Arrival::Ramp {
            start_rate: 10.0,
            stages: vec![Stage {
                duration: Duration::from_secs(1),
                target: 0.0,
            }],
            pacing: Pacing::Even,
        };
        let o = offsets(&a, Duration::ZERO, 100.0);
        assert_eq!(o.len(), 5);
    }

    #[test]
    fn remaining_arrivals_are_counted_without_producing_them() {
        let even = Arrival::Open {
            rate: 1000.0,
            pacing: Pacing::Even,
        };
        let mut s = Schedule::new(&even, Duration::ZERO, 7).unwrap();
        // Arrivals at 1 ms, 2 ms, ...: 999 fall before 1 s; take 100 of them.
        for _ in 0..100 {
            s.next_offset();
        }
        assert_eq!(s.remaining_before(Duration::from_secs(1)), 899);
        assert_eq!(s.remaining_before(Duration::ZERO), 0);

        // A rate no target can take: counted in constant time, no overflow.
        let absurd = Arrival::Open {
            rate: 1e15,
            pacing: Pacing::Poisson,
        };
        let s = Schedule::new(&absurd, Duration::ZERO, 7).unwrap();
        let n = s.remaining_before(Duration::from_secs(2));
        assert!((1.99e15..2.01e15).contains(&(n as f64)), "{n}");

        // A ramp 0→1000 over 10 s holds 5000 arrivals, then the tail rate.
        let ramp = Arrival::Ramp {
            start_rate: 0.0,
            stages: vec![Stage {
                duration: Duration::from_secs(10),
                target: 1000.0,
            }],
            pacing: Pacing::Even,
        };
        let mut s = Schedule::new(&ramp, Duration::ZERO, 7).unwrap();
        s.next_offset();
        assert_eq!(s.remaining_before(Duration::from_secs(10)), 4998);
        assert_eq!(s.remaining_before(Duration::from_secs(11)), 5998);
    }

    #[test]
    fn closed_model_has_no_schedule() {
        let a = Arrival::Closed {
            clients: 4,
            think_time: None,
        };
        assert!(Schedule::new(&a, Duration::ZERO, 1).is_none());
    }
}
