//! `redline merge REPORT... --out DIR`: one report from the report.json files of a sharded
//! run's generators, as if one generator had run the whole load.
//!
//! - [`check`]: the reports must be every shard of one run (same run id, scenario, shard
//!   count, each shard once); anything else is refused with the reason (exit 2).
//! - [`series`]: the per-second series put on one clock and added.
//! - here: the sections. Histograms are decoded and *added*, so the merged percentiles are
//!   exact (never an average of percentiles); counters are summed and rates recomputed;
//!   throughput is the sum of the shards' rates. Server INFO describes the one server
//!   every shard loaded, so it is taken from one shard (the lowest index that read it),
//!   its `keys_written` (a client count) summed. Each shard's generator health is kept
//!   (`merged.shards`), and one saturated generator makes the merged run inconclusive.
//!   Thresholds and the verdict are then recomputed by the code a run uses
//!   ([`report::verdict`](crate::report::verdict)).
//!
//! Fault windows are shard 0's (every shard runs the same timeline and per-fault
//! expectations name the faults); commands seen while a breaker was open are every
//! shard's.
//!
//! Figures per Redis node (`nodes`, a Cluster target) merge like `server`: every figure
//! there is a node's own INFO change over the measured phase, and every shard's phase ran
//! against the same nodes at the same time, so each shard's snapshot already counts every
//! shard's load. Summing them would count it once per shard; the lowest shard index that
//! read them is taken whole (ops, hit rates, memory, evictions and the hot-shard skew).

pub mod check;
pub mod series;

use crate::op::OpKind;
use crate::report::hdr::{add_histogram, decode_histogram, encode_histogram, new_histogram};
use crate::report::summary::{
    round_to, BacklogReport, CacheEffect, CompressionRow, GeneratorReport, MergeInfo, MergedShard,
    OriginReport, RedisCalls, Totals, Window, RATE_DECIMALS,
};
use crate::report::verdict::{self, Verdict};
use crate::report::{
    BreakerReport, Histograms, Latency, OpLatency, Percentiles, RunSummary, ScenarioInfo,
};
use crate::scenario::Threshold;
use check::Input;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// Why reports could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The reports are not the shards of one run.
    #[error("{0}")]
    Mismatch(String),
    /// A report's histogram does not decode.
    #[error("{file}: histogram {name:?} does not decode: {reason}")]
    Histogram {
        /// The report.
        file: String,
        /// Its key in `histograms`.
        name: String,
        /// What failed.
        reason: String,
    },
}

/// Reads the shards' report.json files (a folder stands for the report.json in it) and
/// merges them. A file of another schema version is refused when read.
pub fn from_files(paths: &[std::path::PathBuf]) -> anyhow::Result<RunSummary> {
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        let file = if path.is_dir() {
            path.join(crate::report::REPORT_JSON)
        } else {
            path.clone()
        };
        let report = crate::report::json::read(&file)?;
        reports.push((file.display().to_string(), report));
    }
    Ok(merge(&reports)?)
}

