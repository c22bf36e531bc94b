//! SIGINT in the middle of a `cluster_failover` against redline's own Redis Cluster: the
//! first signal still undoes the fault (the killed primary restarted, rejoined as a
//! replica) before the run ends with exit 3, and every one of the six nodes redline started
//! — the restarted one included — is gone afterwards.

use super::{alive, assert_aborted_cleanly, children, Running};
use crate::support::wait_until;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn drill(dir: &Path) -> PathBuf {
    let file = dir.join("cluster-failover.toml");
    std::fs::write(
        &file,
        r#"
name = "cluster-signals"

[target]
kind = "managed"
response_timeout = "300ms"

[target.server]
topology = "cluster"

[target.breaker]
reset_timeout = "500ms"

[keyspace]
keys = 100
value_size = "16B"

[[ops]]
kind = "get_or_set"
weight = 1

[load]
model = "closed"
clients = 2
think_time = "10ms"
duration = "60s"

[[faults]]
kind = "cluster_failover"
at = "1s"
for = "50s"
"#,
    )
    .unwrap();
    file
}

#[test]
fn sigint_mid_cluster_failover_restarts_the_killed_primary_then_stops_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let file = drill(dir.path());
    let out = dir.path().join("out");
    let args = [
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    let mut running = Running::start(&args, |_| {});
    running.wait_for_log("phase: measured");
    let started = children(running.pid());
    assert_eq!(
        started.len(),
        6,
        "three primaries, three replicas: {started:?}"
    );
    // Each node's own dir: the restarted node (a new pid) is found by it afterwards.
    let dirs: Vec<PathBuf> = started
        .iter()
        .map(|p| std::fs::read_link(format!("/proc/{p}/cwd")).unwrap())
        .collect();
    running.wait_for_log("fault cluster_failover (cluster_failover) started");
    wait_until(Duration::from_secs(30), "the kill of a primary", || {
        children(running.pid()).len() == 5
    });
    let done = running.signal_and_wait(libc::SIGINT);
    let report = assert_aborted_cleanly(&done, &out, "measured", None);
    let fault = &report["faults"][0];
    assert_eq!(fault["undone"], true, "{fault:#}");
    let detail = fault["detail"].as_str().unwrap();
    assert!(detail.contains("rejoined as a replica"), "{detail}");
    let window = &report["failover"]["failovers"][0];
    assert!(window["new_primary"].is_string(), "{window:#}");
    assert!(window["redirections"]["moved"].is_u64(), "{window:#}");
    for pid in &started {
        assert!(!alive(*pid), "node {pid} outlived redline");
    }
    for dir in &dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
        let inside = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path().join("cwd")).ok())
            .any(|cwd| cwd.to_string_lossy().starts_with(&*dir.to_string_lossy()));
        assert!(!inside, "a process still runs in {}", dir.display());
    }
}
