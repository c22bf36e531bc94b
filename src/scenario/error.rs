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

/// Every problem found in one scenario (at least one), in the order of their lines; a
/// problem from a `--set` override or about the whole file comes last. Displayed one per
/// line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(Vec<ScenarioError>);

impl ScenarioErrors {
    /// Wraps `errors` (not empty), ordered by line (stable, so errors on one line keep
    /// their order).
    pub(crate) fn new(errors: Vec<ScenarioError>) -> ScenarioErrors {
        debug_assert!(!errors.is_empty(), "a scenario failure has a reason");
        let mut errors: Vec<ScenarioError> =
            errors.into_iter().map(ScenarioError::redacted).collect();
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        ScenarioErrors(errors)
    }

    /// The first problem (by line).
    pub fn first(&self) -> &ScenarioError {
        &self.0[0]
    }

    /// Every problem.
    pub fn all(&self) -> &[ScenarioError] {
        &self.0
    }
}

impl From<ScenarioError> for ScenarioErrors {
    fn from(e: ScenarioError) -> Self {
        ScenarioErrors::new(vec![e])
    }
}

impl ScenarioError {
    /// The error with anything shaped like a URL's userinfo hidden: messages may quote a
    /// value (serde's "invalid type: string ...") and that value may be a URL with a password.
    fn redacted(mut self) -> ScenarioError {
        self.message = crate::cache::config::redact_text(&self.message);
        self
    }
}

impl std::fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

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
