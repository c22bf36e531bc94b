//! Assembling a [`RunSummary`]: [`SummaryInputs`] (the aggregator's [`Measured`] plus what only
//! the engine knows: target, server INFO, breaker history, saturation) become totals,
//! percentiles, encoded histograms, compression rows and cache effect; then every threshold is
//! measured and the verdict decided.

use super::aggregate::{ratio, Measured};
use super::backlog::{self, Limits, Queueing};
use super::consistency::{CheckerInputs, ConsistencyReport};
use super::hdr::encode_histogram;
use super::hdr::{add_histogram, new_histogram};
use super::recorder::Recorder;
use super::summary::{
    round_to, BreakerReport, CacheEffect, Cleanup, CompressionRow, GeneratorReport, Histograms,
    Latency, OpLatency, Percentiles, Phase, Provider, RedisCalls, RunSummary, ScenarioInfo,
    ServerStats, TargetInfo, Totals, Window, RATE_DECIMALS, SCHEMA,
};
use super::verdict::{self, Verdict};
use crate::op::{ErrorKind, OpKind, REDIS_ERROR_KINDS};
use crate::scenario::threshold::Threshold;
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// What [`RunSummary::build`] needs: the aggregator's result, the thresholds, and what only the
/// engine knows.
#[derive(Debug, Clone)]
pub struct SummaryInputs {
    /// Totals and time series from [`Aggregator::finish`](super::Aggregator::finish).
    pub measured: Measured,
    /// The scenario's thresholds (defaults included), judged in order.
    pub thresholds: Vec<Threshold>,
    /// Scenario name and resolved configuration.
    pub scenario: ScenarioInfo,
    /// The target, URL already redacted.
    pub target: TargetInfo,
    /// Redis INFO deltas over the measured phase (with their window); `None` for the memory
    /// provider or if INFO could not be read.
    pub server: Option<ServerStats>,
    /// Breaker history.
    pub breaker: BreakerReport,
    /// What the generator cost and which model it ran; saturation is judged from it here.
    pub generator: GeneratorInputs,
    /// The queue limits the scenario set (in-flight, Redis slots, origin pool).
    pub limits: Limits,
    /// The stale-read checker's setting; `None` when it did not run (no load).
    pub checker: Option<CheckerInputs>,
    /// Median latency of an origin-only baseline, µs; enables `cache_effect`.
    pub origin_p50_us: Option<f64>,
    /// The phase in which the run was interrupted, if it was.
    pub aborted_in: Option<Phase>,
    /// What became of the run's keys (`None` for the in-memory store).
    pub cleanup: Option<Cleanup>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// Wall-clock length of the run, warmup included.
    pub duration: Duration,
    /// The drill's faults as they happened; empty without faults.
    pub faults: Vec<super::faults::FaultRecord>,
    /// The `failover` section, when the run checked acknowledged writes.
    pub failover: Option<super::failover::FailoverReport>,
    /// Per-node figures of a Redis Cluster target; `None` for single-node targets.
    pub nodes: Option<super::nodes::NodesReport>,
}

/// The load generator's own measurements, from the engine.
#[derive(Debug, Clone, Copy)]
pub struct GeneratorInputs {
    /// True for the open model.
    pub open_model: bool,
    /// CPU (user + system) the process used while driving the load.
    pub cpu: Duration,
    /// Wall-clock time it was measured over.
    pub wall: Duration,
    /// Cores of the machine.
    pub cores: usize,
}

