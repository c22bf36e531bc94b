//! [`RunSummary`]: the immutable result of a run that every renderer reads, serialized as
//! report.json (`schema: "redline.report/v2"`). It carries everything a later `redline report`,
//! `compare` or `merge` needs without the run: totals, percentiles, the per-second series,
//! thresholds and verdict, and the histograms themselves. This module owns the types;
//! [`assemble`](super::assemble) builds one ([`RunSummary::build`]).

use super::aggregate::{ratio, TimePoint};
pub use super::backlog::{BacklogReport, OriginReport};
pub use super::consistency::ConsistencyReport;
pub use super::faults::{CallsWhileOpen, FaultRecord};
pub use super::generators::{MergeInfo, MergedShard, ShardInfo};
pub use super::phase::{Cleanup, CleanupOutcome, Phase};
use super::verdict::{ThresholdResult, Verdict};
use crate::cache::BreakerState;
use crate::op::{ErrorKind, OpKind};
use crate::scenario::threshold::Stat;
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `schema` value of report.json files this version writes and reads.
///
/// v2: every duration names its unit (`p99_us`), thresholds carry `status` and `unit`, and
/// client totals and server INFO deltas name their window.
pub const SCHEMA: &str = "redline.report/v2";

/// Everything known about a finished run. Built once, then only read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Always [`SCHEMA`]; readers refuse other values instead of misreading them.
    pub schema: String,
    /// The redline version that produced the report.
    pub redline_version: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: DateTime<Utc>,
    /// Wall-clock length of the run, warmup included, seconds.
    pub duration_s: f64,
    /// Length of the measured (non-warmup) phase, seconds: the throughput denominator.
    pub measured_s: f64,
    /// When the operations in `totals`, `latency` and the thresholds completed: from the end
    /// of warmup to the end of the measured phase, its graceful stop included (`measured_s`
    /// leaves the graceful stop out).
    pub measured_window: Window,
    /// True when the run was interrupted (SIGINT, SIGTERM): its numbers are partial.
    pub aborted: bool,
    /// The phase the run was in when it was interrupted; `None` when it was not.
    #[serde(default)]
    pub aborted_in: Option<Phase>,
    /// The keys the run wrote: their prefix and whether they were removed; `None` when the
    /// target holds no keys of the run (the in-memory store).
    #[serde(default)]
    pub cleanup: Option<Cleanup>,
    /// What was run.
    pub scenario: ScenarioInfo,
    /// What it ran against.
    pub target: TargetInfo,
    /// pass / fail / inconclusive; decides the exit code.
    pub verdict: Verdict,
    /// Why, in one sentence, for fail and inconclusive.
    pub verdict_reason: Option<String>,
    /// Every threshold with its measured value.
    pub thresholds: Vec<ThresholdResult>,
    /// Counts and rates over the measured phase (`measured_window`).
    pub totals: Totals,
    /// Percentiles overall and per operation.
    pub latency: Latency,
    /// One point per second, warmup included.
    pub timeseries: Vec<TimePoint>,
    /// Redis INFO deltas over the measured phase (`server.window` says exactly when);
    /// `None` for the memory provider or if INFO failed.
    pub server: Option<ServerStats>,
    /// Circuit breaker history.
    pub breaker: BreakerReport,
    /// Redis's own view, apart from what the application saw: failures the fallback
    /// absorbed are counted here. `None` when no Redis was loaded (memory target).
    pub redis: Option<RedisCalls>,
    /// Whether the load generator kept its schedule, and what it cost.
    pub generator: GeneratorReport,
    /// Queueing for in-flight and Redis slots, dropped operations, the bottleneck.
    #[serde(default)]
    pub backlog: BacklogReport,
    /// The origin's pool: calls, peak concurrency, queue wait; also per fault window and
    /// breaker-open period.
    #[serde(default)]
    pub origin: OriginReport,
    /// The stale-read checker: stale reads and lost invalidations. `None` when no load ran.
    #[serde(default)]
    pub consistency: Option<ConsistencyReport>,
    /// What the cache saved versus going to the origin every time, when an origin-only
    /// baseline was measured.
    pub cache_effect: Option<CacheEffect>,
    /// Value bytes per codec; empty when no values were encoded.
    pub compression: Vec<CompressionRow>,
    /// The measured histograms, so a report can be re-analysed or merged.
    pub histograms: Histograms,
    /// Which generator of a sharded run this report covers (`redline run --shard`); `None`
    /// for a lone generator and for a merged report.
    #[serde(default)]
    pub shard: Option<ShardInfo>,
    /// The shards a merged report combines (`redline merge`); `None` otherwise.
    #[serde(default)]
    pub merged: Option<MergeInfo>,
    /// The drill's faults with their planned and actual windows; empty without faults.
    #[serde(default)]
    pub faults: Vec<FaultRecord>,
    /// Sentinel failovers and the acknowledged writes they lost; `None` unless the scenario
    /// has a `failover` fault or a `lost_writes` threshold.
    #[serde(default)]
    pub failover: Option<super::failover::FailoverReport>,
    /// How the preload went (`load.preload`); `None` when there was none.
    #[serde(default)]
    pub preload: Option<PreloadStats>,
    /// Per-node figures and the hot-shard skew of a Redis Cluster target, over the same
    /// window as `server`; absent for single-node targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<super::nodes::NodesReport>,
}

