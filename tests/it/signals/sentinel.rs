//! SIGTERM and SIGINT in the middle of a failover drill against redline's own Sentinel
//! topology: the run ends with exit 3 and takes every redis-server and redis-sentinel it
//! started with it, the node the failover killed and restarted included.

use super::{alive, assert_aborted_cleanly, children, Running};
use crate::support::wait_until;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn drill(dir: &Path) -> PathBuf {
    let file = dir.join("failover.toml");
    std::fs::write(
        &file,
        r#"
name = "sentinel-signals"

[target]
kind = "managed"
response_timeout = "300ms"

[target.server]
topology = "sentinel"

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
kind = "failover"
at = "1s"
for = "50s"
"#,
    )
    .unwrap();
    file
}

fn interrupted_mid_failover_leaves_no_process(signal: libc::c_int) {
    let dir = tempfile::tempdir().unwrap();
    let file = drill(dir.path());
    let out = dir.path().join("out");
    let mut running = Running::run(&file, &out, None);
    running.wait_for_log("phase: measured");
    let started = children(running.pid());
    assert_eq!(
        started.len(),
        5,
        "primary, replica, 3 sentinels: {started:?}"
    );
    running.wait_for_log("fault failover (failover) started");
    // The killed primary is restarted as a replica when the fault ends, which it will not
    // here; wait for the promotion so that the failover is really in progress.
    wait_until(
        Duration::from_secs(30),
        "the failover to kill the primary",
        || children(running.pid()).len() == 4,
    );
    let before = children(running.pid());
    let done = running.signal_and_wait(signal);
    assert_aborted_cleanly(&done, &out, "measured", None);
    for pid in started.iter().chain(&before) {
        assert!(!alive(*pid), "process {pid} outlived redline");
    }
}

#[test]
fn sigterm_mid_failover_stops_every_sentinel_and_server() {
    interrupted_mid_failover_leaves_no_process(libc::SIGTERM);
}

#[test]
fn sigint_mid_failover_stops_every_sentinel_and_server() {
    interrupted_mid_failover_leaves_no_process(libc::SIGINT);
}
