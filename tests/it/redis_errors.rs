//! Redis-level failures are never hidden by the fallback: a peer answering nonsense, a
//! paused server, a reply announced as 4 GiB, and a server that comes back on the same port
//! (the breaker's first probe must reach it). Hostile peers are small fake servers on
//! loopback; everything else is a real redis-server.

use crate::support::{connection, open_target, redis, redline_bin, wait_until};
use redline::cache::clock::ManualClock;
use redline::cache::manager::Source;
use redline::cache::redis_store::ConnectError;
use redline::cache::{
    BreakerConfig, BreakerState, CacheManager, ManagerConfig, RedisConfig, RedisStore,
};
use redline::engine::{self, RunOptions};
use redline::op::ErrorKind;
use redline::report::summary::RunSummary;
use redline::report::verdict::Verdict;
use redline::scenario::target::TargetKind;
use redline::scenario::{self, Format, Scenario};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

/// The one place these tests call the engine (its signature is changing).
async fn run_engine(
    scenario: &Scenario,
    url: String,
    on_tick: &mut (dyn FnMut(&redline::report::aggregate::LiveLine) + Send),
) -> RunSummary {
    let target = open_target(scenario, Some(&url)).await;
    let opts = RunOptions {
        run_id: None,
        keep_keys: false,
        seed: Some(7),
        ..RunOptions::default()
    };
    engine::run(
        scenario,
        &target,
        &opts,
        redline::shutdown::Shutdown::never(),
        on_tick,
    )
    .await
    .unwrap_or_else(|e| panic!("engine::run failed: {e}"))
}

/// A managed-target GET/SET scenario with the default thresholds, one closed-model client.
fn managed(duration: &str, target_extra: &str) -> Scenario {
    let toml = format!(
        r#"
name = "redis-errors"

[target]
kind = "managed"
{target_extra}

[keyspace]
keys = 100
value_size = "32B"

[[ops]]
kind = "get"
weight = 3

[[ops]]
kind = "set"
weight = 1

[load]
model = "closed"
clients = 1
duration = "{duration}"
warmup = "0s"
"#
    );
    scenario::parse_str(&toml, Format::Toml, "test.toml", &[])
        .unwrap_or_else(|e| panic!("test scenario does not parse: {e}"))
}