/// Merges the shards' reports (each named for messages) into one report.
pub fn merge(reports: &[(String, RunSummary)]) -> Result<RunSummary, MergeError> {
    let inputs: Vec<Input<'_>> = reports
        .iter()
        .map(|(name, report)| Input { name, report })
        .collect();
    let count = check::compatible(&inputs)?;
    let mut shards: Vec<&(String, RunSummary)> = reports.iter().collect();
    shards.sort_by_key(|(_, r)| r.shard.as_ref().map_or(0, |s| s.index));
    let first = &shards[0].1;
    let earliest = shards
        .iter()
        .map(|(_, r)| r.started_at)
        .min()
        .unwrap_or(first.started_at);
    let offset = |r: &RunSummary| round_to((r.started_at - earliest).as_seconds_f64(), 3);

    let (response, service) = (
        add_all(&shards, |h| &h.response)?,
        add_all(&shards, |h| &h.service)?,
    );
    let mut totals = sum_totals(shards.iter().map(|(_, r)| &r.totals));
    totals.throughput = round_to(shards.iter().map(|(_, r)| r.totals.throughput).sum(), 3);

    let series: Vec<series::ShardSeries<'_>> = shards
        .iter()
        .map(|(_, r)| series::ShardSeries {
            offset_s: offset(r),
            points: &r.timeseries,
        })
        .collect();
    let shard_info = first.shard.as_ref();
    let mut config = first.scenario.config.clone();
    if let Some(shard) = shard_info {
        config = check::whole_scenario(first, shard);
    }

    let mut summary = RunSummary {
        schema: first.schema.clone(),
        redline_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: earliest,
        duration_s: round_to(fold_max(&shards, |r| offset(r) + r.duration_s), 3),
        measured_s: round_to(fold_max(&shards, |r| r.measured_s), 3),
        measured_window: Window::new(
            -fold_max(&shards, |r| -(offset(r) + r.measured_window.start_s)),
            fold_max(&shards, |r| offset(r) + r.measured_window.end_s),
        ),
        aborted: shards.iter().any(|(_, r)| r.aborted),
        aborted_in: shards.iter().find_map(|(_, r)| r.aborted_in),
        cleanup: first.cleanup.clone(),
        scenario: ScenarioInfo {
            name: first.scenario.name.clone(),
            config,
        },
        target: first.target.clone(),
        verdict: Verdict::Pass,
        verdict_reason: None,
        thresholds: Vec::new(),
        totals,
        latency: latency(&response, &service),
        timeseries: series::merge(&series),
        server: server(&shards),
        breaker: breaker(&shards, &offset),
        redis: redis(&shards),
        generator: generator(&shards),
        backlog: backlog(&shards),
        origin: origin(&shards),
        consistency: consistency(&shards),
        cache_effect: None,
        compression: compression(&shards),
        histograms: encode_all(&response, &service),
        // Only shard 0 preloads.
        preload: first.preload,
        faults: faults(first, offset(first)),
        // The drill's failover checker runs where its faults run: shard 0.
        failover: first.failover.clone(),
        nodes: nodes(&shards),
        shard: None,
        merged: Some(MergeInfo {
            count,
            shards: shards
                .iter()
                .map(|(_, r)| MergedShard {
                    index: r.shard.as_ref().map_or(0, |s| s.index),
                    started_at: r.started_at,
                    offset_s: offset(r),
                    ops: r.totals.ops,
                    throughput: r.totals.throughput,
                    verdict: r.verdict,
                    verdict_reason: r.verdict_reason.clone(),
                    aborted: r.aborted,
                    generator: r.generator,
                })
                .collect(),
        }),
    };
    summary.cache_effect = cache_effect(&shards, &response, &summary.totals);
    let thresholds: Vec<Threshold> = (first.thresholds.iter())
        .map(|t| Threshold {
            expr: t.expr.clone(),
            metric: t.metric,
            cmp: t.cmp,
            limit: t.limit,
            fault: t.fault.clone(),
        })
        .collect();
    summary.thresholds = verdict::evaluate(&summary, &thresholds);
    let (v, mut reason) = verdict::decide(&summary);
    if summary.generator.saturated && !summary.aborted {
        let saturated: Vec<String> = (shards.iter())
            .filter(|(_, r)| r.generator.saturated)
            .filter_map(|(_, r)| r.shard.as_ref().map(|s| format!("{}/{}", s.index, s.count)))
            .collect();
        reason = reason.map(|r| format!("shard {}: {r}", saturated.join(", ")));
    }
    summary.verdict = v;
    summary.verdict_reason = reason;
    Ok(summary)
}

type Shards<'a> = [&'a (String, RunSummary)];

fn fold_max(shards: &Shards<'_>, f: impl Fn(&RunSummary) -> f64) -> f64 {
    shards.iter().map(|(_, r)| f(r)).fold(f64::MIN, f64::max)
}