impl RunSummary {
    /// Computes totals, percentiles, histograms and cache effect, then measures every
    /// threshold and decides the verdict.
    pub fn build(inputs: SummaryInputs) -> RunSummary {
        let Measured {
            totals: ref t,
            timeseries,
            intervals,
            intervals_coarsened,
            measured,
            elapsed,
            counted,
            timed_ops,
        } = inputs.measured;
        let measured_s = measured.as_secs_f64();
        let ops_all = all_ops(&timeseries);
        let reads = t.hit_count() + t.miss_count();
        let has_redis = inputs.target.provider == Provider::Redis;

        let mut timeseries = timeseries;
        super::faults::mark_timeseries(&mut timeseries, &inputs.faults);
        let mut summary = RunSummary {
            schema: SCHEMA.to_string(),
            redline_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: inputs.started_at,
            duration_s: round_to(inputs.duration.as_secs_f64(), 3),
            measured_s: round_to(measured_s, 3),
            measured_window: counted.map_or_else(
                || Window::new(elapsed.as_secs_f64(), elapsed.as_secs_f64()),
                |(from, to)| Window::new(from.as_secs_f64(), to.as_secs_f64()),
            ),
            aborted: inputs.aborted_in.is_some(),
            aborted_in: inputs.aborted_in,
            cleanup: inputs.cleanup,
            scenario: inputs.scenario,
            target: inputs.target,
            verdict: Verdict::Pass,
            verdict_reason: None,
            thresholds: Vec::new(),
            totals: totals(t, timed_ops, measured_s),
            latency: latency(t),
            timeseries,
            server: inputs.server.map(|mut s| {
                s.hit_rate_server = s.hit_rate_server.map(|r| round_to(r, RATE_DECIMALS));
                s
            }),
            redis: has_redis.then(|| redis_calls(t)),
            breaker: BreakerReport {
                transitions: (inputs.breaker.transitions.into_iter())
                    .map(|mut t| {
                        t.t_s = round_to(t.t_s, 3);
                        t
                    })
                    .collect(),
                final_state: inputs.breaker.final_state,
                calls_while_open: inputs.breaker.calls_while_open,
            },
            generator: generator(t, &inputs.generator, ops_all),
            backlog: Default::default(),
            origin: Default::default(),
            consistency: inputs.checker.map(|c| {
                ConsistencyReport::new(t.check_counts(), c.checked_keys, c.replay_invalidations)
            }),
            cache_effect: inputs.origin_p50_us.and_then(|origin| {
                let cached = read_p50(t)?;
                Some(CacheEffect::compute(
                    cached,
                    origin,
                    reads,
                    t.origin_call_count(),
                ))
            }),
            compression: compression(t),
            histograms: Histograms {
                intervals,
                intervals_coarsened,
                ..histograms(t)
            },
            shard: None,
            merged: None,
            faults: inputs.faults,
            failover: inputs.failover,
            preload: None,
            nodes: inputs.nodes,
        };
        let none = Queueing::default();
        (summary.backlog, summary.origin) = backlog::report(
            t.queueing().unwrap_or(&none),
            &inputs.limits,
            t.origin_call_count(),
        );
        let end_s = elapsed.as_secs_f64();
        summary.origin.windows =
            super::origin_windows::during_faults(&summary.faults, end_s, &summary.timeseries);
        summary
            .origin
            .windows
            .extend(super::origin_windows::while_breaker_open(
                &summary.breaker.transitions,
                end_s,
                &summary.timeseries,
            ));
        summary.thresholds = verdict::evaluate(&summary, &inputs.thresholds);
        let (v, reason) = verdict::decide(&summary);
        summary.verdict = v;
        summary.verdict_reason = reason;
        summary
    }
}

/// Totals of `t`; throughput is `timed_ops` (completed inside the measured phase) per
/// measured second.
fn totals(t: &Recorder, timed_ops: u64, measured_s: f64) -> Totals {
    let ops = t.ops();
    let throughput = if measured_s > 0.0 {
        timed_ops as f64 / measured_s
    } else {
        0.0
    };
    let errors_total = t.errors_total();
    Totals {
        ops,
        throughput: round_to(throughput, 3),
        hits: t.hit_count(),
        misses: t.miss_count(),
        hit_rate: ratio(t.hit_count(), t.hit_count() + t.miss_count())
            .map(|r| round_to(r, RATE_DECIMALS)),
        errors: ErrorKind::ALL
            .into_iter()
            .map(|k| (k, t.error_count(k)))
            .collect(),
        errors_total,
        // Dropped operations are errors that never completed, so they join the denominator.
        error_rate: ratio(errors_total, ops + t.error_count(ErrorKind::Dropped))
            .map(|r| round_to(r, RATE_DECIMALS)),
        origin_calls: t.origin_call_count(),
        fallback_ops: t.fallback_op_count(),
        commands: t.command_count(),
    }
}

