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
        // Three million keys: preload takes far longer than this test waits.
        let case = Case::new(3_000_000, true, 100, "30s");
        let mut running = case.start(Some(&server.url()));
        running.wait_for_log("phase: preload");
        wait_until(Duration::from_secs(30), "preload to write keys", || {
            dbsize(&server) > 2_000
        });
        let done = running.signal_and_wait(signal);
        let report = assert_aborted_cleanly(&done, &case.out, "preload", Some(&server));
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
    let case = Case::new(1_000, false, 300, "60s");
    let running = case.measuring(&server, 200);
    let done = running.signal_and_wait(libc::SIGTERM);
    let report = assert_aborted_cleanly(&done, &case.out, "measured", Some(&server));
    assert!(report["totals"]["ops"].as_u64().unwrap() > 0);
    assert!(report["duration_s"].as_f64().unwrap() < 60.0);
}

#[test]
fn sigint_during_warmup_names_the_warmup() {
    let server = redis();
    let case = Case::new(1_000, false, 300, "60s");
    case.edit("preload = false", "preload = false\nwarmup = \"60s\"");
    let mut running = case.start(Some(&server.url()));
    running.wait_for_log("phase: warmup");
    wait_until(Duration::from_secs(30), "the warmup to write keys", || {
        dbsize(&server) > 100
    });
    let done = running.signal_and_wait(libc::SIGINT);
    assert_aborted_cleanly(&done, &case.out, "warmup", Some(&server));
}

#[test]
fn a_first_signal_during_cleanup_finishes_the_cleanup_and_names_it() {
    let server = redis();
    let case = Case::new(1_000, false, 300, "2s");
    let mut running = case.measuring(&server, 100);
    // Paused, the server holds the run in its cleanup long enough to signal it there.
    let pause = server.pause().unwrap();
    running.wait_for_log("phase: cleanup");
    running.signal(libc::SIGTERM);
    running.wait_for_log("SIGTERM received");
    drop(pause);
    let done = running.wait();
    assert_aborted_cleanly(&done, &case.out, "cleanup", Some(&server));
    assert_eq!(dbsize(&server), 0);
}

#[test]
fn sigterm_during_the_measured_phase_stops_the_embedded_server() {
    let case = Case::new(1_000, false, 300, "60s");
    let mut running = case.start(None);
    running.wait_for_log("phase: measured");
    let (server_pid, server_dir) = only_child(&running);
    let done = running.signal_and_wait(libc::SIGTERM);
    let report = assert_aborted_cleanly(&done, &case.out, "measured", None);
    assert_eq!(report["target"]["provider"], "redis");
    assert!(
        !alive(server_pid),
        "the embedded redis-server outlived redline"
    );
    assert!(!server_dir.exists(), "{} left behind", server_dir.display());
}

#[test]
fn sigterm_while_the_embedded_server_starts_cancels_the_start() {
    let case = Case::new(1_000, false, 300, "60s");
    let fake = never_answering_server(case.dir.path());
    let mut running = Running::start(&run_args(&case.file, &case.out, None), |cmd| {
        cmd.env("REDLINE_REDIS_SERVER", &fake);
    });
    running.wait_for_log("phase: starting_server");
    let (server, _) = only_child(&running);
    let done = running.signal_and_wait(libc::SIGTERM);
    let report = assert_aborted_cleanly(&done, &case.out, "starting_server", None);
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
    let case = Case::new(1_000, false, 300, "60s");
    let mut running = case.start(Some(&url));
    running.wait_for_log("phase: connecting");
    accepted
        .recv_timeout(Duration::from_secs(30))
        .expect("redline to connect");
    let done = running.signal_and_wait(libc::SIGINT);
    let report = assert_aborted_cleanly(&done, &case.out, "connecting", None);
    assert_eq!(report["totals"]["ops"], 0);
}

#[test]
fn sigterm_while_check_starts_its_embedded_server_cancels_it_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    // check's start stays in progress until cancelled.
    let fake = never_answering_server(dir.path());
    let running = Running::start(&["check"], |cmd| {
        for var in crate::support::REDIS_ENV_VARS {
            cmd.env_remove(var);
        }
        cmd.env("REDLINE_REDIS_SERVER", &fake);
    });
    let (server, _) = only_child(&running);
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
    let case = Case::new(500, true, 100, "5s");
    let url = server.url();
    let mut args = run_args(&case.file, &case.out, Some(&url));
    // Shard 1 never comes: shard 0 preloads, then waits (up to a minute) for it.
    args.extend(["--shard", "0/2", "--run-id", "lonely", "--shard-wait", "1m"]);
    let mut running = Running::start(&args, |_| {});
    running.wait_for_log("phase: waiting");
    let done = running.signal_and_wait(libc::SIGTERM);
    let report = assert_aborted_cleanly(&done, &case.out, "waiting", Some(&server));
    assert_eq!(report["totals"]["ops"], 0, "no load before the start");
    assert_eq!(report["shard"]["index"], 0);
    assert_eq!(dbsize(&server), 0, "preload and markers removed");
}
