//! The scenario file model: what a run does, read from TOML (or JSON), overridden with
//! `--set path=value`, validated before any load with errors that name the file, line and
//! field, and turned into the samplers the engine's hot path draws from.
//!
//! - [`load_file`] / [`parse_str`]: text → [`Scenario`] (the flow: `source` parses the text
//!   into a tree and applies overrides (`overrides`), `sections` types it one table at a
//!   time, `validate` checks the rest, [`bounds`] the upper limits, and `lines` gives every
//!   error its line). The `_all` variants report every problem, not just the first.
//! - `print`: a resolved scenario written back as a scenario file (`validate --print`).
//! - The model, one module per table: [`target`], [`keyspace`], [`workload`] (`[[ops]]`),
//!   [`cache`], [`origin`], [`load`], [`threshold`], [`faults`] (`[[faults]]`, the drill
//!   timeline), [`sizing`] (`redline size` only).
//! - [`units`]: durations, sizes, fractions and counts as written in files.
//! - [`dist`]: [`KeyChooser`], [`ValueGen`], [`OpMix`], [`OriginLatency`] — allocation-free
//!   samplers for the engine.
//! - [`ScenarioError`]: `scenarios/bad.toml:12: load.rate: must be greater than 0 (got -5)`.
//!
//! Every field is documented for users in `scenarios/README.md`.

pub mod bounds;
pub mod cache;
pub mod dist;
mod error;
pub mod failover;
pub mod faults;
pub mod keyspace;
mod lines;
pub mod load;
pub mod origin;
mod overrides;
mod print;
mod sections;
pub mod sizing;
mod source;
pub mod target;
pub mod threshold;
pub mod units;
mod validate;
pub mod workload;

pub use cache::CacheSpec;
pub use dist::{KeyChooser, OpMix, OriginLatency, ValueGen};
pub use error::{ScenarioError, ScenarioErrors};
pub use failover::{ClusterFailoverMethod, FailoverMethod, MethodName};
pub use faults::{FaultClass, FaultKind, FaultSpec};
pub use keyspace::{Distribution, Keyspace, ValueContent, ValueSize, WeightedSize};
pub use load::{Arrival, LoadSpec, Pacing, Stage};
pub use origin::{Latency, OriginSpec};
pub use target::{
    BreakerSpec, FallbackSpec, MaxmemoryPolicy, ServerSpec, TargetKind, TargetSpec, Topology,
};
pub use threshold::{Cmp, Metric, Stat, Threshold};
pub use validate::MAX_VALUE_SIZE;
pub use workload::{Batch, Codec, OpSpec};

use serde::{Deserialize, Serialize};
use std::path::Path;

/// A validated scenario with every default resolved. Serializing it gives the full
/// configuration the report embeds (secrets redacted); deserializing reads that form back
/// (scenario files go through [`load_file`], which accepts the shorter written forms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Names the run in reports; defaults to the file stem.
    pub name: String,
    /// Free text for reports.
    pub description: Option<String>,
    /// What the load is driven through.
    pub target: TargetSpec,
    /// Which keys, how hot, what values.
    pub keyspace: Keyspace,
    /// The weighted operation mix (`[[ops]]`), in file order.
    pub ops: Vec<OpSpec>,
    /// Switches of the managed cache layer (single flight, invalidation replay).
    #[serde(default)]
    pub cache: CacheSpec,
    /// The simulated database behind `get_or_set`.
    pub origin: OriginSpec,
    /// Arrival process, connections and stop condition.
    pub load: LoadSpec,
    /// Pass/fail criteria; the guide's targets when the file gives none.
    pub thresholds: Vec<Threshold>,
    /// The fault timeline (`[[faults]]`), in file order; empty for an ordinary run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpec>,
    /// How `redline size` sizes this workload (`[sizing]`); `None` when the file has no
    /// such table (`redline size` then uses the defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<sizing::SizingSpec>,
}

/// The syntax of a scenario text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The documented format of scenario files.
    Toml,
    /// The same model as JSON (same field names and nesting), for generated scenarios.
    Json,
}

impl Format {
    /// `.toml` or `.json`, by extension (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Largest scenario file read: real ones are a few KiB, and a file is read whole, so a
/// symlink to `/dev/zero` must not be read until memory runs out.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads, overrides and validates a scenario file. `overrides` are `path=value` strings
/// applied in order (a later one wins). The error is the first problem (by line); see
/// [`load_file_all`] for every one.
pub fn load_file(path: &Path, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    load_file_all(path, overrides).map_err(|e| e.first().clone())
}

/// [`load_file`], reporting every problem found (as far as parsing allows).
pub fn load_file_all(path: &Path, overrides: &[String]) -> Result<Scenario, ScenarioErrors> {
    let label = path.display().to_string();
    let format = Format::from_path(path).ok_or_else(|| {
        whole_file(
            &label,
            "unknown scenario format: the file name must end in .toml or .json".into(),
        )
    })?;
    let text = read_limited(path).map_err(|m| whole_file(&label, m))?;
    parse_str_all(&text, format, &label, overrides)
}

fn whole_file(label: &str, message: String) -> ScenarioError {
    ScenarioError {
        file: label.to_string(),
        line: None,
        field: String::new(),
        message,
    }
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`]. Anything else (a device, a FIFO
/// that would block, a directory) is refused before it is read.
fn read_limited(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read the file: {e}");
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err("is not a regular file (a scenario is a .toml or .json file)".into());
    }
    let too_big = || {
        format!(
            "is larger than {} KiB: a scenario file is a few KiB of TOML or JSON",
            MAX_FILE_BYTES >> 10
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    // One byte past the limit tells a file that grew since the metadata was read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|e| format!("is not UTF-8 text ({e})"))
}

/// Parses, overrides and validates scenario text. `file_label` names the source in errors,
/// and its stem is the default scenario name. The error is the first problem (by line);
/// see [`parse_str_all`] for every one.
pub fn parse_str(
    text: &str,
    format: Format,
    file_label: &str,
    overrides: &[String],
) -> Result<Scenario, ScenarioError> {
    parse_str_all(text, format, file_label, overrides).map_err(|e| e.first().clone())
}

/// [`parse_str`], reporting every problem found: a syntax error stops parsing; otherwise
/// every bad override, every section that does not type and every invalid value is listed.
pub fn parse_str_all(
    text: &str,
    format: Format,
    file_label: &str,
    overrides: &[String],
) -> Result<Scenario, ScenarioErrors> {
    let mut doc = source::Document::parse(text, format, file_label)?;
    let mut errors = Vec::new();
    for spec in overrides {
        if let Err(e) = doc.apply_override(spec) {
            errors.push(e);
        }
    }
    let stem = Path::new(file_label)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario");
    let sections = sections::Sections::from_tree(&doc.tree);
    match validate::resolve(sections, stem) {
        Ok(scenario) if errors.is_empty() => Ok(scenario),
        Ok(_) => Err(ScenarioErrors::new(errors)),
        Err(problems) => {
            errors.extend(problems.into_iter().map(|p| doc.error(p)));
            if errors.is_empty() {
                // Every unresolved section records its problem; this only guards the type.
                errors.push(whole_file(file_label, "cannot be resolved".into()));
            }
            Err(ScenarioErrors::new(errors))
        }
    }
}

#[cfg(test)]
mod tests;