/// How a preload went: report.json `preload`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PreloadStats {
    /// Keys written (all of them unless stopped or failed).
    pub keys: u64,
    /// Value bytes written, as stored (after the codec).
    pub bytes: u64,
    /// Wall-clock time, seconds.
    pub elapsed_s: f64,
    /// keys / elapsed_s.
    pub keys_per_s: f64,
    /// True when every key was written.
    pub complete: bool,
}

/// The scenario that was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Scenario name.
    pub name: String,
    /// The fully resolved scenario (file plus overrides), so the run can be reproduced.
    pub config: serde_json::Value,
}

/// Which cache layer was loaded: `managed`, `redis` (raw) or `memory`.
pub use crate::scenario::target::TargetKind;

/// Which store served the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// A Redis server.
    Redis,
    /// The in-memory fallback store; server-side metrics do not exist.
    Memory,
}

/// The target the run was measured against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// How the target was chosen.
    pub kind: TargetKind,
    /// Which store served the cache.
    pub provider: Provider,
    /// `redis_version` from INFO.
    pub server_version: Option<String>,
    /// Connection URL with any password already redacted.
    pub url: Option<String>,
    /// A caveat every report repeats (e.g. "no Redis found; measured the in-memory fallback").
    pub warning: Option<String>,
    /// The run's id: part of its key prefix, so concurrent runs never share keys.
    #[serde(default)]
    pub run_id: String,
    /// Every key the run wrote starts with this (REDIS_KEY_PREFIX + keyspace.prefix +
    /// run id + `:`); `redline clean` removes what a run left behind by it. `None` when no
    /// Redis was written to.
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// On a Redis Cluster, how batches (mget, mset, pipeline, DEL) reach the nodes;
    /// absent for other targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_batches: Option<ClusterBatches>,
}

/// How a run's batches reach a Redis Cluster's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterBatches {
    /// Keys spread over slots; each batch split into one command per hash slot.
    SplitBySlot,
    /// `keyspace.hash_tags`: a batch's keys share one hash tag, one command to one node.
    HashTags,
}

impl ClusterBatches {
    /// The line the terminal and Markdown summaries print.
    pub fn describe(self) -> &'static str {
        match self {
            ClusterBatches::SplitBySlot => "Redis Cluster: batches split by hash slot",
            ClusterBatches::HashTags => {
                "Redis Cluster: batches under one hash tag (keyspace.hash_tags), one node each"
            }
        }
    }
}

