//! Sentinel: redline's own topology (primary, replica, three sentinels) comes up, a run
//! goes through it, a failover moves the cache layer to the new primary, and the
//! acknowledged-writes checker's lost count matches one the test takes itself from the
//! promoted replica. Every process is real and dies with the target.

use crate::engine::scenario;
use redline::chaos::acked_writes::WriteChecker;
use redline::chaos::failover::FailoverInjector;
use redline::engine::{self, RunOptions};
use redline::scenario::{FailoverMethod, Scenario};
use redline::target::{Target, TargetRequest};
use std::time::{Duration, Instant};

/// A short closed-model run against redline's own Sentinel topology.
pub(crate) fn sentinel_scenario(top: &str, duration: &str, extra: &str) -> Scenario {
    scenario(&format!(
        r#"
        name = "sentinel"
        {top}
        [target]
        kind = "managed"
        response_timeout = "300ms"
        [target.server]
        topology = "sentinel"
        [keyspace]
        keys = 200
        value_size = "64B"
        [load]
        model = "closed"
        clients = 4
        # Without a pause, clients served by the fallback in microseconds would take every
        # core of a small machine and starve the sentinels whose failover is measured.
        think_time = "5ms"
        duration = "{duration}"
        warmup = "0s"
        [[ops]]
        kind = "get_or_set"
        weight = 80
        [[ops]]
        kind = "set"
        weight = 20
        {extra}
        "#
    ))
}

/// Opens the scenario's target with only PATH and REDLINE_REDIS_SERVER from the
/// environment, so redline finds redis-server and redis-sentinel and nothing else leaks in.
pub(crate) async fn open_topology(scenario: &Scenario) -> Target {
    let env = |name: &str| match name {
        "PATH" | "REDLINE_REDIS_SERVER" => std::env::var(name).ok(),
        _ => None,
    };
    let request = TargetRequest {
        flag_url: None,
        spec: &scenario.target,
    };
    Target::open(&request, &env)
        .await
        .unwrap_or_else(|e| panic!("cannot open the Sentinel topology: {e}"))
}

pub(crate) fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentinel_topology_comes_up_and_a_run_goes_through_it() {
    let scenario = sentinel_scenario("", "2s", "");
    let target = open_topology(&scenario).await;
    assert!(target.is_sentinel());
    let url = target.redacted_url().unwrap();
    assert!(url.starts_with("redis+sentinel://127.0.0.1:"), "{url}");
    let pids = target.topology().unwrap().lock().unwrap().pids();
    assert_eq!(pids.len(), 5, "a primary, a replica and three sentinels");
    let summary = engine::run(
        &scenario,
        &target,
        &RunOptions::default(),
        redline::shutdown::Shutdown::never(),
        &mut |_| {},
    )
    .await
    .expect("the run");
    assert!(summary.totals.ops > 100, "{:?}", summary.totals);
    let redis = summary.redis.as_ref().expect("redis calls");
    assert!(redis.calls > 0 && redis.failures_total == 0, "{redis:?}");
    assert!(summary
        .target
        .url
        .as_deref()
        .unwrap()
        .starts_with("redis+sentinel://"));
    drop(target);
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived its topology");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_writes_match_a_count_taken_from_the_promoted_replica() {
    let scenario = sentinel_scenario("", "2s", "");
    let target = open_topology(&scenario).await;
    let prefix = "redline:failover-test:acked:";
    let store = target
        .connect_cache(prefix, 1, 1 << 20)
        .await
        .unwrap()
        .expect("a Redis store");
    let start = Instant::now();
    let checker = WriteChecker::start(store, start);
    let injector = FailoverInjector::for_target(&target, start).expect("Sentinel target");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (fault, detail) = injector
        .inject("failover", FailoverMethod::Kill)
        .await
        .expect("inject");
    assert!(detail.contains("killed the primary"), "{detail}");
    let undone = fault
        .undo(std::future::pending())
        .await
        .expect("the failover completes");
    assert!(undone.contains("promoted"), "{undone}");
    // Writes go on against the new primary for a moment before the check.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writes = checker.finish(std::future::pending()).await;
    let events = injector.events();
    let event = &events[0];
    assert!(writes.checked, "{writes:?}");
    assert!(writes.acknowledged > 0 && writes.failed > 0, "{writes:?}");
    assert!(!writes.outages.is_empty() && writes.outages[0].resumed_s.is_some());
    let (old, new) = (
        event.old_primary.clone().unwrap(),
        event.new_primary.clone().unwrap(),
    );
    assert_ne!(old, new);
    assert!(event.promoted_s.unwrap() > event.started_s.unwrap());

    // The independent count: every acknowledged key, read by the test from the node the
    // sentinels promoted (the former replica).
    let primary = target
        .topology()
        .unwrap()
        .lock()
        .unwrap()
        .current_primary()
        .unwrap();
    assert_eq!(primary.to_string(), new);
    let client = redis::Client::open(format!("redis://{primary}")).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut missing = 0u64;
    let mut acknowledged = 0u64;
    for [first, last] in &writes.acknowledged_ranges {
        for n in *first..=*last {
            acknowledged += 1;
            let v: Option<String> = redis::cmd("GET")
                .arg(format!("{prefix}{n}"))
                .query(&mut con)
                .unwrap();
            if v.as_deref() != Some(n.to_string().as_str()) {
                missing += 1;
            }
        }
    }
    assert_eq!(acknowledged, writes.acknowledged, "all ranges are listed");
    assert_eq!(missing, writes.lost, "{writes:?}");
    eprintln!(
        "failover: {} acknowledged, {} failed, {} lost, writes resumed after {:?}",
        writes.acknowledged, writes.failed, writes.lost, writes.outages[0]
    );
}

