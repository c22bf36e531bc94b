//! The CI gate: `redline compare BASELINE CURRENT` and the `--baseline`/`--junit` part of
//! `redline run`. Reads the reports (refusing mismatched ones unless allowed), compares
//! them ([`report::compare`]), prints the Markdown table and appends it to
//! `$GITHUB_STEP_SUMMARY` when that variable is set, writes the JUnit file, and decides the
//! exit code: 0 ok, 1 regression (or a failed run), 2 error.

use crate::cli::{CompareArgs, GateArgs};
use crate::report::compare::{self, Comparison, Limits, Mismatch};
use crate::report::json::{self, ReadError};
use crate::report::{junit, RunSummary, REPORT_JSON};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable GitHub Actions sets to the job summary file of a step.
pub const STEP_SUMMARY_ENV: &str = "GITHUB_STEP_SUMMARY";
/// File name of the comparison table `run --baseline` leaves in the run directory.
pub const COMPARISON_MD: &str = "comparison.md";

/// `redline compare`.
pub fn compare_reports(args: CompareArgs) -> anyhow::Result<u8> {
    let limits = parse_limits(args.max_regression.as_deref())?;
    let (baseline_path, baseline) = read_report(&args.baseline, args.allow_mismatch)?;
    let (current_path, current) = read_report(&args.current, args.allow_mismatch)?;
    let allowed = check_comparable(&baseline, &current, args.allow_mismatch)?;
    let comparison = compare::compare(&baseline, &current, &limits, &allowed);
    let markdown = render(&comparison, &baseline_path, &current_path)?;
    std::io::stdout().lock().write_all(markdown.as_bytes())?;
    append_step_summary(&markdown)?;
    if let Some(file) = &args.junit {
        write_junit(file, &current, Some(&comparison))?;
    }
    let failed = comparison.regressions().next().is_some()
        || current.verdict != crate::report::Verdict::Pass;
    Ok(u8::from(failed))
}

/// What `redline run` needs to gate a run: the baseline read (and checked against the
/// scenario) before any load, so a bad baseline costs no run.
pub struct RunGate {
    baseline: Option<(PathBuf, RunSummary)>,
    limits: Limits,
    junit: Option<PathBuf>,
    allow_mismatch: bool,
}

impl RunGate {
    /// Reads the baseline and the limits; refuses a baseline of another scenario unless
    /// `--allow-mismatch`.
    pub fn prepare(args: &GateArgs, scenario: &str) -> anyhow::Result<RunGate> {
        let limits = parse_limits(args.max_regression.as_deref())?;
        let baseline = match &args.baseline {
            Some(path) => {
                let (path, summary) = read_report(path, args.allow_mismatch)?;
                if summary.scenario.name != scenario && !args.allow_mismatch {
                    anyhow::bail!(
                        "{}",
                        Mismatch::Scenario {
                            baseline: summary.scenario.name.clone(),
                            current: scenario.to_string(),
                        }
                    );
                }
                Some((path, summary))
            }
            None => None,
        };
        Ok(RunGate {
            baseline,
            limits,
            junit: args.junit.clone(),
            allow_mismatch: args.allow_mismatch,
        })
    }

    /// The baseline, for the charts' percentile overlay.
    pub fn baseline(&self) -> Option<&RunSummary> {
        self.baseline.as_ref().map(|(_, s)| s)
    }

    /// After the run's report is written to `dir`: compares it with the baseline (table on
    /// stdout unless `quiet`, in `dir/comparison.md` and in the job summary), writes the
    /// JUnit file, and returns the exit code: the run's own (`run_code`), or 1 for a
    /// regression in a run that would otherwise pass.
    pub fn finish(
        &self,
        current: &RunSummary,
        dir: &Path,
        run_code: u8,
        quiet: bool,
    ) -> anyhow::Result<u8> {
        let comparison = match &self.baseline {
            Some((path, baseline)) => {
                let allowed = check_comparable(baseline, current, self.allow_mismatch)?;
                let c = compare::compare(baseline, current, &self.limits, &allowed);
                let markdown = render(&c, path, &dir.join(REPORT_JSON))?;
                if !quiet {
                    std::io::stdout().lock().write_all(markdown.as_bytes())?;
                }
                let file = dir.join(COMPARISON_MD);
                std::fs::write(&file, &markdown)
                    .with_context(|| format!("cannot write {}", file.display()))?;
                append_step_summary(&markdown)?;
                Some(c)
            }
            None => None,
        };
        if let Some(file) = &self.junit {
            write_junit(file, current, comparison.as_ref())?;
        }
        let regressed = comparison
            .as_ref()
            .is_some_and(|c| c.regressions().next().is_some());
        Ok(if regressed && run_code == 0 {
            1
        } else {
            run_code
        })
    }
}

fn parse_limits(text: Option<&str>) -> anyhow::Result<Limits> {
    Limits::parse(text.unwrap_or("")).context("bad --max-regression")
}

/// Reads a report given as its report.json or as the run directory holding it. A report of
/// another schema is refused, or read anyway when mismatches are allowed.
fn read_report(path: &Path, allow_mismatch: bool) -> anyhow::Result<(PathBuf, RunSummary)> {
    let file = if path.is_dir() {
        path.join(REPORT_JSON)
    } else {
        path.to_path_buf()
    };
    let summary = match json::read(&file) {
        Err(ReadError::Schema { .. }) if allow_mismatch => json::read_any_schema(&file)?,
        other => other?,
    };
    Ok((file, summary))
}

/// The allowed mismatches, or an error naming every one.
fn check_comparable(
    baseline: &RunSummary,
    current: &RunSummary,
    allow_mismatch: bool,
) -> anyhow::Result<Vec<Mismatch>> {
    let found = compare::mismatches(baseline, current);
    if !found.is_empty() && !allow_mismatch {
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        anyhow::bail!("{}", text.join("; "));
    }
    Ok(found)
}

fn render(c: &Comparison, baseline: &Path, current: &Path) -> anyhow::Result<String> {
    let mut out = Vec::new();
    compare::markdown::write(
        c,
        &baseline.display().to_string(),
        &current.display().to_string(),
        &mut out,
    )?;
    Ok(String::from_utf8(out)?)
}

/// Appends `markdown` to the file `$GITHUB_STEP_SUMMARY` names, when it is set.
fn append_step_summary(markdown: &str) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os(STEP_SUMMARY_ENV).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot append to ${STEP_SUMMARY_ENV} ({})",
                Path::new(&path).display()
            )
        })?;
    writeln!(file, "{markdown}")?;
    Ok(())
}

fn write_junit(
    file: &Path,
    current: &RunSummary,
    comparison: Option<&Comparison>,
) -> anyhow::Result<()> {
    let mut out = Vec::new();
    junit::write(current, comparison, &mut out)?;
    // Like --out, a folder that does not exist yet is created.
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(file, out)
        .with_context(|| format!("cannot write the JUnit report to {}", file.display()))
}
