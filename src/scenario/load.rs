//! `[load]`: the shape of the load — open model (a fixed or ramping arrival rate, measured
//! from each operation's intended start) or closed model (N clients, each waiting for its
//! reply) — plus connections, pipelining, warmup, preload and when to stop.
//!
//! `LoadFile` is the table as written (flat, like k6 options); [`LoadSpec`] is what the
//! engine runs, with the arrival process as one [`Arrival`] value.

use super::error::Problem;
use super::units;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How arrivals are spaced in an open model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pacing {
    /// Evenly spaced at 1/rate (wrk2, k6 constant-arrival-rate).
    #[default]
    Even,
    /// Exponential inter-arrival times: independent users, bursts included.
    Poisson,
}

/// One ramp stage: move linearly from the previous target to `target` over `duration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// How long the stage lasts.
    #[serde(with = "units::duration")]
    pub duration: Duration,
    /// Rate (ops/s) reached at the end of the stage.
    pub target: f64,
}

/// The arrival process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Arrival {
    /// Open model at a constant rate (ops/s).
    Open { rate: f64, pacing: Pacing },
    /// Open model whose rate ramps through `stages`, starting from `start_rate`.
    Ramp {
        start_rate: f64,
        stages: Vec<Stage>,
        pacing: Pacing,
    },
    /// Closed model: `clients` loops, each sending its next operation after the previous
    /// reply plus `think_time`.
    Closed {
        clients: usize,
        #[serde(with = "units::opt_duration")]
        think_time: Option<Duration>,
    },
}

impl Arrival {
    /// The intended rate (ops/s) at `elapsed` into the measured phase; `None` for the closed
    /// model. After the last ramp stage the last target holds.
    pub fn rate_at(&self, elapsed: Duration) -> Option<f64> {
        match self {
            Arrival::Open { rate, .. } => Some(*rate),
            Arrival::Closed { .. } => None,
            Arrival::Ramp {
                start_rate, stages, ..
            } => {
                let mut from = *start_rate;
                let mut left = elapsed;
                for stage in stages {
                    if left < stage.duration {
                        let t = left.as_secs_f64() / stage.duration.as_secs_f64();
                        return Some(from + (stage.target - from) * t);
                    }
                    left -= stage.duration;
                    from = stage.target;
                }
                Some(from)
            }
        }
    }
}

/// `[load]` as the engine runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// Open, ramping or closed arrivals.
    pub arrival: Arrival,
    /// Connections to Redis the workers share.
    pub connections: usize,
    /// Commands a worker may have in flight on one connection before waiting.
    pub pipeline_depth: usize,
    /// Load run before the measured phase; not counted in `duration` nor in results.
    #[serde(with = "units::duration")]
    pub warmup: Duration,
    /// Write every key once before the run, so reads start warm.
    pub preload: bool,
    /// Length of the measured phase. With ramp stages it defaults to their sum.
    #[serde(with = "units::opt_duration")]
    pub duration: Option<Duration>,
    /// Stop after this many measured operations. With `duration` too, whichever comes first.
    pub total_ops: Option<u64>,
    /// Operations in progress at once (like k6's maxVUs): an open-model arrival waits for one
    /// of these slots, and the wait is named in the report. Separate from Redis
    /// multiplexing: `connections × pipeline_depth` bounds the commands on the wire, and an
    /// operation waiting on the origin holds an in-flight slot but no Redis slot.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long operations already started may take to finish after the measured phase
    /// ends (k6's gracefulStop); those still running then are cut off and counted.
    #[serde(default = "default_graceful_stop", with = "units::duration")]
    pub graceful_stop: Duration,
}

/// Default of `load.max_in_flight`: generous, like k6's maxVUs, so it only binds when
/// the system under test is far behind.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1_000;
/// Largest `load.max_in_flight`: each slot can hold a task and its buffers.
pub const MAX_IN_FLIGHT_LIMIT: usize = 1_000_000;
/// Default of `load.graceful_stop` (k6's default).
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);
/// Largest `load.graceful_stop`.
pub const GRACEFUL_STOP_LIMIT: Duration = Duration::from_secs(3600);

