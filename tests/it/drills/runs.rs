//! Fault timelines run by the engine against real servers: the report's fault windows, the
//! breaker's path through them and what Redis failed with; a run stopped mid-fault leaves
//! the target as it was; a drill whose expectation breaks exits 1 and names it.

use super::drill;
use crate::engine::scenario;
use crate::support::{connection, finished_within, redis, redline_bin};
use redline::engine::{self, RunOptions};
use redline::op::ErrorKind;
use redline::report::summary::RunSummary;
use redline::scenario::Scenario;
use redline::server::redis_server_binary;
use redline::shutdown::{Cause, Shutdown};
use redline::target::{Target, TargetRequest};
use std::time::Duration;

/// Opens `s`'s target as `redline run` would with no URL anywhere: an embedded server.
async fn embedded(s: &Scenario) -> Target {
    let binary = redis_server_binary().expect("redis-server for the test");
    let path = binary.display().to_string();
    let env = move |name: &str| (name == "REDLINE_REDIS_SERVER").then(|| path.clone());
    let request = TargetRequest {
        flag_url: None,
        spec: &s.target,
    };
    Target::open(&request, &env)
        .await
        .expect("open the embedded target")
}

fn opts() -> RunOptions {
    RunOptions {
        run_id: Some("drill0001".into()),
        keep_keys: false,
        seed: Some(7),
        ..RunOptions::default()
    }
}

async fn run(s: &Scenario, target: &Target, shutdown: Shutdown) -> RunSummary {
    engine::run(s, target, &opts(), shutdown, &mut |_| {})
        .await
        .expect("run")
}

