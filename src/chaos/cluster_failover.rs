//! The `cluster_failover` fault: a primary of redline's own Redis Cluster fails over to
//! its replica in the middle of a run.
//!
//! [`ClusterFailoverInjector`] is made from the opened target's embedded cluster. Injecting
//! picks the primary (by its index among the primaries ordered by first slot, or the one
//! holding the most keys), then either SIGKILLs it — the other primaries flag it failed
//! after `cluster-node-timeout` and elect its replica — or sends `CLUSTER FAILOVER` to its
//! replica (a coordinated switch). A watch polls the nodes until another primary serves
//! the slots and every node is ok again. The [`ClusterFailoverFault`] guard, undone at the
//! fault's end (or when the run ends or is interrupted), waits for that watch and, after a
//! kill, starts the killed node again on its port with its `nodes.conf`, so that it rejoins
//! as a replica of its successor, and waits until the cluster is settled.
//!
//! Each injection is logged as a [`FailoverEvent`] (the Sentinel drill's, so the report's
//! `failover` section, the acknowledged-writes check and `lost_writes` apply unchanged),
//! with the MOVED/ASK replies the nodes sent in its window: the nodes count them in
//! `INFO errorstats` (see [`Redirections`]), which a killed node's restart resets, so the
//! [`RedirectionTally`] banks a node's count just before it is killed.

