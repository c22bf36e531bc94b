//! What a sizing aims at and how long each of its runs lasts, resolved once from the
//! scenario: the keyspace to size for, the targets (from the scenario's thresholds), the
//! knee search's first rate and the documented step rule, and the run scenarios each study
//! hands to the engine.

use crate::scenario::load::{Arrival, Pacing, DEFAULT_OPEN_PIPELINE_DEPTH};
use crate::scenario::sizing::{SizingSpec, Study};
use crate::scenario::threshold::{guide_defaults, Metric};
use crate::scenario::{MaxmemoryPolicy, Scenario, Threshold};
use std::time::Duration;

/// Longest single step of the knee search, whatever `sizing.step_ops / rate` says.
pub const MAX_STEP: Duration = Duration::from_secs(600);
pub use crate::scenario::sizing::DEFAULT_START_RATE;
/// Hit-rate target when the scenario has no `hit_rate` threshold (the guide's).
pub const DEFAULT_HIT_RATE: f64 = 0.80;
/// Memory target when the scenario has no `memory` threshold (the guide's).
pub const DEFAULT_MEMORY_TARGET: f64 = 0.80;

/// A sizing, resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `[sizing]` with its defaults.
    pub spec: SizingSpec,
    /// Keys to size for (`sizing.keys`, else `keyspace.keys`).
    pub keys: u64,
    /// The rate production expects, when known (`sizing.rate`, else an open `load.rate`).
    pub rate: Option<f64>,
    /// Thresholds each knee step must hold: latency, error_rate and redis_error_rate.
    pub knee_thresholds: Vec<Threshold>,
    /// The share of requests that must hit.
    pub hit_rate_target: f64,
    /// used_memory / maxmemory to stay under.
    pub memory_target: f64,
    /// First rate of the search.
    pub start_rate: f64,
    /// Eviction policy of the hit-rate runs.
    pub policy: MaxmemoryPolicy,
}

impl Plan {
    /// Resolves `scenario`'s sizing.
    pub fn new(scenario: &Scenario) -> Plan {
        let spec = scenario.sizing.clone().unwrap_or_default();
        let open_rate = match scenario.load.arrival {
            Arrival::Open { rate, .. } => Some(rate),
            _ => None,
        };
        let mut knee_thresholds: Vec<Threshold> = scenario
            .thresholds
            .iter()
            .filter(|t| is_knee_metric(&t.metric))
            .cloned()
            .collect();
        if knee_thresholds.is_empty() {
            knee_thresholds = guide_defaults()
                .into_iter()
                .filter(|t| is_knee_metric(&t.metric))
                .collect();
        }
        let limit_of = |metric: Metric| {
            scenario
                .thresholds
                .iter()
                .find(|t| t.metric == metric)
                .map(|t| t.limit)
        };
        Plan {
            keys: spec.keys.unwrap_or(scenario.keyspace.keys),
            rate: spec.rate.or(open_rate),
            knee_thresholds,
            hit_rate_target: limit_of(Metric::HitRate).unwrap_or(DEFAULT_HIT_RATE),
            memory_target: limit_of(Metric::Memory)
                .filter(|l| *l > 0.0)
                .unwrap_or(DEFAULT_MEMORY_TARGET),
            start_rate: spec
                .start_rate
                .or(open_rate)
                .unwrap_or(DEFAULT_START_RATE)
                .min(spec.max_rate),
            policy: spec
                .policy
                .or(scenario.target.server.maxmemory_policy)
                .unwrap_or(MaxmemoryPolicy::AllkeysLru),
            spec,
        }
    }

    /// Whether `study` is to run.
    pub fn runs(&self, study: Study) -> bool {
        self.spec.studies.contains(&study)
    }

    /// The step rule: a knee step's measured phase lasts `max(sizing.step, sizing.step_ops
    /// / rate)` — long enough in time for queues to show and in operations for a stable p99 —
    /// and at most [`MAX_STEP`].
    pub fn step_length(&self, rate: f64) -> Duration {
        let by_ops = Duration::from_secs_f64((self.spec.step_ops as f64 / rate).min(1e6));
        self.spec.step.max(by_ops).min(MAX_STEP)
    }

