//! Many generators, one result (issue 10 §2, §4): three `redline run --shard i/3`
//! processes against one server merge into one report whose counts are the sums and whose
//! percentiles are those of the hand-added histograms; mismatched reports are refused; the
//! metrics endpoint answers in the Prometheus text format while a run goes.

use crate::engine::dbsize;
use crate::support::{connection, finished_within, read_report, redis, redline_bin, Finished};
use redline::report::decode_histogram;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Each shard's rate, ops/s.
const RATE: f64 = 400.0;

fn write_scenario(dir: &Path, duration: &str) -> PathBuf {
    let path = dir.join("sharded.toml");
    let text = format!(
        r#"name = "sharded"
thresholds = ["p99 < 1s", "error_rate < 0.01"]

[target]
kind = "redis"

[keyspace]
keys = 2000
distribution = "uniform"
value_size = "64B"

[[ops]]
kind = "get"
weight = 9

[[ops]]
kind = "set"
weight = 1

[load]
model = "open"
rate = {}
connections = 6
preload = true
duration = "{duration}"
"#,
        RATE * 3.0
    );
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn merge(reports: &[&Path], out: &Path) -> Finished {
    let mut cmd = redline_bin();
    cmd.arg("merge").args(reports).arg("--out").arg(out);
    finished_within(cmd, Duration::from_secs(30))
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} missing"))
}

fn f64_at(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} missing"))
}

#[test]
fn three_shards_merge_into_one_report_with_added_histograms() {
    let server = redis();
    let tmp = tempfile::tempdir().expect("tempdir");
    let scenario = write_scenario(tmp.path(), "2s");
    let start_at = (chrono::Utc::now().timestamp() + 2).to_string();
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| tmp.path().join(format!("shard-{i}")))
        .collect();
    let runs: Vec<_> = (0..3)
        .map(|i| {
            let mut cmd = redline_bin();
            cmd.arg("run")
                .arg(&scenario)
                .args([
                    "--redis",
                    &server.url(),
                    "--run-id",
                    "sharded-test",
                    "--quiet",
                ])
                .args(["--shard", &format!("{i}/3"), "--start-at", &start_at])
                .arg("--out")
                .arg(&dirs[i]);
            std::thread::spawn(move || finished_within(cmd, Duration::from_secs(90)))
        })
        .collect();
    let finished: Vec<Finished> = runs.into_iter().map(|t| t.join().expect("join")).collect();
    for (i, f) in finished.iter().enumerate() {
        // A shard's own verdict may be anything but an error on a busy machine.
        assert!(
            matches!(f.code(), Some(0 | 1 | 3)),
            "shard {i}: {}",
            f.describe()
        );
    }
    assert_eq!(
        dbsize(&mut connection(&server)),
        0,
        "shard 0 removed the keys and the markers"
    );

    let shards: Vec<Value> = dirs.iter().map(|d| read_report(d)).collect();
    for (i, r) in shards.iter().enumerate() {
        assert_eq!(u64_at(r, "/shard/index"), i as u64);
        assert_eq!(u64_at(r, "/shard/count"), 3);
        assert_eq!(r["target"]["run_id"], "sharded-test");
        assert_eq!(r["target"]["key_prefix"], shards[0]["target"]["key_prefix"]);
        assert_eq!(f64_at(r, "/scenario/config/load/arrival/rate"), RATE);
        assert_eq!(f64_at(r, "/shard/run_load/arrival/rate"), RATE * 3.0);
        let cleanup = if i == 0 { "removed" } else { "other_shard" };
        assert_eq!(r["cleanup"]["outcome"], cleanup, "shard {i}");
        // A generator starved of CPU says so (saturated): its rate is then not the point.
        let own = f64_at(r, "/totals/throughput");
        assert!(
            r["generator"]["saturated"] == true || (own - RATE).abs() < RATE * 0.1,
            "shard {i} ran {own} ops/s, not {RATE}: {:#}\n{}",
            r["generator"],
            r["verdict_reason"]
        );
    }
    let starts: Vec<chrono::DateTime<chrono::Utc>> = shards
        .iter()
        .map(|r| {
            r["started_at"]
                .as_str()
                .expect("started_at")
                .parse()
                .expect("time")
        })
        .collect();
    let spread = starts
        .iter()
        .max()
        .unwrap()
        .signed_duration_since(*starts.iter().min().unwrap());
    assert!(
        spread < chrono::Duration::milliseconds(500),
        "the shards started {spread} apart, not on one second"
    );

    let out = tmp.path().join("merged");
    let paths: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let merged_run = merge(&paths, &out);
    assert!(
        matches!(merged_run.code(), Some(0 | 1 | 3)),
        "{}",
        merged_run.describe()
    );
    assert!(out.join("summary.md").exists());
    let m = read_report(&out);
    assert_eq!(u64_at(&m, "/merged/count"), 3);
    assert!(m["shard"].is_null());
    let sum = |pointer: &str| shards.iter().map(|r| u64_at(r, pointer)).sum::<u64>();
    for field in ["ops", "hits", "misses", "errors_total", "commands"] {
        let pointer = format!("/totals/{field}");
        assert_eq!(u64_at(&m, &pointer), sum(&pointer), "{field}");
    }
    assert_eq!(f64_at(&m, "/scenario/config/load/arrival/rate"), RATE * 3.0);

    // The merged percentiles are those of the shards' histograms added by hand.
    for kind in ["response", "service"] {
        let mut added = decode_histogram(
            shards[0]["histograms"][kind]["overall"]
                .as_str()
                .expect("histogram"),
        )
        .expect("decode");
        for r in &shards[1..] {
            let h = decode_histogram(r["histograms"][kind]["overall"].as_str().expect("h"))
                .expect("decode");
            added.add(&h).expect("add");
        }
        let p = &m["latency"]["overall"][kind];
        assert_eq!(u64_at(p, "/count"), added.len());
        for (name, q) in [
            ("p50_us", 0.5),
            ("p95_us", 0.95),
            ("p99_us", 0.99),
            ("p999_us", 0.999),
        ] {
            assert_eq!(
                u64_at(p, &format!("/{name}")),
                added.value_at_quantile(q),
                "{kind} {name}"
            );
        }
        assert_eq!(u64_at(p, "/max_us"), added.max(), "{kind} max");
    }

    let throughput = f64_at(&m, "/totals/throughput");
    let own: f64 = shards.iter().map(|r| f64_at(r, "/totals/throughput")).sum();
    assert!((throughput - own).abs() < 0.01, "the shards' rates add up");
    let saturated: Vec<usize> = (0..3)
        .filter(|&i| shards[i]["generator"]["saturated"] == true)
        .collect();
    if saturated.is_empty() {
        let want = RATE * 3.0;
        assert!(
            (throughput - want).abs() < want * 0.1,
            "merged throughput {throughput} ops/s, not ~{want}"
        );
    } else {
        // One saturated shard makes the merged run inconclusive, and the reason names it.
        assert_eq!(m["verdict"], "inconclusive", "{:#}", m["merged"]);
        let reason = m["verdict_reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("shard "), "{reason}");
    }
    let series_ops: u64 = (m["timeseries"].as_array().expect("series").iter())
        .map(|p| u64_at(p, "/ops"))
        .sum();
    let shard_series_ops: u64 = (shards.iter())
        .flat_map(|r| r["timeseries"].as_array().expect("series").iter())
        .map(|p| u64_at(p, "/ops"))
        .sum();
    assert_eq!(
        series_ops, shard_series_ops,
        "no point lost in the alignment"
    );

    refuses_mismatched_reports(tmp.path(), &dirs);
}

