//! One signal (SIGTERM or SIGINT) in each phase: starting the embedded server, connecting,
//! preload, warmup, the measured phase and cleanup.

use super::*;
use crate::support::{connection, redis, set_key, wait_until};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// one signal, every phase
// ---------------------------------------------------------------------------------------

#[test]
fn sigterm_and_sigint_during_preload_stop_it_and_remove_its_keys() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let server = redis();
        let mut con = connection(&server);
        set_key(&mut con, "bystander", "stays");
        let dir = tempfile::tempdir().unwrap();
        // Three million keys: preload takes far longer than this test waits.
        let file = scenario(dir.path(), 3_000_000, true, 100, "30s");
        let out = dir.path().join("out");
        let url = server.url();
        let mut running = Running::start(&run_args(&file, &out, Some(&url)), |_| {});
        running.wait_for_log("phase: preload");
        wait_until(Duration::from_secs(30), "preload to write keys", || {
            dbsize(&server) > 2_000
        });
        let done = running.signal_and_wait(signal);
        let report = assert_aborted_cleanly(&done, &out, "preload", Some(&server));
        assert_eq!(
            report["totals"]["ops"], 0,
            "no load after an interrupted preload"
        );
        assert_eq!(dbsize(&server), 1, "only the bystander is left");
    }
}

#[test]
fn sigterm_during_the_measured_phase_stops_the_run_and_removes_its_keys() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "60s");
    let out = dir.path().join("out");
    let running = measuring(&file, &out, &server, 200);
    let done = running.signal_and_wait(libc::SIGTERM);
    let report = assert_aborted_cleanly(&done, &out, "measured", Some(&server));
    assert!(report["totals"]["ops"].as_u64().unwrap() > 0);
    assert!(report["duration_s"].as_f64().unwrap() < 60.0);
}

#[test]
fn sigint_during_warmup_names_the_warmup() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "60s");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("preload = false", "preload = false\nwarmup = \"60s\""),
    )
    .unwrap();
    let out = dir.path().join("out");
    let url = server.url();
    let mut running = Running::start(&run_args(&file, &out, Some(&url)), |_| {});
    running.wait_for_log("phase: warmup");
    wait_until(Duration::from_secs(30), "the warmup to write keys", || {
        dbsize(&server) > 100
    });
    let done = running.signal_and_wait(libc::SIGINT);
    assert_aborted_cleanly(&done, &out, "warmup", Some(&server));
}

#[test]
fn a_first_signal_during_cleanup_finishes_the_cleanup_and_names_it() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "2s");
    let out = dir.path().join("out");
    let mut running = measuring(&file, &out, &server, 100);
    // Paused, the server holds the run in its cleanup long enough to signal it there.
    let pause = server.pause().unwrap();
    running.wait_for_log("phase: cleanup");
    running.signal(libc::SIGTERM);
    running.wait_for_log("SIGTERM received");
    drop(pause);
    let done = running.wait();
    assert_aborted_cleanly(&done, &out, "cleanup", Some(&server));
    assert_eq!(dbsize(&server), 0);
}

#[test]
fn sigterm_during_the_measured_phase_stops_the_embedded_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "60s");
    let out = dir.path().join("out");
    let mut running = Running::start(&run_args(&file, &out, None), |_| {});
    running.wait_for_log("phase: measured");
    let servers = children(running.pid());
    assert_eq!(servers.len(), 1, "one embedded redis-server: {servers:?}");
    let server_dir = std::fs::read_link(format!("/proc/{}/cwd", servers[0])).unwrap();
    let done = running.signal_and_wait(libc::SIGTERM);
    let report = assert_aborted_cleanly(&done, &out, "measured", None);
    assert_eq!(report["target"]["provider"], "redis");
    assert!(
        !alive(servers[0]),
        "the embedded redis-server outlived redline"
    );
    assert!(!server_dir.exists(), "{} left behind", server_dir.display());
}

#[test]
fn sigterm_while_the_embedded_server_starts_cancels_the_start() {
    let dir = tempfile::tempdir().unwrap();
    // A "redis-server" that never answers: the start stays in progress until cancelled.
    let fake = dir.path().join("slow-redis-server");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 120\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let file = scenario(dir.path(), 1_000, false, 300, "60s");
    let out = dir.path().join("out");
    let mut running = Running::start(&run_args(&file, &out, None), |cmd| {
        cmd.env("REDLINE_REDIS_SERVER", &fake);
    });
    running.wait_for_log("phase: starting_server");
    let pid = running.pid();
    wait_until(Duration::from_secs(30), "the server process", || {
        !children(pid).is_empty()
    });
    let server = children(pid)[0];
    let done = running.signal_and_wait(libc::SIGTERM);
    let report = assert_aborted_cleanly(&done, &out, "starting_server", None);
    assert_eq!(report["totals"]["ops"], 0);
    assert!(!alive(server), "the half-started server outlived redline");
}

#[test]
fn sigint_while_connecting_ends_the_attempts() {
    // A server that accepts connections and never answers: PING waits for the connect
    // timeout, then the retries begin, so connecting lasts until redline is stopped.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    let (accepted_tx, accepted) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
            if accepted_tx.send(()).is_err() {
                return;
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "60s");
    let out = dir.path().join("out");
    let mut running = Running::start(&run_args(&file, &out, Some(&url)), |_| {});
    running.wait_for_log("phase: connecting");
    accepted
        .recv_timeout(Duration::from_secs(30))
        .expect("redline to connect");
    let done = running.signal_and_wait(libc::SIGINT);
    let report = assert_aborted_cleanly(&done, &out, "connecting", None);
    assert_eq!(report["totals"]["ops"], 0);
}

#[test]
fn sigterm_while_check_starts_its_embedded_server_cancels_it_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    // A "redis-server" that never answers: check's start stays in progress until cancelled.
    let fake = dir.path().join("slow-redis-server");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 120\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let running = Running::start(&["check"], |cmd| {
        for var in crate::support::REDIS_ENV_VARS {
            cmd.env_remove(var);
        }
        cmd.env("REDLINE_REDIS_SERVER", &fake);
    });
    let pid = running.pid();
    wait_until(Duration::from_secs(30), "the server process", || {
        !children(pid).is_empty()
    });
    let server = children(pid)[0];
    let done = running.signal_and_wait(libc::SIGTERM);
    assert_eq!(done.status.code(), Some(3), "{}", done.describe());
    assert!(
        done.stderr.contains("check interrupted by SIGTERM"),
        "{}",
        done.describe()
    );
    assert!(
        !alive(server),
        "the half-started server outlived redline check"
    );
}

#[test]
fn sigterm_while_shard_0_waits_for_the_other_shards_stops_and_removes_the_preload() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 500, true, 100, "5s");
    let out = dir.path().join("out");
    let url = server.url();
    let mut args = run_args(&file, &out, Some(&url));
    // Shard 1 never comes: shard 0 preloads, then waits (up to a minute) for it.
    args.extend(["--shard", "0/2", "--run-id", "lonely", "--shard-wait", "1m"]);
    let mut running = Running::start(&args, |_| {});
    running.wait_for_log("phase: waiting");
    let done = running.signal_and_wait(libc::SIGTERM);
    let report = assert_aborted_cleanly(&done, &out, "waiting", Some(&server));
    assert_eq!(report["totals"]["ops"], 0, "no load before the start");
    assert_eq!(report["shard"]["index"], 0);
    assert_eq!(dbsize(&server), 0, "preload and markers removed");
}
