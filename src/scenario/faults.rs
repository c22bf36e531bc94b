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
//! - command faults (`client_pause`, `oom`) act through Redis commands on any server;
//! - `failover` acts through Sentinel (redline's own topology or `redis+sentinel://`);
//!   `cluster_failover` on redline's own Redis Cluster (a primary killed or
//!   `CLUSTER FAILOVER` on its replica).
//!
//! This module owns the model and the checks one scenario file allows (parameters, times
//! inside the run, contradictions); whether a fault can apply to the opened target is
//! checked by `chaos` before any load. Adding a kind: a variant of [`FaultKind`], its name
//! and class, its parameters in [`resolve_kind`], and its injector in `chaos`.

use super::error::Problem;
use super::failover::{ClusterFailoverMethod, FailoverMethod, MethodName};
use super::units;
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
    /// A Sentinel failover of the primary, by `method`; at the end a killed primary is
    /// started again and rejoins as a replica.
    Failover { method: FailoverMethod },
    /// A Redis Cluster failover of one primary (`primary`: its index among the primaries
    /// ordered by first slot; `None`: the one holding the most keys when the fault starts),
    /// by `method`; at the end a killed primary is started again and rejoins as a replica.
    ClusterFailover {
        method: ClusterFailoverMethod,
        primary: Option<u8>,
    },
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
    /// Sentinel or Cluster: a primary fails over to its replica.
    Failover,
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
    Failover,
    ClusterFailover,
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
            KindName::Failover => "failover",
            KindName::ClusterFailover => "cluster_failover",
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
            KindName::Failover | KindName::ClusterFailover => FaultClass::Failover,
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
            FaultKind::Failover { .. } => KindName::Failover,
            FaultKind::ClusterFailover { .. } => KindName::ClusterFailover,
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

/// `[[faults]]` entry as written: every parameter of every kind is optional here, and
/// [`resolve_kind`] says which belong to the entry's kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub kind: KindName,
    #[serde(with = "units::duration")]
    pub at: Duration,
    #[serde(rename = "for", with = "units::duration")]
    pub duration: Duration,
    #[serde(
        default,
        with = "units::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<Duration>,
    #[serde(
        default,
        with = "units::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub jitter: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<Stream>,
    #[serde(
        default,
        deserialize_with = "units::opt_size",
        skip_serializing_if = "Option::is_none"
    )]
    pub rate: Option<u64>,
    #[serde(
        default,
        deserialize_with = "units::opt_size",
        skip_serializing_if = "Option::is_none"
    )]
    pub average_size: Option<u64>,
    #[serde(
        default,
        deserialize_with = "units::opt_size",
        skip_serializing_if = "Option::is_none"
    )]
    pub size_variation: Option<u64>,
    #[serde(
        default,
        with = "units::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<PauseMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<MethodName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<u8>,
}

impl From<FaultSpec> for FaultFile {
    fn from(f: FaultSpec) -> FaultFile {
        let mut file = FaultFile {
            name: Some(f.name),
            kind: f.kind.name(),
            at: f.at,
            duration: f.duration,
            latency: None,
            jitter: None,
            stream: None,
            rate: None,
            average_size: None,
            size_variation: None,
            delay: None,
            mode: None,
            method: None,
            primary: None,
        };
        match f.kind {
            FaultKind::Kill | FaultKind::Pause | FaultKind::Restart | FaultKind::Refuse => {}
            FaultKind::Oom => {}
            FaultKind::Latency {
                latency,
                jitter,
                stream,
            } => {
                file.latency = Some(latency);
                file.jitter = Some(jitter);
                file.stream = Some(stream);
            }
            FaultKind::Blackhole { stream } | FaultKind::Reset { stream } => {
                file.stream = Some(stream)
            }
            FaultKind::Bandwidth { rate, stream } => {
                file.rate = Some(rate);
                file.stream = Some(stream);
            }
            FaultKind::Slice {
                average_size,
                size_variation,
                delay,
                stream,
            } => {
                file.average_size = Some(average_size);
                file.size_variation = Some(size_variation);
                file.delay = Some(delay);
                file.stream = Some(stream);
            }
            FaultKind::ClientPause { mode } => file.mode = Some(mode),
            FaultKind::Failover { method } => file.method = Some(method.into()),
            FaultKind::ClusterFailover { method, primary } => {
                file.method = Some(method.into());
                file.primary = primary;
            }
        }
        file
    }
}