/// Every shard's histograms of one kind (response or service), added per name.
fn add_all(
    shards: &Shards<'_>,
    kind: impl Fn(&Histograms) -> &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Histogram<u64>>, MergeError> {
    let mut out: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for (file, r) in shards {
        for (name, text) in kind(&r.histograms) {
            let h = decode_histogram(text).map_err(|e| MergeError::Histogram {
                file: file.clone(),
                name: name.clone(),
                reason: e.to_string(),
            })?;
            add_histogram(out.entry(name.clone()).or_insert_with(new_histogram), &h);
        }
    }
    Ok(out)
}

fn encode_all(
    response: &BTreeMap<String, Histogram<u64>>,
    service: &BTreeMap<String, Histogram<u64>>,
) -> Histograms {
    let encode = |m: &BTreeMap<String, Histogram<u64>>| {
        m.iter()
            .filter_map(|(k, h)| Some((k.clone(), encode_histogram(h).ok()?)))
            .collect()
    };
    Histograms {
        response: encode(response),
        service: encode(service),
        // The shards' per-second interval histograms are not added yet: the merged run
        // writes no latency.hlog intervals (each shard's own report keeps them).
        intervals: Vec::new(),
        intervals_coarsened: None,
    }
}

fn percentiles(m: &BTreeMap<String, Histogram<u64>>, name: &str) -> Percentiles {
    m.get(name).map_or_else(
        || Percentiles::from_histogram(&new_histogram()),
        Percentiles::from_histogram,
    )
}

fn latency(
    response: &BTreeMap<String, Histogram<u64>>,
    service: &BTreeMap<String, Histogram<u64>>,
) -> Latency {
    let per_op = OpKind::ALL
        .into_iter()
        .filter(|op| response.contains_key(op.name()))
        .map(|op| {
            let l = OpLatency {
                response: percentiles(response, op.name()),
                service: percentiles(service, op.name()),
            };
            (op, l)
        })
        .collect();
    Latency {
        overall: OpLatency {
            response: percentiles(response, "overall"),
            service: percentiles(service, "overall"),
        },
        per_op,
    }
}

/// Counts summed, rates recomputed as a run computes them.
fn sum_totals<'a>(all: impl Iterator<Item = &'a Totals>) -> Totals {
    let mut t = Totals {
        ops: 0,
        throughput: 0.0,
        hits: 0,
        misses: 0,
        hit_rate: None,
        errors: BTreeMap::new(),
        errors_total: 0,
        error_rate: None,
        origin_calls: 0,
        fallback_ops: 0,
        commands: 0,
    };
    for s in all {
        t.ops += s.ops;
        t.hits += s.hits;
        t.misses += s.misses;
        for (kind, n) in &s.errors {
            *t.errors.entry(*kind).or_default() += n;
        }
        t.errors_total += s.errors_total;
        t.origin_calls += s.origin_calls;
        t.fallback_ops += s.fallback_ops;
        t.commands += s.commands;
    }
    let rate = |part: u64, whole: u64| {
        (whole > 0).then(|| round_to(part as f64 / whole as f64, RATE_DECIMALS))
    };
    t.hit_rate = rate(t.hits, t.hits + t.misses);
    let dropped = t
        .errors
        .get(&crate::op::ErrorKind::Dropped)
        .copied()
        .unwrap_or(0);
    t.error_rate = rate(t.errors_total, t.ops + dropped);
    t
}

fn redis(shards: &Shards<'_>) -> Option<RedisCalls> {
    let mut out: Option<RedisCalls> = None;
    for r in shards.iter().filter_map(|(_, r)| r.redis.as_ref()) {
        let o = out.get_or_insert_with(|| RedisCalls {
            calls: 0,
            failures: BTreeMap::new(),
            failures_total: 0,
            error_rate: None,
        });
        o.calls += r.calls;
        for (kind, n) in &r.failures {
            *o.failures.entry(*kind).or_default() += n;
        }
        o.failures_total += r.failures_total;
    }
    out.map(|mut o| {
        o.error_rate = (o.calls > 0)
            .then(|| round_to(o.failures_total as f64 / o.calls as f64, RATE_DECIMALS));
        o
    })
}

