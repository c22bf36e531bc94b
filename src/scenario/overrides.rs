//! `--set path=value`: reading the path (`load.rate`, `ops[1].weight`, `ops.1.weight`) and
//! the value (a TOML value when it is one, else a string), and setting it in the document tree
//! before the tree is typed, so overridden values are validated exactly like file values.

use super::lines::join;
use super::source::toml_to_json;
use serde_json::{json, Map, Value};

/// Reads an override value: TOML when it parses as a TOML value (`5000`, `true`, `"text"`,
/// `[1, 2]`, `{ kind = "uniform" }`), else the text as a string (`5m`, `4KiB`).
pub(crate) fn override_value(raw: &str) -> Value {
    if let Ok(mut table) = toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        if table.len() == 1 {
            if let Some(Ok(v)) = table.remove("v").map(|v| toml_to_json(v, "")) {
                return v;
            }
        }
    }
    Value::String(raw.to_string())
}

/// One step of an override path.
#[derive(Debug, PartialEq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// `ops[1].weight` or `ops.1.weight` → segments (a numeric key indexes a list when the
/// node is one).
pub(crate) fn parse_path(text: &str) -> Result<Vec<Segment>, String> {
    let bad = || format!("`{text}` is not a field path; write it like load.rate or ops[1].weight");
    let mut segments = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if name.is_empty() && (segments.is_empty() || rest.is_empty()) {
            return Err(bad());
        }
        if !name.is_empty() {
            segments.push(Segment::Key(name.to_string()));
        }
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(bad)?;
            let index = rest[1..close].trim().parse().map_err(|_| bad())?;
            segments.push(Segment::Index(index));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad());
            }
        }
    }
    Ok(segments)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// Reads a table's short written form (a string) as the table.
type Expand = fn(&str) -> Value;

/// Fields whose `kind` picks which other fields the table has, and how their short written
/// form (a string) reads as a table.
const KIND_TABLES: [(&str, Expand); 3] = [
    ("keyspace.distribution", |name| json!({ "kind": name })),
    ("keyspace.value_content", |name| json!({ "kind": name })),
    ("origin.latency", |d| json!({ "kind": "fixed", "value": d })),
];

fn kind_table(path: &str) -> Option<Expand> {
    KIND_TABLES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, expand)| *expand)
}