impl TryFrom<FaultFile> for FaultSpec {
    type Error = String;

    /// The resolved form read back (from a report's embedded scenario): names are given.
    fn try_from(file: FaultFile) -> Result<FaultSpec, String> {
        let name = file
            .name
            .clone()
            .unwrap_or_else(|| file.kind.as_str().into());
        let kind = resolve_kind("", &file).map_err(|p| format!("{}: {}", p.path, p.message))?;
        Ok(FaultSpec {
            name,
            at: file.at,
            duration: file.duration,
            kind,
        })
    }
}

/// The parameters each kind takes, for messages.
fn parameters_of(kind: KindName) -> &'static str {
    match kind {
        KindName::Kill | KindName::Pause | KindName::Restart | KindName::Refuse | KindName::Oom => {
            "no parameters"
        }
        KindName::Latency => "latency, jitter and stream",
        KindName::Blackhole | KindName::Reset => "stream",
        KindName::Bandwidth => "rate and stream",
        KindName::Slice => "average_size, size_variation, delay and stream",
        KindName::ClientPause => "mode",
        KindName::Failover => "method (kill or sentinel)",
        KindName::ClusterFailover => "method (kill or command) and primary (0, 1 or 2)",
    }
}

/// The entry's kind with its parameters; a parameter of another kind, or a missing
/// required one, is a problem at `path.field`.
pub(crate) fn resolve_kind(path: &str, f: &FaultFile) -> Result<FaultKind, Problem> {
    let at = |field: &str| super::lines::join(path, field);
    let given: [(&str, bool); 11] = [
        ("latency", f.latency.is_some()),
        ("jitter", f.jitter.is_some()),
        ("stream", f.stream.is_some()),
        ("rate", f.rate.is_some()),
        ("average_size", f.average_size.is_some()),
        ("size_variation", f.size_variation.is_some()),
        ("delay", f.delay.is_some()),
        ("mode", f.mode.is_some()),
        ("method", f.method.is_some()),
        ("primary", f.primary.is_some()),
        ("name", false),
    ];
    let allowed: &[&str] = match f.kind {
        KindName::Latency => &["latency", "jitter", "stream"],
        KindName::Blackhole | KindName::Reset => &["stream"],
        KindName::Bandwidth => &["rate", "stream"],
        KindName::Slice => &["average_size", "size_variation", "delay", "stream"],
        KindName::ClientPause => &["mode"],
        KindName::Failover => &["method"],
        KindName::ClusterFailover => &["method", "primary"],
        _ => &[],
    };
    if let Some((field, _)) = given
        .iter()
        .find(|(field, set)| *set && !allowed.contains(field))
    {
        return Err(Problem::new(
            at(field),
            format!(
                "is not a parameter of {} faults (they take {})",
                f.kind.as_str(),
                parameters_of(f.kind)
            ),
        ));
    }
    let required = |field: &str, v: Option<Duration>| {
        v.ok_or_else(|| {
            Problem::new(
                at(field),
                format!("is required for {} faults", f.kind.as_str()),
            )
        })
    };
    let delay_bound = |field: &str, d: Duration| {
        if d > MAX_FAULT_DELAY {
            Err(Problem::new(
                at(field),
                format!("must be at most 60s (got {d:?}); a longer stall is a blackhole"),
            ))
        } else {
            Ok(d)
        }
    };
    let stream = f.stream.unwrap_or_default();
    Ok(match f.kind {
        KindName::Kill => FaultKind::Kill,
        KindName::Pause => FaultKind::Pause,
        KindName::Restart => FaultKind::Restart,
        KindName::Refuse => FaultKind::Refuse,
        KindName::Oom => FaultKind::Oom,
        KindName::Blackhole => FaultKind::Blackhole { stream },
        KindName::Reset => FaultKind::Reset { stream },
        KindName::ClientPause => FaultKind::ClientPause {
            mode: f.mode.unwrap_or_default(),
        },
        KindName::Failover => FaultKind::Failover {
            method: match f.method {
                None | Some(MethodName::Kill) => FailoverMethod::Kill,
                Some(MethodName::Sentinel) => FailoverMethod::Sentinel,
                Some(MethodName::Command) => {
                    return Err(Problem::new(
                        at("method"),
                        "\"command\" (CLUSTER FAILOVER) is a method of cluster_failover faults; failover faults take kill or sentinel",
                    ))
                }
            },
        },
        KindName::ClusterFailover => {
            let method = match f.method {
                None | Some(MethodName::Kill) => ClusterFailoverMethod::Kill,
                Some(MethodName::Command) => ClusterFailoverMethod::Command,
                Some(MethodName::Sentinel) => {
                    return Err(Problem::new(
                        at("method"),
                        "\"sentinel\" is a method of failover faults (Sentinel); cluster_failover faults take kill or command",
                    ))
                }
            };
            let primaries = crate::server::cluster::PRIMARIES;
            if let Some(p) = f.primary.filter(|p| usize::from(*p) >= primaries) {
                return Err(Problem::new(
                    at("primary"),
                    format!(
                        "must be 0, 1 or 2: the embedded cluster's {primaries} primaries, numbered by the first slot they serve (got {p})"
                    ),
                ));
            }
            FaultKind::ClusterFailover {
                method,
                primary: f.primary,
            }
        }
        KindName::Latency => {
            let latency = delay_bound("latency", required("latency", f.latency)?)?;
            let jitter = delay_bound("jitter", f.jitter.unwrap_or_default())?;
            if jitter > latency {
                return Err(Problem::new(
                    at("jitter"),
                    format!("must not exceed latency ({jitter:?} > {latency:?})"),
                ));
            }
            FaultKind::Latency {
                latency,
                jitter,
                stream,
            }
        }
        KindName::Bandwidth => match f.rate {
            Some(0) => return Err(Problem::new(at("rate"), "must be greater than 0 bytes/s")),
            Some(rate) => FaultKind::Bandwidth { rate, stream },
            None => {
                return Err(Problem::new(
                    at("rate"),
                    "is required for bandwidth faults (bytes per second, like \"64KiB\")",
                ))
            }
        },
        KindName::Slice => {
            let average_size = f.average_size.unwrap_or(64);
            let size_variation = f.size_variation.unwrap_or(0);
            if average_size == 0 {
                return Err(Problem::new(at("average_size"), "must be greater than 0"));
            }
            if size_variation >= average_size {
                return Err(Problem::new(
                    at("size_variation"),
                    format!("must be less than average_size ({size_variation} >= {average_size})"),
                ));
            }
            let delay = delay_bound("delay", f.delay.unwrap_or(Duration::from_millis(1)))?;
            FaultKind::Slice {
                average_size,
                size_variation,
                delay,
                stream,
            }
        }
    })
}

