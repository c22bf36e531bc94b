//! The failover faults' parameters: how the primary of a Sentinel topology (`failover`)
//! or of a Redis Cluster (`cluster_failover`) is made to fail over.

use serde::{Deserialize, Serialize};

/// `method` of a `failover` fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverMethod {
    /// SIGKILL the primary (embedded topology only): the sentinels see it down after
    /// `down-after-milliseconds` and promote the replica; the killed node is started again
    /// at the fault's end and rejoins as a replica (without persistence, empty).
    #[default]
    Kill,
    /// `SENTINEL FAILOVER`: the sentinels promote the replica and demote the primary, which
    /// keeps running (embedded topology or `redis+sentinel://` targets).
    Sentinel,
}

impl FailoverMethod {
    /// The name as written in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FailoverMethod::Kill => "kill",
            FailoverMethod::Sentinel => "sentinel",
        }
    }
}

/// `method` of a `cluster_failover` fault: how a primary of redline's own Redis Cluster
/// is made to hand its slots to its replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterFailoverMethod {
    /// SIGKILL the primary: the other primaries flag it failed after `cluster-node-timeout`
    /// and its replica wins the election; the killed node is started again at the fault's
    /// end and rejoins as a replica of its successor (without persistence, empty).
    #[default]
    Kill,
    /// `CLUSTER FAILOVER` on the replica: a coordinated switch (the primary holds writes
    /// until the replica caught up, then is demoted and keeps running).
    Command,
}

impl ClusterFailoverMethod {
    /// The name as written in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterFailoverMethod::Kill => "kill",
            ClusterFailoverMethod::Command => "command",
        }
    }
}

/// `method` as written in a `[[faults]]` entry: the union of the failover kinds' methods,
/// each kind then saying which it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodName {
    /// `failover` and `cluster_failover`.
    Kill,
    /// `failover` only.
    Sentinel,
    /// `cluster_failover` only.
    Command,
}

impl From<FailoverMethod> for MethodName {
    fn from(m: FailoverMethod) -> MethodName {
        match m {
            FailoverMethod::Kill => MethodName::Kill,
            FailoverMethod::Sentinel => MethodName::Sentinel,
        }
    }
}

impl From<ClusterFailoverMethod> for MethodName {
    fn from(m: ClusterFailoverMethod) -> MethodName {
        match m {
            ClusterFailoverMethod::Kill => MethodName::Kill,
            ClusterFailoverMethod::Command => MethodName::Command,
        }
    }
}