fn threshold<'a>(s: &'a RunSummary, expr: &str) -> &'a redline::report::ThresholdResult {
    s.thresholds
        .iter()
        .find(|t| t.expr == expr)
        .unwrap_or_else(|| panic!("no threshold {expr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_drill_reports_the_fault_window_and_the_breakers_path() {
    let s = scenario(&drill(
        &[
            "breaker.opens_within < 2s",
            "breaker.recovers_within < 5s",
            "redis_calls_while_open == 0",
            "breaker.final_state == closed",
            "error_rate < 0.001",
        ],
        // 3 s after the fault for the restart and the half-open probes every 500 ms: the
        // breaker closes about 0.5 s after the fault on a quiet machine, and a busy one's
        // slow restart must not leave the run ending before the next probe.
        "5s",
        "[[faults]]\nkind = \"kill\"\nat = \"1s\"\nfor = \"1s\"",
        "",
    ));
    let mut target = embedded(&s).await;
    target.place_fault_proxy().expect("proxy");
    let pid_before = target.embedded().and_then(|e| e.pid());
    let summary = run(&s, &target, Shutdown::never()).await;

    let f = &summary.faults[0];
    assert_eq!((f.name.as_str(), f.kind.as_str()), ("kill", "kill"));
    let (started, ended) = (f.started_s.expect("started"), f.ended_s.expect("ended"));
    assert!(started >= 1.0 && ended >= started + 1.0, "{f:?}");
    assert!(f.undone && f.error.is_none(), "{f:?}");
    assert!(f.detail.contains("SIGKILL pid"), "{}", f.detail);
    // What the client saw: the connection refused or lost.
    let redis = summary.redis.as_ref().expect("redis calls");
    assert!(redis.failures[&ErrorKind::Connection] > 0, "{redis:?}");
    // The series marks the window, and only the window.
    assert!(summary.timeseries[0].faults.is_empty());
    assert!(summary
        .timeseries
        .iter()
        .any(|p| p.faults == ["kill".to_string()]));
    for t in &summary.thresholds {
        assert!(
            t.passed(),
            "{} measured {:?} ({:?})",
            t.expr,
            t.measured,
            t.note
        );
    }
    assert_eq!(summary.breaker.calls_while_open.as_deref(), Some(&[][..]));
    // The server is back, a new process on the same port.
    let pid_after = target.embedded().and_then(|e| e.pid());
    assert!(pid_after.is_some() && pid_after != pid_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_drill_times_out_through_the_proxy_and_heals() {
    let server = redis();
    let s = scenario(&drill(
        &["breaker.opens_within < 2s", "breaker.final_state == closed"],
        // A 2 s blackhole: on a busy machine the four clients' 300 ms timeouts can take
        // longer than a 1 s fault to add up to the failure threshold.
        "4s",
        "[[faults]]\nkind = \"blackhole\"\nat = \"1s\"\nfor = \"2s\"",
        "",
    ));
    let mut target = crate::support::open_target(&s, Some(&server.url())).await;
    target.place_fault_proxy().expect("proxy");
    let summary = run(&s, &target, Shutdown::never()).await;
    let f = &summary.faults[0];
    assert!(f.undone && f.detail.contains("toxic timeout"), "{f:?}");
    let redis = summary.redis.as_ref().expect("redis calls");
    assert!(redis.failures[&ErrorKind::Timeout] > 0, "{redis:?}");
    assert!(threshold(&summary, "breaker.opens_within < 2s").passed());
    assert!(target.fault_proxy().expect("proxy").toxics().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oom_drill_on_a_server_redline_did_not_start_gets_oom_replies_and_restores_it() {
    let server = redis();
    let mut con = connection(&server);
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "50mb"][..])
        .query(&mut con)
        .unwrap();
    let s = scenario(&drill(
        &["breaker.final_state == closed"],
        "3s",
        "[[faults]]\nkind = \"oom\"\nat = \"1s\"\nfor = \"1s\"",
        "",
    ));
    let target = crate::support::open_target(&s, Some(&server.url())).await;
    let summary = run(&s, &target, Shutdown::never()).await;
    let f = &summary.faults[0];
    assert!(f.undone, "{f:?}");
    let redis = summary.redis.as_ref().expect("redis calls");
    assert!(redis.failures[&ErrorKind::ServerReply] > 0, "{redis:?}");
    let maxmemory: Vec<String> = redis::cmd("CONFIG")
        .arg(&["GET", "maxmemory"][..])
        .query(&mut con)
        .unwrap();
    assert_eq!(maxmemory[1], (50 * 1024 * 1024).to_string());
}

/// The /proc state letter of `pid` (`T` while stopped).
fn proc_state(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().next().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_mid_fault_leaves_no_paused_server_and_no_toxic() {
    let s = scenario(&drill(
        &["error_rate < 0.001"],
        "30s",
        "[[faults]]\nkind = \"pause\"\nat = \"500ms\"\nfor = \"25s\"\n\n\
         [[faults]]\nkind = \"latency\"\nat = \"500ms\"\nfor = \"25s\"\nlatency = \"50ms\"",
        "",
    ));
    let mut target = embedded(&s).await;
    target.place_fault_proxy().expect("proxy");
    let pid = target.embedded().and_then(|e| e.pid()).expect("pid");
    let (trigger, shutdown) = Shutdown::new();
    let proxy = target.fault_proxy().expect("proxy").clone();
    let watcher = tokio::spawn(async move {
        // Stop once both faults are in force.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while proc_state(pid).as_deref() != Some("T") || proxy.toxics().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the faults never started"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        trigger.trigger(Cause::Requested);
    });
    let summary = run(&s, &target, shutdown).await;
    watcher.await.expect("watcher");
    assert!(summary.aborted);
    for f in &summary.faults {
        assert!(f.undone && f.ended_s.is_some(), "{f:?}");
        assert!(
            f.ended_s.unwrap() < 25.0,
            "undone when stopped, not at its end: {f:?}"
        );
    }
    assert_ne!(
        proc_state(pid).as_deref(),
        Some("T"),
        "the server is still paused"
    );
    assert!(target.fault_proxy().unwrap().toxics().is_empty());
    let url = target.embedded().expect("server").url();
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let _: String = redis::cmd("PING")
        .query(&mut con)
        .expect("the server answers");
}

#[test]
fn a_drill_whose_expectation_breaks_exits_1_and_names_it() {
    // Fifty failures in a row at four clients and a 300 ms timeout take far longer than the
    // pause lasts: the breaker never opens, so "opens within 1 s" fails.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("violated.toml");
    std::fs::write(
        &file,
        drill(
            &["breaker.opens_within < 1s", "error_rate < 0.5"],
            "3s",
            "[[faults]]\nkind = \"pause\"\nat = \"500ms\"\nfor = \"2s\"",
            "failure_threshold = 50",
        ),
    )
    .unwrap();
    let mut cmd = redline_bin();
    cmd.arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("out"));
    let done = finished_within(cmd, Duration::from_secs(60));
    assert_eq!(done.code(), Some(1), "{}", done.describe());
    assert!(
        done.stdout.contains("✗ breaker.opens_within < 1s")
            && done
                .stdout
                .contains("the breaker never opened after `pause` started"),
        "{}",
        done.describe()
    );
}
