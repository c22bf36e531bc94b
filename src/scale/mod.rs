//! Past one machine: several load generators driving one run, and watching a run live.
//!
//! - [`shard`]: `--shard INDEX/COUNT` (or an Indexed Job's variables) and the share of the
//!   scenario one generator runs.
//! - [`start`]: `--start-at TIME`, checked.
//! - [`coordinate`]: the generators meet on the Redis they load (marker keys under the
//!   run's prefix): shard 0 preloads, everyone starts on the same second, shard 0 removes
//!   the keys once all are done.
//! - [`merge`]: `redline merge`, one report from the shards' reports.
//! - [`metrics`]: `--metrics-addr`, the live figures in the Prometheus text format.
//! - [`run_plan`]: the command line's scale-out options turned into what the engine gets.

pub mod coordinate;
pub mod merge;
pub mod metrics;
pub mod run_plan;
pub mod shard;
pub mod start;
