//! Thresholds: k6-like pass/fail expressions such as `"p95 < 50ms"`, `"hit_rate >= 0.80"` or
//! `"get.p99 < 5ms"`, and the drills' breaker expectations such as
//! `"breaker.opens_within[kill1] < 2s"` or `"redis_calls_while_open == 0"` (a `[name]`
//! after the metric says which fault of the scenario's `[[faults]]` it refers to). This
//! module owns their model and parsing; `report` measures them.

use crate::op::OpKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A latency statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
}

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Response-time statistic in microseconds, overall (`op: None`) or for one operation.
    Latency { op: Option<OpKind>, stat: Stat },
    /// hits / (hits + misses), 0..=1.
    HitRate,
    /// errors / operations, 0..=1: failures the application saw.
    ErrorRate,
    /// Redis-level failures / commands asked of Redis (breaker refusals included), 0..=1:
    /// failures of Redis itself, those the fallback absorbed included.
    RedisErrorRate,
    /// Redis evicted keys / keys written during the run, 0..=1.
    Evictions,
    /// Redis used_memory / maxmemory at the end of the run, 0..=1.
    Memory,
    /// Operations per second over the measured phase.
    Throughput,
    /// Reads the stale-read checker found older than the origin beyond the TTL's bound
    /// (a count).
    StaleReads,
    /// Invalidations a later read proved lost (a count).
    LostInvalidations,
    /// A breaker expectation about one fault (see [`BreakerMetric`]).
    Breaker(BreakerMetric),
    /// Commands the fault proxy forwarded to Redis while the breaker was OPEN (during one
    /// fault's episode, or the whole run): an open breaker must not touch Redis.
    RedisCallsWhileOpen,
    /// Writes Redis acknowledged that were gone when read back after the run's failovers
    /// (the acknowledged-writes check; async replication can lose some).
    LostWrites,
    /// The busiest primary's share of a Redis Cluster's data commands against an even
    /// share (1.0 = even, N primaries = one node did everything).
    HotShardSkew,
}

/// What a `breaker.*` expectation measures. Every one but `final_state` is about one fault:
/// the one named in `[...]`, or the scenario's only fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerMetric {
    /// From the fault's start to the breaker's OPEN, µs.
    OpensWithin,
    /// Redis failures the breaker counted from the fault's start until it opened.
    FailuresBeforeOpen,
    /// From the fault's end to the breaker's CLOSED, µs.
    RecoversWithin,
    /// Times the breaker went HALF_OPEN from the fault's start until it closed again.
    HalfOpenProbes,
    /// The breaker's state at the end of the run (0 closed, 1 open, 2 half-open).
    FinalState,
}

impl BreakerMetric {
    /// Every breaker metric, in documentation order.
    pub const ALL: [BreakerMetric; 5] = [
        BreakerMetric::OpensWithin,
        BreakerMetric::FailuresBeforeOpen,
        BreakerMetric::RecoversWithin,
        BreakerMetric::HalfOpenProbes,
        BreakerMetric::FinalState,
    ];

    /// The name after `breaker.`.
    pub fn name(self) -> &'static str {
        match self {
            BreakerMetric::OpensWithin => "opens_within",
            BreakerMetric::FailuresBeforeOpen => "failures_before_open",
            BreakerMetric::RecoversWithin => "recovers_within",
            BreakerMetric::HalfOpenProbes => "half_open_probes",
            BreakerMetric::FinalState => "final_state",
        }
    }
}

/// `breaker.final_state` values: the state as a number, so it compares like any metric.
pub const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];

impl Metric {
    /// True for metrics measured per fault (`[name]` allowed, and required when the
    /// scenario has several faults).
    pub fn is_per_fault(&self) -> bool {
        matches!(self, Metric::Breaker(b) if *b != BreakerMetric::FinalState)
            || *self == Metric::RedisCallsWhileOpen
    }