use crate::report::failover::{FailoverEvent, Redirections};
use crate::scenario::ClusterFailoverMethod;
use crate::server::cluster::{watch, ClusterNodeInfo, ClusterTopology, ClusterWatch};
use crate::server::cluster::{Redirections as NodeRedirections, CLUSTER_SETTLE_TIMEOUT};
use crate::target::Target;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long the cluster may take to promote the replica.
pub const PROMOTION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long, after the promotion, the cluster may take to settle again (a killed node
/// restarted and in sync).
const REJOIN_TIMEOUT: Duration = CLUSTER_SETTLE_TIMEOUT;

/// Why a `cluster_failover` fault cannot apply to `target` (checked before any load).
pub fn applicable(target: &Target) -> Result<(), String> {
    if target.cluster_topology().is_some() {
        return Ok(());
    }
    if target.is_cluster() {
        return Err(
            "it needs redline's own Redis Cluster (target.server.topology = \"cluster\"): \
             redline kills or fails over only nodes it started, not those of a \
             redis+cluster:// target"
                .into(),
        );
    }
    Err(
        "it needs a Redis Cluster: set target.server.topology = \"cluster\" (redline starts \
         three primaries with a replica each)"
            .into(),
    )
}

/// Locks the topology, whatever a panicking holder left (its processes are still valid).
fn lock(t: &Mutex<ClusterTopology>) -> MutexGuard<'_, ClusterTopology> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// The MOVED/ASK replies of the whole cluster since the run started, across restarts of
/// killed nodes (whose counters start again from 0).
#[derive(Debug, Default)]
pub struct RedirectionTally {
    /// Per node: its count when the tally started, or 0 for a node started again since.
    base: HashMap<SocketAddr, NodeRedirections>,
    /// Per node: its last count read.
    last: HashMap<SocketAddr, NodeRedirections>,
    /// What killed node processes had sent beyond their base before they died.
    banked: Redirections,
}

fn minus(a: NodeRedirections, b: NodeRedirections) -> Redirections {
    Redirections {
        moved: a.moved.saturating_sub(b.moved),
        ask: a.ask.saturating_sub(b.ask),
    }
}

fn plus(a: Redirections, b: Redirections) -> Redirections {
    Redirections {
        moved: a.moved + b.moved,
        ask: a.ask + b.ask,
    }
}

impl RedirectionTally {
    /// Starts counting from `readings` (per node).
    pub fn new(readings: Vec<(SocketAddr, NodeRedirections)>) -> RedirectionTally {
        let base: HashMap<_, _> = readings.into_iter().collect();
        RedirectionTally {
            last: base.clone(),
            base,
            banked: Redirections::default(),
        }
    }

    /// The total since the start, given fresh `readings` (nodes that did not answer keep
    /// their last count).
    pub fn total(&mut self, readings: Vec<(SocketAddr, NodeRedirections)>) -> Redirections {
        self.last.extend(readings);
        self.last.iter().fold(self.banked, |sum, (addr, now)| {
            plus(
                sum,
                minus(*now, self.base.get(addr).copied().unwrap_or_default()),
            )
        })
    }

    /// Banks what the node at `addr` sent (its count `last_reading`, read just before the
    /// kill, else the last one read) and counts it from 0 from now on.
    pub fn killed(&mut self, addr: SocketAddr, last_reading: Option<NodeRedirections>) {
        let last = last_reading
            .or_else(|| self.last.get(&addr).copied())
            .unwrap_or_default();
        let base = self.base.get(&addr).copied().unwrap_or_default();
        self.banked = plus(self.banked, minus(last, base));
        self.base.insert(addr, NodeRedirections::default());
        self.last.insert(addr, NodeRedirections::default());
    }
}

/// Injects cluster failovers into one run and logs what they did.
#[derive(Clone)]
pub struct ClusterFailoverInjector {
    topology: Arc<Mutex<ClusterTopology>>,
    watch: ClusterWatch,
    /// The run's clock (the time series' `t_s = 0`).
    start: Instant,
    events: Arc<Mutex<Vec<FailoverEvent>>>,
    tally: Arc<Mutex<RedirectionTally>>,
    /// `(event index, the tally's total when it was injected)`, in order.
    window_starts: Arc<Mutex<Vec<(usize, Redirections)>>>,
}

impl ClusterFailoverInjector {
    /// The injector for `target`'s embedded cluster (`None` for any other target), its
    /// redirection count starting now. `start` is the instant the run's time series counts
    /// from.
    pub async fn for_target(target: &Target, start: Instant) -> Option<ClusterFailoverInjector> {
        let topology = target.cluster_topology()?.clone();
        Some(Self::new(topology, start).await)
    }

    /// The injector for `topology` (see [`for_target`](Self::for_target)).
    pub async fn new(topology: Arc<Mutex<ClusterTopology>>, start: Instant) -> Self {
        let watch = lock(&topology).watch().clone();
        let reader = watch.clone();
        let readings = tokio::task::spawn_blocking(move || reader.redirections())
            .await
            .unwrap_or_default();
        ClusterFailoverInjector {
            topology,
            watch,
            start,
            events: Arc::default(),
            tally: Arc::new(Mutex::new(RedirectionTally::new(readings))),
            window_starts: Arc::default(),
        }
    }

    fn seconds(&self) -> f64 {
        (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut FailoverEvent)) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ev) = events.get_mut(index) {
            f(ev);
        }
    }

    /// Reads every node's count and returns the cluster's total since the start (blocking).
    fn redirections_now(&self) -> Redirections {
        let readings = self.watch.redirections();
        self.tally
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .total(readings)
    }

    /// Fails `primary` (or the one holding the most keys) over by `method`; the fault named
    /// `name` is logged. Returns the guard that ends it and a line saying what was done.
    pub async fn inject(
        &self,
        name: &str,
        method: ClusterFailoverMethod,
        primary: Option<u8>,
    ) -> Result<(ClusterFailoverFault, String), String> {
        let index = {
            let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
            events.push(FailoverEvent {
                fault: name.to_string(),
                method: method.as_str().to_string(),
                ..FailoverEvent::default()
            });
            events.len() - 1
        };
        // Stamped before acting: the first write to fail may be sent while the kill lands.
        let started_s = self.seconds();
        let this = self.clone();
        let acted = tokio::task::spawn_blocking(move || this.act(index, method, primary))
            .await
            .map_err(|e| format!("the cluster failover task failed: {e}"))
            .and_then(|r| r);
        let (old, detail) = match acted {
            Ok(acted) => acted,
            Err(e) => {
                self.update(index, |ev| ev.error = Some(e.clone()));
                return Err(e);
            }
        };
        self.update(index, |ev| {
            ev.started_s = Some(started_s);
            ev.old_primary = Some(old.addr.to_string());
        });
        let cancel = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn(self.clone().watch_promotion(
            index,
            old.clone(),
            cancel.clone(),
        ));
        Ok((
            ClusterFailoverFault {
                injector: self.clone(),
                index,
                killed: (method == ClusterFailoverMethod::Kill).then_some(old.addr),
                watcher,
                cancel: CancelOnDrop(cancel),
            },
            detail,
        ))
    }

    /// Blocking: picks the primary, opens the event's redirection window and fails the
    /// primary over; returns it and a line saying what was done.
    fn act(
        &self,
        index: usize,
        method: ClusterFailoverMethod,
        primary: Option<u8>,
    ) -> Result<(ClusterNodeInfo, String), String> {
        let nodes = self.watch.nodes().map_err(|e| e.to_string())?;
        let primaries = watch::primaries_by_slot(&nodes);
        let (old, keys) = self.pick(&primaries, primary)?;
        let replica = nodes
            .iter()
            .find(|n| n.primary_id.as_deref() == Some(old.id.as_str()) && !n.failing)
            .ok_or_else(|| format!("the primary {} has no healthy replica to promote", old.addr))?
            .clone();
        let before = self.redirections_now();
        self.window_starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((index, before));
        let slots = describe_slots(&old.slots);
        let detail = match method {
            ClusterFailoverMethod::Kill => {
                let last = self
                    .watch
                    .ask::<String>(old.addr, redis::cmd("INFO").arg("errorstats"))
                    .ok()
                    .map(|info| watch::parse_errorstats(&info));
                lock(&self.topology)
                    .kill(old.addr)
                    .map_err(|e| e.to_string())?;
                self.tally
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .killed(old.addr, last);
                format!(
                    "killed the primary {} (slots {slots}, {keys} keys; replica {})",
                    old.addr, replica.addr
                )
            }
            ClusterFailoverMethod::Command => {
                lock(&self.topology)
                    .failover_to(replica.addr)
                    .map_err(|e| e.to_string())?;
                format!(
                    "CLUSTER FAILOVER on {}, the replica of {} (slots {slots}, {keys} keys)",
                    replica.addr, old.addr
                )
            }
        };
        Ok((old, detail))
    }

    /// The primary at `index` of `primaries`, or the one holding the most keys (DBSIZE; the
    /// first by slot on a tie), with its key count.
    fn pick(
        &self,
        primaries: &[ClusterNodeInfo],
        index: Option<u8>,
    ) -> Result<(ClusterNodeInfo, u64), String> {
        let keys = |p: &ClusterNodeInfo| {
            self.watch
                .ask::<u64>(p.addr, &redis::cmd("DBSIZE"))
                .map_err(|e| format!("cannot count the keys of {}: {e}", p.addr))
        };
        match index {
            Some(i) => {
                let p = primaries.get(usize::from(i)).ok_or_else(|| {
                    format!(
                        "primary {i} does not exist: {} primaries serve slots",
                        primaries.len()
                    )
                })?;
                Ok((p.clone(), keys(p)?))
            }
            None => {
                let mut best: Option<(ClusterNodeInfo, u64)> = None;
                for p in primaries {
                    let n = keys(p)?;
                    if best.as_ref().is_none_or(|(_, most)| n > *most) {
                        best = Some((p.clone(), n));
                    }
                }
                best.ok_or_else(|| "no primary serves slots".into())
            }
        }
    }

    /// Waits (off the async threads) until another primary serves `old`'s slots.
    async fn watch_promotion(
        self,
        index: usize,
        old: ClusterNodeInfo,
        cancel: Arc<AtomicBool>,
    ) -> Result<ClusterNodeInfo, String> {
        let watch = self.watch.clone();
        let waited = tokio::task::spawn_blocking(move || {
            watch.wait_promoted(&old, PROMOTION_TIMEOUT, &cancel)
        })
        .await
        .map_err(|e| format!("the promotion watch failed: {e}"))
        .and_then(|r| r.map_err(|e| e.to_string()));
        let at = self.seconds();
        match &waited {
            Ok(new) => self.update(index, |ev| {
                ev.new_primary = Some(new.addr.to_string());
                ev.promoted_s = Some(at);
            }),
            Err(e) => self.update(index, |ev| ev.error = Some(e.clone())),
        }
        waited
    }

    /// Every failover injected so far, in order, each with the MOVED/ASK replies of its
    /// window (until the next one, the last until now): call it once the load has stopped.
    pub async fn finish(&self) -> Vec<FailoverEvent> {
        let this = self.clone();
        let now = tokio::task::spawn_blocking(move || this.redirections_now())
            .await
            .unwrap_or_default();
        let starts = self
            .window_starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut events = self
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (k, (index, from)) in starts.iter().enumerate() {
            let to = starts.get(k + 1).map_or(now, |next| next.1);
            if let Some(ev) = events.get_mut(*index) {
                ev.redirections = Some(Redirections {
                    moved: to.moved.saturating_sub(from.moved),
                    ask: to.ask.saturating_sub(from.ask),
                });
            }
        }
        events
    }
}