/// Redis's own view of the measured phase.
fn redis_calls(t: &Recorder) -> RedisCalls {
    let calls = t.redis_calls();
    let failures_total = calls.failures();
    RedisCalls {
        calls: calls.attempted,
        failures: REDIS_ERROR_KINDS
            .into_iter()
            .map(|k| (k, calls.failed[k.index()]))
            .collect(),
        failures_total,
        error_rate: ratio(failures_total, calls.attempted).map(|r| round_to(r, RATE_DECIMALS)),
    }
}

fn latency(t: &Recorder) -> Latency {
    let per_op = OpKind::ALL
        .into_iter()
        .filter_map(|op| {
            let h = t.op_histograms(op)?;
            Some((
                op,
                OpLatency {
                    response: Percentiles::from_histogram(&h.response),
                    service: Percentiles::from_histogram(&h.service),
                },
            ))
        })
        .collect();
    Latency {
        overall: OpLatency {
            response: Percentiles::from_histogram(&t.response_overall()),
            service: Percentiles::from_histogram(&t.service_overall()),
        },
        per_op,
    }
}

/// Median response time of the read operations together, `None` if none ran.
fn read_p50(t: &Recorder) -> Option<f64> {
    let mut reads = new_histogram();
    for op in OpKind::ALL.into_iter().filter(|op| op.is_read()) {
        if let Some(h) = t.op_histograms(op) {
            add_histogram(&mut reads, &h.response);
        }
    }
    (!reads.is_empty()).then(|| reads.value_at_quantile(0.5) as f64)
}

/// Operations completed in every interval, warmup and grace included: the CPU's denominator.
fn all_ops(timeseries: &[super::aggregate::TimePoint]) -> u64 {
    timeseries.iter().map(|p| p.ops).sum()
}

fn generator(t: &Recorder, g: &GeneratorInputs, ops: u64) -> GeneratorReport {
    let (p99, max) = match (g.open_model, t.lag_histogram()) {
        (true, Some(h)) => (h.value_at_quantile(0.99), h.max()),
        _ => (0, 0),
    };
    let cpu_s = g.cpu.as_secs_f64();
    let wall = g.wall.as_secs_f64();
    let mut report = GeneratorReport {
        saturated: false,
        open_model: g.open_model,
        schedule_lag_p99_us: p99,
        schedule_lag_max_us: max,
        cpu_s: round_to(cpu_s, 3),
        cpu_share: if wall > 0.0 {
            round_to(cpu_s / wall / g.cores.max(1) as f64, 4)
        } else {
            0.0
        },
        cpu_us_per_op: (ops > 0).then(|| round_to(cpu_s * 1e6 / ops as f64, 2)),
    };
    report.saturated = verdict::saturated(&report);
    report
}

fn compression(t: &Recorder) -> Vec<CompressionRow> {
    t.codec_bytes()
        .iter()
        .filter(|c| c.raw != 0 || c.wire != 0)
        .map(|c| CompressionRow {
            codec: c.codec.clone(),
            raw_bytes: c.raw,
            wire_bytes: c.wire,
            ratio: (c.wire > 0).then(|| round_to(c.raw as f64 / c.wire as f64, 4)),
        })
        .collect()
}

