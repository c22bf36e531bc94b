//! Parsing, validation and override tests of the scenario model, over two fixtures: FULL
//! (every field, non-default values) and MINIMAL (the smallest valid file, which error tests
//! edit line by line).

mod errors;
mod fields;
mod formats;
mod limits;

use super::*;

/// Every field, in every table, with non-default values.
pub(super) const FULL: &str = r#"
name = "checkout"
description = "read-heavy with a slow origin"
thresholds = ["p95 < 40ms", "get.p99 <= 5ms", "hit_rate >= 85%"]

[target]
kind = "redis"
url = "redis://:secret@10.0.0.5:6380/1"
response_timeout = "250ms"
connect_timeout = "3s"

[target.breaker]
failure_threshold = 3
reset_timeout = "30s"
success_threshold = 1
half_open_max_calls = 4
slow_call_threshold = "100ms"

[target.fallback]
max_bytes = "16MiB"

[target.server]
maxmemory = "256MiB"
maxmemory_policy = "allkeys-lfu"
password = "hunter2"
persistence = true

[keyspace]
keys = 50_000
prefix = "shop:"
distribution = { kind = "zipfian", exponent = 1.1 }
value_size = [{ size = "512B", weight = 70 }, { size = "8KiB", weight = 30 }]
value_content = { kind = "json", compressibility = 0.5 }

[[ops]]
kind = "get_or_set"
weight = 70
ttl = "15m"
codec = "gzip-base64"
compress_threshold = "2KiB"

[[ops]]
kind = "get"
weight = 10

[[ops]]
kind = "invalidate"
weight = 5

[[ops]]
kind = "mget"
weight = 10
batch = { min = 2, max = 20 }

[[ops]]
kind = "pipeline"
weight = 5
batch = 16
pipeline_mix = { get = 60, set = 30, invalidate = 10 }

[origin]
latency = { kind = "lognormal", p50 = "20ms", p99 = "80ms" }
concurrency = 32
error_rate = "1%"

[load]
model = "open"
stages = [{ duration = "30s", target = 1000 }, { duration = "1m", target = 1000 }]
start_rate = 100
arrivals = "poisson"
connections = 4
pipeline_depth = 2
warmup = "5s"
preload = true
total_ops = 1_000_000
"#;

/// The smallest valid scenario; error tests edit it. Line numbers matter.
pub(super) const MINIMAL: &str = r#"[keyspace]
keys = 1000

[[ops]]
kind = "get"
weight = 1

[load]
model = "open"
rate = 100
duration = "10s"
"#;

pub(super) fn parse(text: &str) -> Scenario {
    parse_str(text, Format::Toml, "scenarios/t.toml", &[]).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn parse_err(text: &str, overrides: &[&str]) -> ScenarioError {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    match parse_str(text, Format::Toml, "scenarios/bad.toml", &overrides) {
        Ok(s) => panic!("parsed: {s:?}"),
        Err(e) => e,
    }
}

/// `(replace this, with this)` in MINIMAL, or appended when `from` is empty.
pub(super) fn edited(from: &str, to: &str) -> String {
    if from.is_empty() {
        format!("{MINIMAL}{to}\n")
    } else {
        assert!(MINIMAL.contains(from), "{from}");
        MINIMAL.replacen(from, to, 1)
    }
}
