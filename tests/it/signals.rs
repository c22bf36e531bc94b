//! Signals in every phase of `redline run`, driven as a process: SIGTERM and SIGINT while the
//! embedded server starts, while connecting, during preload, warmup, the measured phase and
//! cleanup each end with exit 3, a report marked aborted that names the phase, no key left
//! under the run's prefix and no redis-server left running; a second signal skips the cleanup and names the prefix;
//! SIGKILL takes the embedded server with it; `redline clean` removes exactly one prefix;
//! and a connection loss mid-run does not stop the cleanup from removing every key.
//!
//! Phases are detected by conditions (DBSIZE growing, the `phase: ...` log lines redline
//! prints at `RUST_LOG=redline=info`, a child process appearing), never by sleeping.

use crate::support::{connection, redis, redline_bin, wait_until};
use redline::server::EmbeddedRedis;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

/// A running `redline` whose stderr is collected line by line as it comes, so a test can
/// wait for a log line while the process runs.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    stdout: Arc<Mutex<String>>,
}

struct Exited {
    status: ExitStatus,
    stderr: String,
    stdout: String,
}

impl Exited {
    fn describe(&self) -> String {
        format!(
            "status {:?}\nstdout:\n{}\nstderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

fn collect(r: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            let mut s = into.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    })
}

impl Running {
    fn start(args: &[&str], configure: impl FnOnce(&mut std::process::Command)) -> Running {
        let mut cmd = redline_bin();
        cmd.args(args)
            .env("RUST_LOG", "redline=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        configure(&mut cmd);
        let mut child = cmd.spawn().expect("spawn redline");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stderr.take().unwrap(), stderr.clone()),
            collect(child.stdout.take().unwrap(), stdout.clone()),
        ];
        Running {
            child,
            stderr,
            readers,
            stdout,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `text`, failing the test with stderr if redline exits first.
    fn wait_for_log(&mut self, text: &str) {
        wait_until(Duration::from_secs(30), text, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "redline exited ({status:?}) before `{text}`:\n{}",
                    self.stderr()
                );
            }
            self.stderr().contains(text)
        });
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({signal}) failed");
    }

    /// Sends `signal` and waits for the exit (failing the test after 60 s).
    fn signal_and_wait(self, signal: libc::c_int) -> Exited {
        self.signal(signal);
        self.wait()
    }

    fn wait(mut self) -> Exited {
        let end = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll redline") {
                break status;
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("redline still running after 60 s:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let stderr = self.stderr();
        let stdout = self.stdout.lock().unwrap().clone();
        Exited {
            status,
            stderr,
            stdout,
        }
    }
}

/// Pids of the live (not zombie) children of `pid`, from /proc.
fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
        let mut fields = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid: i32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == pid && state != "Z" {
            out.push(child);
        }
    }
    out
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace()
            .next();
        state != Some("Z") && state != Some("X")
    })
}

fn read_report(dir: &Path) -> serde_json::Value {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("report.json does not parse: {e}"))
}

/// Keys on `server` starting with `prefix` (SCAN, as a client outside redline would).
fn keys_under(server: &EmbeddedRedis, prefix: &str) -> usize {
    use redis::Commands;
    let mut con = connection(server);
    let pattern = redline::cache::sweep::match_pattern(prefix);
    let keys: redis::Iter<'_, String> = con.scan_match(&pattern).unwrap();
    keys.count()
}

/// The run prefix (`sig:<run id>:`) of the keys on `server`.
fn run_prefix(server: &EmbeddedRedis) -> String {
    use redis::Commands;
    let mut con = connection(server);
    let mut keys: redis::Iter<'_, String> = con.scan_match("sig:*").unwrap();
    let key = keys.next().expect("a key of the run").expect("SCAN");
    let id_end = key["sig:".len()..].find(':').expect("sig:<id>:...") + "sig:".len();
    key[..=id_end].to_string()
}

fn dbsize(server: &EmbeddedRedis) -> u64 {
    redis::cmd("DBSIZE")
        .query(&mut connection(server))
        .unwrap_or(0)
}

/// A scenario file in `dir`: managed get_or_set under `prefix`, open model at `rate`.
fn scenario(dir: &Path, keys: u64, preload: bool, rate: u32, duration: &str) -> PathBuf {
    let file = dir.join("scenario.toml");
    std::fs::write(
        &file,
        format!(
            r#"
name = "signals"
thresholds = ["p95 < 50ms"]

[target]
kind = "managed"
response_timeout = "300ms"

[target.breaker]
reset_timeout = "500ms"

[keyspace]
keys = {keys}
value_size = "16B"
prefix = "sig:"

[[ops]]
kind = "get_or_set"
weight = 1

[origin]
latency = "1ms"

[load]
model = "open"
rate = {rate}
connections = 2
duration = "{duration}"
preload = {preload}
"#
        ),
    )
    .unwrap();
    file
}

fn run_args<'a>(file: &'a Path, out: &'a Path, url: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    if let Some(url) = url {
        args.extend(["--redis", url]);
    }
    args
}

