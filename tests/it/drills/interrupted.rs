//! Drills interrupted mid-fault, driving the `redline` binary: SIGINT while the embedded
//! server is paused, SIGTERM while a server redline did not start has its maxmemory
//! squeezed and its writes paused behind a slow proxy. Either way redline exits 3 with
//! every fault undone: no paused process, no squeezed maxmemory, no pause, no proxy.

use super::drill;
use crate::signals::{alive, Running};
use crate::support::{connection, read_report, redis, wait_until};
use std::time::Duration;

fn config_get(con: &mut redis::Connection, name: &str) -> String {
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg(&["GET", name][..])
        .query(con)
        .unwrap();
    pair[1].clone()
}

/// The number after `marker` in `text` (`SIGSTOP pid 4242` → 4242).
fn number_after(text: &str, marker: &str) -> i32 {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no `{marker}` in:\n{text}"))
        + marker.len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number")
}

#[test]
fn sigint_mid_pause_leaves_no_paused_server_behind() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pause.toml");
    let faults = "[[faults]]\nkind = \"pause\"\nat = \"500ms\"\nfor = \"25s\"";
    std::fs::write(&file, drill(&["error_rate < 0.5"], "30s", faults, "")).unwrap();
    let out = dir.path().join("out");
    let mut running = Running::run(&file, &out, None);
    running.wait_for_log("fault pause (pause) started: SIGSTOP pid ");
    let server_pid = number_after(&running.stderr(), "SIGSTOP pid ");
    let done = running.signal_and_wait(libc::SIGINT);
    assert_eq!(done.status.code(), Some(3), "{}", done.describe());
    assert!(
        done.stderr.contains("fault pause (pause) ended: SIGCONT"),
        "{}",
        done.describe()
    );
    let report = read_report(&out);
    let f = &report["faults"][0];
    assert_eq!(f["undone"], true, "{f}");
    assert!(f["ended_s"].as_f64().is_some_and(|t| t < 25.0), "{f}");
    assert!(
        !alive(server_pid),
        "redis-server {server_pid} outlived redline"
    );
}

#[test]
fn sigterm_mid_fault_restores_a_server_redline_did_not_start_and_closes_its_proxy() {
    let server = redis();
    let mut con = connection(&server);
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "100mb"][..])
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory-policy", "allkeys-lru"][..])
        .query(&mut con)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("squeeze.toml");
    let faults = "[[faults]]\nkind = \"oom\"\nat = \"500ms\"\nfor = \"25s\"\n\n\
                  [[faults]]\nkind = \"client_pause\"\nmode = \"write\"\nat = \"500ms\"\nfor = \"25s\"\n\n\
                  [[faults]]\nkind = \"latency\"\nlatency = \"20ms\"\nat = \"500ms\"\nfor = \"25s\"";
    std::fs::write(&file, drill(&["error_rate < 0.5"], "30s", faults, "")).unwrap();
    let out = dir.path().join("out");
    let mut running = Running::run(&file, &out, Some(&server.url()));
    running.wait_for_log("fault proxy listening on 127.0.0.1:");
    let proxy_port = number_after(&running.stderr(), "fault proxy listening on 127.0.0.1:");
    for name in [
        "oom (oom)",
        "client_pause (client_pause)",
        "latency (latency)",
    ] {
        running.wait_for_log(&format!("fault {name} started"));
    }
    assert_eq!(
        config_get(&mut con, "maxmemory"),
        "1",
        "the squeeze is in force"
    );
    let done = running.signal_and_wait(libc::SIGTERM);
    assert_eq!(done.status.code(), Some(3), "{}", done.describe());
    let report = read_report(&out);
    for f in report["faults"].as_array().expect("faults") {
        assert_eq!(f["undone"], true, "{f}");
    }
    assert_eq!(config_get(&mut con, "maxmemory"), "104857600");
    assert_eq!(config_get(&mut con, "maxmemory-policy"), "allkeys-lru");
    // Writes go through at once: no pause is left (a pause would hold this past 1 s).
    con.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut con)
        .expect("writes work: no pause and no squeeze left");
    wait_until(Duration::from_secs(5), "the proxy port to close", || {
        std::net::TcpStream::connect(("127.0.0.1", proxy_port as u16)).is_err()
    });
}