fn default_max_in_flight() -> usize {
    DEFAULT_MAX_IN_FLIGHT
}
fn default_graceful_stop() -> Duration {
    DEFAULT_GRACEFUL_STOP
}

/// Open or closed, as written in `load.model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LoadModel {
    Open,
    Closed,
}

/// `[load]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoadFile {
    model: LoadModel,
    #[serde(default)]
    rate: Option<f64>,
    #[serde(default)]
    stages: Option<Vec<Stage>>,
    #[serde(default)]
    start_rate: Option<f64>,
    #[serde(default)]
    arrivals: Option<Pacing>,
    #[serde(default, deserialize_with = "units::opt_positive")]
    clients: Option<usize>,
    #[serde(default, with = "units::opt_duration")]
    think_time: Option<Duration>,
    #[serde(default = "default_connections", deserialize_with = "units::positive")]
    connections: usize,
    #[serde(default, deserialize_with = "units::opt_positive")]
    pipeline_depth: Option<usize>,
    #[serde(default, with = "units::duration")]
    warmup: Duration,
    #[serde(default)]
    preload: bool,
    #[serde(default, with = "units::opt_duration")]
    duration: Option<Duration>,
    #[serde(default, deserialize_with = "units::opt_positive")]
    total_ops: Option<u64>,
    #[serde(
        default = "default_max_in_flight",
        deserialize_with = "units::positive"
    )]
    max_in_flight: usize,
    #[serde(default = "default_graceful_stop", with = "units::duration")]
    graceful_stop: Duration,
}

fn default_connections() -> usize {
    8
}
/// Default `load.pipeline_depth` of the open model: commands in flight per connection, as
/// a multiplexed client (ioredis, the redis crate) pipelines whatever the application has
/// outstanding. One command per connection would make 8 connections the bottleneck of any
/// open-model run above a few thousand ops/s.
pub const DEFAULT_OPEN_PIPELINE_DEPTH: usize = 32;

fn rate_problem(path: &str, v: f64, allow_zero: bool) -> Option<Problem> {
    let ok = v.is_finite() && (v > 0.0 || (allow_zero && v == 0.0));
    let bound = if allow_zero {
        "must be 0 or more"
    } else {
        "must be greater than 0"
    };
    (!ok).then(|| Problem::new(path, format!("{bound} (got {v})")))
}

/// A field that only the other model uses.
fn foreign(field: &str, present: bool, model: &str) -> Result<(), Problem> {
    if present {
        return Err(Problem::new(
            format!("load.{field}"),
            format!("only applies to load.model = \"{model}\""),
        ));
    }
    Ok(())
}

impl LoadFile {
    /// Checks the combination of fields and builds the [`LoadSpec`].
    pub(crate) fn resolve(self) -> Result<LoadSpec, Problem> {
        let arrival = match self.model {
            LoadModel::Open => self.open_arrival()?,
            LoadModel::Closed => {
                foreign("rate", self.rate.is_some(), "open")?;
                foreign("stages", self.stages.is_some(), "open")?;
                foreign("start_rate", self.start_rate.is_some(), "open")?;
                foreign("arrivals", self.arrivals.is_some(), "open")?;
                let clients = self.clients.ok_or_else(|| {
                    Problem::new(
                        "load.clients",
                        "is required when load.model = \"closed\" (the number of concurrent clients)",
                    )
                })?;
                Arrival::Closed {
                    clients,
                    think_time: self.think_time,
                }
            }
        };
        let duration = match (&arrival, self.duration) {
            (_, Some(d)) if d.is_zero() => {
                return Err(Problem::new("load.duration", "must be greater than 0s"));
            }
            (Arrival::Ramp { stages, .. }, None) => Some(stages.iter().map(|s| s.duration).sum()),
            (_, d) => d,
        };
        if duration.is_none() && self.total_ops.is_none() {
            return Err(Problem::new(
                "load.duration",
                "give load.duration (like \"1m\"), load.total_ops, or both",
            ));
        }
        if self.max_in_flight > MAX_IN_FLIGHT_LIMIT {
            return Err(Problem::new(
                "load.max_in_flight",
                format!(
                    "must be at most {MAX_IN_FLIGHT_LIMIT} (got {})",
                    self.max_in_flight
                ),
            ));
        }
        if self.graceful_stop > GRACEFUL_STOP_LIMIT {
            return Err(Problem::new(
                "load.graceful_stop",
                format!(
                    "must be at most {} (got {})",
                    units::format_duration(GRACEFUL_STOP_LIMIT),
                    units::format_duration(self.graceful_stop)
                ),
            ));
        }
        // The closed model's depth is a batch per client (`redis-benchmark -P`): 1 unless
        // asked for.
        let pipeline_depth = self.pipeline_depth.unwrap_or(match arrival {
            Arrival::Closed { .. } => 1,
            _ => DEFAULT_OPEN_PIPELINE_DEPTH,
        });
        Ok(LoadSpec {
            arrival,
            connections: self.connections,
            pipeline_depth,
            warmup: self.warmup,
            preload: self.preload,
            duration,
            total_ops: self.total_ops,
            max_in_flight: self.max_in_flight,
            graceful_stop: self.graceful_stop,
        })
    }

