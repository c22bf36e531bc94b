//! `sizing.json` (schema `redline.sizing/v1`): what `redline size` measured, study by study,
//! with the recommendation in one sentence. Each study is `None` when it did not run; a
//! study that was skipped says why in `skipped`. Units are in the names (`_bytes`, `_us`,
//! `_s`, `_per_s`).

use serde::{Deserialize, Serialize};

/// The `schema` of sizing.json.
pub const SCHEMA: &str = "redline.sizing/v1";

/// Everything a sizing found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizingReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The redline version that produced it.
    pub redline_version: String,
    /// When the sizing started (RFC 3339, UTC).
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Scenario name.
    pub scenario: String,
    /// The server sized against (URL redacted) and whether redline started it.
    pub target: SizingTarget,
    /// The recommendation in one sentence.
    pub recommendation: String,
    /// The targets the sizing aimed at.
    pub targets: Targets,
    /// Memory per key and the recommended maxmemory.
    pub memory: Option<MemoryStudy>,
    /// The throughput knee.
    pub knee: Option<KneeStudy>,
    /// Hit rate against maxmemory.
    pub hit_rate: Option<HitRateStudy>,
    /// Studies not run, each with the reason.
    pub skipped: Vec<Skipped>,
    /// The study a stop request (SIGINT/SIGTERM) interrupted; its numbers so far are kept.
    pub interrupted_in: Option<String>,
    /// Wall-clock length of the whole sizing, seconds.
    pub duration_s: f64,
}

/// The server a sizing ran against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizingTarget {
    /// Redacted URL.
    pub url: Option<String>,
    /// `redis_version`.
    pub server_version: Option<String>,
    /// True when redline started the server (maxmemory may then be changed).
    pub embedded: bool,
}

/// What the sizing aimed at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Keys sized for.
    pub keys: u64,
    /// Keys the runs used (`keyspace.keys`).
    pub run_keys: u64,
    /// The rate production expects, ops/s, when known.
    pub rate_per_s: Option<f64>,
    /// The thresholds each knee step held.
    pub knee_thresholds: Vec<String>,
    /// The share of reads that must hit.
    pub hit_rate: f64,
    /// used_memory / maxmemory to stay under.
    pub memory: f64,
}

/// A study that did not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// `memory`, `knee` or `hit_rate`.
    pub study: String,
    /// Why.
    pub reason: String,
}

/// Memory per key, measured, and what it means for the keyspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryStudy {
    /// Keys written to measure.
    pub sample_keys: u64,
    /// Mean key length, bytes (with the run's prefix).
    pub key_bytes: f64,
    /// Mean value length as stored (after the codec), bytes.
    pub value_bytes: f64,
    /// Mean value length before the codec, bytes.
    pub raw_value_bytes: f64,
    /// Codec of the values (`none`, `gzip-base64`, ...).
    pub codec: String,
    /// used_memory after the sample minus before, per key: what a key really costs,
    /// dictionary and expiry entries and allocator rounding included.
    pub used_memory_per_key_bytes: f64,
    /// Mean `MEMORY USAGE key SAMPLES 0` over up to 200 of the sample keys.
    pub memory_usage_per_key_bytes: f64,
    /// The figure extrapolated: the used_memory delta, or MEMORY USAGE when the delta was
    /// smaller (another client freed memory meanwhile on a shared server).
    pub per_key_bytes: f64,
    /// `used_memory_startup`: what an empty server already uses.
    pub overhead_bytes: u64,
    /// per_key_bytes × keys + overhead.
    pub dataset_bytes: u64,
    /// dataset / memory target, rounded up: the maxmemory to set.
    pub recommended_maxmemory_bytes: u64,
    /// How the maxmemory fits each instance size.
    pub instances: Vec<InstanceFit>,
    /// The smallest single instance that holds it, if any.
    pub recommended_instance_bytes: Option<u64>,
    /// When no single instance holds it: Redis Cluster shards of the largest size needed.
    pub cluster_shards: Option<u64>,
    /// Caveats about the measurement (a shared server, a noisy delta).
    pub notes: Vec<String>,
}

/// One instance size against the recommended maxmemory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceFit {
    /// Instance memory, bytes.
    pub instance_bytes: u64,
    /// The most maxmemory it can take (`sizing.instance_fill` of it).
    pub usable_bytes: u64,
    /// Instances (Cluster shards) of this size needed: 1 when one is enough.
    pub shards: u64,
}

