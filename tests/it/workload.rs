//! The workload a run sends is the one its scenario declares, seen from the server: a
//! zipfian run writes as many distinct keys as the zipf distribution reaches.

use crate::support::{connection, finished_within, redis, redline_bin};
use std::collections::HashSet;
use std::process::ExitStatus;
use std::time::Duration;

const KEYS: u64 = 1_000;
const EXPONENT: f64 = 0.99;
const SETS: u64 = 20_000;

/// Runs `redline` with `args`; fails the test after `deadline`. Returns the exit status and
/// what it printed.
fn run_redline(args: &[&str], deadline: Duration) -> (ExitStatus, String) {
    let mut cmd = redline_bin();
    cmd.args(args);
    let done = finished_within(cmd, deadline);
    let output = format!("stdout:\n{}\nstderr:\n{}", done.stdout, done.stderr);
    (done.status, output)
}

/// Every key matching `pattern`, by SCAN (deduplicated: SCAN may repeat a key).
fn scan(con: &mut redis::Connection, pattern: &str) -> HashSet<String> {
    let mut cursor: u64 = 0;
    let mut keys = HashSet::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .expect("SCAN");
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Expected distinct keys after `draws` zipfian draws over `n` keys, sum(1 - (1 - p_k)^draws),
/// and an upper bound on its standard deviation (the keys' indicators are negatively
/// correlated, so the sum of their variances bounds the variance).
fn expected_distinct(n: u64, s: f64, draws: u64) -> (f64, f64) {
    let weights: Vec<f64> = (1..=n).map(|r| (r as f64).powf(-s)).collect();
    let total: f64 = weights.iter().sum();
    let reached: Vec<f64> = weights
        .iter()
        .map(|w| 1.0 - (1.0 - w / total).powi(draws as i32))
        .collect();
    let sigma = reached.iter().map(|q| q * (1.0 - q)).sum::<f64>().sqrt();
    (reached.iter().sum(), sigma)
}

#[test]
fn zipfian_run_writes_the_expected_number_of_distinct_keys() {
    let server = redis();
    let mut con = connection(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zipf-sets.toml");
    std::fs::write(
        &file,
        format!(
            r#"
name = "zipf-sets"
thresholds = []

[keyspace]
keys = {KEYS}
prefix = "zipf-it:"
distribution = {{ kind = "zipfian", exponent = {EXPONENT} }}
value_size = "16B"

[[ops]]
kind = "set"
weight = 1

[load]
model = "closed"
clients = 4
connections = 2
total_ops = {SETS}
"#
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (status, output) = run_redline(
        &[
            "run",
            file.to_str().unwrap(),
            "--redis",
            &server.url(),
            "--out",
            out.to_str().unwrap(),
            "--keep-keys",
            "--quiet",
        ],
        Duration::from_secs(120),
    );
    assert_eq!(status.code(), Some(0), "{output}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
            .expect("report.json parses");
    let ops = report["totals"]["ops"].as_u64().expect("totals.ops");
    assert!(
        (SETS..SETS + 100).contains(&ops),
        "the run made {ops} operations, not {SETS}"
    );

    let distinct = scan(&mut con, "zipf-it:*").len() as f64;
    // 985.8 for 1 000 keys and 20 000 draws; the FNV-modulo scramble reached about 644.
    let (expected, sigma) = expected_distinct(KEYS, EXPONENT, ops);
    assert!(
        (distinct - expected).abs() <= 5.0 * sigma,
        "{distinct} distinct keys on the server, {expected:.1} expected (sigma {sigma:.1})"
    );
}
