//! Overrides, JSON, serialization round trip and file loading.

use super::*;
use crate::op::OpKind;
use std::time::Duration;

#[test]
fn overrides_replace_and_add_fields() {
    let set = |o: &[&str]| {
        let o: Vec<String> = o.iter().map(|s| s.to_string()).collect();
        parse_str(MINIMAL, Format::Toml, "x.toml", &o).unwrap_or_else(|e| panic!("{e}"))
    };
    let s = set(&[
        "load.rate=5000",
        "load.duration=5m",
        "load.arrivals=poisson",
        "keyspace.value_size=4KiB",
        "keyspace.distribution.kind=zipfian",
        "ops[0].weight=3",
        "ops[1].kind=set",
        "ops[1].weight=1",
        "target.breaker.failure_threshold=9",
        "thresholds=[\"p99 < 10ms\"]",
        "name=\"renamed\"",
        "load.rate=6000",
    ]);
    assert_eq!(
        s.load.arrival,
        Arrival::Open {
            rate: 6000.0,
            pacing: Pacing::Poisson
        }
    );
    assert_eq!(s.load.duration, Some(Duration::from_secs(300)));
    assert_eq!(s.keyspace.value_size, ValueSize::Fixed(4096));
    assert_eq!(
        s.keyspace.distribution,
        Distribution::Zipfian { exponent: 0.99 }
    );
    assert_eq!((s.ops[0].weight, s.ops[1].kind), (3.0, OpKind::Set));
    assert_eq!(s.target.breaker.failure_threshold, 9);
    assert_eq!(s.thresholds.len(), 1);
    assert_eq!(s.name, "renamed");
}

#[test]
fn overrides_are_validated_like_file_values() {
    let e = parse_err(MINIMAL, &["load.rate=-5"]);
    assert_eq!((e.field.as_str(), e.line), ("load.rate", None));
    assert_eq!(
        e.to_string(),
        "scenarios/bad.toml: load.rate: must be greater than 0 (got -5) (from --set load.rate=-5)"
    );
    let e = parse_err(MINIMAL, &["load.rat=5"]);
    assert_eq!(e.field, "load.rat");
    assert!(e.message.contains("unknown field `rat`"), "{e}");
    assert!(e.message.contains("--set load.rat=5"), "{e}");
    let e = parse_err(MINIMAL, &["keyspace.keys=lots"]);
    assert!(e.message.contains("invalid type: string \"lots\""), "{e}");
    // The override is fine alone but the file's rate no longer fits the model.
    let e = parse_err(MINIMAL, &["load.model=closed"]);
    assert_eq!((e.field.as_str(), e.line), ("load.rate", Some(10)));
    assert!(
        e.message.contains("only applies to load.model = \"open\""),
        "{e}"
    );
    let e = parse_err(MINIMAL, &["ops[3].weight=1"]);
    assert!(e.message.contains("has 1 entries"), "{e}");
    let e = parse_err(MINIMAL, &["nonsense"]);
    assert!(e.message.contains("path=value"), "{e}");
    // An error elsewhere in the file still points at its line.
    let e = parse_err(&edited("keys = 1000", "keys = 0"), &["load.rate=5"]);
    assert_eq!((e.field.as_str(), e.line), ("keyspace.keys", Some(2)));
}