/// Counts and rates over the measured phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Operations completed, successful or not.
    pub ops: u64,
    /// Operations completed inside the measured phase per measured second (those that
    /// completed during the graceful stop are in `ops`, not in the rate).
    pub throughput: f64,
    /// Keys found in the cache.
    pub hits: u64,
    /// Keys not found.
    pub misses: u64,
    /// hits / (hits + misses); `None` without reads.
    pub hit_rate: Option<f64>,
    /// Failures per kind, every kind present.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Failures, all kinds.
    pub errors_total: u64,
    /// errors_total / ops; `None` without operations.
    pub error_rate: Option<f64>,
    /// Loads from the origin after a miss.
    pub origin_calls: u64,
    /// Operations served by the in-memory fallback.
    pub fallback_ops: u64,
    /// Commands the operations consisted of: an operation is one application call (a GET,
    /// an MGET of 10 keys, a pipeline of 16 commands), which is 1, 1 and 16 commands.
    pub commands: u64,
}

/// Latency statistics of one histogram. Every duration is in microseconds and says so in
/// its name (`p99_us`), in Rust as in report.json.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 95th percentile, µs.
    pub p95_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest sample (within HDR precision), µs.
    pub max_us: u64,
    /// Arithmetic mean, µs, rounded to 0.1 µs.
    pub mean_us: f64,
}

impl Percentiles {
    /// Statistics of `h`; all zero when it is empty.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles {
                count: 0,
                p50_us: 0,
                p90_us: 0,
                p95_us: 0,
                p99_us: 0,
                p999_us: 0,
                max_us: 0,
                mean_us: 0.0,
            };
        }
        Percentiles {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p95_us: h.value_at_quantile(0.95),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: round_to(h.mean(), 1),
        }
    }

    /// One statistic, µs.
    pub fn stat(&self, stat: Stat) -> f64 {
        match stat {
            Stat::P50 => self.p50_us as f64,
            Stat::P90 => self.p90_us as f64,
            Stat::P95 => self.p95_us as f64,
            Stat::P99 => self.p99_us as f64,
            Stat::P999 => self.p999_us as f64,
            Stat::Max => self.max_us as f64,
            Stat::Mean => self.mean_us,
        }
    }
}

/// Response and service time of one operation (or all together).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpLatency {
    /// From intended start to completion: what a user of the cache waits.
    pub response: Percentiles,
    /// From actual send to completion: what the server and network cost.
    pub service: Percentiles,
}

/// Latency overall and per operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// All operations together.
    pub overall: OpLatency,
    /// Only operations that ran, in [`OpKind::ALL`] order.
    pub per_op: BTreeMap<OpKind, OpLatency>,
}

/// A span of the run in seconds since the load started (t = 0 is the first operation after
/// preload: the clock of `timeseries[].t_s` and breaker transitions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Start, seconds since the load started.
    pub start_s: f64,
    /// End, seconds since the load started.
    pub end_s: f64,
}

impl Window {
    /// A window from two offsets, rounded to the millisecond like every other time.
    pub fn new(start_s: f64, end_s: f64) -> Self {
        Window {
            start_s: round_to(start_s, 3),
            end_s: round_to(end_s, 3),
        }
    }
}

/// Redis INFO deltas (after minus before) over the measured phase, filled by the engine: the
/// "before" snapshot is taken when warmup ends (after preload), the "after" one when the
/// measured phase ends, so preload and warmup traffic are left out, as in the client counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    /// When the two INFO snapshots were taken.
    pub window: Window,
    /// `keyspace_hits` delta.
    pub keyspace_hits: u64,
    /// `keyspace_misses` delta.
    pub keyspace_misses: u64,
    /// `evicted_keys` delta.
    pub evicted_keys: u64,
    /// Keys the run wrote during the window (the evictions denominator).
    pub keys_written: u64,
    /// `used_memory` at the end of the window, bytes.
    pub used_memory: u64,
    /// `maxmemory`, bytes; 0 means unlimited.
    pub maxmemory: u64,
    /// `total_commands_processed` delta.
    pub total_commands_processed: u64,
    /// keyspace_hits / (hits + misses), to cross-check the client-side hit rate.
    pub hit_rate_server: Option<f64>,
}

