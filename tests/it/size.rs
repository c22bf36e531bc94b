//! `redline size` against real redis-server processes: memory per key agrees with what
//! Redis reports, the knee search converges on a system slowed on purpose to the rate
//! theory predicts, the hit-rate curve rises with memory, an interrupted sizing still writes
//! what it measured, bad input is refused before anything runs, and a search whose first
//! step fails says so.

use crate::support::{connection, finished_within, info_field, redis, redline_bin, wait_until};
use redline::scenario::{parse_str, Format, Scenario};
use redline::shutdown::Shutdown;
use redline::size::report::{KneeLimit, SizingReport};
use redline::target::{Target, TargetRequest};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A scenario: `body` is everything but the load, which is an open model at `rate`.
fn scenario_text(body: &str, rate: u32) -> String {
    format!(
        "name = \"size-test\"\n{body}\n\
         [load]\nmodel = \"open\"\nrate = {rate}\nconnections = 4\nduration = \"1s\"\n"
    )
}

fn parse(text: &str) -> Scenario {
    parse_str(text, Format::Toml, "size-test.toml", &[]).expect("the test scenario parses")
}

/// Sizes `scenario` in this process against `url`, or an embedded server when `None`.
async fn size(scenario: &Scenario, url: Option<&str>) -> SizingReport {
    let mut spec = scenario.target.clone();
    spec.server.maxmemory = None;
    let request = TargetRequest {
        flag_url: url,
        spec: &spec,
    };
    // Only where redis-server is: no REDIS_* variable of the developer's shell applies.
    let lookup = |k: &str| match k {
        "PATH" | "REDLINE_REDIS_SERVER" => std::env::var(k).ok(),
        _ => None,
    };
    let target = Target::open(&request, &lookup)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test's target: {e}"));
    let mut quiet = |_: String| {};
    redline::size::size(scenario, &target, "t", &Shutdown::never(), &mut quiet)
        .await
        .unwrap_or_else(|e| panic!("sizing failed: {e}"))
}

fn dbsize(con: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(con).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_memory_per_key_is_within_10_percent_of_what_redis_reports() {
    let server = redis();
    let mut con = connection(&server);
    let maxmemory_before: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut con)
        .unwrap();
    // A known profile: 1 KiB random values, no codec, a TTL, ~20-byte keys.
    let text = scenario_text(
        "[keyspace]\nkeys = 4000\nvalue_size = \"1KiB\"\n\
         [[ops]]\nkind = \"get_or_set\"\nweight = 1\nttl = \"1h\"\n\
         [sizing]\nstudies = [\"memory\", \"hit_rate\"]\nsample_keys = 4000\n",
        100,
    );
    let report = size(&parse(&text), Some(&server.url())).await;
    let m = report.memory.as_ref().expect("the memory study ran");

    // What Redis itself says the same profile costs: 4000 keys of the same length and
    // value size, with a TTL, written directly.
    let used = |con: &mut redis::Connection| {
        let info: String = redis::cmd("INFO").arg("memory").query(con).unwrap();
        info_field(&info, "used_memory")
    };
    assert_eq!(dbsize(&mut con), 0, "the sample was removed");
    let before = used(&mut con);
    let value = vec![b'x'; 1024];
    let mut pipe = redis::pipe();
    for i in 0..4000 {
        let key = format!("{:0width$}", i, width = m.key_bytes.round() as usize);
        pipe.cmd("SET")
            .arg(key)
            .arg(&value)
            .arg("PX")
            .arg(3_600_000)
            .ignore();
    }
    let () = pipe.query(&mut con).unwrap();
    let redis_per_key = (used(&mut con) - before) as f64 / 4000.0;
    let error = (m.per_key_bytes - redis_per_key).abs() / redis_per_key;
    assert!(
        error < 0.10,
        "sizing says {} B per key, Redis {redis_per_key:.0} B ({:.1}% apart)",
        m.per_key_bytes,
        error * 100.0
    );
    assert!(
        m.memory_usage_per_key_bytes > 1024.0 && m.per_key_bytes >= m.memory_usage_per_key_bytes,
        "{m:?}"
    );
    assert!(m.recommended_maxmemory_bytes as f64 >= m.dataset_bytes as f64 / 0.80);

    // A server redline did not start: the hit-rate study is skipped, saying why, and
    // maxmemory was never touched.
    let skipped = report
        .skipped
        .iter()
        .find(|s| s.study == "hit_rate")
        .expect("hit_rate skipped");
    assert!(
        skipped.reason.contains("never changes maxmemory"),
        "{skipped:?}"
    );
    let maxmemory_after: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut con)
        .unwrap();
    assert_eq!(maxmemory_before, maxmemory_after);
}

