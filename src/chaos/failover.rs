//! The `failover` fault: a Sentinel failover in the middle of a run.
//!
//! [`FailoverInjector`] is made from the opened target: redline's own Sentinel topology
//! (where `kill` SIGKILLs the primary and `sentinel` asks for `SENTINEL FAILOVER`) or a
//! `redis+sentinel://` target (only `sentinel`: redline cannot kill a process it did not
//! start). Injecting remembers the primary, acts, and watches the sentinels until a majority
//! names another one; the [`FailoverFault`] guard, undone at the fault's end (or when the
//! run ends or is interrupted), waits for that watch and, after `kill`, starts the killed
//! node again on its port so that the sentinels turn it into a replica of the new primary.
//!
//! Every injection is logged as a [`FailoverEvent`]; the report's `failover` section is
//! built from those, the acknowledged-writes check ([`super::acked_writes`]) and the
//! breaker's transitions.

use super::acked_writes::WriteChecker;
use super::cluster_failover::ClusterFailoverInjector;
use crate::report::failover::{AckedWrites, FailoverEvent};
use crate::scenario::threshold::Metric;
use crate::scenario::{FailoverMethod, FaultClass, Scenario};
use crate::server::{ask_failover, ask_primary, SentinelTopology};
use crate::target::{Target, TargetError};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long the sentinels may take to name a new primary.
pub const PROMOTION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long, after a `kill`, the restarted node may take to rejoin as a replica in sync.
const REJOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval between polls of the sentinels.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The sentinels a failover goes through.
#[derive(Clone)]
enum Sentinels {
    /// redline's own topology: nodes can be killed and restarted.
    Embedded(Arc<Mutex<SentinelTopology>>),
    /// Someone else's: only `SENTINEL FAILOVER`.
    External {
        /// `redis://host:port` of each sentinel.
        urls: Vec<String>,
        /// The monitored name.
        master_name: String,
    },
}

impl Sentinels {
    /// The primary a majority names now (blocking).
    fn primary(&self) -> Result<String, String> {
        match self {
            Sentinels::Embedded(t) => lock(t)
                .current_primary()
                .map(|a| a.to_string())
                .map_err(|e| e.to_string()),
            Sentinels::External { urls, master_name } => ask_primary(urls, master_name),
        }
    }
}

/// Locks the topology, whatever a panicking holder left (its processes are still valid).
fn lock(t: &Mutex<SentinelTopology>) -> std::sync::MutexGuard<'_, SentinelTopology> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a `failover` fault cannot apply to a target (checked before any load).
pub fn applicable(target: &Target, method: FailoverMethod) -> Result<(), String> {
    match (target.topology().is_some(), target.is_sentinel(), method) {
        (true, _, _) => Ok(()),
        (false, true, FailoverMethod::Sentinel) => Ok(()),
        (false, true, FailoverMethod::Kill) => Err(
            "method \"kill\" needs redline's own Sentinel topology (target.server.topology = \
             \"sentinel\"); against your own sentinels use method = \"sentinel\""
                .into(),
        ),
        (false, false, _) => Err(
            "a failover needs Sentinel: set target.server.topology = \"sentinel\" (redline \
             starts a primary, a replica and three sentinels) or target a \
             redis+sentinel:// URL"
                .into(),
        ),
    }
}

/// Injects failovers into one run and logs what they did.
#[derive(Clone)]
pub struct FailoverInjector {
    sentinels: Sentinels,
    /// The run's clock (the time series' `t_s = 0`).
    start: Instant,
    events: Arc<Mutex<Vec<FailoverEvent>>>,
}

impl FailoverInjector {
    /// The injector for `target`, `None` when it is not behind Sentinel. `start` is the
    /// instant the run's time series counts from.
    pub fn for_target(target: &Target, start: Instant) -> Option<FailoverInjector> {
        let sentinels = match target.topology() {
            Some(t) => Sentinels::Embedded(t.clone()),
            None => {
                let url = target.endpoint()?.sentinel().ok()??;
                Sentinels::External {
                    urls: url
                        .sentinels
                        .iter()
                        .map(|(h, p)| sentinel_url(h, *p))
                        .collect(),
                    master_name: url.master_name,
                }
            }
        };
        Some(FailoverInjector {
            sentinels,
            start,
            events: Arc::default(),
        })
    }

