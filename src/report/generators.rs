//! Which load generators a report covers: one shard of a sharded run (`redline run --shard`,
//! [`ShardInfo`]) or the shards a merged report combines (`redline merge`, [`MergeInfo`]).
//! A lone generator's report has neither.

use super::summary::GeneratorReport;
use super::verdict::Verdict;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One generator of a sharded run: which share of the load it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// This generator's index, 0-based (shard 0 preloads and removes the keys).
    pub index: u32,
    /// How many generators share the run.
    pub count: u32,
    /// The whole run's `[load]` as resolved (every shard together), while `scenario.config`
    /// holds this shard's share of it: `redline merge` checks the shards ran one scenario
    /// and puts this back in the merged report.
    pub run_load: serde_json::Value,
    /// The start the command line asked for (`--start-at`), if any.
    #[serde(default)]
    pub start_at: Option<DateTime<Utc>>,
}

/// The shards a merged report combines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeInfo {
    /// How many generators the run had.
    pub count: u32,
    /// Each shard's own figures, by index.
    pub shards: Vec<MergedShard>,
}

/// What a merged report keeps of one shard: its generator's health above all, since one
/// saturated generator makes the whole run inconclusive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedShard {
    /// The shard's index.
    pub index: u32,
    /// When its load started.
    pub started_at: DateTime<Utc>,
    /// Seconds between the earliest shard's start and this one's (the merged time series
    /// shifts its points by this much).
    pub offset_s: f64,
    /// Operations it completed in the measured phase.
    pub ops: u64,
    /// Its throughput, operations per measured second.
    pub throughput: f64,
    /// Its own verdict.
    pub verdict: Verdict,
    /// Why, for fail and inconclusive.
    pub verdict_reason: Option<String>,
    /// Whether it was interrupted.
    pub aborted: bool,
    /// Its load generator's schedule keeping and CPU.
    pub generator: GeneratorReport,
}

/// One line naming the generators a report covers, for the terminal and summary.md:
/// `shard 1/3 (this generator's share of the load)` or `3 shards merged: 0/3 12,034 ops/s
/// pass · 1/3 11,998 ops/s inconclusive (saturated) · …`; `None` for a lone generator.
pub fn describe(s: &super::RunSummary) -> Option<String> {
    if let Some(shard) = &s.shard {
        return Some(format!(
            "shard {}/{} — this generator's share of the load; merge the shards' reports \
             with `redline merge`",
            shard.index, shard.count
        ));
    }
    let merged = s.merged.as_ref()?;
    let shards: Vec<String> = merged
        .shards
        .iter()
        .map(|m| {
            let mut text = format!(
                "{}/{} {} {}",
                m.index,
                merged.count,
                super::format::per_second(m.throughput),
                m.verdict.name()
            );
            if m.generator.saturated {
                text.push_str(" (generator saturated)");
            }
            text
        })
        .collect();
    Some(format!(
        "{} shards merged: {}",
        merged.count,
        shards.join(" · ")
    ))
}