/// Sets `value` at `segments`, creating missing tables (and appending at `[len]`). Returns
/// the canonical path (`ops[1].weight`).
///
/// For the tables whose `kind` decides their other fields ([`KIND_TABLES`]): a short form
/// (`distribution = "zipfian"`, `latency = "20ms"`) is expanded to its table when a path goes
/// inside it, and setting a *different* `kind` starts the table afresh (the old kind's
/// parameters do not apply to the new one; later overrides can set the new kind's).
pub(crate) fn set(root: &mut Value, segments: &[Segment], value: Value) -> Result<String, String> {
    let mut node = root;
    let mut path = String::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let fresh = || match segments.get(i + 1) {
            Some(Segment::Index(_)) => Value::Array(Vec::new()),
            _ => Value::Object(Map::new()),
        };
        if let (Some(expand), Value::String(short)) = (kind_table(&path), &*node) {
            *node = expand(short);
        }
        if let (Some(_), Value::Object(map), Segment::Key(key), true) =
            (kind_table(&path), &mut *node, segment, last)
        {
            if key == "kind" && map.get("kind") != Some(&value) {
                map.clear();
            }
        }
        match node {
            Value::Object(map) => {
                let Segment::Key(key) = segment else {
                    return Err(format!("`{path}` is a table, not a list"));
                };
                path = join(&path, key);
                if last {
                    map.insert(key.clone(), value);
                    return Ok(path);
                }
                node = map.entry(key.clone()).or_insert_with(fresh);
            }
            Value::Array(items) => {
                let index = match segment {
                    Segment::Index(n) => *n,
                    Segment::Key(k) => k.parse().map_err(|_| {
                        format!("`{path}` is a list: pick an entry, like {path}[0].{k}")
                    })?,
                };
                path = format!("{path}[{index}]");
                let len = items.len();
                if index > len {
                    return Err(format!(
                        "`{path}` does not exist: the list has {len} entries (append with [{len}])"
                    ));
                }
                if index == len {
                    items.push(fresh());
                }
                if last {
                    items[index] = value;
                    return Ok(path);
                }
                node = &mut items[index];
            }
            other => {
                let what = kind_of(other);
                return Err(if path.is_empty() {
                    format!("the document is {what}, not a table")
                } else {
                    format!("`{path}` is {what}, not a table")
                });
            }
        }
    }
    Err("empty path".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_values_are_toml_or_strings() {
        assert_eq!(override_value("5000"), Value::from(5000));
        assert_eq!(override_value("0.5"), Value::from(0.5));
        assert_eq!(override_value("true"), Value::Bool(true));
        assert_eq!(override_value("\"5m\""), Value::from("5m"));
        assert_eq!(override_value("5m"), Value::from("5m"));
        assert_eq!(override_value("4KiB"), Value::from("4KiB"));
        assert_eq!(override_value("[1, 2]"), serde_json::json!([1, 2]));
        assert_eq!(
            override_value("{ kind = \"uniform\" }"),
            serde_json::json!({"kind": "uniform"})
        );
        assert_eq!(override_value("1\nx = 2"), Value::from("1\nx = 2"));
        assert_eq!(override_value(""), Value::from(""));
    }

    #[test]
    fn switching_a_kind_starts_its_table_afresh() {
        let mut tree = json!({
            "keyspace": { "distribution": { "kind": "zipfian", "exponent": 1.2 }, "value_content": "json" },
            "origin": { "latency": "20ms" },
        });
        let mut apply = |path: &str, value: Value| {
            set(&mut tree, &parse_path(path).unwrap(), value).unwrap();
        };
        apply("keyspace.distribution.kind", json!("hotspot"));
        apply("keyspace.distribution.hot_keys", json!(0.1));
        apply("keyspace.value_content.compressibility", json!(0.2));
        apply("origin.latency.kind", json!("uniform"));
        apply("origin.latency.max", json!("30ms"));
        assert_eq!(
            tree,
            json!({
                "keyspace": {
                    "distribution": { "kind": "hotspot", "hot_keys": 0.1 },
                    "value_content": { "kind": "json", "compressibility": 0.2 },
                },
                "origin": { "latency": { "kind": "uniform", "max": "30ms" } },
            })
        );
        // The same kind keeps its parameters.
        let mut tree =
            json!({ "keyspace": { "distribution": { "kind": "zipfian", "exponent": 1.2 } } });
        set(
            &mut tree,
            &parse_path("keyspace.distribution.kind").unwrap(),
            json!("zipfian"),
        )
        .unwrap();
        assert_eq!(tree["keyspace"]["distribution"]["exponent"], 1.2);
        // A string form that becomes a table, then a new kind on it.
        let mut tree = json!({ "keyspace": { "distribution": "uniform" } });
        set(
            &mut tree,
            &parse_path("keyspace.distribution.kind").unwrap(),
            json!("hotspot"),
        )
        .unwrap();
        assert_eq!(
            tree["keyspace"]["distribution"],
            json!({ "kind": "hotspot" })
        );
    }

    #[test]
    fn override_paths() {
        use Segment::*;
        assert_eq!(
            parse_path("ops[1].batch.min").unwrap(),
            vec![
                Key("ops".into()),
                Index(1),
                Key("batch".into()),
                Key("min".into())
            ]
        );
        assert_eq!(
            parse_path("a[0][2]").unwrap(),
            vec![Key("a".into()), Index(0), Index(2)]
        );
        for bad in ["", ".a", "a..b", "a[x]", "a[1", "a[1]b"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }
}
