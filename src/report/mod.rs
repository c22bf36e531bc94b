//! Reporting: everything between a worker's finished operation and the files a run leaves.
//!
//! - [`recorder`]: per-worker HDR histograms and counters ([`Recorder`]), the hot path.
//! - [`shards`]: [`RecorderShards`], the recorders a run's tasks record into.
//! - [`backlog`]: queueing (in-flight, Redis and origin slots), dropped operations and the
//!   bottleneck sentence.
//! - [`consistency`]: what the stale-read checker found (stale reads, lost invalidations).
//! - [`origin_windows`]: origin load during fault windows and breaker-open periods.
//! - [`aggregate`]: the [`Aggregator`] that empties worker recorders every second into a time
//!   series ([`TimePoint`]) and the run totals ([`Measured`]); also the live line.
//! - [`summary`]: the immutable [`RunSummary`] (report.json, schema `redline.report/v2`) every
//!   renderer reads.
//! - [`assemble`]: [`RunSummary::build`] from [`SummaryInputs`] (aggregated totals plus what
//!   the engine knows about target, server and breaker).
//! - [`generators`]: which generators a report covers (one shard, or the merged shards).
//! - [`phase`]: the phases of a run (named when one is interrupted) and the run's key cleanup.
//! - [`failover`]: the `failover` section (acknowledged writes lost, writes resuming, the
//!   breaker's path through each failover).
//! - [`nodes`]: per-node figures of a Redis Cluster target and the hot-shard skew.
//! - [`thresholds`]: each threshold measured and judged pass / fail / not applicable;
//!   [`expectations`] measures the drills' breaker expectations per fault.
//! - [`faults`]: the drill's faults as they happened, and the time series marked with them.
//! - [`verdict`]: pass / fail / inconclusive for the run, and the exit code.
//! - [`hdr`]: base64 HdrHistogram V2 encoding of the histograms kept in report.json.
//! - [`json`], [`markdown`], [`terminal`], [`html`]: the writers, each to any `io::Write`;
//!   [`plot`]: the charts; [`render_all`] writes everything a person reads into a run folder.
//! - [`compare`]: baseline comparison with a significance test, as a Markdown table.
//! - [`junit`]: JUnit XML, one testcase per threshold and per compared metric.
//! - [`hlog`]: the HdrHistogram interval log (`latency.hlog`), one histogram per second;
//!   [`intervals`] keeps it bounded on a long run (neighbouring seconds merged).
//! - [`format`]: the one place numbers become text (`950µs`, `48,950 ops/s`, `82.4%`).
//! - [`sentences`]: wording both summaries share (cache effect, windows); [`load_line`]: the
//!   load a run ran, in one line, from the resolved scenario.
//!
//! Data flows one way: workers record, the aggregator folds, the builder summarizes, the
//! writers render. Nothing here keeps individual samples.

pub mod aggregate;
pub mod assemble;
pub mod backlog;
pub mod compare;
pub mod consistency;
pub mod expectations;
pub mod failover;
pub mod faults;
pub mod format;
pub mod generators;
pub mod hdr;
pub mod hlog;
pub mod html;
pub mod intervals;
pub mod json;
pub mod junit;
pub mod live;
pub mod load_line;
pub mod markdown;
pub mod nodes;
pub mod origin_windows;
pub mod phase;
pub mod plot;
pub mod recorder;
pub mod sentences;
pub mod shards;
pub mod summary;
pub mod terminal;
pub mod thresholds;
pub mod verdict;

#[cfg(test)]
pub(crate) mod fixture;

pub use aggregate::{Aggregator, LiveLine, Measured, TimePoint};
pub use assemble::SummaryInputs;
pub use hdr::{decode_histogram, encode_histogram, HistogramDecodeError};
pub use recorder::Recorder;
pub use shards::RecorderShards;
pub use summary::{
    BreakerReport, BreakerTransition, CacheEffect, CompressionRow, GeneratorReport, Histograms,
    Latency, OpLatency, Percentiles, Provider, RunSummary, ScenarioInfo, ServerStats, TargetInfo,
    TargetKind, Totals, Window, SCHEMA,
};
pub use verdict::{exit_code, ThresholdResult, ThresholdStatus, ThresholdUnit, Verdict};

use std::io::{self, BufWriter, Write};
use std::path::Path;

/// File name of the machine-readable report inside a run directory.
pub const REPORT_JSON: &str = "report.json";
/// File name of the Markdown summary inside a run directory.
pub const SUMMARY_MD: &str = "summary.md";
/// File name of the self-contained HTML report inside a run directory.
pub const REPORT_HTML: &str = "report.html";
/// Folder of the charts inside a run directory (`plots/latency.svg`, ...).
pub const PLOTS_DIR: &str = "plots";

/// What [`render_all`] draws besides the SVG charts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Also write each chart as PNG (`plots/latency.png`, ...), in light colours.
    pub png: bool,
}

/// Writes report.json and everything [`render_all`] renders into `dir`, creating it (and
/// its parents) if needed.
pub fn write_run_dir(summary: &RunSummary, dir: &Path) -> io::Result<()> {
    write_report_json(summary, dir)?;
    render_all(summary, None, dir, &RenderOptions::default())
}

/// Writes report.json into `dir`, creating it (and its parents) if needed.
pub fn write_report_json(summary: &RunSummary, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_file(&dir.join(REPORT_JSON), |w| json::write(summary, w))
}

/// Renders everything a person reads from `summary` alone into `dir`: summary.md, the
/// charts in `plots/` (SVG, plus PNG with `opts.png`) and report.html, and the interval log
/// (latency.hlog) HdrHistogram's tools read. `baseline` adds its
/// latency-by-percentile curve. `redline run` calls this after writing report.json, and
/// `redline report` calls it on a report.json read back.
pub fn render_all(
    summary: &RunSummary,
    baseline: Option<&RunSummary>,
    dir: &Path,
    opts: &RenderOptions,
) -> io::Result<()> {
    let charts = plot::charts(summary, baseline)?;
    let plots = dir.join(PLOTS_DIR);
    std::fs::create_dir_all(&plots)?;
    write_file(&dir.join(SUMMARY_MD), |w| markdown::write(summary, w))?;
    write_file(&dir.join(hlog::LATENCY_HLOG), |w| hlog::write(summary, w))?;
    for chart in &charts {
        let svg = chart.svg();
        write_file(&plots.join(format!("{}.svg", chart.name)), |w| {
            w.write_all(svg.as_bytes())
        })?;
        if opts.png {
            let png = plot::png::render(&chart.light_svg())?;
            write_file(&plots.join(format!("{}.png", chart.name)), |w| {
                w.write_all(&png)
            })?;
        }
    }
    write_file(&dir.join(REPORT_HTML), |w| {
        html::write(summary, &charts, baseline, w)
    })
}

fn write_file(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    render(&mut w)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dir_holds_both_files_and_json_reads_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("reports").join("run-1");
        let summary = fixture::summary();
        write_run_dir(&summary, &dir).expect("write");
        let md = std::fs::read_to_string(dir.join(SUMMARY_MD)).expect("summary.md");
        assert!(md.starts_with("# redline: read-heavy"));
        assert_eq!(json::read(&dir.join(REPORT_JSON)).expect("read"), summary);
        assert!(dir.join(REPORT_HTML).is_file());
        for name in plot::CHART_NAMES {
            assert!(
                dir.join(PLOTS_DIR).join(format!("{name}.svg")).is_file(),
                "{name}"
            );
            assert!(
                !dir.join(PLOTS_DIR).join(format!("{name}.png")).exists(),
                "{name}"
            );
        }
    }
}
