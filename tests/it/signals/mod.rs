//! Signals in every phase of `redline run`, driven as a process: SIGTERM and SIGINT while the
//! embedded server starts, while connecting, during preload, warmup, the measured phase and
//! cleanup each end with exit 3, a report marked aborted that names the phase, no key left
//! under the run's prefix and no redis-server left running; a second signal skips the
//! cleanup and names the prefix; SIGKILL takes the embedded server with it; `redline clean`
//! removes exactly one prefix; a connection loss mid-run does not stop the cleanup from
//! removing every key.
//!
//! Phases are detected by conditions (DBSIZE growing, the `phase: ...` log lines redline
//! prints at `RUST_LOG=redline=info`, a child process appearing), never by sleeping.
//!
//! - this file: the harness — a running `redline` whose stderr is read as it comes, the
//!   children it spawned, the scenario and the checks every interrupted run must pass.
//! - `phases`: one signal in each phase.
//! - `cleanup`: the second signal, SIGKILL, `redline clean` and cleanup after connection loss.

mod cleanup;
mod cluster;
mod phases;
mod sentinel;

use crate::support::{connection, read_report, redline_bin, wait_until};
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
pub(crate) struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    stdout: Arc<Mutex<String>>,
}

pub(crate) struct Exited {
    pub(crate) status: ExitStatus,
    pub(crate) stderr: String,
    pub(crate) stdout: String,
}

impl Exited {
    pub(crate) fn describe(&self) -> String {
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
    pub(crate) fn start(
        args: &[&str],
        configure: impl FnOnce(&mut std::process::Command),
    ) -> Running {
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

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `text`, failing the test with stderr if redline exits first.
    pub(crate) fn wait_for_log(&mut self, text: &str) {
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
    pub(crate) fn signal_and_wait(self, signal: libc::c_int) -> Exited {
        self.signal(signal);
        self.wait()
    }

    pub(crate) fn wait(mut self) -> Exited {
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
pub(crate) fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace()
            .next();
        state != Some("Z") && state != Some("X")
    })
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

/// `redline run FILE` against `server`, returned once its measured phase has written more
/// than `keys` keys.
fn measuring(file: &Path, out: &Path, server: &EmbeddedRedis, keys: u64) -> Running {
    let url = server.url();
    let mut running = Running::start(&run_args(file, out, Some(&url)), |_| {});
    running.wait_for_log("phase: measured");
    wait_until(Duration::from_secs(30), "the run to write keys", || {
        dbsize(server) > keys
    });
    running
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
