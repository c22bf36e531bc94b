//! The `[[faults]]` entry as written in files ([`FaultFile`]: every parameter of every kind
//! optional) and its two conversions: [`resolve_kind`] reads an entry into a [`FaultKind`]
//! (which parameters belong to which kind, defaults, bounds), and `From<FaultSpec>` writes a
//! resolved fault back (the scenario embedded in report.json). Which kind takes which
//! parameter is said once, in [`parameters`]: the check and the messages both read it.

use super::{FaultKind, FaultSpec, KindName, PauseMode, Stream, MAX_FAULT_DELAY};
use crate::scenario::error::Problem;
use crate::scenario::failover::FailoverMethod;
use crate::scenario::units;
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
    pub method: Option<FailoverMethod>,
}

impl FaultFile {
    /// An unnamed entry of `kind` with no parameter given.
    pub fn new(kind: KindName, at: Duration, duration: Duration) -> FaultFile {
        FaultFile {
            name: None,
            kind,
            at,
            duration,
            latency: None,
            jitter: None,
            stream: None,
            rate: None,
            average_size: None,
            size_variation: None,
            delay: None,
            mode: None,
            method: None,
        }
    }

    /// Every parameter field by its name in files, and whether the entry gives it.
    fn given(&self) -> [(&'static str, bool); 9] {
        [
            ("latency", self.latency.is_some()),
            ("jitter", self.jitter.is_some()),
            ("stream", self.stream.is_some()),
            ("rate", self.rate.is_some()),
            ("average_size", self.average_size.is_some()),
            ("size_variation", self.size_variation.is_some()),
            ("delay", self.delay.is_some()),
            ("mode", self.mode.is_some()),
            ("method", self.method.is_some()),
        ]
    }
}

impl From<FaultSpec> for FaultFile {
    fn from(f: FaultSpec) -> FaultFile {
        let mut file = FaultFile::new(f.kind.name(), f.at, f.duration);
        file.name = Some(f.name);
        match f.kind {
            FaultKind::Kill
            | FaultKind::Pause
            | FaultKind::Restart
            | FaultKind::Refuse
            | FaultKind::Oom => {}
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
            FaultKind::Failover { method } => file.method = Some(method),
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

/// The parameters each kind takes, by their names in files.
fn parameters(kind: KindName) -> &'static [&'static str] {
    match kind {
        KindName::Kill | KindName::Pause | KindName::Restart | KindName::Refuse | KindName::Oom => {
            &[]
        }
        KindName::Latency => &["latency", "jitter", "stream"],
        KindName::Blackhole | KindName::Reset => &["stream"],
        KindName::Bandwidth => &["rate", "stream"],
        KindName::Slice => &["average_size", "size_variation", "delay", "stream"],
        KindName::ClientPause => &["mode"],
        KindName::Failover => &["method"],
    }
}

/// What a parameter of `kind` may be, when a message should say: `kill or sentinel`.
fn hint(kind: KindName, field: &str) -> Option<&'static str> {
    match (kind, field) {
        (KindName::Failover, "method") => Some("kill or sentinel"),
        _ => None,
    }
}

/// The parameters each kind takes, for messages: "latency, jitter and stream".
fn parameters_of(kind: KindName) -> String {
    let said: Vec<String> = (parameters(kind).iter())
        .map(|&field| match hint(kind, field) {
            Some(h) => format!("{field} ({h})"),
            None => field.to_string(),
        })
        .collect();
    match said.as_slice() {
        [] => "no parameters".to_string(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The entry's kind with its parameters; a parameter of another kind, or a missing
/// required one, is a problem at `path.field`.
pub(crate) fn resolve_kind(path: &str, f: &FaultFile) -> Result<FaultKind, Problem> {
    let at = |field: &str| crate::scenario::lines::join(path, field);
    let allowed = parameters(f.kind);
    if let Some((field, _)) = f
        .given()
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
            method: f.method.unwrap_or_default(),
        },
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
