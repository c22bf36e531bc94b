//! The scenario document before it is typed: TOML or JSON text parsed into one
//! `serde_json::Value` tree, `--set` overrides applied to that tree (so overridden values are
//! validated exactly like file values), and an index from field paths to source lines so every
//! later error can name its line.

use super::error::{Problem, ScenarioError};
use super::Format;
use serde_json::{Map, Value};
use std::collections::HashMap;
use toml::de::{DeTable, DeValue};

/// A parsed scenario document.
pub(crate) struct Document {
    /// The tree the typed model is deserialized from.
    pub(crate) tree: Value,
    /// The file label errors carry.
    file: String,
    /// Field path (`load.rate`, `ops[1].weight`) → 1-based line of its key in the source.
    lines: HashMap<String, usize>,
    /// `(path, override as given)` for every applied `--set`, so errors at those paths say
    /// where the value came from instead of pointing at a file line.
    overrides: Vec<(String, String)>,
}

impl Document {
    /// Parses `text`; a syntax error names the line.
    pub(crate) fn parse(text: &str, format: Format, file: &str) -> Result<Document, ScenarioError> {
        let syntax = |line: Option<usize>, message: String| ScenarioError {
            file: file.to_string(),
            line,
            field: String::new(),
            message,
        };
        let (tree, lines) = match format {
            Format::Toml => {
                let spanned = DeTable::parse(text).map_err(|e| {
                    let line = e.span().map(|s| line_at(text, s.start));
                    syntax(line, flatten(e.message()))
                })?;
                let mut lines = HashMap::new();
                index_toml(spanned.get_ref(), "", text, &mut lines);
                let table: toml::Table =
                    toml::from_str(text).map_err(|e| syntax(None, flatten(e.message())))?;
                let tree =
                    toml_to_json(toml::Value::Table(table), "").map_err(|p| ScenarioError {
                        file: file.to_string(),
                        line: lines.get(&p.path).copied(),
                        field: p.path,
                        message: p.message,
                    })?;
                (tree, lines)
            }
            Format::Json => {
                let tree: Value = serde_json::from_str(text).map_err(|e| {
                    let message = e.to_string();
                    let message = match message.rfind(" at line ") {
                        Some(i) => message[..i].to_string(),
                        None => message,
                    };
                    syntax((e.line() > 0).then_some(e.line()), message)
                })?;
                (tree, index_json(text))
            }
        };
        Ok(Document {
            tree,
            file: file.to_string(),
            lines,
            overrides: Vec::new(),
        })
    }

    /// Applies one `path=value` override. The value is read as a TOML value when it parses
    /// as one (`5000`, `true`, `"text"`, `[1, 2]`, `{ kind = "uniform" }`), else taken as a
    /// string (`5m`, `4KiB`). Missing tables on the path are created; whether the path names
    /// a real field is checked when the tree is deserialized.
    pub(crate) fn apply_override(&mut self, spec: &str) -> Result<(), ScenarioError> {
        let fail = |field: &str, message: String| ScenarioError {
            file: self.file.clone(),
            line: None,
            field: field.to_string(),
            message: format!("{message} (in --set {spec})"),
        };
        let Some((path_text, raw)) = spec.split_once('=') else {
            return Err(fail(
                "",
                "an override is path=value, like load.rate=5000".to_string(),
            ));
        };
        let path_text = path_text.trim();
        let segments = parse_path(path_text).map_err(|m| fail(path_text, m))?;
        let path = set(&mut self.tree, &segments, override_value(raw.trim()))
            .map_err(|m| fail(path_text, m))?;
        self.overrides.push((path, spec.to_string()));
        Ok(())
    }

    /// Turns a problem at a field path into the user-facing error, with the line of the field
    /// (or of the nearest enclosing table present in the file).
    pub(crate) fn error(&self, problem: Problem) -> ScenarioError {
        let from_override = self
            .overrides
            .iter()
            .rev()
            .find(|(path, _)| within(&problem.path, path));
        if let Some((_, spec)) = from_override {
            return ScenarioError {
                file: self.file.clone(),
                line: None,
                field: problem.path,
                message: format!("{} (from --set {spec})", problem.message),
            };
        }
        ScenarioError {
            file: self.file.clone(),
            line: self.line_of(&problem.path),
            field: problem.path,
            message: problem.message,
        }
    }

    fn line_of(&self, mut path: &str) -> Option<usize> {
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            path = &path[..path.rfind(['.', '['])?];
        }
    }
}

