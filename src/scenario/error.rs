//! The error a scenario file produces: which file, which line, which field, and what is
//! allowed there — `scenarios/bad.toml:12: load.rate: must be greater than 0 (got -5)`.

/// A scenario that cannot be run. Every parse, override and validation failure ends up here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {}{message}", line_suffix(*.line), field_prefix(.field))]
pub struct ScenarioError {
    /// The file as the user named it (or the label given to [`super::parse_str`]).
    pub file: String,
    /// 1-based line of the offending field, when known. `None` for values that came from a
    /// `--set` override, and for fields the file does not contain (a missing one is reported
    /// at its table when the table is there).
    pub line: Option<usize>,
    /// Dotted path of the field, like `load.rate` or `ops[1].weight`; empty for errors about
    /// the whole file (unreadable, not TOML).
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("{field}: ")
    }
}

/// A problem at a field path, before it is located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Dotted path, as in [`ScenarioError::field`].
    pub path: String,
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_field() {
        let mut e = ScenarioError {
            file: "scenarios/bad.toml".into(),
            line: Some(12),
            field: "load.rate".into(),
            message: "must be greater than 0 (got -5)".into(),
        };
        assert_eq!(
            e.to_string(),
            "scenarios/bad.toml:12: load.rate: must be greater than 0 (got -5)"
        );
        e.line = None;
        assert_eq!(
            e.to_string(),
            "scenarios/bad.toml: load.rate: must be greater than 0 (got -5)"
        );
        e.field.clear();
        assert_eq!(
            e.to_string(),
            "scenarios/bad.toml: must be greater than 0 (got -5)"
        );
    }
}
