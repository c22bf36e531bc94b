//! `redline run` as a process: a broken scenario file's message and exit code, Ctrl-C
//! writing a partial report and removing the run's keys, and a managed run that starts its
//! own embedded server when no URL is given.

use crate::engine::{dbsize, info_u64};
use crate::support::{connection, read_report, redis, redline_bin, wait_until, Finished};
use std::io::Read;
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------
/// A spawned `redline` whose stdout and stderr are drained by threads, so a chatty child
/// can never block on a full pipe while the test polls it.
struct Spawned {
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

fn spawn_redline(args: &[&str], configure: impl FnOnce(&mut std::process::Command)) -> Spawned {
    let mut cmd = redline_bin();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut cmd);
    let mut child = cmd.spawn().expect("spawn redline");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    Spawned {
        child,
        stdout,
        stderr,
    }
}

impl Spawned {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the exit; kills the child and fails the test after `deadline`.
    fn finish(mut self, deadline: Duration) -> Finished {
        let end = Instant::now() + deadline;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll redline") {
                break status;
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "redline still running after {deadline:?}; stderr:\n{}",
                    self.stderr.join().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Finished {
            status,
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
        }
    }
}

fn redline(args: &[&str], deadline: Duration) -> Finished {
    spawn_redline(args, |_| {}).finish(deadline)
}

// ---------------------------------------------------------------------------------------
// 1. broken scenario files
// ---------------------------------------------------------------------------------------

const BAD_RATE: &str = r#"name = "broken"
thresholds = []

[keyspace]
keys = 100

[[ops]]
kind = "get"
weight = 1

[load]
model = "open"
rate = -5
duration = "1s"
"#;

#[test]
fn broken_scenario_reports_file_line_and_field_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad_rate = dir.path().join("bad-rate.toml");
    std::fs::write(&bad_rate, BAD_RATE).unwrap();
    let unknown = dir.path().join("unknown-field.toml");
    std::fs::write(
        &unknown,
        BAD_RATE.replace("rate = -5", "rate = 5\nrat_limit = 7"),
    )
    .unwrap();
    let out = dir.path().join("out");
    // Nothing listens on port 1: if the file were accepted, `run` would fail differently.
    let cases = [
        (&bad_rate, 13, "load.rate"),
        (&unknown, 14, "load.rat_limit"),
    ];
    for (file, line, field) in cases {
        let file = file.to_str().unwrap();
        let located = format!("{file}:{line}");
        let commands: [Vec<&str>; 2] = [
            vec!["validate", file],
            vec![
                "run",
                file,
                "--redis",
                "redis://127.0.0.1:1",
                "--out",
                out.to_str().unwrap(),
                "--quiet",
            ],
        ];
        for args in commands {
            let done = redline(&args, Duration::from_secs(20));
            assert_eq!(done.code(), Some(2), "{args:?}: {}", done.describe());
            assert!(
                done.stderr.contains(&located) && done.stderr.contains(field),
                "{args:?}: stderr should name {located} and {field}: {}",
                done.describe()
            );
            assert!(
                !done.stderr.contains("panicked"),
                "{args:?}: {}",
                done.describe()
            );
        }
    }
    assert!(!out.exists(), "a broken scenario wrote a report");
}

// ---------------------------------------------------------------------------------------
// 2. Ctrl-C
// ---------------------------------------------------------------------------------------

#[test]
fn ctrl_c_writes_a_partial_inconclusive_report_and_removes_the_keys() {
    let server = redis();
    let mut con = connection(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.toml");
    std::fs::write(
        &file,
        r#"
name = "long"
thresholds = ["p95 < 50ms"]

[target]
kind = "managed"

[keyspace]
keys = 1000
value_size = "64B"

[[ops]]
kind = "get_or_set"
weight = 1

[origin]
latency = "1ms"

[load]
model = "open"
rate = 300
connections = 2
duration = "30s"
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let url = server.url();
    let before = info_u64(&mut con, "total_commands_processed");
    let started = Instant::now();
    let child = spawn_redline(
        &[
            "run",
            file.to_str().unwrap(),
            "--redis",
            &url,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
        |_| {},
    );
    // Well into the run: the server holds a few hundred of the run's keys (every miss of
    // get_or_set writes one; about 1.5 s at 300 ops/s) and has processed their commands.
    wait_until(Duration::from_secs(15), "the run to write keys", || {
        dbsize(&mut con) >= 400 && info_u64(&mut con, "total_commands_processed") > before + 800
    });
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    let rc = unsafe { libc::kill(child.pid(), libc::SIGINT) };
    assert_eq!(rc, 0, "kill(SIGINT) failed");
    let done = child.finish(Duration::from_secs(15));
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "Ctrl-C did not cut the 30 s run short"
    );
    assert_eq!(done.code(), Some(3), "{}", done.describe());
    assert!(!done.stderr.contains("panicked"), "{}", done.describe());

    let report = read_report(&out);
    assert_eq!(report["aborted"], true, "{report:#}");
    assert_eq!(report["aborted_in"], "measured", "{report:#}");
    assert_eq!(report["verdict"], "inconclusive");
    assert!(report["totals"]["ops"].as_u64().unwrap() > 0);
    assert!(report["duration_s"].as_f64().unwrap() < 30.0);
    assert!(out.join("summary.md").is_file(), "summary.md missing");
    assert_eq!(
        dbsize(&mut con),
        0,
        "the interrupted run left its keys behind"
    );
}

// ---------------------------------------------------------------------------------------
// 3. a managed run without a URL
// ---------------------------------------------------------------------------------------

#[test]
fn managed_target_without_a_url_starts_an_embedded_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("embedded.toml");
    std::fs::write(
        &file,
        r#"
name = "embedded"
thresholds = []

[target]
kind = "managed"

[keyspace]
keys = 200
value_size = "64B"

[[ops]]
kind = "get_or_set"
weight = 1

[origin]
latency = "1ms"

[load]
model = "open"
rate = 200
connections = 2
duration = "1s"
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    // redline_bin() already removes REDIS_URL and the other REDIS_* variables; say so here
    // too, since it is what this test is about.
    let done = spawn_redline(
        &[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
        |cmd| {
            cmd.env_remove("REDIS_URL");
        },
    )
    .finish(Duration::from_secs(30));
    assert!(
        matches!(done.code(), Some(0) | Some(3)),
        "{}",
        done.describe()
    );
    let report = read_report(&out);
    assert_eq!(
        report["target"]["provider"], "redis",
        "{:#}",
        report["target"]
    );
    assert!(
        report["target"]["warning"].is_null(),
        "{:#}",
        report["target"]
    );
    assert!(report["target"]["server_version"].is_string());
    let url = report["target"]["url"].as_str().unwrap_or_default();
    assert!(url.contains("127.0.0.1"), "{url}");
    assert!(report["server"].is_object(), "INFO of the embedded server");
    assert!(report["totals"]["ops"].as_u64().unwrap() > 100);
}
