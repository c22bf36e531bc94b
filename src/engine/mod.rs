//! The load engine: drives a [`Scenario`] through the cache layer and returns an immutable
//! [`RunSummary`]. One loop, shaped by data: the arrival model (open schedule or closed
//! clients), the workload mix and the stop condition.
//!
//! - [`schedule`]: intended start times of the open model (even or Poisson, ramps, warmup).
//! - [`driver`]: the pacer (open model) and the clients (closed model).
//! - [`ops`]: one operation executed and recorded (its [`outcome`] recorded in one place).
//! - [`backend`]: the three targets (managed, raw Redis, memory) behind one interface.
//! - [`origin`]: the simulated database behind `get_or_set`, with a version per key.
//! - [`stale`]: the stale-read checker judging every cached value read against it.
//! - [`queueing`]: where an operation waited (Redis command slots, the origin pool).
//! - [`layer`]: the cache layer (managed, raw Redis, memory) built over the opened target.
//! - [`preload`]: writing every key once before the load, pipelined.
//! - [`cleanup`]: removing the run's keys at the end, reconnecting after a connection loss.
//! - [`info_window`]: server INFO (and a cluster's nodes) at both ends of the measured phase.
//! - [`peers`]: the other generators of a sharded run, and an observer of every interval.
//!
//! Every phase (connecting, preload, warmup, measured, cleanup) waits on the [`Shutdown`]
//! it is given: the first request ends the phase and the run goes on to its partial report
//! (`aborted_in` names the phase) and cleanup; the second skips cleanup. The engine never
//! installs signal handlers: the binary does ([`Shutdown::on_signals`]).
//!
//! `run` is an ordinary library call with no global state: it is *given* an opened
//! [`Target`] (see [`crate::target`]) and never reads the environment, starts a server or
//! picks the provider. Capacity sizing can call it many times against one target (each run
//! writes under its own run id), and tests call it directly.

pub mod backend;
pub mod cleanup;
pub mod driver;
mod info_window;
mod lanes;
pub mod layer;
pub mod ops;
pub mod origin;
mod outcome;
pub mod peers;
pub mod preload;
pub mod queueing;
pub mod schedule;
pub mod stale;
pub mod wire;