/// The origin is the bottleneck on purpose: 20 connections, 100 ms each, and nearly every
/// read misses (a million keys, uniform), so theory gives a capacity of 20 / 100 ms = 200
/// ops/s. Below it, evenly spaced arrivals never queue (p95 ≈ 100 ms); above it the queue
/// grows for the whole step, and at 10 % over, p95 passes 150 ms within a second. The
/// origin's latency is long next to a busy machine's timer and scheduling delays (a few
/// ms), so the capacity stays what theory says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_knee_converges_on_the_capacity_of_a_slowed_origin() {
    let server = redis();
    let text = scenario_text(
        "thresholds = [\"p95 < 150ms\"]\n\
         [keyspace]\nkeys = 1_000_000\nvalue_size = \"32B\"\n\
         [[ops]]\nkind = \"get_or_set\"\nweight = 1\n\
         [origin]\nlatency = \"100ms\"\nconcurrency = 20\n\
         [sizing]\nstudies = [\"knee\"]\nstart_rate = 120\nmax_rate = 2000\n\
         resolution = 0.1\nstep = \"1s\"\nstep_ops = 1\nstep_warmup = \"300ms\"\n",
        120,
    );
    let report = size(&parse(&text), Some(&server.url())).await;
    let k = report.knee.as_ref().expect("the knee study ran");
    let capacity = 20.0 / 0.100;
    let knee = k.knee_per_s.unwrap_or_else(|| panic!("no knee: {k:?}"));
    // Tolerance: the search stops within 10 %, a step a few percent over capacity may still
    // pass within one second, and a busy machine's timers make 100 ms a little longer.
    assert!(
        (0.8 * capacity..=1.15 * capacity).contains(&knee),
        "knee {knee} ops/s, theory {capacity} ops/s: {k:#?}"
    );
    assert_eq!(k.limit, KneeLimit::Target, "{k:#?}");
    assert!(k.failed_at_per_s.unwrap() <= 1.3 * capacity, "{k:#?}");
    assert!(k.steps.len() >= 3, "bracketed, then bisected: {k:#?}");
    let at = k.at_knee.as_deref().unwrap();
    assert!(at.contains("origin"), "{at}");
    let mut con = connection(&server);
    assert_eq!(dbsize(&mut con), 0, "the knee's keys were removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_hit_rate_rises_with_memory() {
    // A 5 s response timeout: on a busy machine a stalled embedded server's replies must
    // not count as Redis failures, which leave a point out of the study.
    let text = scenario_text(
        "[target]\nresponse_timeout = \"5s\"\n\
         [keyspace]\nkeys = 5000\nvalue_size = \"2KiB\"\n\
         distribution = { kind = \"zipfian\", exponent = 0.99 }\n\
         [[ops]]\nkind = \"get_or_set\"\nweight = 1\n\
         [origin]\nlatency = \"1ms\"\nconcurrency = 64\n\
         [sizing]\nstudies = [\"memory\", \"hit_rate\"]\nsample_keys = 2000\n\
         memory_fractions = [0.1, 0.4, 1.0]\nhit_step = \"1s\"\nhit_warmup = \"1s\"\n",
        2000,
    );
    // No URL: an embedded server, whose maxmemory the study may change.
    let report = size(&parse(&text), None).await;
    let h = report.hit_rate.as_ref().expect("the hit-rate study ran");
    assert_eq!(h.policy, "allkeys-lru");
    let rates: Vec<f64> = (h.points.iter())
        .map(|p| {
            p.hit_rate
                .unwrap_or_else(|| panic!("a point without a hit rate: {h:#?}"))
        })
        .collect();
    assert_eq!(rates.len(), 3, "{h:#?}");
    assert!(
        rates[0] + 0.1 < rates[2] && rates[0] <= rates[1] + 0.02 && rates[1] <= rates[2] + 0.02,
        "hit rate must rise with memory: {rates:?} {h:#?}"
    );
    assert!(
        h.points[0].evicted_keys > 0,
        "10 % of the working set evicts: {h:#?}"
    );
    assert!(h.points.iter().all(|p| p.redis_failures == 0), "{h:#?}");
    assert!(h.points[0].maxmemory_bytes < h.points[2].maxmemory_bytes);
    assert!(
        rates[2] > 0.8,
        "with the whole working set nearly every read hits: {rates:?} {h:#?}"
    );
    assert!(
        h.fraction_needed.is_some() && h.memory_needed_bytes.is_some(),
        "{h:#?}"
    );
    assert!(
        report.recommendation.contains("80% hits need"),
        "{}",
        report.recommendation
    );
}

