//! Fault injection for failover drills.
//!
//! - [`timeline`]: the scenario's `[[faults]]` applied and undone at their times during a
//!   run, each recorded as it happened.
//! - [`process`]: `kill`, `pause`, `restart` on a `redis-server` redline started.
//! - [`command`]: `client_pause`, `oom` through Redis commands, for any server.
//! - [`proxy`]: the TCP fault proxy (Toxiproxy's toxics) that network faults act on.
//! - [`open_calls`]: the commands that reached Redis while the breaker was OPEN.
//! - [`network`]: `latency`, `blackhole`, `reset`, `refuse`, `bandwidth`, `slice` as toxics
//!   on the proxy a run places in front of Redis.
//! - [`failover`]: the `failover` fault (Sentinel: kill the primary or `SENTINEL FAILOVER`).
//! - [`cluster_failover`]: the `cluster_failover` fault (redline's own Redis Cluster: kill a
//!   primary or `CLUSTER FAILOVER` on its replica).
//! - [`acked_writes`]: the acknowledged-writes checker that counts writes a failover lost.
//!
//! Before any load, [`check_target`] refuses a fault that cannot apply to the opened target
//! (a process fault on a server redline did not start, any fault on the in-memory store).

pub mod acked_writes;
pub mod cluster_failover;
pub mod command;
pub mod failover;
pub mod network;
pub mod open_calls;
pub mod process;
pub mod proxy;
pub mod timeline;

use crate::scenario::threshold::Metric;
use crate::scenario::{FaultClass, FaultKind, FaultSpec, Scenario, TargetKind};
use crate::target::Target;

/// A fault of the scenario that cannot apply to the opened target: a usage error (exit 2)
/// before any load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fault `{name}` ({kind}) cannot apply to this target: {reason}")]
pub struct FaultError {
    /// The fault's name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Why, and what to do instead.
    pub reason: String,
}

/// Checks that every fault can apply to `target`.
pub fn check_target(faults: &[FaultSpec], target: &Target) -> Result<(), FaultError> {
    for f in faults {
        let refuse = |reason: String| FaultError {
            name: f.name.clone(),
            kind: f.kind.name().as_str(),
            reason,
        };
        if target.admin().is_none() {
            return Err(refuse(
                "the run measures the in-memory store, which has no Redis to fault \
                 (install redis-server or pass --redis URL)"
                    .into(),
            ));
        }
        if f.kind.class() == FaultClass::Network && target.fault_proxy().is_none() {
            return Err(refuse(
                "network faults act on the fault proxy in front of Redis, and none was placed: \
                 call Target::place_fault_proxy before engine::run (redline run does)"
                    .into(),
            ));
        }
        if target.is_cluster() && f.kind.class() == FaultClass::Command {
            return Err(refuse(
                "command faults (client_pause, oom) act on one server, and this target is a \
                 Redis Cluster: they are not applied to every primary"
                    .into(),
            ));
        }
        if let FaultKind::Failover { method } = f.kind {
            failover::applicable(target, method).map_err(refuse)?;
        }
        if let FaultKind::ClusterFailover { .. } = f.kind {
            cluster_failover::applicable(target).map_err(refuse)?;
        }
        if f.kind.class() == FaultClass::Process && target.topology().is_some() {
            return Err(refuse(
                "process faults act on a single embedded redis-server, and this target is                  redline's Sentinel topology: use a failover fault (method = \"kill\" kills                  the primary)"
                    .into(),
            ));
        }
        if f.kind.class() == FaultClass::Process && target.server_process().is_none() {
            return Err(refuse(format!(
                "{} is a server redline did not start, and process faults (kill, pause, restart) \
                 signal a redis-server redline started: drop --redis/REDIS_URL/target.url to \
                 let redline start one, or use client_pause or oom",
                target.redacted_url().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// True when a run of `scenario` needs the fault proxy in front of Redis: it has network
/// faults, or it expects `redis_calls_while_open` (counted at the proxy) of a breaker.
pub fn needs_proxy(scenario: &Scenario) -> bool {
    scenario.target.kind != TargetKind::Memory
        && (scenario
            .faults
            .iter()
            .any(|f| f.kind.class() == FaultClass::Network)
            || scenario
                .thresholds
                .iter()
                .any(|t| t.metric == Metric::RedisCallsWhileOpen))
}