/// What a fake server answers.
#[derive(Clone, Copy)]
enum Answer {
    /// This reply to every command but PING (answered `+PONG`, so connecting succeeds).
    Fixed(&'static [u8]),
    /// This reply to every command, PING included.
    Always(&'static [u8]),
    /// `$4294967296` and then bytes for as long as the client reads them, to GET (and
    /// `+OK` to anything else), or to every command but PING.
    Endless { to_all: bool },
}

/// A fake Redis on a free loopback port; returns its URL and a count of bytes it sent.
async fn fake_server(answer: Answer) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("redis://{}", listener.local_addr().expect("addr"));
    let sent = Arc::new(AtomicU64::new(0));
    let total = sent.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let total = total.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut read = BufReader::new(read);
                while let Some(command) = read_command(&mut read).await {
                    let reply: &[u8] = match answer {
                        Answer::Always(reply) => reply,
                        _ if command.eq_ignore_ascii_case("PING") => b"+PONG\r\n",
                        Answer::Fixed(reply) => reply,
                        Answer::Endless { to_all: false } if command != "GET" => b"+OK\r\n",
                        Answer::Endless { .. } => {
                            if write.write_all(b"$4294967296\r\n").await.is_err() {
                                return;
                            }
                            let chunk = vec![b'x'; 64 * 1024];
                            while write.write_all(&chunk).await.is_ok() {
                                total.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                            }
                            return;
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                    total.fetch_add(reply.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (url, sent)
}

/// Reads one RESP command (an array of bulk strings) and returns its name.
async fn read_command<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Option<String> {
    let mut line = String::new();
    r.read_line(&mut line).await.ok()?;
    let n: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut name = None;
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line).await.ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut arg = vec![0; len + 2];
        r.read_exact(&mut arg).await.ok()?;
        arg.truncate(len);
        name.get_or_insert_with(|| String::from_utf8_lossy(&arg).into_owned());
    }
    name
}

fn redis_failures(s: &RunSummary, kind: ErrorKind) -> u64 {
    let redis = s
        .redis
        .as_ref()
        .expect("a Redis target reports Redis's view");
    redis.failures[&kind]
}

fn threshold_passed(s: &RunSummary, expr: &str) -> bool {
    s.thresholds
        .iter()
        .find(|t| t.expr == expr)
        .unwrap_or_else(|| panic!("no threshold {expr}"))
        .passed()
}

// ---------------------------------------------------------------------------------------
// garbage and wrong reply types
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_answering_garbage_fails_with_protocol_errors_counted() {
    for (reply, what) in [
        (&b"+garbage\r\n"[..], "a status to every command"),
        (&b":1\r\n"[..], "an integer to every command"),
    ] {
        let (url, _) = fake_server(Answer::Fixed(reply)).await;
        let s = run_engine(&managed("1s", ""), url, &mut |_| {}).await;
        assert_ne!(s.verdict, Verdict::Pass, "{what}: {:?}", s.verdict_reason);
        assert!(
            redis_failures(&s, ErrorKind::Protocol) > 0,
            "{what}: {:?}",
            s.redis
        );
        let rate = s.redis.as_ref().and_then(|r| r.error_rate).expect("rate");
        assert!(
            rate > 0.5,
            "{what}: nearly every command failed, got {rate}"
        );
        assert!(
            !threshold_passed(&s, "redis_error_rate < 0.001"),
            "{what}: the default redis_error_rate threshold is what catches it"
        );

        // Without the fallback in between, the application sees the same protocol errors,
        // and a wrong type is never a miss.
        let mut raw_scenario = managed("1s", "");
        raw_scenario.target.kind = TargetKind::Redis;
        let raw = run_engine(&raw_scenario, url_again(reply).await, &mut |_| {}).await;
        assert!(
            raw.totals.errors[&ErrorKind::Protocol] > 0,
            "{what}: {:?}",
            raw.totals.errors
        );
        assert_eq!(
            raw.totals.misses, 0,
            "{what}: a wrong reply type counted as a miss"
        );
        assert_eq!(
            raw.totals.hits, 0,
            "{what}: a wrong reply type counted as a hit"
        );
        assert!(redis_failures(&raw, ErrorKind::Protocol) > 0, "{what}");
    }
}

async fn url_again(reply: &'static [u8]) -> String {
    fake_server(Answer::Fixed(reply)).await.0
}

#[tokio::test]
async fn wrong_reply_types_on_the_raw_store_are_protocol_errors() {
    let (url, _) = fake_server(Answer::Fixed(b":1\r\n")).await;
    let store = RedisStore::connect(RedisConfig::new(url))
        .await
        .expect("PING answers PONG");
    let e = store
        .get("k")
        .await
        .expect_err("an integer to GET is not a value");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    let e = store
        .mget(&["a", "b"])
        .await
        .expect_err("an integer to MGET");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    let e = store
        .set("k", b"v", None)
        .await
        .expect_err("an integer to SET is not OK");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    let (url, _) = fake_server(Answer::Fixed(b"+OK\r\n")).await;
    let store = RedisStore::connect(RedisConfig::new(url))
        .await
        .expect("connect");
    let e = store.mget(&["a"]).await.expect_err("a status to MGET");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    let e = store.get("a").await.expect_err("a status to GET");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    // A peer that answers PING with anything but PONG is not Redis.
    let (url, _) = fake_server(Answer::Always(b"+garbage\r\n")).await;
    let e = RedisStore::connect(RedisConfig::new(url))
        .await
        .expect_err("garbage is not PONG");
    assert!(matches!(e, ConnectError::NotRedis { .. }), "{e}");
}

// ---------------------------------------------------------------------------------------
// a paused server: timeouts counted although the fallback answered
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_shows_its_timeouts_although_the_fallback_answered() {
    let server = redis();
    let scenario = managed("4s", "response_timeout = \"50ms\"");
    let mut ticks = 0;
    let s = run_engine(&scenario, server.url(), &mut |_| {
        ticks += 1;
        match ticks {
            1 => server.pause_detached().expect("SIGSTOP"),
            3 => server.resume().expect("SIGCONT"),
            _ => {}
        }
    })
    .await;
    let timeouts = redis_failures(&s, ErrorKind::Timeout);
    assert!(timeouts >= 1, "no timeout counted: {:?}", s.redis);
    let redis = s.redis.as_ref().expect("redis view");
    assert!(
        redis.failures_total > s.totals.errors_total,
        "the fallback absorbed failures the application never saw: redis {redis:?}, app {:?}",
        s.totals.errors
    );
    assert!(!threshold_passed(&s, "redis_error_rate < 0.001"));
    assert_ne!(s.verdict, Verdict::Pass);
}

// ---------------------------------------------------------------------------------------
// the breaker's first probe after Redis is back reaches it
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_probe_after_a_restart_on_the_same_port_succeeds() {
    let mut server = redis();
    let mut config = RedisConfig::new(server.url());
    config.response_timeout = Duration::from_millis(500);
    config.key_prefix = "probe:".into();
    let store = RedisStore::connect(config).await.expect("connect");
    let clock = Arc::new(ManualClock::new());
    let reset = Duration::from_secs(1);
    let manager = CacheManager::with_clock(
        Some(store),
        ManagerConfig {
            breaker: BreakerConfig {
                failure_threshold: 2,
                reset_timeout: reset,
                success_threshold: 2,
                ..BreakerConfig::default()
            },
            ..ManagerConfig::default()
        },
        clock.clone(),
    );
    manager.set_bytes("k", b"v", None).await.expect("set");

    server.kill().expect("kill");
    for _ in 0..2 {
        let served = manager.get_bytes("k").await.expect("the fallback answers");
        assert_eq!(served.source, Source::Fallback);
    }
    assert_eq!(manager.breaker().state(), BreakerState::Open);
    // A probe while Redis is still down fails and reopens the breaker.
    clock.advance(reset);
    let served = manager.get_bytes("k").await.expect("fallback");
    assert_eq!(served.source, Source::Fallback, "Redis is down");
    assert_eq!(manager.breaker().state(), BreakerState::Open);
    // Redis stays down longer than a client's reconnect backoff (the redis crate's
    // ConnectionManager gives up after its retries, 0.7 s at most with these settings, and
    // then hands the cached "Connection refused" to the next caller). Not a wait for
    // something to happen: the outage itself.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    server.restart().expect("restart on the same port");
    let mut con = connection(&server);
    wait_until(Duration::from_secs(10), "PING answers", || {
        redis::cmd("PING").query::<String>(&mut con).is_ok()
    });

    clock.advance(reset);
    let probe = manager.get_bytes("k").await.expect("probe");
    assert_eq!(
        probe.source,
        Source::Redis,
        "the first probe after PING works must reach Redis, not a stale connection: {:?}",
        probe.cause
    );
    manager.get_bytes("k").await.expect("second probe");
    assert_eq!(manager.breaker().state(), BreakerState::Closed);
    let info = manager.redis().expect("redis").info(Some("server")).await;
    assert!(info.is_ok(), "INFO after recovery: {info:?}");
}

// ---------------------------------------------------------------------------------------
// a 4 GiB reply: bounded memory, a protocol error
// ---------------------------------------------------------------------------------------

/// Runs `redline run` on a one-GET scenario against `url`; returns its exit code, stdout,
/// stderr, report.json (if written) and peak RSS (VmHWM, kB) read while it ran.
fn run_process(url: &str) -> (Option<i32>, String, String, Option<serde_json::Value>, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("huge.toml");
    std::fs::write(
        &scenario,
        r#"
name = "huge-reply"

[target]
kind = "managed"

[keyspace]
keys = 10
value_size = "16B"

[[ops]]
kind = "get"
weight = 1

[load]
model = "closed"
clients = 1
duration = "2s"
warmup = "0s"
"#,
    )
    .expect("write scenario");
    let out = dir.path().join("out");
    let file = |name: &str| Stdio::from(std::fs::File::create(dir.path().join(name)).expect(name));
    let mut child = redline_bin()
        .args([
            "run",
            scenario.to_str().expect("utf-8"),
            "--redis",
            url,
            "--out",
        ])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .expect("spawn redline");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(status) = child.try_wait().expect("poll") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("redline did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    eprintln!("redline against {url}: peak RSS (VmHWM) {peak_kib} kB");
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let report = std::fs::read_to_string(out.join("report.json"))
        .ok()
        .map(|text| serde_json::from_str(&text).expect("report.json parses"));
    (
        status.code(),
        read("stdout"),
        read("stderr"),
        report,
        peak_kib,
    )
}

/// Peak RSS allowed while a peer announces 4 GiB: a factor of 16 below it at the least (the
/// reply is refused at its header, so redline reads almost nothing of it).
const BOUNDED_KIB: u64 = 256 * 1024;

#[test]
fn a_get_answered_with_4_gib_is_a_protocol_error_with_memory_bounded() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (url, sent) = rt.block_on(fake_server(Answer::Endless { to_all: false }));
    let (code, stdout, stderr, report, peak_kib) = run_process(&url);
    let describe = format!("exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(peak_kib > 0, "VmHWM never read");
    assert!(
        peak_kib < BOUNDED_KIB,
        "peak RSS {peak_kib} kB while the peer announced 4 GiB (it sent {} bytes)\n{describe}",
        sent.load(Ordering::Relaxed)
    );
    assert_eq!(code, Some(1), "a threshold failure\n{describe}");
    let report = report.expect("report.json written");
    assert!(
        report["redis"]["failures"]["protocol"].as_u64() > Some(0),
        "the cut reply is a protocol error: {}",
        report["redis"]
    );
    assert!(
        stdout.contains("protocol"),
        "the summary names the kind\n{describe}"
    );
}

#[test]
fn a_peer_answering_its_handshake_with_4_gib_is_refused_with_exit_2() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (url, _) = rt.block_on(fake_server(Answer::Endless { to_all: true }));
    let (code, stdout, stderr, _, peak_kib) = run_process(&url);
    let describe = format!("exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        peak_kib > 0 && peak_kib < BOUNDED_KIB,
        "peak RSS {peak_kib} kB"
    );
    assert_eq!(code, Some(2), "{describe}");
    assert!(
        stderr.contains("does not speak the Redis protocol") && stderr.contains("4294967296"),
        "a clear message naming the announced size\n{describe}"
    );
}