use crate::chaos::failover::FailoverRun;
use crate::chaos::open_calls::{self, OpenCallsWatch};
use crate::chaos::timeline::{FailureCount, Injectors, Timeline};
use crate::report::aggregate::{Aggregator, LiveLine};
use crate::report::assemble::{GeneratorInputs, SummaryInputs};
use crate::report::backlog::Limits;
use crate::report::failover;
use crate::report::summary::{
    BreakerReport, BreakerTransition, ClusterBatches, Phase, Provider, RunSummary, ScenarioInfo,
    TargetInfo,
};
use crate::report::RecorderShards;
use crate::scenario::keyspace::forbidden_prefix_char;
use crate::scenario::Scenario;
use crate::shutdown::Shutdown;
use crate::target::{Target, TargetError};
use driver::{Drive, DriveParams};
use ops::Workload;
use rand::Rng;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a run could not be carried out (as opposed to a run that failed its thresholds).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The run's cache store could not connect (unreachable, wrong password, not Redis).
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The generators of a sharded run could not start together (the run's keys are
    /// removed first).
    #[error(transparent)]
    Peers(#[from] peers::PeersError),
    /// A fault of the scenario cannot apply to the target (checked before any load).
    #[error(transparent)]
    Fault(#[from] crate::chaos::FaultError),
    /// On a Redis Cluster, a brace in the run prefix would make it every key's hash tag.
    #[error("the run's key prefix {0:?} contains {{ or }}: on a Redis Cluster that would put every key in one hash slot (one node); remove the braces from REDIS_KEY_PREFIX, keyspace.prefix or the run id (keyspace.hash_tags = true puts each key group under its own tag)")]
    ClusterPrefix(String),
    /// The run id cannot be part of a key prefix.
    #[error("run id {0:?} must not contain whitespace or * ? [ ] \\ (it becomes part of the key prefix)")]
    RunId(String),
}

/// How to run, beyond the scenario itself.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Names the run; its keys live under `REDIS_KEY_PREFIX + keyspace.prefix + run_id + ":"`.
    /// Random (8 hex digits) when None.
    pub run_id: Option<String>,
    /// Keep the keys the run wrote.
    pub keep_keys: bool,
    /// Seed for every random choice; random when None.
    pub seed: Option<u64>,
    /// The other generators of a sharded run; None for a lone generator.
    pub peers: Option<Arc<dyn peers::Peers>>,
    /// Sees every closed interval (the live metrics endpoint); None when nobody watches.
    pub observer: Option<Arc<dyn peers::Observer>>,
}

/// Recorder shards the workers record into (merged once a second).
const SHARDS: usize = 16;

/// Runs `scenario` against the opened `target` until its stop condition or until `shutdown`
/// asks it to stop (then the partial report is marked aborted, naming the phase). `on_tick`
/// sees the live line once a second. The run connects its own cache store and removes its
/// own keys; the target (and a server redline started) outlives it.
pub async fn run(
    scenario: &Scenario,
    target: &Target,
    opts: &RunOptions,
    shutdown: Shutdown,
    on_tick: &mut (dyn FnMut(&LiveLine) + Send),
) -> Result<RunSummary, EngineError> {
    let seed = opts.seed.unwrap_or_else(|| rand::rng().random());
    let run_id = match &opts.run_id {
        Some(id) if id.is_empty() || forbidden_prefix_char(id).is_some() => {
            return Err(EngineError::RunId(id.clone()))
        }
        Some(id) => id.clone(),
        None => format!("{:08x}", rand::rng().random::<u32>()),
    };
    let run_prefix = format!(
        "{}{}{run_id}:",
        target.key_prefix(),
        scenario.keyspace.prefix
    );
    if target.is_cluster() && run_prefix.contains(['{', '}']) {
        return Err(EngineError::ClusterPrefix(run_prefix));
    }
    crate::chaos::check_target(&scenario.faults, target)?;
    let opened_at = Instant::now();
    let target_info = |provider: Provider| TargetInfo {
        kind: scenario.target.kind,
        provider,
        server_version: target.server_version().map(str::to_string),
        url: target.redacted_url(),
        warning: target.warning(),
        run_id: run_id.clone(),
        key_prefix: (provider == Provider::Redis).then(|| run_prefix.clone()),
        cluster_batches: (provider == Provider::Redis && target.is_cluster()).then_some(
            match scenario.keyspace.hash_tags {
                true => ClusterBatches::HashTags,
                false => ClusterBatches::SplitBySlot,
            },
        ),
    };
    if target.provider() == Provider::Redis {
        Phase::Connecting.enter();
    }
    let backend = match until(&shutdown, layer::backend(scenario, target, &run_prefix)).await {
        Some(backend) => backend?,
        None => {
            let info = target_info(target.provider());
            return Ok(aborted_before_load(scenario, Phase::Connecting, info));
        }
    };
    // The memory layer never touches Redis, even when the target has one.
    let provider = match backend {
        backend::Backend::Memory(_) => Provider::Memory,
        _ => Provider::Redis,
    };
    let admin = target.admin().filter(|_| provider == Provider::Redis);
    let info_sources = info_window::Sources::new(target, admin);
    // The phase a stop request interrupted, noted by each phase as it ends.
    let mut aborted_in: Option<Phase> = None;
    let note_stop = |phase: Phase, aborted_in: &mut Option<Phase>| {
        if aborted_in.is_none() && shutdown.is_stopping() {
            *aborted_in = Some(phase);
        }
    };
    note_stop(Phase::Connecting, &mut aborted_in);

    let mut aggregator = Aggregator::new();
    let recorders = RecorderShards::register(&mut aggregator, SHARDS);
    let workload = Arc::new(Workload::new(scenario, backend, recorders, seed));
    let mut preloaded = None;
    if scenario.load.preload && aborted_in.is_none() {
        Phase::Preload.enter();
        preloaded = Some(preload::preload(&workload, scenario, &shutdown).await);
        note_stop(Phase::Preload, &mut aborted_in);
    }
    if let (Some(peers), None) = (&opts.peers, aborted_in) {
        Phase::Waiting.enter();
        match until(&shutdown, peers.ready(admin, &run_prefix)).await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                // Preloaded keys are not left behind by a run that never started.
                if let Some(admin) = admin.filter(|_| peers.cleans_up()) {
                    cleanup::remove_run_keys(admin, &run_prefix, opts.keep_keys, &shutdown).await;
                }
                return Err(e.into());
            }
            None => aborted_in = Some(Phase::Waiting),
        }
    }

    // Set before the load when a phase before it was interrupted: the load then ends at once.
    let stop = Arc::new(AtomicBool::new(aborted_in.is_some()));

    // Server INFO covers the client counts' window, the measured phase: its "before"
    // snapshot is taken when warmup ends (after preload), here when there is no warmup, so
    // preload and warmup traffic are left out of both.
    let warmup = scenario.load.warmup;
    let mut info_before = None;
    if warmup.is_zero() && aborted_in.is_none() {
        let snapshot = info_window::snapshot(&info_sources, &workload, Instant::now());
        info_before = until(&shutdown, snapshot).await.flatten();
    }
    let mut info_at_warmup_end = None;
    let mut warmup_done = warmup.is_zero();

    let started_at = chrono::Utc::now();
    let start = Instant::now();
    // The breaker's clock at the load's start: transitions go on the time series' clock
    // exactly (the breaker's clock began when the layer was built, after connecting), as
    // drills measure them against fault times to the millisecond.
    let breaker_at_start = workload
        .backend
        .manager()
        .map(|m| m.breaker().clock_now().as_secs_f64());
    let breaker_state = || {
        workload
            .backend
            .manager()
            .filter(|m| m.redis().is_some())
            .map(|m| m.breaker().state())
    };
    let load = &scenario.load;
    let redis_slots = queueing::RedisSlots::new(load.connections * load.pipeline_depth);
    let limits = Limits {
        max_in_flight: load.max_in_flight as u64,
        redis_slots: redis_slots.size() as u64,
        connections: load.connections as u64,
        origin_concurrency: workload.origin.size() as u64,
        graceful_stop_s: load.graceful_stop.as_secs_f64(),
    };
    let params = DriveParams {
        load: load.clone(),
        start,
        seed,
        stop: stop.clone(),
        redis_slots,
    };
    let mut warming = !scenario.load.warmup.is_zero();
    if aborted_in.is_none() {
        let phase = if warming {
            Phase::Warmup
        } else {
            Phase::Measured
        };
        phase.enter();
    }
    let cpu_before = driver::process_cpu();
    // A failover drill writes versioned keys beside the load and reads them back at the end.
    let failover_run = match aborted_in {
        None if provider == Provider::Redis => {
            FailoverRun::start(scenario, target, &run_prefix, start).await?
        }
        _ => None,
    };
    let timeline = (!scenario.faults.is_empty() && aborted_in.is_none()).then(|| {
        let injectors = Injectors {
            failover: failover_run.as_ref().and_then(|f| f.injector.clone()),
            cluster_failover: failover_run.as_ref().and_then(|f| f.cluster.clone()),
            server: target.server_process().cloned(),
            admin: admin.cloned(),
            proxy: target.fault_proxy().cloned(),
        };
        let w = workload.clone();
        let failures: FailureCount = Arc::new(move || {
            let m = w.backend.manager().filter(|m| m.redis().is_some())?;
            Some(m.breaker().counters().failures)
        });
        Timeline::start(scenario.faults.clone(), injectors, start, failures)
    });
    let has_breaker = breaker_state().is_some();
    let open_calls = target.fault_proxy().filter(|_| has_breaker).map(|proxy| {
        let w = workload.clone();
        let probe = open_calls::probe_of(move || {
            let m = w.backend.manager().filter(|m| m.redis().is_some())?;
            Some(open_calls::sample(m.breaker()))
        });
        OpenCallsWatch::start(
            proxy.clone(),
            probe,
            start,
            scenario.target.response_timeout,
        )
    });
    let mut drive = std::pin::pin!(driver::drive(workload.clone(), params));
    // Intervals close once a second and once exactly when warmup ends and when the measured
    // phase ends, so an interval is all warmup, all measured or all grace: it counts when it
    // starts at or after the end of warmup (operations are recorded on completion), and a
    // grace interval's length is not measured time.
    let warmup = scenario.load.warmup;
    let measured_end = scenario.load.duration.map_or(Duration::MAX, |d| warmup + d);
    let mut ticker = tokio::time::interval_at(
        (start + Duration::from_secs(1)).into(),
        Duration::from_secs(1),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let warmup_end = tokio::time::sleep_until((start + warmup).into());
    let mut warmup_end = std::pin::pin!(warmup_end);
    let phase_end = tokio::time::sleep_until(
        start
            .checked_add(measured_end)
            .unwrap_or(start + Duration::from_secs(86_400 * 365))
            .into(),
    );
    let mut phase_end = std::pin::pin!(phase_end);
    let mut interval_start = Duration::ZERO;
    let close_interval = |aggregator: &mut Aggregator, interval_start: &mut Duration| {
        let elapsed = start.elapsed();
        let points = aggregator.timeseries().len();
        if *interval_start >= measured_end {
            aggregator.tick_grace(elapsed, breaker_state());
        } else {
            aggregator.tick(elapsed, breaker_state(), *interval_start >= warmup);
        }
        *interval_start = elapsed;
        if let (Some(observer), Some(point)) = (&opts.observer, aggregator.timeseries().last()) {
            if aggregator.timeseries().len() > points {
                observer.interval(point, aggregator.last_interval());
            }
        }
    };
    let outcome: Option<Drive> = loop {
        // Biased: when a tick and the end of warmup fall due together, the tick closes the
        // interval and the warmup branch, which fires once, has nothing left to close but
        // still takes the INFO snapshot.
        tokio::select! {
            biased;
            outcome = &mut drive => break Some(outcome),
            // A second request does not wait for in-flight operations to drain.
            _ = shutdown.abandoning() => break None,
            _ = shutdown.stopping(), if aborted_in.is_none() => {
                stop.store(true, Ordering::SeqCst);
                let phase = if start.elapsed() < warmup { Phase::Warmup } else { Phase::Measured };
                aborted_in = Some(phase);
            }
            _ = ticker.tick() => {
                close_interval(&mut aggregator, &mut interval_start);
                on_tick(&aggregator.live());
            }
            _ = &mut warmup_end, if !warmup_done => {
                warmup_done = true;
                if interval_start < warmup {
                    close_interval(&mut aggregator, &mut interval_start);
                }
                info_at_warmup_end =
                    Some(tokio::spawn(info_window::snapshot(&info_sources, &workload, start)));
            }
            _ = &mut phase_end, if interval_start < measured_end => {
                close_interval(&mut aggregator, &mut interval_start);
            }
        }
        // Whichever branch closed the last warmup interval, the measured phase begins now.
        if warming && interval_start >= warmup {
            warming = false;
            if aborted_in.is_none() {
                Phase::Measured.enter();
            }
        }
    };
    // Every fault is undone before the last interval closes and before INFO and cleanup,
    // which need the server as it was.
    let faults = match timeline {
        Some(t) => t.finish(&shutdown).await,
        None => Vec::new(),
    };
    // Read back before cleanup removes the keys.
    let failover_writes = match failover_run {
        Some(f) => Some(f.finish_writes(shutdown.abandoning()).await),
        None => None,
    };
    let calls_while_open = match open_calls {
        Some(w) => Some(w.finish().await),
        None => None,
    };
    close_interval(&mut aggregator, &mut interval_start);
    let elapsed = start.elapsed();
    let cpu = driver::process_cpu().saturating_sub(cpu_before);

    if let Some(task) = info_at_warmup_end {
        info_before = until_abandoned(&shutdown, task)
            .await
            .and_then(|r| r.ok().flatten());
    }
    let info_after = match &info_before {
        Some(_) => {
            let snapshot = info_window::snapshot(&info_sources, &workload, start);
            until_abandoned(&shutdown, snapshot).await.flatten()
        }
        None => None,
    };
    let (server, nodes) = info_window::compare(info_before, info_after);
    if let Some(peers) = &opts.peers {
        // An interrupted generator still says it is done (only a second signal skips
        // that), so shard 0 need not wait out its bound; a running one gives up waiting for
        // the others at a stop request.
        if aborted_in.is_some() || shutdown.is_stopping() {
            until_abandoned(&shutdown, peers.finished(admin, &run_prefix, true)).await;
        } else {
            until(&shutdown, peers.finished(admin, &run_prefix, false)).await;
        }
    }
    let cleanup = match admin {
        Some(_) if opts.peers.as_ref().is_some_and(|p| !p.cleans_up()) => {
            Some(crate::report::summary::Cleanup {
                prefix: run_prefix.clone(),
                outcome: crate::report::summary::CleanupOutcome::OtherShard,
                removed: 0,
                reason: None,
                remove_with: None,
            })
        }
        Some(admin) => {
            Phase::Cleanup.enter();
            let removal = cleanup::remove_run_keys(admin, &run_prefix, opts.keep_keys, &shutdown);
            Some(removal.await)
        }
        None => None,
    };
    note_stop(Phase::Cleanup, &mut aborted_in);

    let measured = aggregator.finish();
    let generator = GeneratorInputs {
        open_model: outcome.is_some_and(|o| o.open_model),
        cpu,
        wall: elapsed,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };

    let manager = workload.backend.manager().filter(|m| m.redis().is_some());
    let clock_offset = breaker_at_start
        .unwrap_or_else(|| start.saturating_duration_since(opened_at).as_secs_f64());
    let breaker = BreakerReport {
        transitions: manager
            .map(|m| m.breaker().transitions())
            .unwrap_or_default()
            .into_iter()
            .map(|t| BreakerTransition {
                t_s: t.at.as_secs_f64() - clock_offset,
                from: t.from,
                to: t.to,
                cause: t.cause,
                failures: t.failures,
            })
            .collect(),
        final_state: breaker_state(),
        calls_while_open,
    };
    let breaker_transitions = breaker.transitions.clone();
    let scenario_value = redacted_config(scenario);
    let mut summary = RunSummary::build(SummaryInputs {
        measured,
        thresholds: scenario.thresholds.clone(),
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            config: scenario_value,
        },
        target: target_info(provider),
        server,
        breaker,
        generator,
        limits,
        checker: Some(crate::report::consistency::CheckerInputs {
            checked_keys: workload.origin.versions().checked_keys(),
            replay_invalidations: scenario.cache.replay_invalidations,
        }),
        origin_p50_us: workload.origin.p50_us(),
        aborted_in,
        cleanup,
        started_at,
        duration: elapsed,
        faults,
        failover: failover_writes
            .map(|(events, writes)| failover::report(&events, writes, &breaker_transitions)),
        nodes,
    });
    summary.preload = preloaded;
    Ok(summary)
}