/// `0-5460` or `0-5460, 10923-16383`.
fn describe_slots(slots: &[(u16, u16)]) -> String {
    let ranges: Vec<String> = slots.iter().map(|(a, b)| format!("{a}-{b}")).collect();
    ranges.join(", ")
}

/// Sets the flag when dropped, so blocking waits of a dropped fault end.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A cluster failover in progress; [`undo`](Self::undo) ends it.
pub struct ClusterFailoverFault {
    injector: ClusterFailoverInjector,
    index: usize,
    /// The node killed (`kill`), to start again.
    killed: Option<SocketAddr>,
    watcher: JoinHandle<Result<ClusterNodeInfo, String>>,
    /// Ends the promotion watch and the settle wait when the fault is dropped.
    cancel: CancelOnDrop,
}

impl ClusterFailoverFault {
    /// Waits until the replica is promoted and, after a `kill`, restarts the killed node on
    /// its port; then waits until the cluster is settled (the old primary a replica in sync).
    /// When `hurried` resolves first (the run is stopping), it waits no longer: the cluster
    /// is about to be stopped anyway.
    pub async fn undo(
        self,
        hurried: impl std::future::Future<Output = ()>,
    ) -> Result<String, String> {
        let cancel = self.cancel.0.clone();
        tokio::select! {
            done = self.settle() => done,
            _ = hurried => {
                cancel.store(true, Ordering::SeqCst);
                Ok("not waited for: the run is stopping".into())
            }
        }
    }

