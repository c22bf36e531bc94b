//! The fault timeline of one run: each fault of the scenario applied at its `at` and undone
//! after its `for`, on the clock of the run's time series, with what actually happened
//! recorded as a [`FaultRecord`] for the report.
//!
//! The timeline runs as a task beside the load ([`Timeline::start`]); [`Timeline::finish`]
//! stops it, undoes every fault still in force (in reverse order of their starts) and
//! returns the records. A timeline whose handle is dropped without `finish` (the run failed
//! or was cancelled) still undoes its faults: the task sees its stop channel close, and a
//! fault guard that is dropped undoes itself.

use super::cluster_failover::{ClusterFailoverFault, ClusterFailoverInjector};
use super::command::{self, CommandFault};
use super::failover::{FailoverFault, FailoverInjector};
use super::network::{self, NetworkFault};
use super::process::{self, ProcessFault, ServerProcess};
use super::proxy::FaultProxy;
use crate::cache::RedisStore;
use crate::report::faults::FaultRecord;
use crate::report::summary::round_to;
use crate::scenario::{FaultClass, FaultKind, FaultSpec};
use crate::shutdown::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What faults act on, taken from the opened target.
#[derive(Clone, Default)]
pub struct Injectors {
    /// The embedded server's process (process faults).
    pub server: Option<ServerProcess>,
    /// The direct admin connection (command faults).
    pub admin: Option<RedisStore>,
    /// The fault proxy in front of Redis (network faults).
    pub proxy: Option<Arc<FaultProxy>>,
    /// Sentinel, redline's own or the target's (`failover`).
    pub failover: Option<FailoverInjector>,
    /// redline's own Redis Cluster (`cluster_failover`).
    pub cluster_failover: Option<ClusterFailoverInjector>,
}

/// The breaker's failure count now (`None` without a breaker), sampled as a fault starts.
pub type FailureCount = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// A fault in force, as the guard that undoes it.
enum Active {
    Process(ProcessFault),
    Command(CommandFault),
    Network(NetworkFault),
    Failover(FailoverFault),
    ClusterFailover(ClusterFailoverFault),
}

impl Active {
    /// Undoes the fault; `hurried` resolves when waiting for the server is no longer wanted.
    async fn undo(self, hurried: impl std::future::Future<Output = ()>) -> Result<String, String> {
        match self {
            Active::Process(f) => f.undo().await,
            Active::Command(f) => f.undo(hurried).await,
            Active::Network(f) => f.undo(),
            Active::Failover(f) => f.undo(hurried).await,
            Active::ClusterFailover(f) => f.undo(hurried).await,
        }
    }
}

/// How far a timeline has been asked to stop (the stop channel's value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stop {
    /// Apply and undo faults at their times.
    Running,
    /// Undo every fault in force now.
    Stopping,
    /// Undo what can be undone at once; a pause that Redis itself will end is left to end.
    Hurrying,
}

/// A running timeline.
pub struct Timeline {
    stop: watch::Sender<Stop>,
    task: JoinHandle<Vec<FaultRecord>>,
}

impl Timeline {
    /// Starts applying `faults` at their times after `start` (the load's start).
    pub fn start(
        faults: Vec<FaultSpec>,
        injectors: Injectors,
        start: Instant,
        failures: FailureCount,
    ) -> Timeline {
        let (stop, stopped) = watch::channel(Stop::Running);
        let task = tokio::spawn(run(faults, injectors, start, failures, stopped));
        Timeline { stop, task }
    }

    /// Stops the timeline, undoes every fault still in force and returns what happened.
    /// Undoing waits for the server where it must (a restart, the end of a `CLIENT PAUSE
    /// ALL`, which nothing can end sooner), unless `shutdown` is abandoning the run.
    pub async fn finish(self, shutdown: &Shutdown) -> Vec<FaultRecord> {
        let hurry = |s: &Shutdown| {
            if s.is_abandoning() {
                Stop::Hurrying
            } else {
                Stop::Stopping
            }
        };
        let _ = self.stop.send(hurry(shutdown));
        let mut task = self.task;
        tokio::select! {
            done = &mut task => return done.unwrap_or_default(),
            _ = shutdown.abandoning() => {}
        }
        let _ = self.stop.send(Stop::Hurrying);
        task.await.unwrap_or_default()
    }
}

fn seconds_since(start: Instant) -> f64 {
    round_to(start.elapsed().as_secs_f64(), 3)
}

