//! `redline run` as a process against a real redis-server without maxmemory: a memory
//! threshold is "not applicable", counted apart in the terminal, summary.md and report.json,
//! never as passed; a run whose only threshold is not applicable is inconclusive (exit 3).
//! The summaries also state the load that ran.

use crate::support::{finished_within, redis, redline_bin};
use std::path::Path;
use std::time::Duration;

/// Exit code and stdout of `redline run FILE --redis URL --out OUT`; kills the child and
/// fails after `deadline`.
fn run_redline(file: &Path, url: &str, out: &Path, deadline: Duration) -> (Option<i32>, String) {
    let mut cmd = redline_bin();
    cmd.args(["run", file.to_str().unwrap(), "--redis", url, "--out"])
        .arg(out);
    let done = finished_within(cmd, deadline);
    (done.code(), done.stdout)
}

fn scenario(thresholds: &str) -> String {
    format!(
        r#"
name = "verdicts"
thresholds = {thresholds}

[target]
kind = "redis"

[keyspace]
keys = 200
value_size = "64B"

[[ops]]
kind = "get"
weight = 1

# Closed model: a busy test machine cannot make it "saturated" (inconclusive).
[load]
model = "closed"
clients = 2
connections = 2
duration = "1s"
"#
    )
}

#[test]
fn memory_without_maxmemory_is_not_applicable_and_counted_apart() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("verdicts.toml");
    std::fs::write(&file, scenario(r#"["p95 < 10s", "memory < 0.80"]"#)).unwrap();
    let out = dir.path().join("out");
    let (code, stdout) = run_redline(&file, &server.url(), &out, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stdout}");
    let tally = "1 passed, 1 not applicable: memory — the server has no maxmemory";
    assert!(stdout.contains(&format!("thresholds  {tally}")), "{stdout}");
    assert!(
        stdout.contains("load        closed model, 2 clients"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains(&format!("**✅ PASS** — {tally}")), "{md}");
    assert!(
        md.contains("Load: closed model, 2 clients for 1s · 200 keys, uniform · values 64 B"),
        "{md}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let memory = &report["thresholds"][1];
    assert_eq!(memory["status"], "not_applicable", "{memory}");
    assert_eq!(memory["unit"], "fraction", "{memory}");
    assert!(memory["measured"].is_null(), "{memory}");
    assert_eq!(report["thresholds"][0]["unit"], "us");
}

#[test]
fn a_run_whose_every_threshold_is_not_applicable_is_inconclusive() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("verdicts.toml");
    std::fs::write(&file, scenario(r#"["memory < 0.80"]"#)).unwrap();
    let out = dir.path().join("out");
    let (code, stdout) = run_redline(&file, &server.url(), &out, Duration::from_secs(60));
    assert_eq!(code, Some(3), "{stdout}");
    assert!(stdout.contains("INCONCLUSIVE"), "{stdout}");
    assert!(stdout.contains("no threshold could be judged"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "inconclusive");
}