    /// True for metrics that are whole counts or states, the only ones `==` compares.
    pub fn is_exact(&self) -> bool {
        matches!(
            self,
            Metric::RedisCallsWhileOpen
                | Metric::StaleReads
                | Metric::LostInvalidations
                | Metric::LostWrites
                | Metric::Breaker(
                    BreakerMetric::FailuresBeforeOpen
                        | BreakerMetric::HalfOpenProbes
                        | BreakerMetric::FinalState
                )
        )
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    /// Counts and states only (`redis_calls_while_open == 0`, `breaker.final_state == closed`).
    #[serde(rename = "==")]
    Eq,
}

impl Cmp {
    /// True when `measured <op> limit` holds.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Cmp::Lt => measured < limit,
            Cmp::Le => measured <= limit,
            Cmp::Gt => measured > limit,
            Cmp::Ge => measured >= limit,
            Cmp::Eq => measured == limit,
        }
    }
}

/// One parsed threshold. `limit` is in the metric's unit: microseconds for latency,
/// a fraction for rates, ops/s for throughput.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The expression as written, e.g. `"p95 < 50ms"`, so reports quote the user's words.
    pub expr: String,
    /// What is measured.
    pub metric: Metric,
    /// How the measurement must compare with `limit` for the threshold to pass.
    pub cmp: Cmp,
    /// The bound, in the metric's unit.
    pub limit: f64,
    /// The fault (by name) a per-fault expectation refers to, as written in `[...]`; the
    /// scenario's only fault when it names none (resolved at validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// The thresholds a scenario gets when it declares none: the production guide's targets.
///
/// `redis_error_rate < 0.001` is redline's addition to the guide's five: a healthy Redis on a
/// working network fails no command at all, so the same 0.1 % bound as `error_rate` already
/// tolerates a handful of timeouts in a long run, while a Redis that answers nonsense, or
/// is down with the breaker open and the fallback serving, fails the run instead of passing
/// on the fallback's answers.
pub const GUIDE_DEFAULTS: [&str; 6] = [
    "p95 < 50ms",
    "hit_rate >= 0.80",
    "error_rate < 0.001",
    "redis_error_rate < 0.001",
    "evictions < 0.01",
    "memory < 0.80",
];

/// The guide's targets, parsed. See [`GUIDE_DEFAULTS`].
pub fn guide_defaults() -> Vec<Threshold> {
    GUIDE_DEFAULTS
        .iter()
        .filter_map(|e| Threshold::parse(e).ok())
        .collect()
}

/// Why a threshold expression was refused. Each message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// Not of the form `metric operator value`.
    #[error("expected `metric operator value`, like \"p95 < 50ms\" (operators: <, <=, >, >=, ==)")]
    Syntax,
    /// `==` on a measurement that is not a count or a state.
    #[error("`{0}` is a measurement: compare it with <, <=, > or >= (== is for counts and states, like redis_calls_while_open == 0)")]
    ExactOnMeasurement(String),
    /// A `[fault]` suffix on a metric measured over the whole run.
    #[error("`{0}` is measured over the whole run: only breaker.* expectations and redis_calls_while_open name a fault")]
    NotPerFault(String),
    /// A `[fault]` suffix that is empty or not closed.
    #[error("fault name in `{0}` must be written like breaker.opens_within[kill1]")]
    FaultName(String),
    /// A count limit that is not a whole number 0 or more.
    #[error("limit `{0}` must be a whole number 0 or more")]
    Count(String),
    /// A breaker state that is not closed, open or half_open.
    #[error("limit `{0}` must be a breaker state: closed, open or half_open")]
    State(String),
    /// The metric name is not one redline measures.
    #[error(
        "unknown metric `{0}`: use p50, p90, p95, p99, p99.9, max, mean, hit_rate, error_rate, \
         redis_error_rate, evictions, memory, throughput, stale_reads, lost_invalidations, \
         lost_writes, hot_shard_skew, redis_calls_while_open or breaker.opens_within, \
         breaker.failures_before_open, breaker.recovers_within, breaker.half_open_probes, \
         breaker.final_state (latency statistics also per operation, like get.p99)"
    )]
    UnknownMetric(String),
    /// The `op.` prefix names no operation.
    #[error(
        "unknown operation `{0}`: use get, set, get_or_set, del (or invalidate), del_pattern, \
         mget, mset or pipeline"
    )]
    UnknownOp(String),
    /// A per-operation prefix on a metric that is only measured overall.
    #[error(
        "`{0}` is measured overall only: only latency statistics take an operation, like get.p99"
    )]
    NotPerOp(String),
    /// A latency limit written without a unit, or with an unknown one.
    #[error("latency limit `{0}` needs a unit: write it like 50ms, 500us or 1.5s")]
    LatencyUnit(String),
    /// A fraction limit that is not a number in 0..=1 nor a percentage.
    #[error("limit `{0}` must be a fraction between 0 and 1 (0.8) or a percentage (\"80%\")")]
    Fraction(String),
    /// A limit below zero: no latency, rate or throughput is negative.
    #[error("limit `{0}` is negative: latencies, rates and throughput are never below 0")]
    Negative(String),
    /// A comparison no measurement can satisfy (`p95 < 0ms`, `hit_rate > 1`).
    #[error("`{0}` can never hold (no measurement is below 0, a fraction above 1 or a skew below 1): a run with it always fails")]
    Impossible(String),
    /// A skew limit that is not a plain number.
    #[error("limit `{0}` must be a number, like 1.5 (the busiest primary's share against an even share, 1.0 = even)")]
    Skew(String),
    /// A throughput limit that is not a non-negative number of ops/s.
    #[error("limit `{0}` must be a number of operations per second, like 5000 or 5000/s")]
    Throughput(String),
}