    async fn settle(self) -> Result<String, String> {
        let ClusterFailoverFault {
            injector,
            index,
            killed,
            watcher,
            cancel,
        } = self;
        let promoted = watcher
            .await
            .map_err(|e| format!("the promotion watch failed: {e}"))??;
        let mut detail = format!("{} promoted", promoted.addr);
        let topology = injector.topology.clone();
        let watch = injector.watch.clone();
        let flag = cancel.0.clone();
        let settled = tokio::task::spawn_blocking(move || -> Result<(), String> {
            if let Some(addr) = killed {
                lock(&topology)
                    .restart(addr)
                    .map_err(|e| format!("cannot restart {addr}: {e}"))?;
            }
            watch
                .wait_settled(REJOIN_TIMEOUT, &flag)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("the restart task failed: {e}"))
        .and_then(|r| r);
        match settled {
            Ok(()) if killed.is_some() => {
                detail.push_str("; the killed node restarted and rejoined as a replica")
            }
            Ok(()) => detail.push_str("; the old primary follows it as a replica"),
            Err(e) => {
                injector.update(index, |ev| ev.error = Some(e.clone()));
                return Err(e);
            }
        }
        Ok(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(moved: u64, ask: u64) -> NodeRedirections {
        NodeRedirections { moved, ask }
    }

    #[test]
    fn the_tally_counts_from_the_start_and_keeps_a_killed_nodes_count() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let mut t = RedirectionTally::new(vec![(a, r(10, 1)), (b, r(5, 0))]);
        assert_eq!(
            t.total(vec![(a, r(12, 1)), (b, r(5, 0))]),
            Redirections { moved: 2, ask: 0 }
        );
        // `a` sent 3 more before it was killed; restarted, it counts from 0 again.
        t.killed(a, Some(r(15, 2)));
        assert_eq!(
            t.total(vec![(b, r(6, 0))]),
            Redirections { moved: 6, ask: 1 }
        );
        assert_eq!(
            t.total(vec![(a, r(4, 0)), (b, r(6, 0))]),
            Redirections { moved: 10, ask: 1 }
        );
        // Killed without a last reading: its last known count is banked.
        t.killed(b, None);
        assert_eq!(t.total(vec![]), Redirections { moved: 10, ask: 1 });
    }
}