/// What Redis did over the measured phase, whatever the application then saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedisCalls {
    /// Commands asked of Redis, those the circuit breaker refused included.
    pub calls: u64,
    /// Failed commands per kind (timeout, connection, server_reply, protocol,
    /// breaker_rejected), every kind present.
    pub failures: BTreeMap<ErrorKind, u64>,
    /// Failed commands, all kinds.
    pub failures_total: u64,
    /// failures_total / calls: the `redis_error_rate` threshold metric; `None` without calls.
    pub error_rate: Option<f64>,
}

/// One breaker state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerTransition {
    /// Seconds since the run started.
    pub t_s: f64,
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
    /// What caused it (e.g. "5 consecutive failures", "reset timeout elapsed").
    pub cause: String,
    /// Failures the breaker had counted since the run began, at this change: with the
    /// count when a fault started, how many failures it took to open.
    #[serde(default)]
    pub failures: u64,
}

/// Circuit breaker history, filled by the engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BreakerReport {
    /// Every state change, in order.
    pub transitions: Vec<BreakerTransition>,
    /// State at the end of the run; `None` when the target has no breaker (raw Redis,
    /// memory).
    pub final_state: Option<BreakerState>,
    /// Commands the fault proxy forwarded to Redis while the breaker was OPEN (an open
    /// breaker must touch nothing), each observation with its time; empty when none was,
    /// `None` when the run had no fault proxy to count them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls_while_open: Option<Vec<CallsWhileOpen>>,
}

/// Whether the load generator kept its schedule, and the CPU it used. Saturation is judged
/// from these numbers in one place, [`verdict::saturated`](super::verdict::saturated).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeneratorReport {
    /// The generator fell behind its schedule or ran out of CPU; latencies are not
    /// trustworthy and the verdict is inconclusive.
    pub saturated: bool,
    /// True for the open model, the only one with a schedule to keep.
    #[serde(default)]
    pub open_model: bool,
    /// 99th percentile of the generator's own lag behind the schedule, µs (0 for closed-loop
    /// runs). Waiting for an in-flight slot is not lag: it is in `backlog`.
    pub schedule_lag_p99_us: u64,
    /// Worst lag, µs.
    pub schedule_lag_max_us: u64,
    /// CPU (user + system) redline used while driving the load, seconds.
    #[serde(default)]
    pub cpu_s: f64,
    /// That CPU as a share of the whole machine (1.0 = every core busy all the time).
    #[serde(default)]
    pub cpu_share: f64,
    /// CPU per operation (warmup included), µs; `None` without operations.
    #[serde(default)]
    pub cpu_us_per_op: Option<f64>,
}

/// What the cache saved versus going to the origin for every read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CacheEffect {
    /// Median response time of reads through the cache, µs.
    pub cached_p50_us: f64,
    /// Median response time of an origin-only baseline, µs.
    pub origin_p50_us: f64,
    /// 1 − cached p50 / origin p50; `None` when the origin p50 is 0.
    pub latency_reduction: Option<f64>,
    /// 1 − origin calls / reads; `None` without reads. Negative if the cache caused extra loads.
    pub origin_load_reduction: Option<f64>,
    /// Keys read through the cache.
    pub reads: u64,
    /// Loads from the origin.
    pub origin_calls: u64,
}

impl CacheEffect {
    /// Derives the reductions from the four measured inputs.
    pub fn compute(cached_p50_us: f64, origin_p50_us: f64, reads: u64, origin_calls: u64) -> Self {
        let latency_reduction = (origin_p50_us > 0.0 && cached_p50_us.is_finite())
            .then(|| round_to(1.0 - cached_p50_us / origin_p50_us, RATE_DECIMALS));
        let origin_load_reduction =
            ratio(origin_calls, reads).map(|r| round_to(1.0 - r, RATE_DECIMALS));
        CacheEffect {
            cached_p50_us: round_to(cached_p50_us, 1),
            origin_p50_us: round_to(origin_p50_us, 1),
            latency_reduction,
            origin_load_reduction,
            reads,
            origin_calls,
        }
    }
}