impl Stat {
    /// Every statistic, in report order.
    pub const ALL: [Stat; 7] = [
        Stat::P50,
        Stat::P90,
        Stat::P95,
        Stat::P99,
        Stat::P999,
        Stat::Max,
        Stat::Mean,
    ];

    /// The name used in thresholds and reports (`p99.9` for [`Stat::P999`]).
    pub fn name(self) -> &'static str {
        match self {
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P95 => "p95",
            Stat::P99 => "p99",
            Stat::P999 => "p99.9",
            Stat::Max => "max",
            Stat::Mean => "mean",
        }
    }

    /// The percentile (0..=100) this statistic reads from a histogram; `None` for the mean.
    pub fn percentile(self) -> Option<f64> {
        match self {
            Stat::P50 => Some(50.0),
            Stat::P90 => Some(90.0),
            Stat::P95 => Some(95.0),
            Stat::P99 => Some(99.0),
            Stat::P999 => Some(99.9),
            Stat::Max => Some(100.0),
            Stat::Mean => None,
        }
    }

    fn from_name(name: &str) -> Option<Stat> {
        if name == "p999" {
            return Some(Stat::P999);
        }
        Stat::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl Metric {
    fn overall_from_name(name: &str) -> Option<Metric> {
        Some(match name {
            "hit_rate" => Metric::HitRate,
            "error_rate" => Metric::ErrorRate,
            "redis_error_rate" => Metric::RedisErrorRate,
            "evictions" => Metric::Evictions,
            "memory" => Metric::Memory,
            "throughput" => Metric::Throughput,
            "stale_reads" => Metric::StaleReads,
            "lost_invalidations" => Metric::LostInvalidations,
            "redis_calls_while_open" => Metric::RedisCallsWhileOpen,
            "lost_writes" => Metric::LostWrites,
            "hot_shard_skew" => Metric::HotShardSkew,
            _ if name.starts_with("breaker.") => {
                let rest = &name["breaker.".len()..];
                let b = BreakerMetric::ALL.into_iter().find(|b| b.name() == rest)?;
                Metric::Breaker(b)
            }
            _ => {
                return Stat::from_name(name).map(|stat| Metric::Latency { op: None, stat });
            }
        })
    }
}

impl fmt::Display for Metric {
    /// The metric as written in thresholds: `p95`, `get.p99`, `hit_rate`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Latency { op: Some(op), stat } => write!(f, "{}.{}", op.name(), stat.name()),
            Metric::Latency { op: None, stat } => f.write_str(stat.name()),
            Metric::HitRate => f.write_str("hit_rate"),
            Metric::ErrorRate => f.write_str("error_rate"),
            Metric::RedisErrorRate => f.write_str("redis_error_rate"),
            Metric::Evictions => f.write_str("evictions"),
            Metric::Memory => f.write_str("memory"),
            Metric::Throughput => f.write_str("throughput"),
            Metric::StaleReads => f.write_str("stale_reads"),
            Metric::LostInvalidations => f.write_str("lost_invalidations"),
            Metric::Breaker(b) => write!(f, "breaker.{}", b.name()),
            Metric::RedisCallsWhileOpen => f.write_str("redis_calls_while_open"),
            Metric::LostWrites => f.write_str("lost_writes"),
            Metric::HotShardSkew => f.write_str("hot_shard_skew"),
        }
    }
}

