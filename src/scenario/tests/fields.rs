//! Every field form is read into the model, and absent fields get the documented defaults.

use super::*;
use crate::op::OpKind;
use std::collections::BTreeMap;
use std::time::Duration;

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
    assert_eq!(
        (s.load.connections, s.load.pipeline_depth),
        (8, crate::scenario::load::DEFAULT_OPEN_PIPELINE_DEPTH),
        "the open model pipelines by default; the closed model's default depth is 1"
    );
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