/// Encoded value bytes for one codec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompressionRow {
    /// Codec name.
    pub codec: String,
    /// Bytes before encoding.
    pub raw_bytes: u64,
    /// Bytes sent to Redis.
    pub wire_bytes: u64,
    /// raw / wire (3.0 means a third of the size); `None` when nothing was sent.
    pub ratio: Option<f64>,
}

/// Base64 HdrHistogram V2 encodings (see [`decode_histogram`](super::decode_histogram)),
/// keyed by `"overall"` and operation name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// Response-time histograms.
    pub response: BTreeMap<String, String>,
    /// Service-time histograms.
    pub service: BTreeMap<String, String>,
    /// The response-time histogram of every point of `timeseries` (warmup included), V2
    /// compressed: the run's interval log, written as `latency.hlog`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intervals: Vec<super::hlog::IntervalHistogram>,
    /// Set when a long run's `intervals` were merged to keep report.json bounded (more
    /// points than `max_intervals`): each interval then adds up `points_per_interval`
    /// consecutive points. Absent: one interval per point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals_coarsened: Option<super::intervals::Coarsening>,
}

/// Decimal places kept for fractions (rates, ratios) in the report: enough to show one error
/// in a billion operations.
pub const RATE_DECIMALS: i32 = 9;

/// Rounds to `decimals` places. Report numbers are rounded so report.json stays readable
/// and every value survives a JSON round trip exactly.
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::hdr::new_histogram;

    #[test]
    fn percentiles_of_1_to_1000_us() {
        let mut h = new_histogram();
        for v in 1..=1000 {
            h.record(v).expect("record");
        }
        let p = Percentiles::from_histogram(&h);
        assert_eq!(p.count, 1000);
        // Values below 2,048 are exact at 3 significant digits.
        assert_eq!(
            (p.p50_us, p.p90_us, p.p95_us, p.p99_us, p.p999_us),
            (500, 900, 950, 990, 999)
        );
        assert_eq!(p.max_us, 1000);
        assert_eq!(p.mean_us, 500.5);
        assert_eq!(p.stat(Stat::P99), 990.0);
        assert_eq!(p.stat(Stat::Mean), 500.5);
    }

    #[test]
    fn percentiles_above_2048_us_stay_within_hdr_precision() {
        let mut h = new_histogram();
        for v in 1..=100_000u64 {
            h.record(v * 10).expect("record");
        }
        let p = Percentiles::from_histogram(&h);
        for (got, want) in [
            (p.p50_us, 500_000.0),
            (p.p99_us, 990_000.0),
            (p.max_us, 1_000_000.0),
        ] {
            let err = (got as f64 - want).abs() / want;
            assert!(err < 0.001, "{got} vs {want}");
        }
    }

    #[test]
    fn empty_histogram_gives_zero_percentiles() {
        let p = Percentiles::from_histogram(&new_histogram());
        assert_eq!((p.count, p.p99_us, p.max_us), (0, 0, 0));
        assert_eq!(p.mean_us, 0.0);
    }

    #[test]
    fn cache_effect_handles_zero_denominators() {
        let c = CacheEffect::compute(500.0, 0.0, 0, 0);
        assert_eq!(c.latency_reduction, None);
        assert_eq!(c.origin_load_reduction, None);
        let c = CacheEffect::compute(500.0, 2_000.0, 100, 150);
        assert_eq!(c.latency_reduction, Some(0.75));
        assert_eq!(c.origin_load_reduction, Some(-0.5));
    }

    #[test]
    fn round_to_never_returns_non_finite() {
        assert_eq!(round_to(0.123_456_789, 3), 0.123);
        assert_eq!(round_to(f64::NAN, 3), 0.0);
        assert_eq!(round_to(f64::INFINITY, 3), 0.0);
    }
}
