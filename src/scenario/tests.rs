//! Parsing, validation and override tests of the scenario model: every field form, every
//! validation error with its path and line, and TOML/JSON equivalence.

use super::*;
use crate::op::OpKind;
use std::collections::BTreeMap;
use std::time::Duration;

/// Every field, in every table, with non-default values.
const FULL: &str = r#"
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
const MINIMAL: &str = r#"[keyspace]
keys = 1000

[[ops]]
kind = "get"
weight = 1

[load]
model = "open"
rate = 100
duration = "10s"
"#;

fn parse(text: &str) -> Scenario {
    parse_str(text, Format::Toml, "scenarios/t.toml", &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(text: &str, overrides: &[&str]) -> ScenarioError {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    match parse_str(text, Format::Toml, "scenarios/bad.toml", &overrides) {
        Ok(s) => panic!("parsed: {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn full_scenario_reads_every_field() {
    let s = parse(FULL);
    assert_eq!(s.name, "checkout");
    assert_eq!(
        s.description.as_deref(),
        Some("read-heavy with a slow origin")
    );

    let t = &s.target;
    assert_eq!(t.kind, TargetKind::Redis);
    assert_eq!(t.url.as_deref(), Some("redis://:secret@10.0.0.5:6380/1"));
    assert_eq!(t.response_timeout, Duration::from_millis(250));
    assert_eq!(t.connect_timeout, Duration::from_secs(3));
    let b = &t.breaker;
    assert_eq!(
        (
            b.failure_threshold,
            b.success_threshold,
            b.half_open_max_calls
        ),
        (3, 1, 4)
    );
    assert_eq!(b.reset_timeout, Duration::from_secs(30));
    assert_eq!(b.slow_call_threshold, Some(Duration::from_millis(100)));
    assert_eq!(t.fallback.max_bytes, 16 << 20);
    assert_eq!(t.server.maxmemory, Some(256 << 20));
    assert_eq!(t.server.maxmemory_policy, Some(MaxmemoryPolicy::AllkeysLfu));
    assert_eq!(t.server.password.as_deref(), Some("hunter2"));
    assert!(t.server.persistence);

    let k = &s.keyspace;
    assert_eq!((k.keys, k.prefix.as_str()), (50_000, "shop:"));
    assert_eq!(k.distribution, Distribution::Zipfian { exponent: 1.1 });
    assert_eq!(
        k.value_size,
        ValueSize::Weighted(vec![
            WeightedSize {
                size: 512,
                weight: 70.0
            },
            WeightedSize {
                size: 8192,
                weight: 30.0
            },
        ])
    );
    assert_eq!(
        k.value_content,
        ValueContent::Json {
            compressibility: 0.5
        }
    );

    let kinds: Vec<OpKind> = s.ops.iter().map(|o| o.kind).collect();
    use OpKind::*;
    assert_eq!(kinds, [GetOrSet, Get, Del, Mget, Pipeline]);
    let gos = &s.ops[0];
    assert_eq!((gos.weight, gos.ttl), (70.0, Duration::from_secs(900)));
    assert_eq!(
        (gos.codec, gos.compress_threshold),
        (Codec::GzipBase64, 2048)
    );
    assert_eq!(gos.batch, Batch::Fixed(1));
    assert_eq!(s.ops[1].ttl, Duration::from_secs(300), "the guide's MEDIUM");
    assert_eq!(
        (s.ops[1].codec, s.ops[1].compress_threshold),
        (Codec::None, 1024)
    );
    assert_eq!(s.ops[3].batch, Batch::Range { min: 2, max: 20 });
    assert_eq!(s.ops[4].batch, Batch::Fixed(16));
    assert_eq!(
        s.ops[4].pipeline_mix,
        Some(BTreeMap::from([(Get, 60.0), (Set, 30.0), (Del, 10.0)]))
    );
    assert_eq!(s.ops[3].pipeline_mix, None);

    assert_eq!(
        s.origin.latency,
        Latency::Lognormal {
            p50: Duration::from_millis(20),
            p99: Duration::from_millis(80)
        }
    );
    assert_eq!((s.origin.concurrency, s.origin.error_rate), (32, 0.01));

    let l = &s.load;
    assert_eq!(
        l.arrival,
        Arrival::Ramp {
            start_rate: 100.0,
            stages: vec![
                Stage {
                    duration: Duration::from_secs(30),
                    target: 1000.0
                },
                Stage {
                    duration: Duration::from_secs(60),
                    target: 1000.0
                },
            ],
            pacing: Pacing::Poisson,
        }
    );
    assert_eq!((l.connections, l.pipeline_depth), (4, 2));
    assert_eq!((l.warmup, l.preload), (Duration::from_secs(5), true));
    assert_eq!(
        l.duration,
        Some(Duration::from_secs(90)),
        "sum of the stages"
    );
    assert_eq!(l.total_ops, Some(1_000_000));

    let exprs: Vec<&str> = s.thresholds.iter().map(|t| t.expr.as_str()).collect();
    assert_eq!(exprs, ["p95 < 40ms", "get.p99 <= 5ms", "hit_rate >= 85%"]);
    assert_eq!(s.thresholds[0].limit, 40_000.0);
}

#[test]
fn defaults_follow_the_guide() {
    let s = parse(MINIMAL);
    assert_eq!(s.name, "t", "the file stem");
    assert_eq!(s.description, None);
    assert_eq!(s.target, TargetSpec::default());
    assert_eq!(s.target.kind, TargetKind::Managed);
    assert_eq!(s.target.response_timeout, Duration::from_millis(500));
    assert_eq!(s.target.connect_timeout, Duration::from_secs(10));
    let b = &s.target.breaker;
    assert_eq!(
        (
            b.failure_threshold,
            b.success_threshold,
            b.half_open_max_calls
        ),
        (5, 2, 2)
    );
    assert_eq!(b.reset_timeout, Duration::from_secs(60));
    assert_eq!(s.target.fallback.max_bytes, 64 << 20);
    assert_eq!(s.target.server, ServerSpec::default());
    assert_eq!(s.keyspace.prefix, "redline:");
    assert_eq!(s.keyspace.distribution, Distribution::Uniform);
    assert_eq!(s.keyspace.value_size, ValueSize::Fixed(1024));
    assert_eq!(s.keyspace.value_content, ValueContent::Random);
    assert_eq!(s.origin, OriginSpec::default());
    assert_eq!(
        s.load.arrival,
        Arrival::Open {
            rate: 100.0,
            pacing: Pacing::Even
        }
    );
    assert_eq!((s.load.connections, s.load.pipeline_depth), (8, 1));
    assert_eq!((s.load.warmup, s.load.preload), (Duration::ZERO, false));
    assert_eq!(
        (s.load.duration, s.load.total_ops),
        (Some(Duration::from_secs(10)), None)
    );
    let exprs: Vec<&str> = s.thresholds.iter().map(|t| t.expr.as_str()).collect();
    assert_eq!(exprs, threshold::GUIDE_DEFAULTS);
}

#[test]
fn shorthand_forms() {
    let with = |table: &str, line: &str| {
        let text = MINIMAL.replace(&format!("[{table}]\n"), &format!("[{table}]\n{line}\n"));
        parse(&text)
    };
    let ks = |line: &str| with("keyspace", line).keyspace;
    assert_eq!(
        ks("distribution = \"zipfian\"").distribution,
        Distribution::Zipfian { exponent: 0.99 }
    );
    assert_eq!(
        ks("distribution = \"hotspot\"").distribution,
        Distribution::Hotspot {
            hot_keys: 0.2,
            hot_requests: 0.8
        }
    );
    assert_eq!(
        ks("distribution = { kind = \"hotspot\", hot_keys = \"10%\", hot_requests = 0.9 }")
            .distribution,
        Distribution::Hotspot {
            hot_keys: 0.1,
            hot_requests: 0.9
        }
    );
    assert_eq!(
        ks("distribution = { kind = \"sequential\" }").distribution,
        Distribution::Sequential
    );
    assert_eq!(ks("value_size = 4096").value_size, ValueSize::Fixed(4096));
    assert_eq!(
        ks("value_size = \"4KiB\"").value_size,
        ValueSize::Fixed(4096)
    );
    assert_eq!(
        ks("value_size = { min = 100, max = \"1KiB\" }").value_size,
        ValueSize::Uniform {
            min: 100,
            max: 1024
        }
    );
    assert_eq!(
        ks("value_content = \"json\"").value_content,
        ValueContent::Json {
            compressibility: 0.7
        }
    );
    assert_eq!(
        ks("value_content = { kind = \"random\" }").value_content,
        ValueContent::Random
    );

    let origin = |line: &str| {
        let text = format!("{MINIMAL}\n[origin]\n{line}\n");
        parse(&text).origin.latency
    };
    assert_eq!(
        origin("latency = \"5ms\""),
        Latency::Fixed {
            value: Duration::from_millis(5)
        }
    );
    assert_eq!(
        origin("latency = { kind = \"uniform\", min = \"1ms\", max = \"9ms\" }"),
        Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(9)
        }
    );

    let closed = MINIMAL.replace(
        "model = \"open\"\nrate = 100",
        "model = \"closed\"\nclients = 16\nthink_time = \"10ms\"",
    );
    assert_eq!(
        parse(&closed).load.arrival,
        Arrival::Closed {
            clients: 16,
            think_time: Some(Duration::from_millis(10))
        }
    );
    let by_count = MINIMAL.replace("duration = \"10s\"", "total_ops = 5000");
    let load = parse(&by_count).load;
    assert_eq!((load.duration, load.total_ops), (None, Some(5000)));

    let mset = MINIMAL.replace("kind = \"get\"", "kind = \"mset\"");
    assert_eq!(parse(&mset).ops[0].batch, Batch::Fixed(10), "default batch");
    let pipeline = MINIMAL.replace("kind = \"get\"", "kind = \"pipeline\"");
    assert_eq!(
        parse(&pipeline).ops[0].pipeline_mix,
        Some(BTreeMap::from([(OpKind::Get, 80.0), (OpKind::Set, 20.0)]))
    );
    let none = format!("thresholds = []\n{MINIMAL}");
    assert!(parse(&none).thresholds.is_empty());
    let policy = format!("{MINIMAL}\n[target.server]\nmaxmemory = \"64MiB\"\n");
    assert_eq!(
        parse(&policy).target.server.maxmemory_policy,
        Some(MaxmemoryPolicy::AllkeysLru)
    );
}

/// `(replace this, with this)` in MINIMAL, or appended when `from` is empty.
fn edited(from: &str, to: &str) -> String {
    if from.is_empty() {
        format!("{MINIMAL}{to}\n")
    } else {
        assert!(MINIMAL.contains(from), "{from}");
        MINIMAL.replacen(from, to, 1)
    }
}

#[test]
fn validation_errors_name_field_and_line() {
    // (from, to, field, line, message fragment)
    let cases: &[(&str, &str, &str, Option<usize>, &str)] = &[
        (
            "rate = 100",
            "rate = -5",
            "load.rate",
            Some(10),
            "must be greater than 0 (got -5)",
        ),
        (
            "rate = 100",
            "rate = 0",
            "load.rate",
            Some(10),
            "greater than 0",
        ),
        (
            "rate = 100",
            "rate = \"fast\"",
            "load.rate",
            Some(10),
            "invalid type: string \"fast\"",
        ),
        (
            "keys = 1000",
            "keys = 0",
            "keyspace.keys",
            Some(2),
            "must be greater than 0 (got 0)",
        ),
        (
            "keys = 1000",
            "keys = 1.5",
            "keyspace.keys",
            Some(2),
            "whole number",
        ),
        (
            "keys = 1000",
            "kyes = 1000",
            "keyspace.kyes",
            Some(2),
            "unknown field `kyes`, expected one of",
        ),
        ("keys = 1000\n", "", "keyspace.keys", Some(1), "is required"),
        (
            "",
            "pipeline_depth = 0",
            "load.pipeline_depth",
            Some(12),
            "greater than 0",
        ),
        (
            "duration = \"10s\"",
            "duration = \"10 parsecs\"",
            "load.duration",
            Some(11),
            "invalid duration",
        ),
        (
            "duration = \"10s\"",
            "duration = 10",
            "load.duration",
            Some(11),
            "needs a unit",
        ),
        (
            "duration = \"10s\"",
            "total_ops = 0",
            "load.total_ops",
            Some(11),
            "greater than 0",
        ),
        (
            "duration = \"10s\"\n",
            "",
            "load.duration",
            Some(8),
            "load.total_ops",
        ),
        (
            "rate = 100\n",
            "",
            "load.rate",
            Some(8),
            "required when load.model = \"open\"",
        ),
        (
            "rate = 100",
            "rate = 100\nstages = [{ duration = \"1s\", target = 5 }]",
            "load.stages",
            Some(11),
            "not both",
        ),
        (
            "rate = 100",
            "rate = 100\nclients = 5",
            "load.clients",
            Some(11),
            "only applies to load.model = \"closed\"",
        ),
        (
            "model = \"open\"\nrate = 100",
            "model = \"closed\"",
            "load.clients",
            Some(8),
            "is required when load.model = \"closed\"",
        ),
        (
            "model = \"open\"",
            "model = \"bursty\"",
            "load.model",
            Some(9),
            "unknown variant `bursty`",
        ),
        (
            "weight = 1",
            "weight = 0",
            "ops",
            Some(4),
            "weights are all 0",
        ),
        (
            "weight = 1",
            "weight = -1",
            "ops[0].weight",
            Some(6),
            "must be 0 or more",
        ),
        (
            "kind = \"get\"",
            "kind = \"fetch\"",
            "ops[0].kind",
            Some(5),
            "unknown operation `fetch`",
        ),
        (
            "weight = 1",
            "weight = 1\nbatch = 5",
            "ops[0].batch",
            Some(7),
            "only mget, mset and pipeline",
        ),
        (
            "kind = \"get\"",
            "kind = \"mget\"\nbatch = { min = 9, max = 3 }",
            "ops[0].batch.min",
            Some(6),
            "must not exceed max",
        ),
        (
            "kind = \"get\"",
            "kind = \"mget\"\nbatch = 0",
            "ops[0].batch",
            Some(6),
            "greater than 0",
        ),
        (
            "kind = \"get\"",
            "kind = \"get\"\nttl = \"0s\"",
            "ops[0].ttl",
            Some(6),
            "at least 1ms",
        ),
        (
            "kind = \"get\"",
            "kind = \"get\"\ncodec = \"lz4\"",
            "ops[0].codec",
            Some(6),
            "unknown variant `lz4`",
        ),
        (
            "kind = \"get\"",
            "kind = \"pipeline\"\npipeline_mix = { mget = 1 }",
            "ops[0].pipeline_mix.mget",
            Some(6),
            "only get, set and del",
        ),
        (
            "keys = 1000",
            "keys = 1000\nvalue_size = { min = \"4KiB\", max = \"1KiB\" }",
            "keyspace.value_size.min",
            Some(3),
            "must not exceed max",
        ),
        (
            "keys = 1000",
            "keys = 1000\nvalue_size = \"lots\"",
            "keyspace.value_size",
            Some(3),
            "invalid size",
        ),
        (
            "keys = 1000",
            "keys = 1000\nvalue_size = \"1GiB\"",
            "keyspace.value_size",
            Some(3),
            "64MiB",
        ),
        (
            "keys = 1000",
            "keys = 1000\nvalue_size = [{ size = 1, weight = 0 }]",
            "keyspace.value_size",
            Some(3),
            "all 0",
        ),
        (
            "keys = 1000",
            "keys = 1000\ndistribution = \"pareto\"",
            "keyspace.distribution",
            Some(3),
            "unknown distribution `pareto`",
        ),
        (
            "keys = 1000",
            "keys = 1000\ndistribution = { kind = \"zipfian\", exponent = 0 }",
            "keyspace.distribution.exponent",
            Some(3),
            "greater than 0",
        ),
        (
            "keys = 1000",
            "keys = 1000\ndistribution = { kind = \"zipfian\", skew = 1 }",
            "keyspace.distribution.skew",
            Some(3),
            "unknown field `skew`",
        ),
        (
            "keys = 1000",
            "keys = 1000\nprefix = \"a*\"",
            "keyspace.prefix",
            Some(3),
            "must not contain",
        ),
        (
            "",
            "[origin]\nerror_rate = 1.5",
            "origin.error_rate",
            Some(13),
            "between 0 and 1 (got 1.5)",
        ),
        (
            "",
            "[origin]\nlatency = { kind = \"uniform\", min = \"9ms\", max = \"1ms\" }",
            "origin.latency.min",
            Some(13),
            "must not exceed max",
        ),
        (
            "",
            "[origin]\nlatency = { kind = \"lognormal\", p50 = \"9ms\", p99 = \"1ms\" }",
            "origin.latency.p99",
            Some(13),
            "shorter than p50",
        ),
        (
            "",
            "[origin]\nlatency = 20",
            "origin.latency",
            Some(13),
            "needs a unit",
        ),
        (
            "",
            "[target]\nurl = \"http://x\"",
            "target.url",
            Some(13),
            "redis://",
        ),
        (
            "",
            "[target]\nkind = \"proxy\"",
            "target.kind",
            Some(13),
            "unknown variant `proxy`",
        ),
        (
            "",
            "[target.breaker]\nfailure_threshold = 0",
            "target.breaker.failure_threshold",
            Some(13),
            "greater than 0",
        ),
        (
            "",
            "[target.server]\nmaxmemory_policy = \"allkeys-lru\"",
            "target.server.maxmemory_policy",
            Some(13),
            "without target.server.maxmemory",
        ),
        (
            "",
            "[target.server]\nmaxmemory_policy = \"lru\"",
            "target.server.maxmemory_policy",
            Some(13),
            "unknown variant",
        ),
        (
            "",
            "thresholds = 5",
            "load.thresholds",
            Some(12),
            "unknown field",
        ),
        (
            "[keyspace]",
            "thresholds = [\"p96 < 5ms\"]\n[keyspace]",
            "thresholds[0]",
            Some(1),
            "unknown metric `p96`",
        ),
        (
            "[keyspace]",
            "thresholds = [\"p95 < 50\"]\n[keyspace]",
            "thresholds[0]",
            Some(1),
            "needs a unit",
        ),
        (
            "[keyspace]",
            "thresholds = [\"mget.p99 < 5ms\"]\n[keyspace]",
            "thresholds[0]",
            Some(1),
            "not in the workload",
        ),
        (
            "[keyspace]",
            "thresholds = [\"fetch.p99 < 5ms\"]\n[keyspace]",
            "thresholds[0]",
            Some(1),
            "unknown operation `fetch`",
        ),
        (
            "[keyspace]",
            "name = \"\"\n[keyspace]",
            "name",
            Some(1),
            "must not be empty",
        ),
        (
            "[keyspace]",
            "color = \"red\"\n[keyspace]",
            "color",
            Some(1),
            "unknown field `color`",
        ),
        (
            "[[ops]]\nkind = \"get\"\nweight = 1\n",
            "",
            "ops",
            None,
            "at least one operation",
        ),
        (
            "[keyspace]\nkeys = 1000\n",
            "",
            "keyspace",
            None,
            "is required",
        ),
    ];
    for (from, to, field, line, fragment) in cases {
        let e = parse_err(&edited(from, to), &[]);
        let case = format!("{from:?} -> {to:?}: {e}");
        assert_eq!(e.file, "scenarios/bad.toml", "{case}");
        assert_eq!(e.field, *field, "{case}");
        assert_eq!(e.line, *line, "{case}");
        assert!(e.message.contains(fragment), "{case}");
    }
}

#[test]
fn error_display_matches_the_documented_form() {
    let e = parse_err(&edited("rate = 100", "rate = -5"), &[]);
    assert_eq!(
        e.to_string(),
        "scenarios/bad.toml:10: load.rate: must be greater than 0 (got -5)"
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let e = parse_err(&edited("rate = 100", "rate = = 100"), &[]);
    assert_eq!((e.line, e.field.as_str()), (Some(10), ""));
}

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