/// True when `path` is `prefix` or inside it.
fn within(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// toml's messages may span lines; errors are one line.
fn flatten(message: &str) -> String {
    message.trim().replace('\n', "; ")
}

fn index_toml(table: &DeTable<'_>, prefix: &str, text: &str, out: &mut HashMap<String, usize>) {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        out.insert(path.clone(), line_at(text, key.span().start));
        index_toml_value(value.get_ref(), &path, text, out);
    }
}

fn index_toml_value(value: &DeValue<'_>, path: &str, text: &str, out: &mut HashMap<String, usize>) {
    match value {
        DeValue::Table(t) => index_toml(t, path, text, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                out.insert(item_path.clone(), line_at(text, item.span().start));
                index_toml_value(item.get_ref(), &item_path, text, out);
            }
        }
        _ => {}
    }
}

/// TOML values as JSON values; datetimes become strings, non-finite floats are refused
/// (JSON cannot hold them and no field wants them).
fn toml_to_json(value: toml::Value, path: &str) -> Result<Value, Problem> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => match serde_json::Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None => {
                return Err(Problem::new(
                    path,
                    format!("must be a finite number (got {f})"),
                ))
            }
        },
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| toml_to_json(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => Value::Object(
            t.into_iter()
                .map(|(k, v)| {
                    let child = join(path, &k);
                    toml_to_json(v, &child).map(|v| (k, v))
                })
                .collect::<Result<Map<_, _>, _>>()?,
        ),
    })
}