/// The one server's INFO deltas, from the lowest shard that read them; the keys written
/// (counted by each client) summed.
fn server(shards: &Shards<'_>) -> Option<crate::report::ServerStats> {
    let mut server = shards.iter().find_map(|(_, r)| r.server.clone())?;
    server.keys_written = (shards.iter())
        .filter_map(|(_, r)| r.server.as_ref())
        .map(|s| s.keys_written)
        .sum();
    Some(server)
}

/// The per-node figures of the lowest shard that read them (see the module header).
fn nodes(shards: &Shards<'_>) -> Option<crate::report::nodes::NodesReport> {
    shards.iter().find_map(|(_, r)| r.nodes.clone())
}

/// Every shard's breaker transitions on the merged clock, each naming its shard; the final
/// state is the worst shard's.
fn breaker(shards: &Shards<'_>, offset: &dyn Fn(&RunSummary) -> f64) -> BreakerReport {
    let mut transitions = Vec::new();
    let mut final_state = None;
    for (_, r) in shards {
        let index = r.shard.as_ref().map_or(0, |s| s.index);
        for t in &r.breaker.transitions {
            let mut t = t.clone();
            t.t_s = round_to(t.t_s + offset(r), 3);
            t.cause = format!("shard {index}: {}", t.cause);
            transitions.push(t);
        }
        final_state = series::worse(final_state, r.breaker.final_state);
    }
    transitions.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let mut calls_while_open: Option<Vec<_>> = None;
    for (_, r) in shards {
        for c in r.breaker.calls_while_open.iter().flatten() {
            let mut c = *c;
            c.t_s = round_to(c.t_s + offset(r), 3);
            calls_while_open.get_or_insert_with(Vec::new).push(c);
        }
        if r.breaker.calls_while_open.is_some() {
            calls_while_open.get_or_insert_with(Vec::new);
        }
    }
    if let Some(calls) = &mut calls_while_open {
        calls.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    }
    BreakerReport {
        transitions,
        final_state,
        calls_while_open,
    }
}

/// Each shard's stale-read checker judged its own reads: the counts add up.
fn consistency(shards: &Shards<'_>) -> Option<crate::report::consistency::ConsistencyReport> {
    let mut out: Option<crate::report::consistency::ConsistencyReport> = None;
    for c in shards.iter().filter_map(|(_, r)| r.consistency.as_ref()) {
        match &mut out {
            None => out = Some(c.clone()),
            Some(o) => {
                o.checked_reads += c.checked_reads;
                o.stale_reads += c.stale_reads;
                o.stale_reads_within_ttl += c.stale_reads_within_ttl;
                o.lost_invalidations += c.lost_invalidations;
            }
        }
    }
    out
}

/// The fault windows of shard 0 on the merged clock: every shard runs the same timeline,
/// and per-fault expectations name the faults, so they are kept once, by name.
fn faults(first: &RunSummary, offset_s: f64) -> Vec<crate::report::summary::FaultRecord> {
    let shift = |t: Option<f64>| t.map(|t| round_to(t + offset_s, 3));
    first
        .faults
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.planned_at_s = round_to(f.planned_at_s + offset_s, 3);
            f.started_s = shift(f.started_s);
            f.ended_s = shift(f.ended_s);
            f
        })
        .collect()
}

/// Saturated when any shard was; lag is the worst shard's (saturation is a generator's
/// own), CPU summed, its share the busiest generator's.
fn generator(shards: &Shards<'_>) -> GeneratorReport {
    let gens: Vec<&GeneratorReport> = shards.iter().map(|(_, r)| &r.generator).collect();
    let cpu_s: f64 = gens.iter().map(|g| g.cpu_s).sum();
    let ops_all: f64 = (gens.iter())
        .filter_map(|g| Some(g.cpu_s * 1e6 / g.cpu_us_per_op.filter(|c| *c > 0.0)?))
        .sum();
    GeneratorReport {
        saturated: gens.iter().any(|g| g.saturated),
        open_model: gens.iter().any(|g| g.open_model),
        schedule_lag_p99_us: gens
            .iter()
            .map(|g| g.schedule_lag_p99_us)
            .max()
            .unwrap_or(0),
        schedule_lag_max_us: gens
            .iter()
            .map(|g| g.schedule_lag_max_us)
            .max()
            .unwrap_or(0),
        cpu_s: round_to(cpu_s, 3),
        cpu_share: gens.iter().map(|g| g.cpu_share).fold(0.0, f64::max),
        cpu_us_per_op: (ops_all > 0.0).then(|| round_to(cpu_s * 1e6 / ops_all, 2)),
    }
}