    /// Every failover injected so far, in order.
    pub fn events(&self) -> Vec<FailoverEvent> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn seconds(&self) -> f64 {
        (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
    }

    /// Fails the primary over by `method`; the fault named `name` is logged. Returns the
    /// guard that ends it and a line saying what was done.
    pub async fn inject(
        &self,
        name: &str,
        method: FailoverMethod,
    ) -> Result<(FailoverFault, String), String> {
        let index = {
            let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
            events.push(FailoverEvent {
                fault: name.to_string(),
                method: method.as_str().to_string(),
                ..FailoverEvent::default()
            });
            events.len() - 1
        };
        let sentinels = self.sentinels.clone();
        // Stamped before acting: the first write to fail may be sent while the kill lands.
        let started_s = self.seconds();
        let acted = tokio::task::spawn_blocking(move || act(&sentinels, method))
            .await
            .map_err(|e| format!("the failover task failed: {e}"))
            .and_then(|r| r);
        let old = match acted {
            Ok(old) => old,
            Err(e) => {
                self.update(index, |ev| ev.error = Some(e.clone()));
                return Err(e);
            }
        };
        self.update(index, |ev| {
            ev.started_s = Some(started_s);
            ev.old_primary = Some(old.to_string());
        });
        let watcher = tokio::spawn(self.clone().watch(index, old.clone()));
        let detail = match method {
            FailoverMethod::Kill => format!("killed the primary {old}"),
            FailoverMethod::Sentinel => format!("SENTINEL FAILOVER away from {old}"),
        };
        Ok((
            FailoverFault {
                injector: self.clone(),
                index,
                killed: (method == FailoverMethod::Kill).then_some(old),
                watcher,
            },
            detail,
        ))
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut FailoverEvent)) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ev) = events.get_mut(index) {
            f(ev);
        }
    }

    /// Polls the sentinels until a majority names another primary than `old`.
    async fn watch(self, index: usize, old: String) -> Result<String, String> {
        let deadline = Instant::now() + PROMOTION_TIMEOUT;
        loop {
            let sentinels = self.sentinels.clone();
            let named = tokio::task::spawn_blocking(move || sentinels.primary())
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
            if let Some(new) = named.as_ref().ok().filter(|n| **n != old) {
                let at = self.seconds();
                self.update(index, |ev| {
                    ev.new_primary = Some(new.clone());
                    ev.promoted_s = Some(at);
                });
                return Ok(new.clone());
            }
            if Instant::now() >= deadline {
                let e = format!(
                    "the sentinels named no new primary within {PROMOTION_TIMEOUT:?} ({})",
                    named.err().unwrap_or_else(|| format!("still {old}"))
                );
                self.update(index, |ev| ev.error = Some(e.clone()));
                return Err(e);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// `redis://host:port` for a sentinel (IPv6 hosts bracketed).
fn sentinel_url(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("redis://[{host}]:{port}")
    } else {
        format!("redis://{host}:{port}")
    }
}

/// Blocking: finds the primary and fails it over; returns it.
fn act(sentinels: &Sentinels, method: FailoverMethod) -> Result<String, String> {
    let old = sentinels.primary()?;
    match (sentinels, method) {
        (Sentinels::Embedded(t), FailoverMethod::Kill) => {
            let addr: SocketAddr = old.parse().map_err(|_| format!("bad address {old}"))?;
            let mut topology = lock(t);
            let node = topology
                .node_at_mut(addr)
                .ok_or_else(|| format!("the primary {old} is not a node redline started"))?;
            node.kill().map_err(|e| e.to_string())?;
        }
        (Sentinels::Embedded(t), FailoverMethod::Sentinel) => {
            lock(t).sentinel_failover().map_err(|e| e.to_string())?;
        }
        (Sentinels::External { urls, master_name }, FailoverMethod::Sentinel) => {
            ask_failover(urls, master_name)?;
        }
        (Sentinels::External { .. }, FailoverMethod::Kill) => {
            return Err("kill needs redline's own Sentinel topology".into());
        }
    }
    Ok(old)
}

/// A failover in progress; [`undo`](Self::undo) ends it.
pub struct FailoverFault {
    injector: FailoverInjector,
    index: usize,
    /// The node killed (`kill`), to start again.
    killed: Option<String>,
    watcher: JoinHandle<Result<String, String>>,
}

impl FailoverFault {
    /// Waits until the sentinels named the new primary and, after a `kill`, restarts the
    /// killed node on its port and waits (up to 10 s) for it to rejoin as a replica in sync.
    /// When `hurried` resolves first (the run is stopping), it waits no longer: the
    /// topology is about to be stopped anyway.
    pub async fn undo(
        self,
        hurried: impl std::future::Future<Output = ()>,
    ) -> Result<String, String> {
        tokio::select! {
            done = self.settle() => done,
            _ = hurried => Ok("not waited for: the run is stopping".into()),
        }
    }

    async fn settle(self) -> Result<String, String> {
        let promoted = self
            .watcher
            .await
            .map_err(|e| format!("the failover watch failed: {e}"))??;
        let mut detail = format!("{promoted} promoted");
        let promoted_addr = promoted.clone();
        if let (Some(old), Sentinels::Embedded(t)) = (self.killed, &self.injector.sentinels) {
            let t = t.clone();
            let rejoined = tokio::task::spawn_blocking(move || -> Result<(), String> {
                let bad = |a: &str| format!("bad address {a}");
                let addr: SocketAddr = old.parse().map_err(|_| bad(&old))?;
                let new: SocketAddr = promoted_addr.parse().map_err(|_| bad(&promoted_addr))?;
                lock(&t)
                    .node_at_mut(addr)
                    .ok_or_else(|| format!("{old} is not a node redline started"))?
                    .restart_as_replica_of(new)
                    .map_err(|e| format!("cannot restart {old}: {e}"))?;
                // Polled in short locks, so that a watcher is not held up.
                let deadline = Instant::now() + REJOIN_TIMEOUT;
                loop {
                    match lock(&t).replica_in_sync(new) {
                        Ok(()) => return Ok(()),
                        Err(e) if Instant::now() >= deadline => return Err(e),
                        Err(_) => std::thread::sleep(POLL_INTERVAL),
                    }
                }
            })
            .await
            .map_err(|e| format!("the restart task failed: {e}"))?;
            match rejoined {
                Ok(()) => detail.push_str("; the killed node restarted and rejoined as a replica"),
                Err(e) => {
                    self.injector
                        .update(self.index, |ev| ev.error = Some(e.clone()));
                    return Err(e);
                }
            }
        }
        Ok(detail)
    }
}

/// The failover side of one run: the injector the timeline uses and the acknowledged-writes
/// checker beside the load.
pub struct FailoverRun {
    /// Handed to the fault timeline.
    pub injector: Option<FailoverInjector>,
    /// Handed to the fault timeline on redline's own Redis Cluster (`cluster_failover`).
    pub cluster: Option<ClusterFailoverInjector>,
    checker: WriteChecker,
}

impl FailoverRun {
    /// Starts the checker when `scenario` has a failover fault or a `lost_writes`
    /// threshold (else `None`): its keys live under `run_prefix` + `acked:`, so the run's
    /// cleanup removes them. `start` is the run's clock.
    pub async fn start(
        scenario: &Scenario,
        target: &Target,
        run_prefix: &str,
        start: Instant,
    ) -> Result<Option<FailoverRun>, TargetError> {
        let wanted = scenario
            .faults
            .iter()
            .any(|f| f.kind.class() == FaultClass::Failover)
            || scenario
                .thresholds
                .iter()
                .any(|t| t.metric == Metric::LostWrites);
        if !wanted {
            return Ok(None);
        }
        let prefix = format!("{run_prefix}acked:");
        let Some(store) = target.connect_cache(&prefix, 1, 1 << 20).await? else {
            return Ok(None);
        };
        Ok(Some(FailoverRun {
            injector: FailoverInjector::for_target(target, start),
            cluster: ClusterFailoverInjector::for_target(target, start).await,
            checker: WriteChecker::start(store, start),
        }))
    }

    /// Stops the writes, reads them back (abandoned when `stop_reading` completes) and
    /// returns the failovers injected with the checked writes.
    pub async fn finish_writes(
        self,
        stop_reading: impl std::future::Future<Output = ()>,
    ) -> (Vec<FailoverEvent>, AckedWrites) {
        let writes = self.checker.finish(stop_reading).await;
        let mut events = self.injector.map(|i| i.events()).unwrap_or_default();
        if let Some(cluster) = &self.cluster {
            events.extend(cluster.finish().await);
            events.sort_by(|a, b| {
                a.started_s
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.started_s.unwrap_or(f64::MAX))
            });
        }
        (events, writes)
    }
}