/// One step of the knee search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KneeStep {
    /// Offered rate, ops/s.
    pub rate_per_s: f64,
    /// Achieved rate, ops/s.
    pub throughput_per_s: f64,
    /// Measured phase, seconds.
    pub measured_s: f64,
    /// Response time percentiles, µs.
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    /// Service time p95, µs (from the actual send: Redis, network and origin).
    pub service_p95_us: u64,
    /// errors / operations.
    pub error_rate: Option<f64>,
    /// Arrivals dropped or cut off.
    pub dropped: u64,
    /// The generator fell behind its schedule.
    pub saturated: bool,
    /// Every knee threshold held, nothing dropped, not saturated.
    pub passed: bool,
    /// Why not, when it did not pass.
    pub reason: Option<String>,
    /// Where operations waited (in-flight slots, Redis slots, origin connections).
    pub waits: Waits,
}

/// Queueing of one step, µs (p99 of each wait).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Waits {
    pub in_flight_wait_p99_us: u64,
    pub redis_wait_p99_us: u64,
    pub origin_wait_p99_us: u64,
    /// Origin loads per operation.
    pub origin_calls_per_op: f64,
}

/// Why the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KneeLimit {
    /// A step above the knee failed a threshold or dropped operations: the target's limit.
    Target,
    /// The load generator could not keep the schedule: the limit is redline's, not Redis's.
    Generator,
    /// Every step up to `sizing.max_rate` held: the knee is above it.
    MaxRate,
    /// The first step already failed: no knee was found.
    FirstStepFailed,
    /// A stop request ended the search.
    Interrupted,
}

/// The throughput knee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KneeStudy {
    /// The highest rate that held the targets, ops/s; `None` when none did.
    pub knee_per_s: Option<f64>,
    /// The lowest rate that failed, ops/s.
    pub failed_at_per_s: Option<f64>,
    /// What ended the search.
    pub limit: KneeLimit,
    /// The search's resolution: (failed − knee) / knee at the end.
    pub resolution: f64,
    /// Every step, in the order run.
    pub steps: Vec<KneeStep>,
    /// Where the time went at the knee, and what gave out above it, in words.
    pub at_knee: Option<String>,
    /// What the finding means and what to change, in one or two sentences.
    pub message: String,
}

/// One maxmemory setting of the hit-rate study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitRatePoint {
    /// Share of the working set maxmemory held.
    pub fraction: f64,
    /// maxmemory set, bytes (the server's baseline plus the fraction of the working set).
    pub maxmemory_bytes: u64,
    /// Redis's keyspace_hits / (hits + misses) over the measured phase, the figure the
    /// curve is drawn from (the client's own count would include answers of the managed
    /// layer's fallback); the client-side hit rate when INFO could not be read.
    pub hit_rate: Option<f64>,
    /// The client-side hit rate over the same window.
    pub client_hit_rate: Option<f64>,
    /// Commands Redis failed (an OOM refusal when maxmemory is below what its clients
    /// need): a point with failures is left out of the interpolation.
    pub redis_failures: u64,
    /// Keys Redis evicted over the measured phase.
    pub evicted_keys: u64,
    /// Keys written over the measured phase.
    pub keys_written: u64,
    /// How fast the run's preload wrote the keyspace, keys/s.
    #[serde(default)]
    pub preload_keys_per_s: Option<f64>,
}

/// Hit rate against memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitRateStudy {
    /// Eviction policy used.
    pub policy: String,
    /// Rate of each run, ops/s.
    pub rate_per_s: f64,
    /// The runs' working set (keyspace.keys × per-key bytes), bytes.
    pub working_set_bytes: u64,
    /// One point per fraction, in increasing order.
    pub points: Vec<HitRatePoint>,
    /// Fraction of the working set the target needs (interpolated), when reached.
    pub fraction_needed: Option<f64>,
    /// That fraction of the sized keyspace's data, bytes: the memory the hit-rate target
    /// needs at `targets.keys` (assuming the hot share of keys stays the same).
    pub memory_needed_bytes: Option<u64>,
    /// What the curve means, in one sentence.
    pub message: String,
}
