//! What becomes of the run's keys and processes when the stop is not clean: a second signal,
//! SIGKILL, `redline clean` for what is left, and cleanup after a connection loss.

use super::*;
use crate::support::{connection, redis, redline_bin, set_key, wait_until};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// second signal, SIGKILL
// ---------------------------------------------------------------------------------------

#[test]
fn a_second_signal_skips_the_cleanup_names_the_prefix_and_clean_removes_it() {
    let server = redis();
    let mut con = connection(&server);
    set_key(&mut con, "sig:bystander", "stays");
    let case = Case::new(1_000, false, 300, "60s");
    let mut running = case.measuring(&server, 200);
    // A paused server answers nothing, so the stop (drain, INFO, cleanup) hangs until the
    // second signal ends it.
    let pause = server.pause().unwrap();
    running.signal(libc::SIGTERM);
    running.wait_for_log("send it again to skip the cleanup");
    running.wait_for_log("phase: cleanup");
    let done = running.signal_and_wait(libc::SIGTERM);
    drop(pause);
    assert_eq!(done.status.code(), Some(3), "{}", done.describe());
    let report = read_report(&case.out);
    assert_eq!(report["aborted"], true);
    assert_eq!(report["aborted_in"], "measured");
    let cleanup = &report["cleanup"];
    assert_eq!(cleanup["outcome"], "skipped", "{cleanup:#}");
    let prefix = cleanup["prefix"].as_str().unwrap().to_string();
    let command = cleanup["remove_with"].as_str().unwrap();
    assert!(
        done.stderr.contains(&prefix) && done.stderr.contains("redline clean --redis"),
        "stderr should name the prefix and the command: {}",
        done.describe()
    );
    assert!(command.ends_with(&prefix), "{command}");
    let left = keys_under(&server, &prefix);
    assert!(left > 0, "the cleanup ran although it was skipped");

    // The command the report gives removes exactly those keys.
    let cleaned = redline_bin()
        .args(["clean", "--redis", &server.url(), &prefix])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&cleaned.stdout);
    assert!(cleaned.status.success(), "{cleaned:?}");
    assert!(stdout.contains(&format!("removed {left} key")), "{stdout}");
    assert_eq!(keys_under(&server, &prefix), 0);
    assert_eq!(dbsize(&server), 1, "clean touched a key outside the prefix");
}

#[test]
fn sigkill_of_redline_takes_the_embedded_server_with_it() {
    let case = Case::new(1_000, false, 300, "60s");
    let mut running = case.start(None);
    running.wait_for_log("phase: measured");
    let (server_pid, server_dir) = only_child(&running);
    assert!(
        !server_dir.join("redis.conf").exists(),
        "the config (and its password) stays on disk while the server runs"
    );
    let done = running.signal_and_wait(libc::SIGKILL);
    assert_eq!(done.status.code(), None, "{}", done.describe());
    wait_until(
        Duration::from_secs(10),
        "the orphaned server to die",
        || !alive(server_pid),
    );
    // The killed redline could not remove its temp dir; the next embedded server does.
    assert!(server_dir.exists());
    let _next = redis();
    assert!(!server_dir.exists(), "{} not swept", server_dir.display());
}

// ---------------------------------------------------------------------------------------
// redline clean
// ---------------------------------------------------------------------------------------

#[test]
fn clean_removes_exactly_the_prefix_and_refuses_patterns() {
    let server = redis();
    let mut con = connection(&server);
    for i in 0..2_500 {
        set_key(&mut con, format!("run:abc:{i}"), i);
    }
    for key in ["run:abd:1", "run:ab", "other:run:abc:1", "run:abc"] {
        set_key(&mut con, key, 1);
    }
    let url = server.url();
    for bad in ["", "run:*", "run:ab?", "run:[ab]"] {
        let out = redline_bin()
            .args(["clean", "--redis", &url, bad])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains("prefix"), "{bad:?}: {stderr}");
    }
    assert_eq!(dbsize(&server), 2_504, "a refused clean removed keys");
    let out = redline_bin()
        .args(["clean", "--redis", &url, "run:abc:"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 2500 key"));
    assert_eq!(dbsize(&server), 4, "only the 2 500 keys under run:abc: go");
}

// ---------------------------------------------------------------------------------------
// connection loss
// ---------------------------------------------------------------------------------------

#[test]
fn after_an_outage_mid_run_the_cleanup_still_removes_every_key() {
    let mut server = redis();
    let case = Case::new(1_000, false, 300, "5s");
    case.edit("connections = 2", "connections = 8");
    let running = case.measuring(&server, 100);
    let prefix = run_prefix(&server);
    // The fault: a crash, 3 s of outage (long enough for the client's own reconnection
    // attempts to give up), and the server back, empty, on the same port while the run
    // goes on.
    server.kill().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    server.restart().unwrap();
    // What the run writes once it has recovered; written here so the test does not depend
    // on how soon the breaker lets writes through again.
    let mut con = connection(&server);
    for i in 0..500 {
        set_key(&mut con, format!("{prefix}after-outage:{i}"), i);
    }
    let done = running.wait();
    assert!(
        matches!(done.status.code(), Some(0 | 1 | 3)),
        "{}",
        done.describe()
    );
    let report = read_report(&case.out);
    assert_eq!(
        report["cleanup"]["outcome"],
        "removed",
        "{}",
        done.describe()
    );
    assert_eq!(dbsize(&server), 0, "keys left after the outage");
}

#[test]
fn a_cleanup_that_first_fails_reconnects_and_removes_every_key() {
    let server = redis();
    let case = Case::new(1_000, false, 300, "2s");
    let mut running = case.measuring(&server, 100);
    // Unreachable (paused, keys kept) until the cleanup's first attempt has failed.
    let pause = server.pause().unwrap();
    running.wait_for_log("retrying over a fresh connection");
    drop(pause);
    let done = running.wait();
    let report = read_report(&case.out);
    assert_eq!(
        report["cleanup"]["outcome"],
        "removed",
        "{}",
        done.describe()
    );
    assert_eq!(
        dbsize(&server),
        0,
        "keys left after the cleanup reconnected"
    );
}

#[test]
fn when_redis_is_gone_at_the_end_the_run_names_the_prefix_left() {
    let mut server = redis();
    let case = Case::new(1_000, false, 300, "3s");
    let running = case.measuring(&server, 100);
    server.kill().unwrap();
    let done = running.wait();
    let report = read_report(&case.out);
    let cleanup = &report["cleanup"];
    assert_eq!(cleanup["outcome"], "failed", "{}", done.describe());
    let prefix = cleanup["prefix"].as_str().unwrap();
    assert!(
        done.stderr.contains(prefix) && done.stderr.contains("redline clean --redis"),
        "{}",
        done.describe()
    );
    assert!(!done.stderr.contains("panicked"), "{}", done.describe());
}
