//! `[[faults]]`: the fault timeline of a drill. Each fault has a `kind`, starts `at` a time
//! since the load started (the clock of the report's time series, warmup included) and lasts
//! `for` a duration; faults may overlap unless they contradict each other.
//!
//! Kinds come in classes ([`FaultClass`]) that decide what a fault needs from the target:
//!
//! - process faults (`kill`, `pause`, `restart`) act on a `redis-server` redline started;
//! - network faults (`latency`, `blackhole`, `reset`, `refuse`, `bandwidth`, `slice`) act on
//!   the fault proxy redline places between the cache layer and Redis (names and parameters
//!   as Toxiproxy's);
//! - command faults (`client_pause`, `oom`) act through Redis commands on any server.
//!
//! This file owns the model; [`resolve`](self::resolve) the entries as written and the checks one
//! scenario file allows (parameters, times inside the run, contradictions). Whether a fault
//! can apply to the opened target is checked by `chaos` before any load. Adding a kind: a
//! variant of [`FaultKind`] and [`KindName`], its class, its parameters in
//! `resolve::resolve_kind`, and its injector in `chaos`.

mod resolve;

pub(crate) use resolve::resolve;
pub use resolve::FaultFile;

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Most faults in one scenario: a drill is a handful; the report lists each.
pub const MAX_FAULTS: usize = 100;
/// Longest added latency, jitter or slice delay: longer is an outage, which `blackhole` is.
pub const MAX_FAULT_DELAY: Duration = Duration::from_secs(60);

/// One fault of the timeline, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FaultFile", into = "FaultFile")]
pub struct FaultSpec {
    /// Names the fault in reports and in expectations (`breaker.opens_within[kill1]`).
    /// Defaults to the kind's name, numbered when the kind occurs more than once (`kill1`).
    pub name: String,
    /// Start, since the load started (warmup included).
    pub at: Duration,
    /// How long the fault lasts (`for` in files).
    pub duration: Duration,
    /// What the fault does.
    pub kind: FaultKind,
}

impl FaultSpec {
    /// When the fault is planned to end, since the load started.
    pub fn end(&self) -> Duration {
        self.at.saturating_add(self.duration)
    }
}

/// What a fault does, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// SIGKILL the embedded server; start it again on the same port at the end.
    Kill,
    /// SIGSTOP the embedded server (connections stay open, replies stop); SIGCONT at the end.
    Pause,
    /// Graceful shutdown of the embedded server; start it again at the end.
    Restart,
    /// Toxiproxy `latency`: every chunk delayed by `latency` ± `jitter`.
    Latency {
        latency: Duration,
        jitter: Duration,
        stream: Stream,
    },
    /// Toxiproxy `timeout` 0: data is swallowed, nothing is answered, nothing closes.
    Blackhole { stream: Stream },
    /// Toxiproxy `reset_peer`: existing and new connections are reset (TCP RST).
    Reset { stream: Stream },
    /// Toxiproxy `enabled = false`: new connections are refused, existing ones closed.
    Refuse,
    /// Toxiproxy `bandwidth`: at most `rate` bytes per second.
    Bandwidth { rate: u64, stream: Stream },
    /// Toxiproxy `slicer`: data cut into chunks of about `average_size` ± `size_variation`
    /// bytes, `delay` apart.
    Slice {
        average_size: u64,
        size_variation: u64,
        delay: Duration,
        stream: Stream,
    },
    /// `CLIENT PAUSE <for> ALL|WRITE`; `CLIENT UNPAUSE` at the end.
    ClientPause { mode: PauseMode },
    /// `maxmemory` squeezed with `noeviction`, so writes get OOM errors; restored at the end.
    Oom,
}

/// Which direction a network fault acts on (Toxiproxy's `stream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Client → Redis.
    Upstream,
    /// Redis → client (Toxiproxy's default).
    #[default]
    Downstream,
}

/// What `client_pause` blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseMode {
    /// Every command.
    #[default]
    All,
    /// Write commands only (reads go on).
    Write,
}

impl PauseMode {
    /// The `CLIENT PAUSE` argument.
    pub fn as_arg(self) -> &'static str {
        match self {
            PauseMode::All => "ALL",
            PauseMode::Write => "WRITE",
        }
    }
}

/// What a fault acts on, which decides what it needs from the target and which faults it
/// contradicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    /// Signals to a `redis-server` redline started.
    Process,
    /// Toxics on the fault proxy in front of Redis.
    Network,
    /// Redis commands through the admin connection.
    Command,
}

/// The `kind` names, as written in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindName {
    Kill,
    Pause,
    Restart,
    Latency,
    Blackhole,
    Reset,
    Refuse,
    Bandwidth,
    Slice,
    ClientPause,
    Oom,
}

impl KindName {
    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            KindName::Kill => "kill",
            KindName::Pause => "pause",
            KindName::Restart => "restart",
            KindName::Latency => "latency",
            KindName::Blackhole => "blackhole",
            KindName::Reset => "reset",
            KindName::Refuse => "refuse",
            KindName::Bandwidth => "bandwidth",
            KindName::Slice => "slice",
            KindName::ClientPause => "client_pause",
            KindName::Oom => "oom",
        }
    }

    /// The class of faults of this kind.
    pub fn class(self) -> FaultClass {
        match self {
            KindName::Kill | KindName::Pause | KindName::Restart => FaultClass::Process,
            KindName::Latency
            | KindName::Blackhole
            | KindName::Reset
            | KindName::Refuse
            | KindName::Bandwidth
            | KindName::Slice => FaultClass::Network,
            KindName::ClientPause | KindName::Oom => FaultClass::Command,
        }
    }
}

impl FaultKind {
    /// The kind's name as written in files.
    pub fn name(&self) -> KindName {
        match self {
            FaultKind::Kill => KindName::Kill,
            FaultKind::Pause => KindName::Pause,
            FaultKind::Restart => KindName::Restart,
            FaultKind::Latency { .. } => KindName::Latency,
            FaultKind::Blackhole { .. } => KindName::Blackhole,
            FaultKind::Reset { .. } => KindName::Reset,
            FaultKind::Refuse => KindName::Refuse,
            FaultKind::Bandwidth { .. } => KindName::Bandwidth,
            FaultKind::Slice { .. } => KindName::Slice,
            FaultKind::ClientPause { .. } => KindName::ClientPause,
            FaultKind::Oom => KindName::Oom,
        }
    }

    /// What the fault acts on.
    pub fn class(&self) -> FaultClass {
        self.name().class()
    }

    /// True for network faults that take the link down on their own (nothing else on the
    /// proxy can happen at the same time), as opposed to the ones that shape it (latency,
    /// bandwidth, slice), which compose.
    fn cuts_the_link(&self) -> bool {
        matches!(
            self,
            FaultKind::Blackhole { .. } | FaultKind::Reset { .. } | FaultKind::Refuse
        )
    }
}
