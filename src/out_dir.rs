//! Where a run's report goes, settled before any load: the folder is chosen (`--out`, or
//! `reports/<scenario>-<timestamp>/`), created and proved writable, and an earlier run's
//! report in it is never overwritten without `--force` — so a bad `--out` costs a second,
//! not a run's results.
//!
//! The default folder name comes from the scenario's `name`, which is free text (it titles
//! the report): it is reduced to a safe slug, so no name can write outside `reports/`.

use std::io;
use std::path::{Path, PathBuf};

/// The file whose presence marks a folder as holding a run's report.
const REPORT_MARKER: &str = "report.json";
/// Longest slug taken from a scenario name (the timestamp is appended to it).
const MAX_SLUG_CHARS: usize = 64;

/// Why the report folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    /// The path exists and is a file, not a folder.
    #[error("--out {0}: exists and is not a folder")]
    NotAFolder(PathBuf),
    /// The folder holds an earlier run's report.
    #[error(
        "--out {0}: already holds a report (report.json); pass --force to replace it, or pick another folder"
    )]
    ExistingReport(PathBuf),
    /// The folder cannot be created or written.
    #[error("cannot write the report to {path}: {source}")]
    NotWritable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Chooses, creates and checks the report folder. `out` is `--out`; without it the folder
/// is `reports/<slug of name>-<stamp>` (with `-2`, `-3`, ... when a run in the same second
/// took that name). `force` allows replacing the report in an explicit `--out`.
pub fn prepare(
    out: Option<&Path>,
    scenario_name: &str,
    stamp: &str,
    force: bool,
) -> Result<PathBuf, OutDirError> {
    let dir = match out {
        Some(dir) => {
            if dir.exists() && !dir.is_dir() {
                return Err(OutDirError::NotAFolder(dir.to_path_buf()));
            }
            if dir.join(REPORT_MARKER).exists() && !force {
                return Err(OutDirError::ExistingReport(dir.to_path_buf()));
            }
            dir.to_path_buf()
        }
        None => {
            let base = format!("{}-{stamp}", folder_name(scenario_name));
            let reports = Path::new("reports");
            let mut dir = reports.join(&base);
            let mut n = 2;
            while dir.exists() {
                dir = reports.join(format!("{base}-{n}"));
                n += 1;
            }
            dir
        }
    };
    let not_writable = |source| OutDirError::NotWritable {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(not_writable)?;
    // Creating (and dropping, which removes) a file proves the folder takes the report.
    tempfile::Builder::new()
        .prefix(".redline-write-check")
        .tempfile_in(&dir)
        .map_err(not_writable)?;
    Ok(dir)
}

/// A scenario name as a folder name: ASCII letters, digits, `_` and `-`; every other run
/// of characters (`/`, `.`, spaces, ...) becomes one `-`; at most 64 characters; `scenario`
/// when nothing is left. `"../../../x"` → `"x"`, `"/etc/passwd"` → `"etc-passwd"`.
pub fn folder_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= MAX_SLUG_CHARS {
            break;
        }
    }
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "scenario".to_string()
    } else {
        slug.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_folder_names() {
        let cases = [
            ("smoke", "smoke"),
            ("../../../x", "x"),
            ("/etc/passwd", "etc-passwd"),
            ("Checkout flow (EU)", "Checkout-flow-EU"),
            ("..", "scenario"),
            ("", "scenario"),
            ("a\\b\0c", "a-b-c"),
            ("große Tabelle", "gro-e-Tabelle"),
        ];
        for (name, want) in cases {
            assert_eq!(folder_name(name), want, "{name:?}");
        }
        assert_eq!(folder_name(&"x".repeat(500)).len(), MAX_SLUG_CHARS);
    }

    #[test]
    fn an_existing_report_needs_force_and_a_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        assert_eq!(prepare(Some(&dir), "s", "t", false).unwrap(), dir);
        assert!(dir.is_dir(), "created");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "probe removed");
        std::fs::write(dir.join(REPORT_MARKER), "{}").unwrap();
        let e = prepare(Some(&dir), "s", "t", false).unwrap_err();
        assert!(matches!(e, OutDirError::ExistingReport(_)), "{e}");
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(prepare(Some(&dir), "s", "t", true).unwrap(), dir);
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = prepare(Some(&file), "s", "t", false).unwrap_err();
        assert!(matches!(e, OutDirError::NotAFolder(_)), "{e}");
        let e = prepare(Some(&file.join("sub")), "s", "t", false).unwrap_err();
        assert!(matches!(e, OutDirError::NotWritable { .. }), "{e}");
    }
}