/// FULL, written as JSON.
const FULL_JSON: &str = r#"{
  "name": "checkout",
  "description": "read-heavy with a slow origin",
  "thresholds": ["p95 < 40ms", "get.p99 <= 5ms", "hit_rate >= 85%"],
  "target": {
    "kind": "redis",
    "url": "redis://:secret@10.0.0.5:6380/1",
    "response_timeout": "250ms",
    "connect_timeout": "3s",
    "breaker": { "failure_threshold": 3, "reset_timeout": "30s", "success_threshold": 1,
                 "half_open_max_calls": 4, "slow_call_threshold": "100ms" },
    "fallback": { "max_bytes": "16MiB" },
    "server": { "maxmemory": "256MiB", "maxmemory_policy": "allkeys-lfu",
                "password": "hunter2", "persistence": true }
  },
  "keyspace": {
    "keys": 50000,
    "prefix": "shop:",
    "distribution": { "kind": "zipfian", "exponent": 1.1 },
    "value_size": [{ "size": "512B", "weight": 70 }, { "size": 8192, "weight": 30 }],
    "value_content": { "kind": "json", "compressibility": 0.5 }
  },
  "ops": [
    { "kind": "get_or_set", "weight": 70, "ttl": "15m", "codec": "gzip-base64",
      "compress_threshold": 2048 },
    { "kind": "get", "weight": 10 },
    { "kind": "del", "weight": 5 },
    { "kind": "mget", "weight": 10, "batch": { "min": 2, "max": 20 } },
    { "kind": "pipeline", "weight": 5, "batch": 16,
      "pipeline_mix": { "get": 60, "set": 30, "del": 10 } }
  ],
  "origin": { "latency": { "kind": "lognormal", "p50": "20ms", "p99": "80ms" },
              "concurrency": 32, "error_rate": 0.01 },
  "load": {
    "model": "open",
    "stages": [{ "duration": "30s", "target": 1000 }, { "duration": "1m", "target": 1000 }],
    "start_rate": 100, "arrivals": "poisson", "connections": 4, "pipeline_depth": 2,
    "warmup": "5s", "preload": true, "total_ops": 1000000
  }
}"#;

#[test]
fn json_reads_the_same_model() {
    let from_json = parse_str(FULL_JSON, Format::Json, "scenarios/t.json", &[]).unwrap();
    assert_eq!(from_json, parse(FULL));
    let bad = FULL_JSON.replace("\"connections\": 4", "\"connections\": 0");
    let e = parse_str(&bad, Format::Json, "t.json", &[]).unwrap_err();
    assert_eq!((e.field.as_str(), e.line), ("load.connections", Some(37)));
    let e = parse_str(
        FULL_JSON,
        Format::Json,
        "t.json",
        &["load.connections=0".into()],
    )
    .unwrap_err();
    assert_eq!((e.field.as_str(), e.line), ("load.connections", None));
}

#[test]
fn the_resolved_scenario_serializes_and_reads_back() {
    let s = parse(FULL);
    let json = serde_json::to_string_pretty(&s).unwrap();
    assert!(
        !json.contains("hunter2") && !json.contains("secret"),
        "{json}"
    );
    assert!(json.contains("\"ttl\": \"15m\""), "{json}");
    let mut back: Scenario = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back.target.url.as_deref(),
        Some("redis://:***@10.0.0.5:6380/1")
    );
    back.target.url = s.target.url.clone();
    back.target.server.password = s.target.server.password.clone();
    assert_eq!(back, s);
}

#[test]
fn load_file_picks_the_format_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let toml_path = dir.path().join("smoke.toml");
    std::fs::write(&toml_path, MINIMAL).unwrap();
    let s = load_file(&toml_path, &["load.rate=7".into()]).unwrap();
    assert_eq!(
        (s.name.as_str(), s.load.arrival.rate_at(Duration::ZERO)),
        ("smoke", Some(7.0))
    );

    let json_path = dir.path().join("full.JSON");
    std::fs::write(&json_path, FULL_JSON).unwrap();
    assert_eq!(load_file(&json_path, &[]).unwrap().name, "checkout");

    let e = load_file(&dir.path().join("x.yaml"), &[]).unwrap_err();
    assert!(e.message.contains(".toml or .json"), "{e}");
    let missing = dir.path().join("missing.toml");
    let e = load_file(&missing, &[]).unwrap_err();
    assert_eq!(e.file, missing.display().to_string());
    assert!(e.message.contains("cannot read"), "{e}");
}