fn write_scenario(dir: &Path, text: &str) -> std::path::PathBuf {
    let file = dir.join("size.toml");
    std::fs::write(&file, text).unwrap();
    file
}

fn read_sizing(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("sizing.json")).expect("sizing.json written");
    serde_json::from_str(&text).expect("sizing.json parses")
}

#[test]
fn size_interrupted_still_writes_what_it_measured() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    // The knee's first step lasts a minute: the signal comes during it.
    let file = write_scenario(
        dir.path(),
        &scenario_text(
            "[keyspace]\nkeys = 1000\nvalue_size = \"64B\"\n\
             [[ops]]\nkind = \"get_or_set\"\nweight = 1\n\
             [sizing]\nsample_keys = 500\nstep = \"60s\"\nstep_warmup = \"0s\"\n",
            100,
        ),
    );
    let out = dir.path().join("out");
    let mut child = redline_bin()
        .args([
            "size",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--redis", &server.url()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (pipe, into) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                into.lock().unwrap().push_str(&(line + "\n"));
            }
        })
    };
    let mut con = connection(&server);
    wait_until(
        Duration::from_secs(30),
        "the knee's first step to run",
        || stderr.lock().unwrap().contains("memory:") && dbsize(&mut con) > 0,
    );
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut status = None;
    wait_until(Duration::from_secs(30), "size to exit after SIGINT", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    reader.join().unwrap();
    let err = stderr.lock().unwrap().clone();
    assert_eq!(status.unwrap().code(), Some(3), "{err}");
    let sizing = read_sizing(&out);
    assert_eq!(sizing["interrupted_in"], "knee", "{sizing:#}");
    assert!(sizing["memory"]["per_key_bytes"].as_f64().unwrap() > 64.0);
    assert_eq!(sizing["knee"]["limit"], "interrupted");
    assert!(sizing["recommendation"]
        .as_str()
        .unwrap()
        .contains("Interrupted"));
    assert!(out.join("sizing.md").exists());
    assert_eq!(dbsize(&mut con), 0, "no key of the sizing is left");
}

