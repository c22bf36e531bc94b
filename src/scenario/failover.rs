//! The `failover` fault's parameter: how the primary of a Sentinel topology is made to fail
//! over.

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
