//! What a run leaves for people: the charts (SVG, PNG with `--png`) and report.html, the
//! live view on a piped stderr and its silence with `--quiet`, and `redline report`
//! re-rendering a run folder from report.json alone (and refusing a broken one, exit 2).
//! The browser test is in `report_browser`.

use crate::support::{finished_within, redis, redline_bin, Finished};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The charts every run folder holds, as `plots/<name>.svg`.
pub const CHARTS: [&str; 5] = ["latency", "throughput", "errors", "breaker", "percentiles"];

/// Runs scenarios/smoke.toml for 1 s of warmup and 2 s measured at a low rate against a
/// fresh server, its output in `<tmp>/run`.
pub fn smoke_run(tmp: &Path, extra: &[&str]) -> (PathBuf, Finished) {
    let server = redis();
    let out = tmp.join("run");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.toml");
    let mut cmd = redline_bin();
    cmd.args(["run", scenario, "--redis", &server.url(), "--out"])
        .arg(&out)
        .args(["--set", "load.duration=2s", "--set", "load.warmup=1s"])
        .args(["--set", "load.rate=300"])
        .args(extra);
    let done = finished_within(cmd, Duration::from_secs(120));
    assert!(
        matches!(done.code(), Some(0 | 1 | 3)),
        "the run did not finish with a verdict: {}",
        done.describe()
    );
    (out, done)
}

fn redline(args: &[&str]) -> Finished {
    let mut cmd = redline_bin();
    cmd.args(args);
    finished_within(cmd, Duration::from_secs(60))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn run_writes_charts_and_html_and_prints_plain_progress_lines_to_a_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, done) = smoke_run(tmp.path(), &[]);
    // stderr is a pipe here: plain lines, one a second for a 3 s run, each with the time
    // left and the numbers; no carriage returns or escape sequences of a redrawn bar.
    let lines: Vec<&str> = (done.stderr.lines())
        .filter(|l| l.starts_with('[') && l.contains("ops/s"))
        .collect();
    assert!(!lines.is_empty(), "no progress lines: {}", done.describe());
    for line in &lines {
        assert!(
            line.contains(" / 3s, ")
                && line.contains("s left]")
                && line.contains("p99 ")
                && line.contains("hit "),
            "progress line {line:?}"
        );
    }
    assert!(
        !done.stderr.contains('\r') && !done.stderr.contains('\x1b'),
        "{}",
        done.describe()
    );
    assert!(done.stdout.contains("report: "), "{}", done.describe());
    for name in CHARTS {
        let svg = read(&dir.join("plots").join(format!("{name}.svg")));
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(!dir.join("plots").join(format!("{name}.png")).exists());
    }
    let latency = read(&dir.join("plots/latency.svg"));
    let doc = roxmltree::Document::parse(&latency).unwrap();
    // p50, p95 and p99 each drawn through the run's seconds (3 or 4 points).
    let long_lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .filter(|n| {
            n.attribute("points")
                .is_some_and(|p| p.split_whitespace().count() >= 3)
        })
        .count();
    assert!(long_lines >= 3, "{long_lines} series in latency.svg");
    let html = read(&dir.join("report.html"));
    assert_eq!(html.matches("<svg").count(), CHARTS.len());
    for attr in ["src=", "href="] {
        for scheme in ["\"http", "'http", "\"//", "'//"] {
            assert!(
                !html.contains(&format!("{attr}{scheme}")),
                "report.html refers outside itself"
            );
        }
    }
}

#[test]
fn quiet_run_shows_no_live_view_and_no_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, done) = smoke_run(tmp.path(), &["--quiet"]);
    assert!(!done.stderr.contains("ops/s"), "{}", done.describe());
    assert!(done.stdout.is_empty(), "{}", done.describe());
    assert!(dir.join("report.html").is_file());
}

#[test]
fn report_rerenders_a_run_folder_from_report_json_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = smoke_run(tmp.path(), &["--quiet"]);
    let summary_before = read(&dir.join("summary.md"));
    let html_before = read(&dir.join("report.html"));
    std::fs::remove_file(dir.join("summary.md")).unwrap();
    std::fs::remove_file(dir.join("report.html")).unwrap();
    std::fs::remove_dir_all(dir.join("plots")).unwrap();

    let done = redline(&["report", dir.to_str().unwrap()]);
    assert_eq!(done.code(), Some(0), "{}", done.describe());
    assert_eq!(read(&dir.join("summary.md")), summary_before);
    assert_eq!(read(&dir.join("report.html")), html_before);
    for name in CHARTS {
        assert!(
            dir.join("plots").join(format!("{name}.svg")).is_file(),
            "{name}"
        );
    }

    // The report.json path works as well, with a baseline and PNGs.
    let report = dir.join("report.json");
    let done = redline(&[
        "report",
        report.to_str().unwrap(),
        "--baseline",
        dir.to_str().unwrap(),
        "--png",
    ]);
    assert_eq!(done.code(), Some(0), "{}", done.describe());
    assert!(read(&dir.join("report.html")).contains("Baseline: smoke"));
    for name in CHARTS {
        let png = std::fs::read(dir.join("plots").join(format!("{name}.png"))).expect("png");
        assert!(png.starts_with(b"\x89PNG"), "{name}.png");
    }
}

#[test]
fn report_refuses_a_truncated_or_edited_report_json_naming_where() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = smoke_run(tmp.path(), &["--quiet"]);
    let text = read(&dir.join("report.json"));
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let bad_report = bad.join("report.json");

    // Cut mid-way, never right after a newline (the parser would then name the next line)
    // nor inside a character.
    let mut end = text.len() / 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text[..end].trim_end();
    std::fs::write(&bad_report, cut).unwrap();
    let done = redline(&["report", bad.to_str().unwrap()]);
    assert_eq!(done.code(), Some(2), "{}", done.describe());
    let line = done
        .error_line()
        .unwrap_or_else(|| panic!("{}", done.describe()));
    assert!(
        line.contains("report.json is not a valid redline report"),
        "{line}"
    );
    assert!(
        line.contains("EOF while parsing")
            && line.contains(&format!("line {}", cut.lines().count())),
        "{line}"
    );

    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["timeseries"][1]["p99_us"] = "slow".into();
    std::fs::write(&bad_report, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let done = redline(&["report", bad.to_str().unwrap()]);
    assert_eq!(done.code(), Some(2), "{}", done.describe());
    let line = done.error_line().unwrap_or_default();
    assert!(
        line.contains("field `timeseries[1].p99_us`") && line.contains("line "),
        "{line}"
    );

    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["histograms"]["response"]["overall"] = "bm90IGEgaGlzdG9ncmFt".into();
    std::fs::write(&bad_report, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let done = redline(&["report", bad.to_str().unwrap()]);
    assert_eq!(done.code(), Some(2), "{}", done.describe());
    assert!(
        done.stderr.contains("histograms.response.overall"),
        "{}",
        done.describe()
    );

    let done = redline(&["report", tmp.path().join("nowhere").to_str().unwrap()]);
    assert_eq!(done.code(), Some(2), "{}", done.describe());
    assert!(done.stderr.contains("cannot read"), "{}", done.describe());
    // Nothing was rendered from the broken reports.
    assert!(!bad.join("report.html").exists());
}