async fn apply(f: &FaultSpec, inj: &Injectors) -> Result<(Active, String), String> {
    let missing = |what: &str| format!("no {what} to apply `{}` to", f.name);
    match f.kind.class() {
        FaultClass::Process => {
            let server = inj
                .server
                .as_ref()
                .ok_or_else(|| missing("embedded server"))?;
            let (g, d) = process::inject(server, f.kind).await?;
            Ok((Active::Process(g), d))
        }
        FaultClass::Command => {
            let admin = inj.admin.as_ref().ok_or_else(|| missing("Redis server"))?;
            let (g, d) = command::inject(admin, f.kind, f.duration).await?;
            Ok((Active::Command(g), d))
        }
        FaultClass::Network => {
            let proxy = inj.proxy.as_ref().ok_or_else(|| missing("fault proxy"))?;
            let (g, d) = network::inject(proxy, f)?;
            Ok((Active::Network(g), d))
        }
        FaultClass::Failover => match f.kind {
            FaultKind::Failover { method } => {
                let injector = inj.failover.as_ref().ok_or_else(|| missing("Sentinel"))?;
                let (g, d) = injector.inject(&f.name, method).await?;
                Ok((Active::Failover(g), d))
            }
            FaultKind::ClusterFailover { method, primary } => {
                let injector = inj
                    .cluster_failover
                    .as_ref()
                    .ok_or_else(|| missing("embedded Redis Cluster"))?;
                let (g, d) = injector.inject(&f.name, method, primary).await?;
                Ok((Active::ClusterFailover(g), d))
            }
            _ => Err(format!("`{}` is not a failover", f.name)),
        },
    }
}

async fn run(
    faults: Vec<FaultSpec>,
    inj: Injectors,
    start: Instant,
    failures: FailureCount,
    mut stopped: watch::Receiver<Stop>,
) -> Vec<FaultRecord> {
    let mut records: Vec<FaultRecord> = faults
        .iter()
        .map(|f| FaultRecord {
            name: f.name.clone(),
            kind: f.kind.name().as_str().to_string(),
            planned_at_s: round_to(f.at.as_secs_f64(), 3),
            planned_for_s: round_to(f.duration.as_secs_f64(), 3),
            started_s: None,
            ended_s: None,
            undone: false,
            detail: "not started: the run ended first".into(),
            error: None,
            breaker_failures_at_start: None,
        })
        .collect();
    // (time, is_start, index): at equal times an end comes before a start, so back-to-back
    // faults never overlap.
    let mut events: Vec<(Duration, bool, usize)> = faults
        .iter()
        .enumerate()
        .flat_map(|(i, f)| [(f.at, true, i), (f.end(), false, i)])
        .collect();
    events.sort();
    let mut active: Vec<Option<Active>> = faults.iter().map(|_| None).collect();
    // Indices of the faults in force, in the order they started.
    let mut order: Vec<usize> = Vec::new();
    for (at, is_start, i) in events {
        let due = tokio::time::sleep_until((start + at).into());
        tokio::select! {
            _ = due => {}
            // A stop request, or the handle dropped.
            _ = stopped.wait_for(|s| *s >= Stop::Stopping) => break,
        }
        let f = &faults[i];
        let r = &mut records[i];
        if is_start {
            r.breaker_failures_at_start = failures();
            match apply(f, &inj).await {
                Ok((guard, detail)) => {
                    r.started_s = Some(seconds_since(start));
                    r.detail = detail;
                    tracing::info!("fault {} ({}) started: {}", f.name, r.kind, r.detail);
                    active[i] = Some(guard);
                    order.push(i);
                }
                Err(e) => {
                    tracing::warn!("fault {} ({}) could not be applied: {e}", f.name, r.kind);
                    r.detail = "not applied".into();
                    r.error = Some(e);
                }
            }
        } else if let Some(guard) = active[i].take() {
            order.retain(|&j| j != i);
            end(r, guard, start, &stopped).await;
        }
    }
    for i in order.into_iter().rev() {
        if let Some(guard) = active[i].take() {
            end(&mut records[i], guard, start, &stopped).await;
        }
    }
    records
}

async fn end(r: &mut FaultRecord, guard: Active, start: Instant, stop: &watch::Receiver<Stop>) {
    let mut hurry = stop.clone();
    let hurried = async move {
        let _ = hurry.wait_for(|s| *s == Stop::Hurrying).await;
    };
    let outcome = guard.undo(hurried).await;
    r.ended_s = Some(seconds_since(start));
    match outcome {
        Ok(detail) => {
            r.undone = true;
            r.detail = format!("{}; {detail}", r.detail);
            tracing::info!("fault {} ({}) ended: {detail}", r.name, r.kind);
        }
        Err(e) => {
            tracing::warn!("fault {} ({}) could not be undone: {e}", r.name, r.kind);
            r.error = Some(format!("could not be undone: {e}"));
        }
    }
}