/// True for names that fit in an expectation's `[...]` and a report column.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Resolves every entry (`None` where one did not type, its problem already collected) and
/// checks the timeline: names unique, times inside a run of `run_length` (warmup plus
/// duration; `None` when the run has no set length), no contradicting overlaps.
pub(crate) fn resolve(
    entries: Vec<Option<FaultFile>>,
    run_length: Option<Duration>,
) -> Result<Vec<FaultSpec>, Vec<Problem>> {
    let mut problems = Vec::new();
    if entries.len() > MAX_FAULTS {
        problems.push(Problem::new(
            "faults",
            format!("at most {MAX_FAULTS} faults (got {})", entries.len()),
        ));
        return Err(problems);
    }
    let all_typed = entries.iter().all(Option::is_some);
    let count_of = |kind: KindName| entries.iter().flatten().filter(|f| f.kind == kind).count();
    let mut faults: Vec<(usize, FaultSpec)> = Vec::new();
    let mut seen_of_kind = std::collections::BTreeMap::<&str, usize>::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(f) = entry else { continue };
        let path = format!("faults[{i}]");
        let nth = seen_of_kind.entry(f.kind.as_str()).or_default();
        *nth += 1;
        let name = match &f.name {
            Some(n) if !valid_name(n) => {
                problems.push(Problem::new(
                    format!("{path}.name"),
                    format!("{n:?} must be 1 to 64 letters, digits, _ or - (expectations name it in [...])"),
                ));
                continue;
            }
            Some(n) => n.clone(),
            None if count_of(f.kind) == 1 => f.kind.as_str().to_string(),
            None => format!("{}{nth}", f.kind.as_str()),
        };
        if f.duration.is_zero() {
            problems.push(Problem::new(
                format!("{path}.for"),
                "must be longer than 0s",
            ));
            continue;
        }
        let kind = match resolve_kind(&path, f) {
            Ok(k) => k,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let spec = FaultSpec {
            name,
            at: f.at,
            duration: f.duration,
            kind,
        };
        match run_length {
            None => problems.push(Problem::new(
                format!("{path}.at"),
                "faults need a run of known length: set load.duration",
            )),
            Some(len) if spec.end() > len => problems.push(Problem::new(
                format!("{path}.for"),
                format!(
                    "the fault ends at {} but the run (warmup + duration) ends at {}",
                    units::format_duration(spec.end()),
                    units::format_duration(len)
                ),
            )),
            _ => {}
        }
        if let Some((j, other)) = faults.iter().find(|(_, o)| o.name == spec.name) {
            problems.push(Problem::new(
                format!("{path}.name"),
                format!(
                    "`{}` is already the name of faults[{j}] ({})",
                    other.name,
                    other.kind.name().as_str()
                ),
            ));
            continue;
        }
        faults.push((i, spec));
    }
    for (a, (i, f)) in faults.iter().enumerate() {
        for (j, g) in faults.iter().skip(a + 1) {
            let overlap = f.at < g.end() && g.at < f.end();
            if !overlap {
                continue;
            }
            if let Some(why) = contradiction(f, g) {
                problems.push(Problem::new(
                    format!("faults[{j}]"),
                    format!(
                        "`{}` overlaps `{}` (faults[{i}]) and {why}: move one of them",
                        g.name, f.name
                    ),
                ));
            }
        }
    }
    if problems.is_empty() && all_typed {
        Ok(faults.into_iter().map(|(_, f)| f).collect())
    } else {
        Err(problems)
    }
}

/// Why two overlapping faults cannot both be in force, or `None` when they compose.
fn contradiction(f: &FaultSpec, g: &FaultSpec) -> Option<&'static str> {
    use FaultClass::*;
    match (f.kind.class(), g.kind.class()) {
        (Process, Process) => Some("both act on the server process (one would undo the other)"),
        (Process, Command) | (Command, Process) => {
            Some("a command fault needs the server up while a process fault takes it down")
        }
        (Failover, Failover) => Some("a failover is still in progress when the other starts"),
        (Failover, Command) | (Command, Failover) => {
            Some("the failover moves the primary the command fault changed")
        }
        (Command, Command) if f.kind.name() == g.kind.name() => {
            Some("both set the same server setting (the end of one would undo the other)")
        }
        (Network, Network) if f.kind.cuts_the_link() || g.kind.cuts_the_link() => {
            Some("it cuts the link the other one shapes or cuts")
        }
        (Network, Network) if f.kind.name() == g.kind.name() => {
            Some("both are the same toxic on the proxy")
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "faults/tests.rs"]
mod tests;
