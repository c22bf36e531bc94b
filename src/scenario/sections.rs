//! The document tree typed one section at a time (`target`, `keyspace`, each `[[ops]]`
//! entry, `cache`, `origin`, `load`, `thresholds`, `faults`, `sizing`), so one mistyped table
//! does not hide the mistakes
//! in the others: `redline validate` reports them all at once. Within one section serde
//! stops at the first error, which is as far as parsing allows.

use super::cache::CacheSpec;
use super::error::Problem;
use super::faults::FaultFile;
use super::keyspace::Keyspace;
use super::lines::join;
use super::load::LoadFile;
use super::origin::OriginSpec;
use super::sizing::SizingSpec;
use super::target::TargetSpec;
use super::workload::OpFile;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The top-level fields of a scenario file, in the order errors about them are listed.
const FIELDS: [&str; 11] = [
    "name",
    "description",
    "target",
    "keyspace",
    "ops",
    "cache",
    "origin",
    "load",
    "thresholds",
    "faults",
    "sizing",
];

/// A scenario file as written, each section typed on its own. A section that failed to type
/// is `None` and its problem is in `problems`; an absent optional section has its default.
pub(crate) struct Sections {
    pub name: Option<String>,
    pub description: Option<String>,
    pub target: Option<TargetSpec>,
    pub keyspace: Option<Keyspace>,
    /// Every entry, `None` where an entry failed to type.
    pub ops: Vec<Option<OpFile>>,
    pub cache: Option<CacheSpec>,
    pub origin: Option<OriginSpec>,
    pub load: Option<LoadFile>,
    /// `None` when absent (the guide's defaults apply) or when it failed to type.
    pub thresholds: Option<Vec<String>>,
    /// Whether `thresholds` typed (an absent list counts as typed).
    pub thresholds_ok: bool,
    /// Every `[[faults]]` entry, `None` where an entry failed to type.
    pub faults: Vec<Option<FaultFile>>,
    /// `[sizing]`: `Some(None)` when absent, `None` when it failed to type.
    pub sizing: Option<Option<SizingSpec>>,
    /// Every typing problem found.
    pub problems: Vec<Problem>,
}

impl Sections {
    /// Types every section of `tree`.
    pub(crate) fn from_tree(tree: &Value) -> Sections {
        let mut problems = Vec::new();
        let empty = serde_json::Map::new();
        let map = match tree.as_object() {
            Some(map) => map,
            None => {
                problems.push(Problem::new(
                    "",
                    "a scenario is a table of fields (a JSON object), like the examples in scenarios/README.md",
                ));
                &empty
            }
        };
        for key in map.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
            let expected = FIELDS.map(|f| format!("`{f}`")).join(", ");
            problems.push(Problem::new(
                key.clone(),
                format!("unknown field `{key}`, expected one of {expected}"),
            ));
        }
        let field = |key: &str| -> Option<&Value> { map.get(key).filter(|v| !v.is_null()) };
        let name = optional::<String>(field("name"), "name", &mut problems).flatten();
        let description =
            optional::<String>(field("description"), "description", &mut problems).flatten();
        let target =
            optional(field("target"), "target", &mut problems).map(Option::unwrap_or_default);
        let keyspace = required(field("keyspace"), "keyspace", &mut problems);
        let ops = match field("ops") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| typed(item, &format!("ops[{i}]"), &mut problems))
                .collect(),
            Some(other) => {
                // Not a list: serde's own message ("expected a sequence").
                typed::<Vec<OpFile>>(other, "ops", &mut problems);
                vec![None]
            }
        };
        let cache = optional(field("cache"), "cache", &mut problems).map(Option::unwrap_or_default);
        let origin =
            optional(field("origin"), "origin", &mut problems).map(Option::unwrap_or_default);
        let load = required(field("load"), "load", &mut problems);
        let before = problems.len();
        let thresholds =
            optional::<Vec<String>>(field("thresholds"), "thresholds", &mut problems).flatten();
        let thresholds_ok = problems.len() == before;
        let faults = match field("faults") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| typed(item, &format!("faults[{i}]"), &mut problems))
                .collect(),
            Some(other) => {
                typed::<Vec<FaultFile>>(other, "faults", &mut problems);
                vec![None]
            }
        };
        let sizing = optional(field("sizing"), "sizing", &mut problems);
        Sections {
            name,
            description,
            target,
            keyspace,
            ops,
            cache,
            origin,
            load,
            thresholds,
            thresholds_ok,
            faults,
            sizing,
            problems,
        }
    }
}

/// `Some(None)` when absent, `Some(Some(value))` when it typed, `None` when it did not.
fn optional<T: DeserializeOwned>(
    value: Option<&Value>,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<Option<T>> {
    match value {
        None => Some(None),
        Some(v) => typed(v, path, problems).map(Some),
    }
}

fn required<T: DeserializeOwned>(
    value: Option<&Value>,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match value {
        None => {
            problems.push(Problem::new(path, "is required"));
            None
        }
        Some(v) => typed(v, path, problems),
    }
}

fn typed<T: DeserializeOwned>(value: &Value, path: &str, problems: &mut Vec<Problem>) -> Option<T> {
    match serde_path_to_error::deserialize(value) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(serde_problem(path, e));
            None
        }
    }
}

/// A serde failure as a problem at a field path under `prefix`. An unknown field inside a
/// tagged table, and a missing field, are reported at their parent table; the field's own
/// name is moved into the path.
fn serde_problem(prefix: &str, e: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    use serde_path_to_error::Segment;
    let mut path = prefix.to_string();
    for segment in e.path().iter() {
        match segment {
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Map { key } => path = join(&path, key),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    let message = e.inner().to_string();
    let named = |start: &str| {
        let rest = message.strip_prefix(start)?;
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