impl Cmp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Eq => "==",
        }
    }
}

impl Threshold {
    /// Parses an expression such as `"p95 < 50ms"`, `"get.p99 <= 5ms"`, `"hit_rate >= 80%"`,
    /// `"throughput > 5000/s"` or `"stale_reads == 0"`. Latency limits need a unit and are
    /// stored in microseconds.
    pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
        let at = expr.find(['<', '>', '=']).ok_or(ThresholdError::Syntax)?;
        let lhs = expr[..at].trim();
        let rest = &expr[at..];
        let (cmp, rhs) = match (rest.as_bytes()[0], rest.as_bytes().get(1)) {
            (b'<', Some(b'=')) => (Cmp::Le, &rest[2..]),
            (b'>', Some(b'=')) => (Cmp::Ge, &rest[2..]),
            (b'=', Some(b'=')) => (Cmp::Eq, &rest[2..]),
            (b'<', _) => (Cmp::Lt, &rest[1..]),
            (b'>', _) => (Cmp::Gt, &rest[1..]),
            _ => return Err(ThresholdError::Syntax),
        };
        let rhs = rhs.trim();
        if lhs.is_empty() || rhs.is_empty() || rhs.contains(['<', '>', '=']) {
            return Err(ThresholdError::Syntax);
        }
        let (name, fault) = split_fault(lhs)?;
        let metric = parse_metric(name)?;
        if rhs.starts_with('-') {
            return Err(ThresholdError::Negative(rhs.to_string()));
        }
        if fault.is_some() && !metric.is_per_fault() {
            return Err(ThresholdError::NotPerFault(name.to_string()));
        }
        if cmp == Cmp::Eq && !metric.is_exact() {
            return Err(ThresholdError::ExactOnMeasurement(name.to_string()));
        }
        let limit = match metric {
            Metric::Latency { .. }
            | Metric::Breaker(BreakerMetric::OpensWithin | BreakerMetric::RecoversWithin) => {
                parse_latency_us(rhs)?
            }
            Metric::HitRate
            | Metric::ErrorRate
            | Metric::RedisErrorRate
            | Metric::Evictions
            | Metric::Memory => match super::units::parse_percent(rhs) {
                Ok(v) if (0.0..=1.0).contains(&v) => v,
                _ => return Err(ThresholdError::Fraction(rhs.to_string())),
            },
            Metric::Throughput => parse_throughput(rhs)?,
            Metric::HotShardSkew => match rhs.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => return Err(ThresholdError::Skew(rhs.to_string())),
            },
            Metric::Breaker(BreakerMetric::FinalState) => {
                let state = rhs.to_ascii_lowercase();
                match BREAKER_STATES.iter().position(|s| *s == state) {
                    Some(i) => i as f64,
                    None => return Err(ThresholdError::State(rhs.to_string())),
                }
            }
            Metric::Breaker(_)
            | Metric::RedisCallsWhileOpen
            | Metric::StaleReads
            | Metric::LostInvalidations
            | Metric::LostWrites => match rhs.parse::<u64>() {
                Ok(v) => v as f64,
                Err(_) => return Err(ThresholdError::Count(rhs.to_string())),
            },
        };
        let fraction = matches!(
            metric,
            Metric::HitRate
                | Metric::ErrorRate
                | Metric::RedisErrorRate
                | Metric::Evictions
                | Metric::Memory
        );
        let impossible = match cmp {
            // An even spread is the least skew there is.
            Cmp::Lt if metric == Metric::HotShardSkew => limit <= 1.0,
            Cmp::Lt => limit <= 0.0,
            Cmp::Gt => fraction && limit >= 1.0,
            // A state has three values; a count may be any whole number.
            Cmp::Le | Cmp::Ge | Cmp::Eq => false,
        };
        if impossible {
            return Err(ThresholdError::Impossible(expr.trim().to_string()));
        }
        Ok(Threshold {
            expr: expr.trim().to_string(),
            metric,
            cmp,
            limit,
            fault: fault.map(str::to_string),
        })
    }

    /// True when `measured` (in the metric's unit) satisfies this threshold.
    pub fn passes(&self, measured: f64) -> bool {
        self.cmp.holds(measured, self.limit)
    }
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Threshold::parse(s)
    }
}

