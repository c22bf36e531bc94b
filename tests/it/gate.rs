//! The CI gate through the binary: `redline compare` exit codes (0 ok, 1 regression, 2
//! error) on reports with synthetic per-second series, mismatched and damaged reports,
//! `$GITHUB_STEP_SUMMARY`, JUnit parsed back, `run --baseline/--junit`, and the interval log
//! read by HdrHistogram's own Python reader.

use crate::support::{finished_within, read_report, redis, redline_bin, Finished};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A one-second run on the in-memory store: no server needed, verdict pass (a closed model,
/// which a busy machine cannot make inconclusive).
const MEMORY_RUN: &str = r#"
name = "gate"
thresholds = ["error_rate < 0.001"]

[target]
kind = "memory"

[keyspace]
keys = 200
value_size = "64B"

[[ops]]
kind = "get_or_set"
weight = 1

[origin]
latency = "1ms"

[load]
model = "closed"
clients = 2
think_time = "10ms"
duration = "1s"
"#;

fn redline(args: &[&str], env: &[(&str, &Path)]) -> Finished {
    let mut cmd = redline_bin();
    cmd.args(args).env_remove("GITHUB_STEP_SUMMARY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    finished_within(cmd, Duration::from_secs(60))
}

/// Runs [`MEMORY_RUN`] into `dir/name` and returns its report.
fn memory_run(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Finished) {
    let scenario = dir.join("gate.toml");
    std::fs::write(&scenario, MEMORY_RUN).expect("write scenario");
    let out = dir.join(name);
    let mut args = vec![
        "run",
        scenario.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let run = redline(&args, &[]);
    (out, run)
}

/// `report` with its measured series replaced by `seconds` synthetic seconds: p95 around
/// `p95_us` (±10 %, a fixed pseudo-random sequence per `seed`), the rest steady, and the
/// run-wide p95 the median second.
fn with_series(report: &Value, p95_us: f64, seed: u64) -> Value {
    let mut r = report.clone();
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut jitter = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        0.9 + 0.2 * ((state >> 11) as f64 / (1u64 << 53) as f64)
    };
    let seconds = 20;
    let mut p95s = Vec::new();
    let mut series = Vec::new();
    let template = r["timeseries"][0].clone();
    for i in 1..=seconds {
        let p95 = (p95_us * jitter()) as u64;
        p95s.push(p95);
        let mut p = template.clone();
        p["t_s"] = (f64::from(i)).into();
        p["warmup"] = false.into();
        p["ops"] = 1_000.into();
        p["throughput"] = (1_000.0 * jitter()).into();
        p["p50_us"] = ((300.0 * jitter()) as u64).into();
        p["p95_us"] = p95.into();
        p["p99_us"] = (p95 * 2).into();
        p["hits"] = 900.into();
        p["misses"] = 100.into();
        p["errors"] = 0.into();
        series.push(p);
    }
    p95s.sort_unstable();
    r["timeseries"] = series.into();
    r["measured_s"] = f64::from(seconds).into();
    r["measured_window"] = serde_json::json!({"start_s": 0.0, "end_s": f64::from(seconds)});
    let resp = &mut r["latency"]["overall"]["response"];
    resp["p50_us"] = 300.into();
    resp["p95_us"] = p95s[p95s.len() / 2].into();
    resp["p99_us"] = (p95s[p95s.len() / 2] * 2).into();
    r["totals"]["throughput"] = 1_000.0.into();
    r
}

fn write_json(path: &Path, v: &Value) -> String {
    std::fs::write(path, serde_json::to_string_pretty(v).expect("json")).expect("write");
    path.to_str().expect("utf-8").to_string()
}

fn junit_failures(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("junit written");
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|n| n.children().any(|c| c.has_tag_name("failure")))
        .filter_map(|n| n.attribute("name").map(str::to_string))
        .collect()
}

#[test]
fn compare_exit_codes_summary_and_junit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (run_dir, run) = memory_run(d, "real", &[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let real = read_report(&run_dir);

    let base = write_json(&d.join("base.json"), &with_series(&real, 1_000.0, 1));
    let same = write_json(&d.join("same.json"), &with_series(&real, 1_000.0, 2));
    let slow = write_json(&d.join("slow.json"), &with_series(&real, 1_500.0, 3));

    // Noise only: exit 0.
    let out = redline(&["compare", &base, &same], &[]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(
        out.stdout.contains("**Result: no regression.**"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("| p95 latency |"), "{}", out.stdout);

    // A 50 % slower p95: exit 1, the table appended to the job summary, a JUnit failure.
    let summary = d.join("step-summary.md");
    std::fs::write(&summary, "previous step\n").expect("write");
    let junit = d.join("junit.xml");
    let out = redline(
        &[
            "compare",
            &base,
            &slow,
            "--junit",
            junit.to_str().expect("utf-8"),
        ],
        &[("GITHUB_STEP_SUMMARY", &summary)],
    );
    assert_eq!(out.code(), Some(1), "{}", out.describe());
    assert!(
        out.stdout
            .contains("**Result: regression** in p95 latency (+"),
        "{}",
        out.stdout
    );
    let appended = std::fs::read_to_string(&summary).expect("summary");
    assert!(
        appended.starts_with("previous step\n### redline compare: gate\n"),
        "{appended}"
    );
    assert!(
        appended.contains(&out.stdout),
        "the job summary holds the same table"
    );
    let failures = junit_failures(&junit);
    assert!(
        failures.contains(&"p95 latency".to_string()),
        "{failures:?}"
    );
    assert!(!failures.contains(&"verdict".to_string()), "{failures:?}");

    // A looser limit lets the same change through.
    let out = redline(
        &[
            "compare",
            &base,
            &slow,
            "--max-regression",
            "p95=60%,p99=60%",
        ],
        &[],
    );
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(out.stdout.contains("worse, within limit"), "{}", out.stdout);

    // A run directory works as well as its report.json.
    let out = redline(&["compare", run_dir.to_str().expect("utf-8"), &base], &[]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
}

#[test]
fn compare_refuses_mismatched_and_damaged_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (run_dir, run) = memory_run(d, "real", &[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let real = with_series(&read_report(&run_dir), 1_000.0, 1);
    let base = write_json(&d.join("base.json"), &real);

    let mut other = real.clone();
    other["scenario"]["name"] = "other".into();
    let other = write_json(&d.join("other.json"), &other);
    let out = redline(&["compare", &base, &other], &[]);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    let line = out.error_line().unwrap_or_default();
    assert!(
        line.contains("different scenarios: baseline `gate`, current `other`"),
        "{line}"
    );
    assert!(line.contains("--allow-mismatch"), "{line}");
    let out = redline(&["compare", &base, &other, "--allow-mismatch"], &[]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(
        out.stdout
            .contains("> **warning:** compared anyway: the reports are of different scenarios"),
        "{}",
        out.stdout
    );

    let mut v3 = real.clone();
    v3["schema"] = "redline.report/v3".into();
    let v3 = write_json(&d.join("v3.json"), &v3);
    let out = redline(&["compare", &base, &v3], &[]);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(
        out.stderr.contains("has schema \"redline.report/v3\""),
        "{}",
        out.stderr
    );
    let out = redline(&["compare", &base, &v3, "--allow-mismatch"], &[]);
    assert_eq!(out.code(), Some(0), "{}", out.describe());
    assert!(
        out.stdout.contains("different schema versions"),
        "{}",
        out.stdout
    );

    let text = std::fs::read_to_string(&base).expect("read");
    let cut = d.join("cut.json");
    std::fs::write(&cut, &text[..text.len() * 2 / 3]).expect("write");
    let out = redline(&["compare", &base, cut.to_str().expect("utf-8")], &[]);
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    let line = out.error_line().unwrap_or_default();
    assert!(
        line.contains("cut.json is not a valid redline report: field `"),
        "{line}"
    );
    assert!(line.ends_with("(the file looks truncated)"), "{line}");

    let out = redline(
        &["compare", &base, &base, "--max-regression", "p95=ten%"],
        &[],
    );
    assert_eq!(out.code(), Some(2), "{}", out.describe());
    assert!(
        out.stderr.contains("bad --max-regression"),
        "{}",
        out.stderr
    );
}

#[test]
fn run_with_a_baseline_and_junit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // Thresholds alone give the testcases when there is no baseline; the JUnit file's
    // folder is created.
    let junit = d.join("ci").join("run.xml");
    let (first, run) = memory_run(d, "first", &["--junit", junit.to_str().expect("utf-8")]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let text = std::fs::read_to_string(&junit).expect("junit");
    let doc = roxmltree::Document::parse(&text).expect("well-formed");
    let names: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(names, ["verdict", "error_rate < 0.001"]);

    // With a baseline: the table in the run folder and the JUnit, one case per metric (one
    // measured second is too few to judge, so none regresses).
    let summary = d.join("summary.md");
    let junit = d.join("gate.xml");
    let scenario = d.join("gate.toml");
    let second = d.join("second");
    let run = redline(
        &[
            "run",
            scenario.to_str().expect("utf-8"),
            "--out",
            second.to_str().expect("utf-8"),
            "--baseline",
            first.to_str().expect("utf-8"),
            "--junit",
            junit.to_str().expect("utf-8"),
        ],
        &[("GITHUB_STEP_SUMMARY", &summary)],
    );
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let table = std::fs::read_to_string(second.join("comparison.md")).expect("comparison.md");
    assert!(
        table.contains("| p95 latency |") && table.contains("too few samples"),
        "{table}"
    );
    assert!(run.stdout.contains(&table), "{}", run.stdout);
    assert_eq!(
        std::fs::read_to_string(&summary).expect("summary"),
        format!("{table}\n")
    );
    let text = std::fs::read_to_string(&junit).expect("junit");
    let doc = roxmltree::Document::parse(&text).expect("well-formed");
    assert_eq!(doc.root_element().attribute("tests"), Some("8"), "{text}");
    // The baseline's latency-by-percentile curve is drawn behind the run's.
    let curve = std::fs::read_to_string(second.join("plots/percentiles.svg")).expect("chart");
    assert!(
        curve.contains("baseline response time"),
        "no baseline curve"
    );
    let first_curve = std::fs::read_to_string(first.join("plots/percentiles.svg")).expect("chart");
    assert!(!first_curve.contains("baseline response time"));

    // A baseline of another scenario is refused before any load: no run folder.
    let mut other = read_report(&first);
    other["scenario"]["name"] = "other".into();
    let other = write_json(&d.join("other.json"), &other);
    let third = d.join("third");
    let run = redline(
        &[
            "run",
            scenario.to_str().expect("utf-8"),
            "--out",
            third.to_str().expect("utf-8"),
            "--baseline",
            &other,
        ],
        &[],
    );
    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert!(run.stderr.contains("different scenarios"), "{}", run.stderr);
    assert!(!third.exists(), "no folder for a run that never ran");
}

/// The interval log read by HdrHistogram's own Python reader (`pip install hdrhistogram`):
/// one interval per point of the time series, the same counts as report.json.
#[test]
fn interval_log_reads_back_with_hdrhistograms_python_reader() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/scripts/read_hlog.py");
    let probe = std::process::Command::new("python3")
        .args(["-c", "import hdrh.log"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "this test needs python3 with HdrHistogram's Python package: \
             pip install hdrhistogram (scripts/test installs it when missing)"
        ),
    }
    let server = redis();
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("hlog.toml");
    std::fs::write(
        &scenario,
        MEMORY_RUN
            .replace("kind = \"memory\"", "kind = \"managed\"")
            .replace("duration = \"1s\"", "warmup = \"1s\"\nduration = \"2s\""),
    )
    .expect("write");
    let out = dir.path().join("run");
    let url = server.url();
    let run = redline(
        &[
            "run",
            scenario.to_str().expect("utf-8"),
            "--redis",
            &url,
            "--out",
            out.to_str().expect("utf-8"),
            "--quiet",
        ],
        &[],
    );
    assert!(matches!(run.code(), Some(0 | 3)), "{}", run.describe());
    let hlog = out.join("latency.hlog");
    let read = std::process::Command::new("python3")
        .arg(&script)
        .arg(&hlog)
        .output()
        .expect("python3 runs");
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let got: Value = serde_json::from_slice(&read.stdout).expect("json from the script");
    let report = read_report(&out);
    let series = report["timeseries"].as_array().expect("timeseries");
    assert!(series.len() >= 3, "{series:?}");
    assert_eq!(got["intervals"], series.len(), "{got}");
    let ops: u64 = series.iter().map(|p| p["ops"].as_u64().expect("ops")).sum();
    assert_eq!(got["total"], ops, "{got}");
    // Measured intervals hold exactly the operations of the run's totals.
    let counts = got["counts"].as_array().expect("counts");
    let measured: u64 = series
        .iter()
        .zip(counts)
        .filter(|(p, _)| p["warmup"] == false)
        .map(|(_, c)| c.as_u64().expect("count"))
        .sum();
    assert_eq!(
        measured, report["latency"]["overall"]["response"]["count"],
        "{got}"
    );
    // The log's StartTime is the report's start, to the millisecond.
    let started =
        chrono::DateTime::parse_from_rfc3339(report["started_at"].as_str().expect("started_at"))
            .expect("rfc3339");
    let start_s = got["start_time_s"].as_f64().expect("start");
    assert!(
        (start_s - started.timestamp_millis() as f64 / 1000.0).abs() < 0.002,
        "{got}"
    );
}