/// Reports of another run, another schema, or a missing shard are refused (exit 2).
fn refuses_mismatched_reports(tmp: &Path, dirs: &[PathBuf]) {
    let edited = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut v = read_report(&dirs[1]);
        edit(&mut v);
        let path = tmp.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec(&v).expect("json")).expect("write");
        path
    };
    let other_run = edited("other-run", &|v| v["target"]["run_id"] = "another".into());
    let other_schema = edited("other-schema", &|v| {
        v["schema"] = "redline.report/v1".into()
    });
    let other_scenario = edited("other-scenario", &|v| {
        v["scenario"]["config"]["keyspace"]["keys"] = 5.into()
    });
    let cases: [(&[&Path], &str); 4] = [
        (&[&dirs[0], &other_run, &dirs[2]], "different runs"),
        (&[&dirs[0], &other_schema, &dirs[2]], "schema"),
        (
            &[&dirs[0], &other_scenario, &dirs[2]],
            "differ in keyspace.keys",
        ),
        (&[&dirs[0], &dirs[2]], "shard(s) 1/3 missing"),
    ];
    for (i, (reports, why)) in cases.iter().enumerate() {
        let f = merge(reports, &tmp.join(format!("refused-{i}")));
        assert_eq!(f.code(), Some(2), "{why}: {}", f.describe());
        let line = f.error_line().unwrap_or_default();
        assert!(line.contains(why), "{why}: {}", f.describe());
    }
}