/// `breaker.opens_within[kill1]` → (`breaker.opens_within`, `Some("kill1")`).
fn split_fault(lhs: &str) -> Result<(&str, Option<&str>), ThresholdError> {
    let Some(open) = lhs.find('[') else {
        return Ok((lhs, None));
    };
    let fault = lhs[open + 1..]
        .strip_suffix(']')
        .map(str::trim)
        .filter(|f| !f.is_empty() && !f.contains(['[', ']']))
        .ok_or_else(|| ThresholdError::FaultName(lhs.to_string()))?;
    Ok((lhs[..open].trim_end(), Some(fault)))
}

/// `get.p99` → per-operation latency; `p99.9` is a statistic, not `p99` of operation `9`.
fn parse_metric(name: &str) -> Result<Metric, ThresholdError> {
    if let Some(metric) = Metric::overall_from_name(name) {
        return Ok(metric);
    }
    let Some((op_name, stat_name)) = name.split_once('.') else {
        return Err(ThresholdError::UnknownMetric(name.to_string()));
    };
    let Some(op) = OpKind::from_name(op_name) else {
        return Err(if Metric::overall_from_name(stat_name).is_some() {
            ThresholdError::UnknownOp(op_name.to_string())
        } else {
            ThresholdError::UnknownMetric(name.to_string())
        });
    };
    match (
        Stat::from_name(stat_name),
        Metric::overall_from_name(stat_name),
    ) {
        (Some(stat), _) => Ok(Metric::Latency { op: Some(op), stat }),
        (None, Some(_)) => Err(ThresholdError::NotPerOp(name.to_string())),
        (None, None) => Err(ThresholdError::UnknownMetric(name.to_string())),
    }
}

/// `"50ms"`, `"1.5s"`, `"500us"` → microseconds. Decimal numbers are allowed (humantime's
/// parser does not take them, so this is a small parser of its own).
fn parse_latency_us(text: &str) -> Result<f64, ThresholdError> {
    let err = || ThresholdError::LatencyUnit(text.to_string());
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(err)?;
    let value: f64 = text[..split].parse().map_err(|_| err())?;
    if !value.is_finite() {
        return Err(err());
    }
    let per_unit = match text[split..].trim() {
        "ns" => 0.001,
        "us" | "µs" | "μs" => 1.0,
        "ms" => 1_000.0,
        "s" => 1_000_000.0,
        "m" | "min" => 60_000_000.0,
        _ => return Err(err()),
    };
    Ok(value * per_unit)
}

fn parse_throughput(text: &str) -> Result<f64, ThresholdError> {
    let number = text
        .strip_suffix("ops/s")
        .or_else(|| text.strip_suffix("/s"))
        .unwrap_or(text)
        .trim();
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(ThresholdError::Throughput(text.to_string())),
    }
}

#[cfg(test)]
#[path = "threshold/tests.rs"]
mod tests;