/// A failover drill through `engine::run`: failover at 1 s, undone at 4 s, 8 s in all.
async fn drill(method: &str) -> redline::report::summary::RunSummary {
    let scenario = sentinel_scenario(
        r#"thresholds = ["lost_writes <= 1000"]"#,
        "8s",
        &format!(
            r#"
        [[faults]]
        kind = "failover"
        method = "{method}"
        at = "1s"
        for = "3s"
        "#
        ),
    );
    let mut scenario = scenario;
    scenario.target.breaker.reset_timeout = Duration::from_millis(500);
    scenario.target.connect_timeout = Duration::from_millis(500);
    let target = open_topology(&scenario).await;
    engine::run(
        &scenario,
        &target,
        &RunOptions::default(),
        redline::shutdown::Shutdown::never(),
        &mut |_| {},
    )
    .await
    .expect("the drill")
}

/// What every failover drill must show; `outage`: writes failed for a while (a kill), as
/// opposed to a switch the cache layer followed without a failed write.
fn assert_failed_over(summary: &redline::report::summary::RunSummary, outage: bool) {
    use redline::cache::BreakerState::{Closed, Open};
    let f = summary.failover.as_ref().expect("a failover section");
    let w = &f.failovers[0];
    assert!(w.error.is_none(), "{w:?}");
    assert_ne!(w.old_primary, w.new_primary);
    assert!(w.new_primary.is_some() && w.promoted_s.is_some(), "{w:?}");
    let resumed = w.writes_resumed_after_ms.expect("writes resumed");
    if outage {
        assert!(resumed > 0, "writes never failed: {w:?}");
        assert!(
            w.writes_failed_from_s.is_some_and(|t| t >= 0.9),
            "writes failed before the fault: {w:?}"
        );
        // The breaker opened on the failover and closed again on the new primary.
        let path = &w.breaker_path;
        assert!(
            path.first()
                .is_some_and(|t| t.from == Closed && t.to == Open),
            "{path:?}"
        );
        assert!(path.last().is_some_and(|t| t.to == Closed), "{path:?}");
    }
    assert!(
        f.writes.checked && f.writes.acknowledged > 0,
        "{:?}",
        f.writes
    );
    let lost = summary
        .thresholds
        .iter()
        .find(|t| t.expr.starts_with("lost_writes"))
        .unwrap();
    assert_eq!(lost.measured, Some(f.writes.lost as f64));
    let fault = &summary.faults[0];
    assert!(fault.undone, "{fault:?}");
    assert_eq!(summary.breaker.final_state, Some(Closed));
    assert_eq!(
        summary.totals.errors_total, 0,
        "the fallback absorbed the failover"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_failover_drill_reports_writes_resuming_and_the_breaker_path() {
    let summary = drill("kill").await;
    assert_failed_over(&summary, true);
    let detail = &summary.faults[0].detail;
    assert!(detail.contains("rejoined as a replica"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_drill_moves_the_cache_layer_to_the_promoted_replica() {
    let summary = drill("sentinel").await;
    assert_failed_over(&summary, false);
    // The cache layer left the old primary: Redis served the load after the switch.
    let redis = summary.redis.as_ref().unwrap();
    assert!(redis.calls > 0, "{redis:?}");
}

/// A tiny scenario file in `dir` with `extra` appended.
fn scenario_file(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        format!(
            r#"
name = "bad"
[keyspace]
keys = 10
value_size = "16B"
[[ops]]
kind = "get"
weight = 1
[load]
model = "closed"
clients = 1
duration = "1s"
{extra}
"#
        ),
    )
    .unwrap();
    file
}

fn run_redline(args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = crate::support::redline_bin();
    cmd.args(args);
    let out = crate::support::output_within(cmd, Duration::from_secs(60));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn a_failover_without_sentinel_is_an_error_naming_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(
        dir.path(),
        "[[faults]]\nname = \"promote\"\nkind = \"failover\"\nat = \"0s\"\nfor = \"1s\"\n",
    );
    let out = dir.path().join("out");
    let (code, text) = run_redline(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("`promote` (failover)"), "{text}");
    assert!(text.contains("topology = \"sentinel\""), "{text}");
}

#[test]
fn bad_sentinel_urls_are_clear_errors_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "");
    let port = redline::server::free_port().to_string();
    let unreachable = format!("redis+sentinel://:hunter22@127.0.0.1:{port}/mymaster");
    for (url, want) in [
        (
            "redis+sentinel://:hunter22@127.0.0.1:26379",
            "no master name",
        ),
        ("redis+sentinel://:hunter22@h:notaport/m", "bad port"),
        ("rediss+sentinel://:hunter22@h/m", "TLS through Sentinel"),
        (unreachable.as_str(), "127.0.0.1"),
    ] {
        let out = dir.path().join(format!("out-{}", want.len()));
        let (code, text) = run_redline(&[
            "run",
            file.to_str().unwrap(),
            "--redis",
            url,
            "--out",
            out.to_str().unwrap(),
            "--set",
            "target.connect_timeout=200ms",
        ]);
        assert_eq!(code, Some(2), "{url}: {text}");
        assert!(text.contains(want), "{url}: {text}");
        assert!(
            !text.contains("hunter22"),
            "{url} printed its password: {text}"
        );
    }
}
