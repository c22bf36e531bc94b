//! `redline report RUN_DIR [--baseline REPORT] [--png]`: re-renders summary.md, the charts
//! and report.html of a run from its report.json alone — after an upgrade of redline, to
//! add a baseline's curve, or to get PNGs. A report.json that is truncated or was edited
//! into something else is refused with the field, line and column at fault (exit 2).

use crate::cli::ReportArgs;
use crate::report::{self, json, RenderOptions, REPORT_JSON};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The report.json a path names: the file itself, or `report.json` inside a run folder.
pub fn report_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(REPORT_JSON)
    } else {
        path.to_path_buf()
    }
}

/// Runs `redline report`; returns the exit code (0, or an error for exit 2).
pub fn run(args: ReportArgs) -> anyhow::Result<u8> {
    let current = report_path(&args.run_dir);
    let dir = current
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let summary = json::read(&current)?;
    let baseline = match &args.baseline {
        Some(path) => Some(json::read(&report_path(path)).context("cannot read the baseline")?),
        None => None,
    };
    let opts = RenderOptions { png: args.png };
    report::render_all(&summary, baseline.as_ref(), &dir, &opts)
        .with_context(|| format!("cannot render the report in {}", dir.display()))?;
    println!(
        "rendered {}, {}/ ({} charts{}) and {} in {}",
        report::SUMMARY_MD,
        report::PLOTS_DIR,
        report::plot::CHART_NAMES.len(),
        if args.png { ", SVG and PNG" } else { ", SVG" },
        report::REPORT_HTML,
        dir.display()
    );
    Ok(0)
}
