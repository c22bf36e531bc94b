//! Thresholds: k6-like pass/fail expressions such as `"p95 < 50ms"`, `"hit_rate >= 0.80"` or
//! `"get.p99 < 5ms"`. This module owns their model and parsing; `report` measures them.

use crate::op::OpKind;
use serde::{Deserialize, Serialize};

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
    /// errors / operations, 0..=1.
    ErrorRate,
    /// Redis evicted keys / keys written during the run, 0..=1.
    Evictions,
    /// Redis used_memory / maxmemory at the end of the run, 0..=1.
    Memory,
    /// Operations per second over the measured phase.
    Throughput,
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
}

impl Cmp {
    /// True when `measured <op> limit` holds.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Cmp::Lt => measured < limit,
            Cmp::Le => measured <= limit,
            Cmp::Gt => measured > limit,
            Cmp::Ge => measured >= limit,
        }
    }
}

/// One parsed threshold. `limit` is in the metric's unit: microseconds for latency,
/// a fraction for rates, ops/s for throughput.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The expression as written, e.g. `"p95 < 50ms"`.
    pub expr: String,
    pub metric: Metric,
    pub cmp: Cmp,
    pub limit: f64,
}
