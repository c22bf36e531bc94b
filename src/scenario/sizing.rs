//! `[sizing]`: how `redline size` sizes the scenario's workload — the keyspace to size for,
//! the instance sizes to fit, the throughput search (first rate, ceiling, resolution, how
//! long each step runs) and the maxmemory sweep (fractions of the working set, step length,
//! eviction policy). Optional: `redline run` ignores it, and every field has a default.
//! The targets themselves are the scenario's `thresholds` (see [`SizingSpec`]).

use super::error::Problem;
use super::target::MaxmemoryPolicy;
use super::units;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One of the measurements `redline size` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Study {
    /// Memory per key, extrapolated to the keyspace: recommended maxmemory and instances.
    Memory,
    /// The highest open-model rate that holds the latency and error targets.
    Knee,
    /// Hit rate and evictions at several maxmemory settings.
    HitRate,
}

impl Study {
    /// Every study, in the order `redline size` runs them.
    pub const ALL: [Study; 3] = [Study::Memory, Study::Knee, Study::HitRate];

    /// Name as written in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Study::Memory => "memory",
            Study::Knee => "knee",
            Study::HitRate => "hit_rate",
        }
    }
}

/// A byte size in a list (`["1GiB", "2GiB"]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bytes(#[serde(deserialize_with = "units::size")] pub u64);

/// A fraction in a list (`[0.1, "50%"]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fraction(#[serde(with = "units::fraction")] pub f64);

/// `[sizing]`. The targets are the scenario's thresholds: the knee holds every latency,
/// `error_rate` and `redis_error_rate` threshold (the guide's `p95 < 50ms`, `error_rate <
/// 0.001`, `redis_error_rate < 0.001` when it has none), the hit-rate study aims at the
/// `hit_rate` threshold (default 0.80), and maxmemory leaves the `memory` threshold's
/// headroom (default 0.80).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SizingSpec {
    /// The keyspace to size for (production's); default `keyspace.keys`. The runs use
    /// `keyspace.keys`; memory is extrapolated to this.
    #[serde(deserialize_with = "units::opt_positive")]
    pub keys: Option<u64>,
    /// The rate production expects, ops/s, named in the recommendation; default the
    /// scenario's `load.rate` (open model).
    pub rate: Option<f64>,
    /// Which studies run (default all three).
    pub studies: Vec<Study>,
    /// Instance memory sizes the recommendation picks from.
    pub instance_sizes: Vec<Bytes>,
    /// Share of an instance's memory maxmemory may take: the rest is for fragmentation,
    /// client buffers and a fork's copy-on-write.
    #[serde(with = "units::fraction")]
    pub instance_fill: f64,
    /// Keys written to measure memory per key (spread over the keyspace's indices).
    #[serde(deserialize_with = "units::positive")]
    pub sample_keys: u64,
    /// First rate of the knee search, ops/s; default the scenario's `load.rate`, else 1000.
    pub start_rate: Option<f64>,
    /// The search never goes above this rate, ops/s.
    pub max_rate: f64,
    /// The search stops when the bracket is this narrow: (fail − pass) / pass.
    #[serde(with = "units::fraction")]
    pub resolution: f64,
    /// Shortest measured phase of one knee step.
    #[serde(with = "units::duration")]
    pub step: Duration,
    /// Fewest operations of one knee step: a step lasts max(step, step_ops / rate).
    #[serde(deserialize_with = "units::positive")]
    pub step_ops: u64,
    /// Warmup before each knee step's measured phase.
    #[serde(with = "units::duration")]
    pub step_warmup: Duration,
    /// maxmemory settings of the hit-rate study, as fractions of the working set.
    pub memory_fractions: Vec<Fraction>,
    /// Measured phase of each hit-rate run.
    #[serde(with = "units::duration")]
    pub hit_step: Duration,
    /// Warmup of each hit-rate run: the cache fills before hits are counted.
    #[serde(with = "units::duration")]
    pub hit_warmup: Duration,
    /// Eviction policy of the hit-rate runs; default `target.server.maxmemory_policy`,
    /// else allkeys-lru.
    pub policy: Option<MaxmemoryPolicy>,
}

/// Default instance sizes: 1, 2, 4, 8, 16 and 32 GiB.
pub const DEFAULT_INSTANCE_SIZES: [u64; 6] =
    [1 << 30, 2 << 30, 4 << 30, 8 << 30, 16 << 30, 32 << 30];