#[test]
fn size_refuses_bad_input_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let good = "[keyspace]\nkeys = 100\n[[ops]]\nkind = \"get\"\nweight = 1\n";
    let cases = [
        (
            "[keyspace]\nvalue_size = \"1KiB\"\n[[ops]]\nkind = \"get\"\nweight = 1\n".to_string(),
            "keyspace.keys: is required",
        ),
        (
            format!("thresholds = [\"p95 < 0ms\"]\n{good}"),
            "can never hold",
        ),
        (format!("thresholds = [\"p95 < -5ms\"]\n{good}"), "negative"),
        (
            format!("thresholds = [\"hit_rate >= 1.5\"]\n{good}"),
            "between 0 and 1",
        ),
        (
            format!("{good}[sizing]\nmemory_fractions = [1.5]\n"),
            "sizing.memory_fractions",
        ),
        (
            format!("{good}[sizing]\nresolution = 0\n"),
            "sizing.resolution",
        ),
        (
            format!("{good}[sizing]\nstart_rate = 0.001\n"),
            "sizing: the knee search could try up to 35 rates",
        ),
    ];
    for (body, expected) in cases {
        let file = write_scenario(dir.path(), &scenario_text(&body, 100));
        let mut cmd = redline_bin();
        cmd.args(["size", file.to_str().unwrap(), "--out"])
            .arg(dir.path().join("out"));
        let done = finished_within(cmd, Duration::from_secs(30));
        assert_eq!(done.code(), Some(2), "{expected}: {}", done.describe());
        assert!(
            done.stderr.contains(expected),
            "{expected}: {}",
            done.describe()
        );
        assert!(!dir.path().join("out").join("sizing.json").exists());
    }
}

#[test]
fn size_without_a_sizing_table_bounds_the_knee_search_from_the_load_rate() {
    let dir = tempfile::tempdir().unwrap();
    let good = "[keyspace]\nkeys = 100\n[[ops]]\nkind = \"get\"\nweight = 1\n";
    let file = write_scenario(dir.path(), &scenario_text(good, 100));
    let mut cmd = redline_bin();
    cmd.args([
        "size",
        file.to_str().unwrap(),
        "--set",
        "load.rate=0.001",
        "--out",
    ])
    .arg(dir.path().join("out"));
    let done = finished_within(cmd, Duration::from_secs(30));
    assert_eq!(done.code(), Some(2), "{}", done.describe());
    assert!(
        done.stderr
            .contains("sizing: the knee search could try up to 35 rates")
            && done
                .stderr
                .contains("raise sizing.start_rate (or load.rate)"),
        "{}",
        done.describe()
    );
    assert!(!dir.path().join("out").join("sizing.json").exists());
}