fn override_value(raw: &str) -> Value {
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
enum Segment {
    Key(String),
    Index(usize),
}

/// `ops[1].weight` or `ops.1.weight` → segments (a numeric key indexes a list when the
/// node is one).
fn parse_path(text: &str) -> Result<Vec<Segment>, String> {
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

/// Sets `value` at `segments`, creating missing tables (and appending at `[len]`). Returns
/// the canonical path (`ops[1].weight`).
fn set(root: &mut Value, segments: &[Segment], value: Value) -> Result<String, String> {
    let mut node = root;
    let mut path = String::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let fresh = || match segments.get(i + 1) {
            Some(Segment::Index(_)) => Value::Array(Vec::new()),
            _ => Value::Object(Map::new()),
        };
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

/// A container being scanned by [`index_json`].
enum Frame {
    Object {
        path: String,
        key: Option<String>,
        expect_key: bool,
    },
    Array {
        path: String,
        index: usize,
        expect_value: bool,
    },
}

fn child_path(stack: &[Frame]) -> String {
    match stack.last() {
        Some(Frame::Object {
            path, key: Some(k), ..
        }) => join(path, k),
        Some(Frame::Array { path, index, .. }) => format!("{path}[{index}]"),
        _ => String::new(),
    }
}

fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Lines of keys and list entries in JSON text already known to be valid (serde_json keeps
/// no positions in a `Value`, so this is a small scanner of its own).
fn index_json(text: &str) -> HashMap<String, usize> {
    let bytes = text.as_bytes();
    let mut out = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => line += 1,
            b':' => {}
            _ if b.is_ascii_whitespace() => {}
            b',' => match stack.last_mut() {
                Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                Some(Frame::Array {
                    index,
                    expect_value,
                    ..
                }) => {
                    *index += 1;
                    *expect_value = true;
                }
                None => {}
            },
            b'}' | b']' => {
                stack.pop();
            }
            b'"' if matches!(
                stack.last(),
                Some(Frame::Object {
                    expect_key: true,
                    ..
                })
            ) =>
            {
                let end = string_end(bytes, i);
                let name: String = serde_json::from_str(&text[i..end]).unwrap_or_default();
                if let Some(Frame::Object {
                    path,
                    key,
                    expect_key,
                }) = stack.last_mut()
                {
                    out.insert(join(path, &name), line);
                    *key = Some(name);
                    *expect_key = false;
                }
                i = end;
                continue;
            }
            _ => {
                if let Some(Frame::Array {
                    path,
                    index,
                    expect_value: expect @ true,
                }) = stack.last_mut()
                {
                    out.insert(format!("{path}[{index}]"), line);
                    *expect = false;
                }
                match b {
                    b'{' => {
                        let path = child_path(&stack);
                        stack.push(Frame::Object {
                            path,
                            key: None,
                            expect_key: true,
                        });
                    }
                    b'[' => {
                        let path = child_path(&stack);
                        stack.push(Frame::Array {
                            path,
                            index: 0,
                            expect_value: true,
                        });
                    }
                    b'"' => {
                        i = string_end(bytes, i);
                        continue;
                    }
                    _ => {}
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"name = "x"

[load]
model = "open"
rate = 5

[[ops]]
kind = "get"
weight = 1

[[ops]]
kind = "set"
weight = 2
batch = { min = 1,
  max = 3 }
"#;

    #[test]
    fn toml_lines_are_indexed_by_field_path() {
        let doc = Document::parse(TOML, Format::Toml, "t.toml").unwrap();
        let line = |p: &str| doc.line_of(p);
        assert_eq!(line("name"), Some(1));
        assert_eq!(line("load"), Some(3));
        assert_eq!(line("load.rate"), Some(5));
        assert_eq!(
            line("load.duration"),
            Some(3),
            "missing field: its table's line"
        );
        assert_eq!(line("ops[0].kind"), Some(8));
        assert_eq!(line("ops[1].weight"), Some(13));
        assert_eq!(line("ops[1].batch.max"), Some(15));
        assert_eq!(line("keyspace.keys"), None);
    }

    #[test]
    fn json_lines_are_indexed_by_field_path() {
        let json = "{\n  \"name\": \"x\",\n  \"load\": {\n    \"rate\": 5\n  },\n  \"ops\": [\n    {\"kind\": \"get\"},\n    {\n      \"kind\": \"s\\\"et\",\n      \"weight\": [1, {\"a\": 2}]\n    }\n  ]\n}\n";
        let doc = Document::parse(json, Format::Json, "t.json").unwrap();
        let line = |p: &str| doc.line_of(p);
        assert_eq!(line("name"), Some(2));
        assert_eq!(line("load.rate"), Some(4));
        assert_eq!(line("ops[0].kind"), Some(7));
        assert_eq!(line("ops[1]"), Some(8));
        assert_eq!(line("ops[1].weight"), Some(10));
        assert_eq!(line("ops[1].weight[1].a"), Some(10));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = Document::parse("a = 1\nb = = 2\n", Format::Toml, "f.toml")
            .err()
            .unwrap();
        assert_eq!((e.file.as_str(), e.line), ("f.toml", Some(2)));
        let e = Document::parse("{\n\"a\": 1,\n}", Format::Json, "f.json")
            .err()
            .unwrap();
        assert_eq!(e.line, Some(3));
        assert!(!e.message.contains(" at line "), "{}", e.message);
        let e = Document::parse("rate = inf\n", Format::Toml, "f.toml")
            .err()
            .unwrap();
        assert_eq!((e.field.as_str(), e.line), ("rate", Some(1)));
    }

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

    #[test]
    fn overrides_set_create_and_append() {
        let mut doc = Document::parse(TOML, Format::Toml, "t.toml").unwrap();
        doc.apply_override("load.rate=7").unwrap();
        doc.apply_override("ops.0.weight=3").unwrap();
        doc.apply_override("ops[2].kind=del").unwrap();
        doc.apply_override("target.breaker.failure_threshold = 9")
            .unwrap();
        let t = &doc.tree;
        assert_eq!(t["load"]["rate"], 7);
        assert_eq!(t["ops"][0]["weight"], 3);
        assert_eq!(t["ops"][2]["kind"], "del");
        assert_eq!(t["target"]["breaker"]["failure_threshold"], 9);

        let err = |spec: &str| {
            let mut doc = Document::parse(TOML, Format::Toml, "t.toml").unwrap();
            doc.apply_override(spec).unwrap_err().to_string()
        };
        assert!(err("ops[5].kind=get").contains("has 2 entries"));
        assert!(err("load.rate.x=1").contains("`load.rate` is a number"));
        assert!(err("ops.kind=get").contains("is a list"));
        assert!(err("load.rate").contains("path=value"));
        assert!(
            err("name[0]=x").contains("is a string"),
            "{}",
            err("name[0]=x")
        );
    }

    #[test]
    fn errors_under_an_override_point_at_it() {
        let mut doc = Document::parse(TOML, Format::Toml, "t.toml").unwrap();
        doc.apply_override("load.rate=-5").unwrap();
        let e = doc.error(Problem::new("load.rate", "must be greater than 0 (got -5)"));
        assert_eq!(e.line, None);
        assert!(
            e.message.ends_with("(from --set load.rate=-5)"),
            "{}",
            e.message
        );
        let e = doc.error(Problem::new("load.rates", "x"));
        assert_eq!(e.line, Some(3));
    }
}
