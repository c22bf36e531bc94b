//! The scenario document before it is typed: TOML or JSON text parsed into one
//! `serde_json::Value` tree (so both formats share one model and one set of messages), with
//! `--set` overrides applied to it ([`super::overrides`]) and the line of every field
//! ([`super::lines`]), so every later error can name where it came from.

use super::error::{Problem, ScenarioError};
use super::lines::{join, line_at, LineIndex};
use super::overrides;
use super::Format;
use crate::cache::config::redact_raw;
use serde_json::{Map, Value};
use toml::de::DeTable;

/// A parsed scenario document.
pub(crate) struct Document {
    /// The tree the typed model is deserialized from.
    pub(crate) tree: Value,
    /// The file label errors carry.
    file: String,
    /// Where each field is in the source.
    lines: LineIndex,
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
                let lines = LineIndex::toml(spanned.get_ref(), text);
                let table: toml::Table =
                    toml::from_str(text).map_err(|e| syntax(None, flatten(e.message())))?;
                let tree =
                    toml_to_json(toml::Value::Table(table), "").map_err(|p| ScenarioError {
                        file: file.to_string(),
                        line: lines.get(&p.path),
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
                (tree, LineIndex::json(text))
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
        // The value may be a URL with a password: it is echoed in errors only redacted.
        let shown = match spec.split_once('=') {
            Some((path, value)) => format!("{path}={}", redact_raw(value)),
            None => redact_raw(spec),
        };
        let fail = |field: &str, message: String| ScenarioError {
            file: self.file.clone(),
            line: None,
            field: field.to_string(),
            message: format!("{message} (in --set {shown})"),
        };
        let Some((path_text, raw)) = spec.split_once('=') else {
            return Err(fail(
                "",
                "an override is path=value, like load.rate=5000".to_string(),
            ));
        };
        let path_text = path_text.trim();
        let segments = overrides::parse_path(path_text).map_err(|m| fail(path_text, m))?;
        let value = overrides::override_value(raw.trim());
        let path =
            overrides::set(&mut self.tree, &segments, value).map_err(|m| fail(path_text, m))?;
        self.overrides.push((path, shown));
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
            line: self.lines.line_of(&problem.path),
            field: problem.path,
            message: problem.message,
        }
    }
}

/// True when `path` is `prefix` or inside it.
fn within(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// toml's messages may span lines; errors are one line.
fn flatten(message: &str) -> String {
    message.trim().replace('\n', "; ")
}

/// TOML values as JSON values; datetimes become strings, non-finite floats are refused
/// (JSON cannot hold them and no field wants them).
pub(crate) fn toml_to_json(value: toml::Value, path: &str) -> Result<Value, Problem> {
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