    fn open_arrival(&self) -> Result<Arrival, Problem> {
        foreign("clients", self.clients.is_some(), "closed")?;
        foreign("think_time", self.think_time.is_some(), "closed")?;
        let pacing = self.arrivals.unwrap_or_default();
        match (self.rate, &self.stages) {
            (Some(_), Some(_)) => Err(Problem::new(
                "load.stages",
                "give either load.rate (constant) or load.stages (ramping), not both",
            )),
            (None, None) => Err(Problem::new(
                "load.rate",
                "is required when load.model = \"open\" (ops/s), unless load.stages is given",
            )),
            (Some(rate), None) => {
                if self.start_rate.is_some() {
                    return Err(Problem::new(
                        "load.start_rate",
                        "only applies with load.stages (the rate a ramp starts from)",
                    ));
                }
                match rate_problem("load.rate", rate, false) {
                    Some(p) => Err(p),
                    None => Ok(Arrival::Open { rate, pacing }),
                }
            }
            (None, Some(stages)) => {
                if stages.is_empty() {
                    return Err(Problem::new("load.stages", "needs at least one stage"));
                }
                let start_rate = self.start_rate.unwrap_or(0.0);
                if let Some(p) = rate_problem("load.start_rate", start_rate, true) {
                    return Err(p);
                }
                for (i, s) in stages.iter().enumerate() {
                    if let Some(p) =
                        rate_problem(&format!("load.stages[{i}].target"), s.target, true)
                    {
                        return Err(p);
                    }
                }
                if stages.iter().all(|s| s.duration.is_zero()) {
                    return Err(Problem::new("load.stages", "the stages last 0s in total"));
                }
                if start_rate == 0.0 && stages.iter().all(|s| s.target == 0.0) {
                    return Err(Problem::new(
                        "load.stages",
                        "every target is 0 ops/s, so nothing would be sent",
                    ));
                }
                Ok(Arrival::Ramp {
                    start_rate,
                    stages: stages.clone(),
                    pacing,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_interpolates_linearly_then_holds() {
        let ramp = Arrival::Ramp {
            start_rate: 0.0,
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100.0,
                },
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100.0,
                },
                Stage {
                    duration: Duration::from_secs(5),
                    target: 50.0,
                },
            ],
            pacing: Pacing::Even,
        };
        let at = |s: f64| ramp.rate_at(Duration::from_secs_f64(s)).unwrap();
        assert_eq!(at(0.0), 0.0);
        assert_eq!(at(5.0), 50.0);
        assert_eq!(at(15.0), 100.0);
        assert_eq!(at(22.5), 75.0);
        assert_eq!(at(60.0), 50.0);
        let closed = Arrival::Closed {
            clients: 4,
            think_time: None,
        };
        assert_eq!(closed.rate_at(Duration::ZERO), None);
    }
}