/// What every interrupted run must leave: exit 3, a report marked aborted in `phase`, and
/// (when a prefix is reported) no key under it on `server`.
fn assert_aborted_cleanly(
    done: &Exited,
    out: &Path,
    phase: &str,
    server: Option<&EmbeddedRedis>,
) -> serde_json::Value {
    assert_eq!(done.status.code(), Some(3), "{}", done.describe());
    assert!(!done.stderr.contains("panicked"), "{}", done.describe());
    let report = read_report(out);
    assert_eq!(report["aborted"], true, "{}", done.describe());
    assert_eq!(report["aborted_in"], phase, "{}", done.describe());
    assert_eq!(report["verdict"], "inconclusive");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("aborted"), "{summary}");
    if let Some(server) = server {
        let prefix = report["cleanup"]["prefix"]
            .as_str()
            .expect("cleanup.prefix");
        assert!(prefix.starts_with("sig:"), "{prefix}");
        assert_eq!(
            report["cleanup"]["outcome"], "removed",
            "{:#}",
            report["cleanup"]
        );
        assert_eq!(keys_under(server, prefix), 0, "keys left under {prefix}");
    }
    report
}

// ---------------------------------------------------------------------------------------
// one signal, every phase
// ---------------------------------------------------------------------------------------

#[test]
fn sigterm_and_sigint_during_preload_stop_it_and_remove_its_keys() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let server = redis();
        let mut con = connection(&server);
        let _: () = redis::cmd("SET")
            .arg("bystander")
            .arg("stays")
            .query(&mut con)
            .unwrap();
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
    let url = server.url();
    let mut running = Running::start(&run_args(&file, &out, Some(&url)), |_| {});
    running.wait_for_log("phase: measured");
    wait_until(Duration::from_secs(30), "the run to write keys", || {
        dbsize(&server) > 200
    });
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
    let url = server.url();
    let mut running = Running::start(&run_args(&file, &out, Some(&url)), |_| {});
    running.wait_for_log("phase: measured");
    wait_until(Duration::from_secs(30), "the run to write keys", || {
        dbsize(&server) > 100
    });
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

// ---------------------------------------------------------------------------------------
// second signal, SIGKILL
// ---------------------------------------------------------------------------------------

#[test]
fn a_second_signal_skips_the_cleanup_names_the_prefix_and_clean_removes_it() {
    let server = redis();
    let mut con = connection(&server);
    let _: () = redis::cmd("SET")
        .arg("sig:bystander")
        .arg("stays")
        .query(&mut con)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "60s");
    let out = dir.path().join("out");
    let url = server.url();
    let mut running = Running::start(&run_args(&file, &out, Some(&url)), |_| {});
    running.wait_for_log("phase: measured");
    wait_until(Duration::from_secs(30), "the run to write keys", || {
        dbsize(&server) > 200
    });
    // A paused server answers nothing, so the stop (drain, INFO, cleanup) hangs until the
    // second signal ends it.
    let pause = server.pause().unwrap();
    running.signal(libc::SIGTERM);
    running.wait_for_log("send it again to skip the cleanup");
    running.wait_for_log("phase: cleanup");
    let done = running.signal_and_wait(libc::SIGTERM);
    drop(pause);
    assert_eq!(done.status.code(), Some(3), "{}", done.describe());
    let report = read_report(&out);
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
        .args(["clean", "--redis", &url, &prefix])
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
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "60s");
    let out = dir.path().join("out");
    let mut running = Running::start(&run_args(&file, &out, None), |_| {});
    running.wait_for_log("phase: measured");
    let servers = children(running.pid());
    assert_eq!(servers.len(), 1, "one embedded redis-server: {servers:?}");
    let server_dir = std::fs::read_link(format!("/proc/{}/cwd", servers[0])).unwrap();
    assert!(
        !server_dir.join("redis.conf").exists(),
        "the config (and its password) stays on disk while the server runs"
    );
    let done = running.signal_and_wait(libc::SIGKILL);
    assert_eq!(done.status.code(), None, "{}", done.describe());
    wait_until(
        Duration::from_secs(10),
        "the orphaned server to die",
        || !alive(servers[0]),
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
        let _: () = redis::cmd("SET")
            .arg(format!("run:abc:{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    for key in ["run:abd:1", "run:ab", "other:run:abc:1", "run:abc"] {
        let _: () = redis::cmd("SET").arg(key).arg(1).query(&mut con).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "5s");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("connections = 2", "connections = 8")).unwrap();
    let out = dir.path().join("out");
    let url = server.url();
    let mut running = Running::start(&run_args(&file, &out, Some(&url)), |_| {});
    running.wait_for_log("phase: measured");
    wait_until(Duration::from_secs(30), "the run to write keys", || {
        dbsize(&server) > 100
    });
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
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}after-outage:{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let done = running.wait();
    assert!(
        matches!(done.status.code(), Some(0 | 1 | 3)),
        "{}",
        done.describe()
    );
    let report = read_report(&out);
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
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "2s");
    let out = dir.path().join("out");
    let url = server.url();
    let mut running = Running::start(&run_args(&file, &out, Some(&url)), |_| {});
    running.wait_for_log("phase: measured");
    wait_until(Duration::from_secs(30), "the run to write keys", || {
        dbsize(&server) > 100
    });
    // Unreachable (paused, keys kept) until the cleanup's first attempt has failed.
    let pause = server.pause().unwrap();
    running.wait_for_log("retrying over a fresh connection");
    drop(pause);
    let done = running.wait();
    let report = read_report(&out);
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
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), 1_000, false, 300, "3s");
    let out = dir.path().join("out");
    let url = server.url();
    let mut running = Running::start(&run_args(&file, &out, Some(&url)), |_| {});
    running.wait_for_log("phase: measured");
    wait_until(Duration::from_secs(30), "the run to write keys", || {
        dbsize(&server) > 100
    });
    server.kill().unwrap();
    let done = running.wait();
    let report = read_report(&out);
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