#[test]
fn size_whose_first_step_fails_says_so_and_what_to_change() {
    let server = redis();
    let dir = tempfile::tempdir().unwrap();
    // One origin connection of 20 ms holds 50 misses/s; the search starts at 400.
    let file = write_scenario(
        dir.path(),
        &scenario_text(
            "thresholds = [\"p95 < 40ms\"]\n\
             [keyspace]\nkeys = 1_000_000\nvalue_size = \"32B\"\n\
             [[ops]]\nkind = \"get_or_set\"\nweight = 1\n\
             [origin]\nlatency = \"20ms\"\nconcurrency = 1\n\
             [sizing]\nstudies = [\"knee\"]\nstart_rate = 400\nstep = \"1s\"\nstep_ops = 1\n\
             step_warmup = \"0s\"\n",
            400,
        ),
    );
    let out = dir.path().join("out");
    let mut cmd = redline_bin();
    cmd.args([
        "size",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .args(["--redis", &server.url()]);
    let done = finished_within(cmd, Duration::from_secs(60));
    assert_eq!(done.code(), Some(1), "{}", done.describe());
    let sizing = read_sizing(&out);
    let knee = &sizing["knee"];
    assert_eq!(knee["limit"], "first_step_failed");
    assert!(
        knee["knee_per_s"].is_null(),
        "never a knee of zero: {knee:#}"
    );
    let message = knee["message"].as_str().unwrap();
    assert!(
        message.contains("first step (400 ops/s) already failed")
            && message.contains("sizing.start_rate"),
        "{message}"
    );
    assert!(
        done.stdout.contains("already failed"),
        "{}",
        done.describe()
    );
}

/// Every command a server receives from now on, one MONITOR line each, until dropped.
struct Monitor {
    lines: Arc<Mutex<String>>,
    stream: std::net::TcpStream,
}

impl Monitor {
    fn start(server: &redline::server::EmbeddedRedis) -> Monitor {
        use std::io::{Read, Write};
        let url = server.url();
        let addr = url.trim_start_matches("redis://").trim_end_matches('/');
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(b"MONITOR\r\n").unwrap();
        let lines = Arc::new(Mutex::new(String::new()));
        let (mut reader, into) = (stream.try_clone().unwrap(), lines.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                into.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        wait_until(Duration::from_secs(10), "MONITOR to start", || {
            lines.lock().unwrap().starts_with("+OK")
        });
        Monitor { lines, stream }
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_on_an_external_server_changes_no_setting_and_touches_only_its_prefix() {
    let server = redis();
    let mut con = connection(&server);
    let () = redis::cmd("SET")
        .arg("foreign")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let () = redis::cmd("SET")
        .arg("p9:foreign")
        .arg("y")
        .query(&mut con)
        .unwrap();
    let monitor = Monitor::start(&server);
    let text = scenario_text(
        "[keyspace]\nkeys = 500\nprefix = \"p9:\"\nvalue_size = \"64B\"\n\
         [[ops]]\nkind = \"get_or_set\"\nweight = 1\n\
         [sizing]\nsample_keys = 200\nstart_rate = 200\nmax_rate = 400\nstep = \"500ms\"\n\
         step_ops = 1\nstep_warmup = \"0s\"\nhit_step = \"500ms\"\nhit_warmup = \"0s\"\n",
        200,
    );
    let report = size(&parse(&text), Some(&server.url())).await;
    assert!(
        report.memory.is_some() && report.knee.is_some(),
        "{report:#?}"
    );
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.study.as_str()).collect();
    assert_eq!(skipped, ["hit_rate"], "{report:#?}");
    let seen = monitor.text();
    drop(monitor);
    assert!(
        seen.contains("\"p9:tm:") && seen.contains("\"p9:tk:"),
        "MONITOR saw the sizing"
    );
    for line in seen.lines().skip(1) {
        let upper = line.to_uppercase();
        for forbidden in [
            "\"CONFIG\" \"SET\"",
            "\"CONFIG\" \"REWRITE\"",
            "\"CONFIG\" \"RESETSTAT\"",
            "\"FLUSHDB\"",
            "\"FLUSHALL\"",
            "\"KEYS\"",
        ] {
            assert!(!upper.contains(forbidden), "{line}");
        }
        if let Some(pattern) = line.split("\"MATCH\" \"").nth(1) {
            // The helper's run id is "t": every study's keys are under "p9:t…".
            assert!(
                pattern.starts_with("p9:t"),
                "a SCAN outside the run's prefix: {line}"
            );
        }
        if line.contains("foreign\"") {
            assert!(
                line.contains("\"SET\" \""),
                "only the test wrote them: {line}"
            );
        }
    }
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    keys.sort();
    assert_eq!(keys, ["foreign", "p9:foreign"]);
}

#[test]
fn size_refuses_a_sample_that_would_make_an_external_server_evict() {
    let server = redis();
    let mut con = connection(&server);
    // Someone else's server, nearly full, evicting: the sample (10 000 × 1 KiB) would push
    // its own keys out.
    for (k, v) in [("maxmemory", "3mb"), ("maxmemory-policy", "allkeys-lru")] {
        let () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(k)
            .arg(v)
            .query(&mut con)
            .unwrap();
    }
    let () = redis::cmd("SET")
        .arg("theirs")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write_scenario(
        dir.path(),
        &scenario_text(
            "[keyspace]\nkeys = 100000\nvalue_size = \"1KiB\"\n\
             [[ops]]\nkind = \"get_or_set\"\nweight = 1\n\
             [sizing]\nstudies = [\"memory\"]\nsample_keys = 10000\n",
            100,
        ),
    );
    let mut cmd = redline_bin();
    cmd.args(["size", file.to_str().unwrap(), "--out"])
        .arg(dir.path().join("out"))
        .args(["--redis", &server.url()]);
    let done = finished_within(cmd, Duration::from_secs(30));
    assert_eq!(done.code(), Some(2), "{}", done.describe());
    assert!(
        done.stderr.contains("does not fit") && done.stderr.contains("sizing.sample_keys"),
        "{}",
        done.describe()
    );
    let info: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
    assert_eq!(info_field(&info, "evicted_keys"), 0);
    assert_eq!(dbsize(&mut con), 1, "only their key");
}