/// Limits and peaks summed (each generator has its own slots), waits the worst shard's,
/// dropped operations summed, the bottleneck named by the first shard that had one.
fn backlog(shards: &Shards<'_>) -> BacklogReport {
    let mut b = BacklogReport::default();
    for (_, r) in shards {
        let s = &r.backlog;
        b.max_in_flight += s.max_in_flight;
        b.in_flight_peak += s.in_flight_peak;
        b.in_flight_wait_p99_us = b.in_flight_wait_p99_us.max(s.in_flight_wait_p99_us);
        b.in_flight_wait_max_us = b.in_flight_wait_max_us.max(s.in_flight_wait_max_us);
        b.redis_slots += s.redis_slots;
        b.redis_slots_peak += s.redis_slots_peak;
        b.redis_wait_p99_us = b.redis_wait_p99_us.max(s.redis_wait_p99_us);
        b.redis_wait_max_us = b.redis_wait_max_us.max(s.redis_wait_max_us);
        b.dropped += s.dropped;
        b.interrupted += s.interrupted;
        b.graceful_stop_s = b.graceful_stop_s.max(s.graceful_stop_s);
        if b.bottleneck.is_none() {
            let index = r.shard.as_ref().map_or(0, |s| s.index);
            b.bottleneck = s
                .bottleneck
                .as_ref()
                .map(|text| format!("shard {index}: {text}"));
        }
    }
    b
}

fn origin(shards: &Shards<'_>) -> OriginReport {
    let mut o = OriginReport::default();
    for (_, r) in shards {
        let s = &r.origin;
        o.concurrency += s.concurrency;
        o.calls += s.calls;
        o.peak_concurrency += s.peak_concurrency;
        o.queue_wait_p99_us = o.queue_wait_p99_us.max(s.queue_wait_p99_us);
        o.queue_wait_max_us = o.queue_wait_max_us.max(s.queue_wait_max_us);
    }
    o
}

fn compression(shards: &Shards<'_>) -> Vec<CompressionRow> {
    let mut rows: Vec<CompressionRow> = Vec::new();
    for row in shards.iter().flat_map(|(_, r)| &r.compression) {
        match rows.iter_mut().find(|r| r.codec == row.codec) {
            Some(r) => {
                r.raw_bytes += row.raw_bytes;
                r.wire_bytes += row.wire_bytes;
            }
            None => rows.push(row.clone()),
        }
    }
    for r in &mut rows {
        r.ratio = (r.wire_bytes > 0).then(|| round_to(r.raw_bytes as f64 / r.wire_bytes as f64, 4));
    }
    rows
}

/// The cache effect from the added read histograms and summed counts; the origin-only
/// baseline is the scenario's, the same for every shard (the first one's is used).
fn cache_effect(
    shards: &Shards<'_>,
    response: &BTreeMap<String, Histogram<u64>>,
    totals: &Totals,
) -> Option<CacheEffect> {
    let origin_p50 = shards
        .iter()
        .find_map(|(_, r)| r.cache_effect.map(|c| c.origin_p50_us))?;
    let mut reads = new_histogram();
    for op in OpKind::ALL.into_iter().filter(|op| op.is_read()) {
        if let Some(h) = response.get(op.name()) {
            add_histogram(&mut reads, h);
        }
    }
    let cached = (!reads.is_empty()).then(|| reads.value_at_quantile(0.5) as f64)?;
    Some(CacheEffect::compute(
        cached,
        origin_p50,
        totals.hits + totals.misses,
        totals.origin_calls,
    ))
}

#[cfg(test)]
mod tests;