/// `work`'s output, or None if a stop is requested first.
async fn until<T>(shutdown: &Shutdown, work: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        out = work => Some(out),
        _ = shutdown.stopping() => None,
    }
}

/// `work`'s output, or None if cleanup is to be skipped first.
async fn until_abandoned<T>(shutdown: &Shutdown, work: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        out = work => Some(out),
        _ = shutdown.abandoning() => None,
    }
}

/// The report of a run stopped in `phase` before any load (while its server started or
/// while connecting): no measurements, no keys written, verdict inconclusive.
pub fn aborted_before_load(scenario: &Scenario, phase: Phase, target: TargetInfo) -> RunSummary {
    let load = &scenario.load;
    RunSummary::build(SummaryInputs {
        measured: Aggregator::new().finish(),
        thresholds: scenario.thresholds.clone(),
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            config: redacted_config(scenario),
        },
        target,
        server: None,
        faults: Vec::new(),
        failover: None,
        nodes: None,
        breaker: BreakerReport {
            transitions: Vec::new(),
            final_state: None,
            calls_while_open: None,
        },
        generator: GeneratorInputs {
            open_model: false,
            cpu: Duration::ZERO,
            wall: Duration::ZERO,
            cores: 1,
        },
        limits: Limits {
            max_in_flight: load.max_in_flight as u64,
            redis_slots: (load.connections * load.pipeline_depth).max(1) as u64,
            connections: load.connections as u64,
            origin_concurrency: scenario.origin.concurrency.max(1) as u64,
            graceful_stop_s: load.graceful_stop.as_secs_f64(),
        },
        checker: None,
        origin_p50_us: None,
        aborted_in: Some(phase),
        cleanup: None,
        started_at: chrono::Utc::now(),
        duration: Duration::ZERO,
    })
}

/// The resolved scenario as JSON, with any password replaced by `***`.
fn redacted_config(scenario: &Scenario) -> serde_json::Value {
    let mut v = serde_json::to_value(scenario).unwrap_or(serde_json::Value::Null);
    if let Some(target) = v.get_mut("target") {
        if let Some(url) = target.get_mut("url") {
            if let Some(text) = url.as_str() {
                *url = crate::cache::config::redact_url(text).into();
            }
        }
        if let Some(pw) = target.get_mut("server").and_then(|s| s.get_mut("password")) {
            if !pw.is_null() {
                *pw = "***".into();
            }
        }
    }
    v
}
