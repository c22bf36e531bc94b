//! Vocabulary shared by the scenario model, the engine and the reporter: which operation ran
//! and, when it failed, which kind of failure it was. Errors are counted by kind, never by
//! their message.

use serde::{Deserialize, Serialize};

/// An operation of the workload mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Read one key.
    Get,
    /// Write one key with a TTL.
    Set,
    /// Cache-aside read: on a miss, load from the origin and store.
    GetOrSet,
    /// Delete (invalidate) one key.
    Del,
    /// Delete every key matching a pattern (SCAN MATCH + UNLINK).
    DelPattern,
    /// Read several keys in one round trip.
    Mget,
    /// Write several keys in one round trip.
    Mset,
    /// A batch of mixed commands in one round trip.
    Pipeline,
}

impl OpKind {
    /// Every operation, in report order.
    pub const ALL: [OpKind; 8] = [
        OpKind::Get,
        OpKind::Set,
        OpKind::GetOrSet,
        OpKind::Del,
        OpKind::DelPattern,
        OpKind::Mget,
        OpKind::Mset,
        OpKind::Pipeline,
    ];

    /// The name used in scenario files, thresholds (`get.p99`) and reports.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Set => "set",
            OpKind::GetOrSet => "get_or_set",
            OpKind::Del => "del",
            OpKind::DelPattern => "del_pattern",
            OpKind::Mget => "mget",
            OpKind::Mset => "mset",
            OpKind::Pipeline => "pipeline",
        }
    }

    /// Parses a name as written in scenario files; `invalidate` is an alias of `del`.
    pub fn from_name(name: &str) -> Option<OpKind> {
        if name == "invalidate" {
            return Some(OpKind::Del);
        }
        OpKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Position in [`OpKind::ALL`], for per-operation arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// True for operations that read and so count towards the hit rate.
    pub fn is_read(self) -> bool {
        matches!(self, OpKind::Get | OpKind::GetOrSet | OpKind::Mget)
    }
}

/// Why an operation failed. The reporter counts errors per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No reply within the response timeout.
    Timeout,
    /// The connection could not be made or was lost.
    Connection,
    /// The server answered with an error reply (OOM, LOADING, WRONGTYPE, ...).
    ServerReply,
    /// The reply could not be understood (not Redis, corrupt value).
    Protocol,
    /// The circuit breaker refused the call and the fallback could not serve it.
    BreakerRejected,
    /// The simulated origin (database) failed.
    Origin,
    /// The operation was scheduled but never completed: it never started before the
    /// measured phase ended (k6's dropped_iterations), or it was still running when
    /// `load.graceful_stop` ran out.
    Dropped,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::ServerReply,
        ErrorKind::Protocol,
        ErrorKind::BreakerRejected,
        ErrorKind::Origin,
        ErrorKind::Dropped,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::ServerReply => "server_reply",
            ErrorKind::Protocol => "protocol",
            ErrorKind::BreakerRejected => "breaker_rejected",
            ErrorKind::Origin => "origin",
            ErrorKind::Dropped => "dropped",
        }
    }

    /// Position in [`ErrorKind::ALL`], for per-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The kinds a Redis-level failure can be (every kind but the origin's): what Redis did,
/// whether or not the fallback then answered the application.
pub const REDIS_ERROR_KINDS: [ErrorKind; 5] = [
    ErrorKind::Timeout,
    ErrorKind::Connection,
    ErrorKind::ServerReply,
    ErrorKind::Protocol,
    ErrorKind::BreakerRejected,
];

/// What Redis did for one operation: the commands the cache layer asked of it (those the
/// breaker refused included) and how many of them failed, per kind. Kept apart from the
/// operation's own outcome, because the fallback can answer the application while Redis
/// fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisCalls {
    /// Commands sent to Redis or refused by the breaker.
    pub attempted: u64,
    /// Failed commands per [`ErrorKind::index`] (never [`ErrorKind::Origin`]).
    pub failed: [u64; ErrorKind::ALL.len()],
}

impl RedisCalls {
    /// `n` commands that Redis answered.
    pub fn answered(n: u64) -> Self {
        RedisCalls {
            attempted: n,
            ..RedisCalls::default()
        }
    }

    /// `n` commands that failed with `kind`.
    pub fn failed(n: u64, kind: ErrorKind) -> Self {
        let mut calls = RedisCalls::answered(n);
        calls.failed[kind.index()] = n;
        calls
    }

    /// Adds `other`'s commands and failures.
    pub fn add(&mut self, other: RedisCalls) {
        self.attempted += other.attempted;
        for (mine, theirs) in self.failed.iter_mut().zip(other.failed) {
            *mine += theirs;
        }
    }

    /// Failed commands, all kinds.
    pub fn failures(&self) -> u64 {
        self.failed.iter().sum()
    }
}