impl Default for SizingSpec {
    fn default() -> Self {
        SizingSpec {
            keys: None,
            rate: None,
            studies: Study::ALL.to_vec(),
            instance_sizes: DEFAULT_INSTANCE_SIZES.iter().map(|&b| Bytes(b)).collect(),
            instance_fill: 0.75,
            sample_keys: 10_000,
            start_rate: None,
            max_rate: 1_000_000.0,
            resolution: 0.1,
            step: Duration::from_secs(5),
            step_ops: 10_000,
            step_warmup: Duration::from_secs(1),
            memory_fractions: [0.1, 0.25, 0.5, 0.75, 1.0].map(Fraction).to_vec(),
            hit_step: Duration::from_secs(5),
            hit_warmup: Duration::from_secs(3),
            policy: None,
        }
    }
}

/// First rate of the knee search when neither `sizing.start_rate` nor `load.rate` gives one.
pub const DEFAULT_START_RATE: f64 = 1_000.0;

/// Most rates the knee search may try: enough for 1 to 10,000,000 ops/s at the default
/// resolution (29), where the defaults need 15 (1,000 to 1,000,000 ops/s, resolution 0.1).
/// Each try lasts up to 10 minutes plus its warmup, and a try whose generator fell behind
/// runs again (at most twice), so the bound is what keeps a sizing from running for days.
pub const MAX_KNEE_STEPS: u32 = 30;

/// The most rates the knee search can try from `start`: doubling up to `max_rate` while
/// steps hold (`ceil(log2(max_rate / start)) + 1`), then bisecting until the bracket is at
/// most `resolution` wide (each step at least halves it: `ceil(log2(1 / resolution))`).
/// Returns (doubling steps, bisecting steps).
pub fn knee_steps_at_most(start: f64, max_rate: f64, resolution: f64) -> (u32, u32) {
    let doubling = (max_rate / start.min(max_rate)).log2().ceil() as u32 + 1;
    let bisecting = (1.0 / resolution).log2().ceil() as u32;
    (doubling, bisecting)
}

/// The problem of a knee search that could try more than [`MAX_KNEE_STEPS`] rates, if it
/// could (`None` too when the rates or the resolution are invalid: [`check`] says so).
/// `redline size` asks it also of a scenario without `[sizing]`, where the defaults apply.
pub(crate) fn knee_search_problem(s: &SizingSpec, load_rate: Option<f64>) -> Option<Problem> {
    let start = s.start_rate.or(load_rate).unwrap_or(DEFAULT_START_RATE);
    let valid = |r: f64| r.is_finite() && r > 0.0 && r <= super::bounds::MAX_RATE;
    let searches = s.studies.contains(&Study::Knee);
    if !(searches && valid(start) && valid(s.max_rate) && s.resolution > 0.0 && s.resolution < 1.0)
    {
        return None;
    }
    let (doubling, bisecting) = knee_steps_at_most(start, s.max_rate, s.resolution);
    (doubling + bisecting > MAX_KNEE_STEPS).then(|| {
        Problem::new(
            "sizing",
            format!(
                "the knee search could try up to {} rates ({doubling} doubling from {start} ops/s \
                 to sizing.max_rate {} ops/s, {bisecting} bisecting to sizing.resolution {}); at \
                 most {MAX_KNEE_STEPS}: raise sizing.start_rate (or load.rate), lower \
                 sizing.max_rate or widen sizing.resolution",
                doubling + bisecting,
                s.max_rate,
                s.resolution
            ),
        )
    })
}

/// Most keys the memory study writes.
pub const MAX_SAMPLE_KEYS: u64 = 1_000_000;
/// Most instance sizes and memory fractions.
pub const MAX_LIST: usize = 100;

