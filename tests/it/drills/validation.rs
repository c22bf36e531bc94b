//! Drills refused before any load: a fault that cannot apply to the target (a process fault
//! on a server redline did not start), faults outside the run, contradicting overlaps, and
//! expectations that do not say which fault they are about.

use super::drill;
use crate::engine::scenario;
use crate::support::{connection, finished_within, redis, redline_bin};
use redline::scenario::{parse_str_all, Format};
use std::time::Duration;

#[test]
fn kill_against_a_server_redline_did_not_start_is_refused_before_any_load() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kill.toml");
    let faults = "[[faults]]\nname = \"crash\"\nkind = \"kill\"\nat = \"1s\"\nfor = \"1s\"";
    std::fs::write(&file, drill(&["error_rate < 0.5"], "3s", faults, "")).unwrap();
    let mut cmd = redline_bin();
    cmd.arg("run")
        .arg(&file)
        .args(["--redis", &server.url(), "--out"])
        .arg(dir.path().join("out"));
    let done = finished_within(cmd, Duration::from_secs(30));
    assert_eq!(done.code(), Some(2), "{}", done.describe());
    let line = done.error_line().unwrap_or_default();
    assert!(
        line.contains("fault `crash` (kill) cannot apply to this target")
            && line.contains("a server redline did not start"),
        "{}",
        done.describe()
    );
    let keys: u64 = redis::cmd("DBSIZE")
        .query(&mut connection(&server))
        .unwrap();
    assert_eq!(keys, 0, "no load ran");
}

/// Every problem `parse_str_all` finds in a drill with `faults` and `thresholds`.
fn problems(thresholds: &[&str], faults: &str, extra_target: &str) -> String {
    let text = drill(thresholds, "10s", faults, "")
        .replace("[target]\n", &format!("[target]\n{extra_target}\n"));
    match parse_str_all(&text, Format::Toml, "drill.toml", &[]) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn faults_outside_the_run_and_contradicting_overlaps_are_refused() {
    let err = problems(
        &[],
        "[[faults]]\nkind = \"pause\"\nat = \"8s\"\nfor = \"5s\"",
        "",
    );
    assert!(
        err.contains(
            "faults[0].for: the fault ends at 13s but the run (warmup + duration) ends at 10s"
        ),
        "{err}"
    );
    let err = problems(
        &[],
        "[[faults]]\nkind = \"kill\"\nat = \"1s\"\nfor = \"5s\"\n\n\
         [[faults]]\nkind = \"oom\"\nat = \"2s\"\nfor = \"1s\"",
        "",
    );
    assert!(
        err.contains("faults[1]: `oom` overlaps `kill` (faults[0])"),
        "{err}"
    );
    let err = problems(
        &[],
        "[[faults]]\nkind = \"kill\"\nat = \"1s\"\nfor = \"1s\"",
        "url = \"redis://10.0.0.1:6379\"",
    );
    assert!(
        err.contains("fault `kill` (kill) needs a redis-server redline starts"),
        "{err}"
    );
    let err = problems(
        &[],
        "[[faults]]\nkind = \"latency\"\nat = \"1s\"\nfor = \"1s\"\nrate = 5",
        "",
    );
    assert!(
        err.contains("faults[0].rate: is not a parameter of latency faults"),
        "{err}"
    );
}

#[test]
fn expectations_name_their_fault_when_there_are_several() {
    let two = "[[faults]]\nname = \"a\"\nkind = \"kill\"\nat = \"1s\"\nfor = \"1s\"\n\n\
               [[faults]]\nname = \"b\"\nkind = \"kill\"\nat = \"5s\"\nfor = \"1s\"";
    let err = problems(&["breaker.opens_within < 2s"], two, "");
    assert!(
        err.contains("must name the fault it is about, like breaker.opens_within[a]"),
        "{err}"
    );
    let err = problems(&["breaker.opens_within[c] < 2s"], two, "");
    assert!(
        err.contains("names fault `c`, which is not in [[faults]] (faults: a, b)"),
        "{err}"
    );
    let err = problems(&["redis_calls_while_open == 0"], "", "");
    assert!(err.contains("the scenario has no [[faults]]"), "{err}");
    // Named, it resolves; with one fault, the name is implied.
    let s = scenario(&drill(&["breaker.opens_within[b] < 2s"], "10s", two, ""));
    assert_eq!(s.thresholds[0].fault.as_deref(), Some("b"));
    let one = "[[faults]]\nkind = \"pause\"\nat = \"1s\"\nfor = \"1s\"";
    let s = scenario(&drill(&["breaker.recovers_within < 2s"], "10s", one, ""));
    assert_eq!(s.thresholds[0].fault.as_deref(), Some("pause"));
}