#[test]
fn a_shard_that_never_comes_is_an_error_and_bad_options_are_refused() {
    let server = redis();
    let tmp = tempfile::tempdir().expect("tempdir");
    let scenario = write_scenario(tmp.path(), "2s");
    let run = |extra: &[&str], redis_url: Option<&str>| {
        let mut cmd = redline_bin();
        cmd.arg("run").arg(&scenario).arg("--quiet").args(extra);
        if let Some(url) = redis_url {
            cmd.args(["--redis", url]);
        }
        cmd.arg("--out").arg(
            tmp.path()
                .join(format!("out-{}", extra.join("_").replace('/', "-"))),
        );
        finished_within(cmd, Duration::from_secs(60))
    };
    let url = server.url();
    // Shard 0 preloads, waits a second for shard 1, gives up and removes what it wrote.
    let f = run(
        &["--shard", "0/2", "--run-id", "alone", "--shard-wait", "1s"],
        Some(&url),
    );
    assert_eq!(f.code(), Some(2), "{}", f.describe());
    assert!(
        f.error_line()
            .is_some_and(|l| l.contains("shard(s) 1 of 2 did not get ready")),
        "{}",
        f.describe()
    );
    assert_eq!(
        dbsize(&mut connection(&server)),
        0,
        "the preload is removed"
    );

    let refused: [(&[&str], Option<&str>, &str); 5] = [
        (&["--shard", "0/2"], Some(&url), "--run-id"),
        (
            &["--shard", "2/2", "--run-id", "x"],
            Some(&url),
            "out of range",
        ),
        (&["--start-at", "yesterday"], Some(&url), "RFC 3339"),
        (&["--start-at", "1000000000"], Some(&url), "in the past"),
        // An embedded server would be each generator's own.
        (
            &["--shard", "0/2", "--run-id", "x"],
            None,
            "needs one Redis server",
        ),
    ];
    for (args, url, why) in refused {
        let f = run(args, url);
        assert_eq!(f.code(), Some(2), "{args:?}: {}", f.describe());
        assert!(
            f.error_line().is_some_and(|l| l.contains(why)),
            "{args:?}: {}",
            f.describe()
        );
    }
}

/// A free loopback port (bound then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// GET /metrics over plain HTTP/1.0; `None` while nothing listens.
fn scrape(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_string())
}

#[test]
fn the_metrics_endpoint_answers_in_the_prometheus_text_format_while_a_run_goes() {
    let server = redis();
    let tmp = tempfile::tempdir().expect("tempdir");
    let scenario = write_scenario(tmp.path(), "4s");
    let port = free_port();
    let mut cmd = redline_bin();
    cmd.arg("run")
        .arg(&scenario)
        .args(["--redis", &server.url(), "--run-id", "watched", "--quiet"])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .arg("--out")
        .arg(tmp.path().join("run"));
    let run = std::thread::spawn(move || finished_within(cmd, Duration::from_secs(60)));

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let scraped = loop {
        let ops = scrape(port).and_then(|body| {
            let lines = body.lines().map(|l| Ok(l.to_string()));
            let parsed = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
            let ops = parsed
                .samples
                .iter()
                .find(|s| s.metric == "redline_operations_total")
                .map(|s| match s.value {
                    prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
                    ref other => panic!("operations is {other:?}"),
                })?;
            (ops > 0.0).then_some(parsed)
        });
        if let Some(parsed) = ops {
            break parsed;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no operations counted within 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let sample = |name: &str| {
        scraped
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let ops = sample("redline_operations_total");
    assert_eq!(ops.labels.get("scenario"), Some("sharded"));
    assert_eq!(ops.labels.get("run_id"), Some("watched"));
    assert_eq!(ops.labels.get("shard"), Some("0/1"));
    for name in [
        "redline_hits_total",
        "redline_misses_total",
        "redline_throughput",
        "redline_response_time_seconds",
        "redline_generator_lag_p99_seconds",
    ] {
        sample(name);
    }
    let kinds: Vec<&str> = (scraped.samples.iter())
        .filter(|s| s.metric == "redline_errors_total")
        .filter_map(|s| s.labels.get("kind"))
        .collect();
    assert!(
        kinds.contains(&"timeout") && kinds.contains(&"dropped"),
        "{kinds:?}"
    );

    let finished = run.join().expect("join");
    assert!(
        matches!(finished.code(), Some(0 | 1 | 3)),
        "{}",
        finished.describe()
    );
    assert!(scrape(port).is_none(), "the endpoint stops with the run");
}
