//! Where each field is in the source: an index from field paths (`load.rate`,
//! `ops[1].weight`) to 1-based lines, built from the TOML parser's spans or by scanning JSON,
//! so errors found after deserialization still name their line.

use std::collections::HashMap;
use toml::de::{DeTable, DeValue};

/// Field path → line of its key (or, for a list entry, of the entry's start).
#[derive(Debug, Default)]
pub(crate) struct LineIndex(HashMap<String, usize>);

impl LineIndex {
    /// Indexes a TOML document from the spans of its parse.
    pub(crate) fn toml(table: &DeTable<'_>, text: &str) -> LineIndex {
        let mut out = HashMap::new();
        index_toml(table, "", text, &mut out);
        LineIndex(out)
    }

    /// Indexes JSON text already known to be valid.
    pub(crate) fn json(text: &str) -> LineIndex {
        LineIndex(index_json(text))
    }

    /// The line of `path`, or of the nearest enclosing table or list the source contains.
    pub(crate) fn line_of(&self, mut path: &str) -> Option<usize> {
        loop {
            if let Some(line) = self.0.get(path) {
                return Some(*line);
            }
            path = &path[..path.rfind(['.', '['])?];
        }
    }

    /// The line of exactly `path`.
    pub(crate) fn get(&self, path: &str) -> Option<usize> {
        self.0.get(path).copied()
    }
}

pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
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
        let doc = LineIndex::toml(DeTable::parse(TOML).unwrap().get_ref(), TOML);
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
        let doc = LineIndex::json(json);
        let line = |p: &str| doc.line_of(p);
        assert_eq!(line("name"), Some(2));
        assert_eq!(line("load.rate"), Some(4));
        assert_eq!(line("ops[0].kind"), Some(7));
        assert_eq!(line("ops[1]"), Some(8));
        assert_eq!(line("ops[1].weight"), Some(10));
        assert_eq!(line("ops[1].weight[1].a"), Some(10));
    }
}