    /// The scenario one knee step runs: the open model at `rate` for [`step_length`]
    /// after `sizing.step_warmup`, judged by the knee's thresholds only. The graceful stop
    /// is at most the step's length: a step that needs longer to drain is over the knee
    /// anyway (what it cuts off counts as dropped). A closed scenario keeps its connections
    /// and gets the open model's pipeline depth.
    pub fn knee_step(&self, scenario: &Scenario, rate: f64, preload: bool) -> Scenario {
        let mut s = scenario.clone();
        let step = self.step_length(rate);
        open_at(&mut s, rate);
        s.load.duration = Some(step);
        s.load.warmup = self.spec.step_warmup;
        s.load.total_ops = None;
        s.load.preload = preload;
        s.load.graceful_stop = s.load.graceful_stop.min(step);
        s.thresholds = self.knee_thresholds.clone();
        s
    }

    /// The scenario one hit-rate run executes: the open model at `rate` for
    /// `sizing.hit_step` after `sizing.hit_warmup`, the keys preloaded first. Preloading
    /// into the limited memory leaves whichever keys were written last; the warmup's
    /// traffic then brings the hot keys in and evicts the cold ones, so the measured phase
    /// sees the steady state for that memory rather than first reads of a cold cache.
    pub fn hit_run(&self, scenario: &Scenario, rate: f64) -> Scenario {
        let mut s = scenario.clone();
        open_at(&mut s, rate);
        s.load.duration = Some(self.spec.hit_step);
        s.load.warmup = self.spec.hit_warmup;
        s.load.total_ops = None;
        s.load.preload = true;
        s.load.graceful_stop = s.load.graceful_stop.min(self.spec.hit_step);
        s.thresholds = Vec::new();
        s
    }
}

/// Latency and error thresholds: what a rate must hold to be under the knee.
fn is_knee_metric(m: &Metric) -> bool {
    matches!(
        m,
        Metric::Latency { .. } | Metric::ErrorRate | Metric::RedisErrorRate
    )
}

/// Sets `s` to the open model at `rate`, keeping its pacing when it was open already.
fn open_at(s: &mut Scenario, rate: f64) {
    let pacing = match s.load.arrival {
        Arrival::Open { pacing, .. } | Arrival::Ramp { pacing, .. } => pacing,
        Arrival::Closed { .. } => {
            s.load.pipeline_depth = DEFAULT_OPEN_PIPELINE_DEPTH;
            Pacing::Even
        }
    };
    s.load.arrival = Arrival::Open { rate, pacing };
}

/// Whether the mix reads keys at all (a hit rate exists).
pub fn reads(s: &Scenario) -> bool {
    use crate::op::OpKind;
    s.ops.iter().any(|o| {
        o.weight > 0.0
            && matches!(
                o.kind,
                OpKind::Get | OpKind::GetOrSet | OpKind::Mget | OpKind::Pipeline
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let toml = format!(
            "thresholds = [\"p99 < 20ms\", \"hit_rate >= 0.9\", \"memory < 0.7\"]\n\
             [keyspace]\nkeys = 1000\n[[ops]]\nkind = \"get_or_set\"\nweight = 1\n\
             [load]\nmodel = \"open\"\nrate = 2000\nduration = \"10s\"\n{extra}"
        );
        crate::scenario::parse_str(&toml, crate::scenario::Format::Toml, "t.toml", &[])
            .expect("parses")
    }

    #[test]
    fn targets_come_from_the_thresholds() {
        let p = Plan::new(&scenario(""));
        assert_eq!(p.knee_thresholds.len(), 1);
        assert_eq!(p.knee_thresholds[0].expr, "p99 < 20ms");
        assert_eq!((p.hit_rate_target, p.memory_target), (0.9, 0.7));
        assert_eq!((p.keys, p.start_rate, p.rate), (1000, 2000.0, Some(2000.0)));
        assert_eq!(p.policy, MaxmemoryPolicy::AllkeysLru);
    }

    #[test]
    fn a_step_lasts_long_enough_in_time_and_in_operations() {
        let p = Plan::new(&scenario(
            "[sizing]\nstep = \"2s\"\nstep_ops = 10000\nkeys = 5",
        ));
        assert_eq!(p.step_length(1_000.0), Duration::from_secs(10));
        assert_eq!(p.step_length(100_000.0), Duration::from_secs(2));
        assert_eq!(p.step_length(0.001), MAX_STEP);
        assert_eq!(p.keys, 5);
        let step = p.knee_step(&scenario(""), 500.0, false);
        assert_eq!(step.load.arrival.rate_at(Duration::ZERO), Some(500.0));
        assert_eq!(step.thresholds, p.knee_thresholds);
        assert!(step.load.graceful_stop <= p.step_length(500.0));
    }
}
