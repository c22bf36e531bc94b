//! The target as one value: `redline run` and `redline check` resolve the same environment
//! the same way (one table of cases through both binaries), an embedded server that cannot
//! start is an error, a machine without redis-server never passes a gate, the report names
//! the run id and key prefix, and one opened target serves many engine runs (capacity
//! sizing) or a proxy in front of the server (failover drills).

use crate::engine::{dbsize, scenario};
use crate::support::{
    connection, finished_within, read_report, redis, redis_with, redline_bin, Finished,
};
use redline::engine::{self, RunOptions};
use redline::report::summary::Provider;
use redline::server::{redis_server_binary, ServerOptions};
use redline::target::{Target, TargetRequest};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

/// Runs `redline ARGS` with `env` on top of a cleared REDIS_* environment; fails the test
/// after `deadline` (no command may hang).
fn redline(args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Finished {
    let mut cmd = redline_bin();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    finished_within(cmd, deadline)
}

/// A one-second managed run with no thresholds: it passes whenever it measured Redis. The
/// closed model, so a busy test machine cannot make the generator miss a schedule.
const QUICK_RUN: &str = r#"
name = "quick"
thresholds = []

[target]
kind = "managed"

[keyspace]
keys = 100
value_size = "64B"

[[ops]]
kind = "get_or_set"
weight = 1

[origin]
latency = "1ms"

[load]
model = "closed"
clients = 2
think_time = "10ms"
connections = 1
duration = "1s"
"#;

fn write_scenario(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// An environment in which no redis-server can be found (REDLINE_REDIS_SERVER unset, as an
/// empty value is, and PATH holding only an empty directory).
fn no_redis_server(empty_dir: &Path) -> [(&'static str, String); 2] {
    [
        ("REDLINE_REDIS_SERVER", String::new()),
        ("PATH", empty_dir.display().to_string()),
    ]
}

// ---------------------------------------------------------------------------------------
// 1. run and check resolve the environment the same way
// ---------------------------------------------------------------------------------------

/// How a case must end, in both commands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Both exit 2 with the same `error:` line, which contains this.
    Error(&'static str),
    /// Both measure/check the server on this test's port and exit 0.
    Reaches,
    /// Both fail to connect (exit 2).
    Unreachable,
}

#[test]
fn run_and_check_resolve_the_environment_alike() {
    let server = redis_with(ServerOptions {
        password: Some("env-case-pw".into()),
        ..ServerOptions::default()
    });
    let port = server.port().to_string();
    let closed = redline::server::free_port().to_string();
    let url = format!("redis://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "quick.toml", QUICK_RUN);
    let nowhere = dir.path().join("empty");
    std::fs::create_dir(&nowhere).unwrap();
    // Without a usable URL neither command may fall back to a server of its own: a command
    // that ignored a variable shows up as a different exit code.
    let [(k1, v1), (k2, v2)] = no_redis_server(&nowhere);
    let pw = ("REDIS_PASSWORD", "env-case-pw");

    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Expect);
    let cases: Vec<Case> = vec![
        (
            "REDIS_HOST and REDIS_PORT name the server",
            vec![("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", &port), pw],
            Expect::Reaches,
        ),
        (
            "REDIS_URL without a password, REDIS_PASSWORD completes it",
            vec![("REDIS_URL", &url), pw],
            Expect::Reaches,
        ),
        (
            "REDIS_URL wins over REDIS_HOST",
            vec![("REDIS_URL", &url), ("REDIS_HOST", "192.0.2.1"), pw],
            Expect::Reaches,
        ),
        (
            "REDIS_TLS_ENABLED=false is plain TCP",
            vec![("REDIS_URL", &url), ("REDIS_TLS_ENABLED", "false"), pw],
            Expect::Reaches,
        ),
        (
            "REDIS_KEY_PREFIX that keyspace.prefix would accept",
            vec![("REDIS_URL", &url), ("REDIS_KEY_PREFIX", "unite-hub:"), pw],
            Expect::Reaches,
        ),
        (
            "REDIS_TLS_ENABLED=garbage",
            vec![("REDIS_URL", &url), ("REDIS_TLS_ENABLED", "garbage"), pw],
            Expect::Error(r#"REDIS_TLS_ENABLED="garbage" is not valid: expected true or false"#),
        ),
        (
            "REDIS_CONNECT_TIMEOUT=0",
            vec![("REDIS_URL", &url), ("REDIS_CONNECT_TIMEOUT", "0"), pw],
            Expect::Error(r#"REDIS_CONNECT_TIMEOUT="0" is not valid"#),
        ),
        (
            "REDIS_KEY_PREFIX with a glob metacharacter",
            vec![("REDIS_URL", &url), ("REDIS_KEY_PREFIX", "app[1]:"), pw],
            Expect::Error(r#"REDIS_KEY_PREFIX="app[1]:" is not valid: must not contain '['"#),
        ),
        (
            "REDIS_MAX_RETRIES negative",
            vec![("REDIS_URL", &url), ("REDIS_MAX_RETRIES", "-1"), pw],
            Expect::Error(r#"REDIS_MAX_RETRIES="-1" is not valid"#),
        ),
        (
            "REDIS_PORT not a port",
            vec![("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", "63x79")],
            Expect::Error(r#"REDIS_PORT="63x79" is not valid"#),
        ),
        (
            "REDIS_URL with an unknown scheme",
            vec![("REDIS_URL", "http://:not-shown@127.0.0.1:1")],
            Expect::Error("unsupported scheme"),
        ),
        (
            "REDIS_HOST and REDIS_PORT of a closed port",
            vec![
                ("REDIS_HOST", "127.0.0.1"),
                ("REDIS_PORT", &closed),
                ("REDIS_MAX_RETRIES", "0"),
            ],
            Expect::Unreachable,
        ),
    ];

    let mut failures = Vec::new();
    for (i, (name, vars, expect)) in cases.iter().enumerate() {
        let mut env: Vec<(&str, &str)> = vec![(k1, v1.as_str()), (k2, v2.as_str())];
        env.extend(vars.iter().copied());
        let out = dir.path().join(format!("out-{i}"));
        let out = out.to_str().unwrap();
        let run = redline(
            &["run", &file, "--out", out, "--quiet"],
            &env,
            Duration::from_secs(30),
        );
        let check = redline(&["check"], &env, Duration::from_secs(30));
        for (what, done) in [("run", &run), ("check", &check)] {
            assert!(
                !format!("{}{}", done.stdout, done.stderr).contains("not-shown")
                    && !done.stderr.contains("panicked"),
                "{name}: {what}: {}",
                done.describe()
            );
        }
        let agreed = match expect {
            Expect::Error(says) => {
                run.code() == Some(2)
                    && check.code() == Some(2)
                    && run.error_line().is_some()
                    && run.error_line() == check.error_line()
                    && run.error_line().is_some_and(|l| l.contains(says))
            }
            Expect::Reaches => {
                let report = std::path::Path::new(out).join("report.json");
                let measured = std::fs::read_to_string(report)
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|r| r["target"]["url"].as_str().map(str::to_string))
                    .unwrap_or_default();
                run.code() == Some(0)
                    && check.code() == Some(0)
                    && measured.ends_with(&format!("127.0.0.1:{port}"))
                    && check.stdout.contains(&format!("127.0.0.1:{port}"))
            }
            Expect::Unreachable => run.code() == Some(2) && check.code() == Some(2),
        };
        if !agreed {
            failures.push(format!(
                "case {name:?} (expected {expect:?}):\n--- run: {}\n--- check: {}",
                run.describe(),
                check.describe()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------------------------------
// 2. no redis-server: never a pass
// ---------------------------------------------------------------------------------------

#[test]
fn without_redis_server_a_run_is_inconclusive_and_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("empty");
    std::fs::create_dir(&nowhere).unwrap();
    let env = no_redis_server(&nowhere);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let file = write_scenario(dir.path(), "quick.toml", QUICK_RUN);
    let out = dir.path().join("out");
    let done = redline(
        &["run", &file, "--out", out.to_str().unwrap()],
        &env,
        Duration::from_secs(30),
    );
    assert_eq!(done.code(), Some(3), "{}", done.describe());
    let hint: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.contains("apt-get install redis-server"))
        .collect();
    assert_eq!(
        hint.len(),
        1,
        "one line says how to install: {}",
        done.describe()
    );
    assert!(hint[0].contains("REDLINE_REDIS_SERVER"), "{}", hint[0]);
    let report = read_report(&out);
    assert_eq!(report["verdict"], "inconclusive", "{report:#}");
    assert_eq!(report["target"]["provider"], "memory");
    let reason = report["verdict_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("in-memory fallback, not Redis"), "{reason}");
    assert!(done.stdout.contains("INCONCLUSIVE"), "{}", done.describe());

    // Asking for the memory store is a legitimate run that can pass.
    let memory = write_scenario(
        dir.path(),
        "memory.toml",
        &QUICK_RUN.replace("kind = \"managed\"", "kind = \"memory\""),
    );
    let out = dir.path().join("out-memory");
    let done = redline(
        &["run", &memory, "--out", out.to_str().unwrap(), "--quiet"],
        &env,
        Duration::from_secs(30),
    );
    assert_eq!(done.code(), Some(0), "{}", done.describe());
    assert!(done.stderr.is_empty(), "{}", done.describe());
    assert_eq!(read_report(&out)["verdict"], "pass");
}

#[test]
fn an_embedded_server_that_cannot_start_is_an_error_naming_the_cause() {
    // An executable that exits at once: redis-server "is installed" but does not start.
    let broken = ["/bin/false", "/usr/bin/false"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("a `false` executable");
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "quick.toml", QUICK_RUN);
    let out = dir.path().join("out");
    let env = [("REDLINE_REDIS_SERVER", broken)];
    let run = redline(
        &["run", &file, "--out", out.to_str().unwrap(), "--quiet"],
        &env,
        Duration::from_secs(30),
    );
    let check = redline(&["check"], &env, Duration::from_secs(30));
    for done in [&run, &check] {
        assert_eq!(done.code(), Some(2), "{}", done.describe());
        let line = done.error_line().unwrap_or_default();
        assert!(
            line.contains("cannot start the embedded redis-server")
                && line.contains("exited during startup"),
            "{}",
            done.describe()
        );
    }
    assert!(!out.exists(), "a run that measured nothing wrote a report");
}

#[test]
fn a_redline_redis_server_naming_no_executable_is_an_error_not_the_memory_store() {
    // redis-server is on PATH, but the user named another binary that does not exist: using
    // PATH's, or the in-memory store, would measure something other than what was asked.
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "quick.toml", QUICK_RUN);
    let out = dir.path().join("out");
    let missing = dir.path().join("no-such-redis-server");
    let env = [("REDLINE_REDIS_SERVER", missing.to_str().unwrap())];
    let run = redline(
        &["run", &file, "--out", out.to_str().unwrap(), "--quiet"],
        &env,
        Duration::from_secs(30),
    );
    let check = redline(&["check"], &env, Duration::from_secs(30));
    for done in [&run, &check] {
        assert_eq!(done.code(), Some(2), "{}", done.describe());
        let line = done.error_line().unwrap_or_default();
        assert!(
            line.contains("REDLINE_REDIS_SERVER") && line.contains("no-such-redis-server"),
            "{}",
            done.describe()
        );
    }
    assert!(!out.exists(), "a run that measured nothing wrote a report");
}

// ---------------------------------------------------------------------------------------
// 3. the report names the run id and the prefix the run wrote under
// ---------------------------------------------------------------------------------------

#[test]
fn report_summary_and_terminal_name_the_run_id_and_the_key_prefix() {
    let server = redis();
    let mut con = connection(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(dir.path(), "quick.toml", QUICK_RUN);
    let out = dir.path().join("out");
    let url = server.url();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", "unite-hub:"),
    ];
    let done = redline(
        &["run", &file, "--out", out.to_str().unwrap(), "--keep-keys"],
        &env,
        Duration::from_secs(30),
    );
    assert_eq!(done.code(), Some(0), "{}", done.describe());
    let report = read_report(&out);
    let run_id = report["target"]["run_id"].as_str().unwrap_or_default();
    let prefix = report["target"]["key_prefix"].as_str().unwrap_or_default();
    assert!(!run_id.is_empty(), "{:#}", report["target"]);
    assert_eq!(prefix, format!("unite-hub:redline:{run_id}:"));
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k.starts_with(prefix)),
        "keys outside {prefix}: {keys:?}"
    );
    assert!(
        done.stdout
            .contains(&format!("run         {run_id} · keys under {prefix}")),
        "{}",
        done.stdout
    );
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains(&format!("Run id: `{run_id}` · keys under `{prefix}`")),
        "{md}"
    );
}

// ---------------------------------------------------------------------------------------
// 4. one target, many runs; a proxy between the cache layer and the server
// ---------------------------------------------------------------------------------------

const RAW_GETS: &str = r#"
name = "reuse"
thresholds = []

[target]
kind = "managed"

[keyspace]
keys = 100
value_size = "64B"

[[ops]]
kind = "get_or_set"
weight = 1

[load]
model = "open"
rate = 200
connections = 1
duration = "1s"
"#;

fn env_map(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> + Sync {
    let map: HashMap<&'static str, String> = vars.into_iter().collect();
    move |name| map.get(name).cloned()
}

fn run_options(run_id: &str) -> RunOptions {
    RunOptions {
        run_id: Some(run_id.to_string()),
        keep_keys: true,
        seed: Some(1),
        ..RunOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_embedded_target_serves_many_runs_each_under_its_own_prefix() {
    let s = scenario(RAW_GETS);
    let binary = redis_server_binary().expect("redis-server for the test");
    let env = env_map(vec![("REDLINE_REDIS_SERVER", binary.display().to_string())]);
    let request = TargetRequest {
        flag_url: None,
        spec: &s.target,
    };
    let target = Target::open(&request, &env).await.expect("open");
    let (pid, mut con) = {
        let server = target.embedded().expect("an embedded server was started");
        (server.pid().expect("running"), connection(&server))
    };

    let mut prefixes = Vec::new();
    for run_id in ["size-1", "size-2"] {
        let summary = engine::run(
            &s,
            &target,
            &run_options(run_id),
            redline::shutdown::Shutdown::never(),
            &mut |_| {},
        )
        .await
        .expect("run");
        assert_eq!(summary.target.provider, Provider::Redis);
        assert_eq!(summary.target.run_id, run_id);
        assert!(
            summary.server.is_some(),
            "INFO read through the admin connection"
        );
        prefixes.push(summary.target.key_prefix.expect("prefix"));
        // The engine neither stopped nor replaced the server.
        assert_eq!(target.embedded().and_then(|e| e.pid()), Some(pid));
    }
    assert_eq!(prefixes, ["redline:size-1:", "redline:size-2:"]);
    for prefix in &prefixes {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut con)
            .unwrap();
        assert!(!keys.is_empty(), "run {prefix} wrote no keys");
    }
    let total = dbsize(&mut con);
    drop(con);
    assert!(total > 0);

    // A run id that would break the cleanup pattern is refused before any load.
    let bad = engine::run(
        &s,
        &target,
        &run_options("x*"),
        redline::shutdown::Shutdown::never(),
        &mut |_| {},
    )
    .await;
    assert!(bad.is_err(), "a glob run id was accepted");

    drop(target);
    // SAFETY: signal 0 only asks whether the process exists; it sends nothing.
    let alive = unsafe { libc::kill(pid as i32, 0) } == 0;
    assert!(
        !alive,
        "dropping the target must stop the server it started"
    );
}

/// A TCP forwarder that counts the bytes it carries toward the server as they pass: the
/// stand-in for the failover drills' fault proxy.
async fn counting_proxy(upstream: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let carried = Arc::new(AtomicU64::new(0));
    let count = carried.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                });
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = from_client.read(&mut buf).await {
                    if n == 0 || to_server.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    count.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (addr, carried)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_layer_can_be_routed_through_a_proxy_while_info_stays_direct() {
    let server = redis();
    let s = scenario(&RAW_GETS.replace("duration = \"1s\"", "duration = \"500ms\""));
    let request = TargetRequest {
        flag_url: Some(&server.url()),
        spec: &s.target,
    };
    let mut target = Target::open(&request, &|_| None).await.expect("open");
    let (proxy, carried) = counting_proxy(server.addr()).await;
    target.route_cache_through(proxy).expect("reroute");
    assert_eq!(
        target.cache_url().as_deref(),
        Some(format!("redis://{proxy}").as_str())
    );
    assert_eq!(target.redacted_url(), Some(server.redacted_url()));

    let summary = engine::run(
        &s,
        &target,
        &run_options("proxied"),
        redline::shutdown::Shutdown::never(),
        &mut |_| {},
    )
    .await
    .expect("run");
    drop(target);
    assert!(summary.totals.ops > 50, "{:?}", summary.totals);
    assert_eq!(
        summary.totals.errors_total, 0,
        "{:?}",
        summary.totals.errors
    );
    // The operations went through the proxy: at least ~20 bytes per GET or SET.
    let carried = carried.load(Ordering::Relaxed);
    assert!(
        carried > summary.totals.ops * 20,
        "{carried} bytes for {:?}",
        summary.totals
    );
    let stats = summary
        .server
        .expect("INFO over the direct admin connection");
    assert!(stats.total_commands_processed > 50, "{stats:?}");
}