/// Every problem of a `[sizing]` table, appended to `out`; `load_rate` is the scenario's
/// open-model `load.rate`, the knee search's first rate when `start_rate` is not given.
pub(crate) fn check(s: &SizingSpec, load_rate: Option<f64>, out: &mut Vec<Problem>) {
    let max_rate = super::bounds::MAX_RATE;
    let rate = |out: &mut Vec<Problem>, path: &str, v: f64| {
        if !(v.is_finite() && v > 0.0) {
            out.push(Problem::new(
                path,
                format!("must be greater than 0 (got {v})"),
            ));
        } else if v > max_rate {
            out.push(Problem::new(
                path,
                format!("must be at most 10,000,000 ops/s (got {v}): one load generator process cannot send more"),
            ));
        }
    };
    if let Some(r) = s.rate {
        rate(out, "sizing.rate", r);
    }
    if let Some(r) = s.start_rate {
        rate(out, "sizing.start_rate", r);
    }
    rate(out, "sizing.max_rate", s.max_rate);
    if let Some(start) = s.start_rate.filter(|r| r.is_finite() && *r > s.max_rate) {
        out.push(Problem::new(
            "sizing.start_rate",
            format!(
                "must be at most sizing.max_rate ({}) (got {start})",
                s.max_rate
            ),
        ));
    }
    if let Some(k) = s.keys.filter(|&k| k > super::bounds::MAX_KEYS) {
        out.push(Problem::new(
            "sizing.keys",
            format!("must be at most 1,000,000,000 (got {k}): more keys than one Redis can hold"),
        ));
    }
    if s.studies.is_empty() {
        out.push(Problem::new(
            "sizing.studies",
            "must name at least one of \"memory\", \"knee\", \"hit_rate\"",
        ));
    }
    if s.instance_sizes.is_empty() || s.instance_sizes.len() > MAX_LIST {
        out.push(Problem::new(
            "sizing.instance_sizes",
            format!(
                "must list 1 to {MAX_LIST} sizes (got {})",
                s.instance_sizes.len()
            ),
        ));
    }
    if let Some(i) = s.instance_sizes.iter().position(|b| b.0 == 0) {
        out.push(Problem::new(
            format!("sizing.instance_sizes[{i}]"),
            "must be greater than 0",
        ));
    }
    if s.instance_fill <= 0.0 {
        out.push(Problem::new(
            "sizing.instance_fill",
            "must be greater than 0",
        ));
    }
    if s.sample_keys > MAX_SAMPLE_KEYS {
        out.push(Problem::new(
            "sizing.sample_keys",
            format!(
                "must be at most 1,000,000 (got {}): a sample, not the keyspace",
                s.sample_keys
            ),
        ));
    }
    if s.resolution <= 0.0 || s.resolution >= 1.0 {
        out.push(Problem::new(
            "sizing.resolution",
            format!("must be between 0 and 1, exclusive (got {})", s.resolution),
        ));
    }
    out.extend(knee_search_problem(s, load_rate));
    if s.memory_fractions.is_empty() || s.memory_fractions.len() > MAX_LIST {
        out.push(Problem::new(
            "sizing.memory_fractions",
            format!(
                "must list 1 to {MAX_LIST} fractions (got {})",
                s.memory_fractions.len()
            ),
        ));
    }
    if let Some(i) = s.memory_fractions.iter().position(|f| f.0 <= 0.0) {
        out.push(Problem::new(
            format!("sizing.memory_fractions[{i}]"),
            "must be greater than 0: a maxmemory of nothing caches nothing",
        ));
    }
    let hour = super::bounds::MAX_OP_DURATION;
    for (path, d, min) in [
        ("sizing.step", s.step, true),
        ("sizing.step_warmup", s.step_warmup, false),
        ("sizing.hit_step", s.hit_step, true),
        ("sizing.hit_warmup", s.hit_warmup, false),
    ] {
        if min && d.is_zero() {
            out.push(Problem::new(path, "must be longer than 0s"));
        }
        if d > hour {
            out.push(Problem::new(
                path,
                format!(
                    "must be at most 1h (got {}): a sizing makes many runs",
                    units::format_duration(d)
                ),
            ));
        }
    }
    if s.step_ops > super::bounds::MAX_TOTAL_OPS {
        out.push(Problem::new(
            "sizing.step_ops",
            "must be at most 1,000,000,000,000",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_knee_search_step_count_is_bounded_as_documented() {
        // The defaults: 1,000 to 1,000,000 ops/s by doubling (11 rates), then 4 bisections.
        let d = SizingSpec::default();
        assert_eq!(
            knee_steps_at_most(DEFAULT_START_RATE, d.max_rate, d.resolution),
            (11, 4)
        );
        assert_eq!(knee_search_problem(&d, None), None);
        // A start of 0.001 ops/s doubles 31 times up to 1,000,000 ops/s.
        let p = knee_search_problem(&d, Some(0.001)).expect("refused");
        assert_eq!(p.path, "sizing");
        assert!(p.message.contains("up to 35 rates"), "{}", p.message);
        assert!(
            p.message.contains("raise sizing.start_rate"),
            "{}",
            p.message
        );
        // Only a sizing that runs the knee study is bounded by it.
        let memory_only = SizingSpec {
            studies: vec![Study::Memory],
            ..SizingSpec::default()
        };
        assert_eq!(knee_search_problem(&memory_only, Some(0.001)), None);
    }
}
