//! The scenario file model: what a run does, read from TOML (or JSON), overridden with
//! `--set path=value`, validated before any load with errors that name the file, line and
//! field, and turned into the samplers the engine's hot path draws from.
//!
//! - [`load_file`] / [`parse_str`]: text → [`Scenario`] (the flow: `source` parses the text
//!   into a tree and applies overrides (`overrides`), serde types it, `validate` checks the
//!   rest, and `lines` gives every error its line).
//! - The model, one module per table: [`target`], [`keyspace`], [`workload`] (`[[ops]]`),
//!   [`origin`], [`load`], [`threshold`].
//! - [`units`]: durations, sizes, fractions and counts as written in files.
//! - [`dist`]: [`KeyChooser`], [`ValueGen`], [`OpMix`], [`OriginLatency`] — allocation-free
//!   samplers for the engine.
//! - [`ScenarioError`]: `scenarios/bad.toml:12: load.rate: must be greater than 0 (got -5)`.
//!
//! Every field is documented for users in `scenarios/README.md`.

pub mod dist;
mod error;
pub mod keyspace;
mod lines;
pub mod load;
pub mod origin;
mod overrides;
mod source;
pub mod target;
pub mod threshold;
pub mod units;
mod validate;
pub mod workload;

pub use dist::{KeyChooser, OpMix, OriginLatency, ValueGen};
pub use error::ScenarioError;
pub use keyspace::{Distribution, Keyspace, ValueContent, ValueSize, WeightedSize};
pub use load::{Arrival, LoadSpec, Pacing, Stage};
pub use origin::{Latency, OriginSpec};
pub use target::{BreakerSpec, FallbackSpec, MaxmemoryPolicy, ServerSpec, TargetKind, TargetSpec};
pub use threshold::{Cmp, Metric, Stat, Threshold};
pub use validate::MAX_VALUE_SIZE;
pub use workload::{Batch, Codec, OpSpec};

use error::Problem;
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
    /// The simulated database behind `get_or_set`.
    pub origin: OriginSpec,
    /// Arrival process, connections and stop condition.
    pub load: LoadSpec,
    /// Pass/fail criteria; the guide's targets when the file gives none.
    pub thresholds: Vec<Threshold>,
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

/// Reads, overrides and validates a scenario file. `overrides` are `path=value` strings
/// applied in order (a later one wins).
pub fn load_file(path: &Path, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    let label = path.display().to_string();
    let whole_file = |message: String| ScenarioError {
        file: label.clone(),
        line: None,
        field: String::new(),
        message,
    };
    let format = Format::from_path(path).ok_or_else(|| {
        whole_file("unknown scenario format: the file name must end in .toml or .json".into())
    })?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| whole_file(format!("cannot read the file: {e}")))?;
    parse_str(&text, format, &label, overrides)
}

/// Parses, overrides and validates scenario text. `file_label` names the source in errors,
/// and its stem is the default scenario name.
pub fn parse_str(
    text: &str,
    format: Format,
    file_label: &str,
    overrides: &[String],
) -> Result<Scenario, ScenarioError> {
    let mut doc = source::Document::parse(text, format, file_label)?;
    for spec in overrides {
        doc.apply_override(spec)?;
    }
    let file: validate::ScenarioFile =
        serde_path_to_error::deserialize(&doc.tree).map_err(|e| doc.error(serde_problem(e)))?;
    let stem = Path::new(file_label)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario");
    file.resolve(stem).map_err(|p| doc.error(p))
}

/// A serde failure as a problem at a field path. An unknown field inside a tagged table, and
/// a missing field, are reported at their parent table; the field's own name is moved into
/// the path.
fn serde_problem(e: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    use serde_path_to_error::Segment;
    let mut path = String::new();
    for segment in e.path().iter() {
        match segment {
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    let message = e.inner().to_string();
    let named = |prefix: &str| {
        let rest = message.strip_prefix(prefix)?;
        Some(rest[..rest.find('`')?].to_string())
    };
    let child = |name: &str| {
        if path.is_empty() || path == name {
            name.to_string()
        } else if path.ends_with(&format!(".{name}")) {
            path.clone()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = named("missing field `") {
        return Problem::new(child(&name), "is required");
    }
    if let Some(name) = named("unknown field `") {
        return Problem::new(child(&name), message.clone());
    }
    Problem::new(path, message)
}

#[cfg(test)]
mod tests;