fn histograms(t: &Recorder) -> Histograms {
    let mut out = Histograms::default();
    if t.ops() == 0 {
        return out;
    }
    let put = |map: &mut BTreeMap<String, String>, key: &str, h: &Histogram<u64>| {
        match encode_histogram(h) {
            Ok(text) => {
                map.insert(key.to_string(), text);
            }
            // Only an I/O error on a Vec or a counter beyond i64 can get here; the report
            // is still useful without this one histogram.
            Err(e) => tracing::warn!("histogram {key} left out of the report: {e}"),
        }
    };
    put(&mut out.response, "overall", &t.response_overall());
    put(&mut out.service, "overall", &t.service_overall());
    for op in OpKind::ALL {
        if let Some(h) = t.op_histograms(op) {
            put(&mut out.response, op.name(), &h.response);
            put(&mut out.service, op.name(), &h.service);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{decode_histogram, fixture};

    #[test]
    fn build_fills_totals_latency_and_derived_sections() {
        let s = fixture::summary();
        assert_eq!(s.schema, SCHEMA);
        assert_eq!(s.duration_s, 12.345);
        assert_eq!(s.measured_s, 10.0);
        assert_eq!(
            s.measured_window,
            Window::new(2.0, 12.0),
            "after warmup, to the end"
        );
        let t = &s.totals;
        assert_eq!(t.ops, 1100);
        assert_eq!(
            t.throughput, 110.0,
            "ops / measured seconds, not wall clock"
        );
        assert_eq!(t.hit_rate, Some(0.8));
        assert_eq!(t.errors.len(), ErrorKind::ALL.len());
        assert_eq!(t.errors[&ErrorKind::Timeout], 2);
        assert_eq!(t.errors_total, 2);
        assert_eq!(t.error_rate, Some(0.001818182));
        assert_eq!((t.origin_calls, t.fallback_ops), (200, 1));

        assert_eq!(s.latency.overall.response.count, 1100);
        assert_eq!(s.latency.per_op.len(), 2, "only ops that ran");
        assert_eq!(s.latency.per_op[&OpKind::Get].response.p50_us, 500);
        assert_eq!(s.latency.per_op[&OpKind::Get].service.p50_us, 250);
        assert_eq!(s.latency.per_op[&OpKind::Set].response.p99_us, 2000);

        assert_eq!(s.generator.schedule_lag_max_us, 400);
        assert_eq!(s.generator.schedule_lag_p99_us, 400);
        assert_eq!(s.compression[0].ratio, Some(4.0));
        assert_eq!(s.timeseries.len(), 2);

        let c = s.cache_effect.expect("origin baseline given");
        assert_eq!(c.cached_p50_us, 500.0, "read ops only: SETs excluded");
        assert_eq!(c.latency_reduction, Some(0.9));
        assert_eq!(c.origin_load_reduction, Some(0.8));
        assert_eq!((c.reads, c.origin_calls), (1000, 200));
    }

    #[test]
    fn histograms_in_the_report_decode_to_the_totals() {
        let s = fixture::summary();
        let overall = decode_histogram(&s.histograms.response["overall"]).expect("decode");
        assert_eq!(overall.len(), 1100);
        assert_eq!(
            overall.value_at_quantile(0.5),
            s.latency.overall.response.p50_us
        );
        let get = decode_histogram(&s.histograms.service["get"]).expect("decode");
        assert_eq!(get.len(), 1000);
        assert!(!s.histograms.response.contains_key("del"));
    }

    #[test]
    fn an_empty_run_builds_without_data() {
        let mut inputs = fixture::inputs();
        inputs.measured.totals = Recorder::new();
        inputs.measured.measured = Duration::ZERO;
        let s = RunSummary::build(inputs);
        assert_eq!(s.totals.ops, 0);
        assert_eq!(s.totals.throughput, 0.0);
        assert_eq!(s.totals.hit_rate, None);
        assert_eq!(s.totals.error_rate, None);
        assert!(s.latency.per_op.is_empty());
        assert!(s.cache_effect.is_none());
        assert!(s.histograms.response.is_empty());
        assert!(s.compression.is_empty());
    }
}
