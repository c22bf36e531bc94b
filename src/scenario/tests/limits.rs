//! Input that could overflow a clock, exhaust memory or never end is refused before any load,
//! naming the field and its documented limit; every problem of a file is reported at once;
//! `validate --print` output is itself a scenario file that resolves to the same scenario.

use super::*;

fn errors(text: &str, overrides: &[&str]) -> Vec<ScenarioError> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    match parse_str_all(text, Format::Toml, "scenarios/bad.toml", &overrides) {
        Ok(s) => panic!("parsed: {s:?}"),
        Err(e) => e.all().to_vec(),
    }
}

fn accepts(text: &str, overrides: &[&str]) {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    if let Err(e) = parse_str_all(text, Format::Toml, "t.toml", &overrides) {
        panic!("{overrides:?}: {e}");
    }
}

/// Each case over its limit is refused at its field; the same field at its limit is not.
#[test]
fn values_past_their_limit_are_refused_at_their_field() {
    // (over the limit, field, at the limit)
    #[rustfmt::skip]
    let cases: &[(&[&str], &str, &[&str])] = &[
        (&["load.duration=18446744073709551615s"], "load.duration", &["load.duration=30d"]),
        (&["load.duration=31d"], "load.duration", &["load.duration=30d"]),
        (&["load.warmup=600y"], "load.warmup", &["load.warmup=30d"]),
        (&["load.warmup=31d"], "load.warmup", &["load.warmup=30d"]),
        (&["origin.latency=1000000d"], "origin.latency", &["origin.latency=1h"]),
        (&["origin.latency=61m"], "origin.latency", &["origin.latency=1h"]),
        (&["origin.latency={ kind = \"uniform\", min = \"1ms\", max = \"2h\" }"], "origin.latency.max", &[]),
        (&["origin.latency={ kind = \"lognormal\", p50 = \"1ms\", p99 = \"2h\" }"], "origin.latency.p99", &[]),
        (&["origin.concurrency=100001"], "origin.concurrency", &["origin.concurrency=100000"]),
        (&["load.model=\"closed\"", "load.rate=", "load.clients=1000000000"], "load.clients", &[]),
        (&["load.rate=1e15"], "load.rate", &["load.rate=10000000"]),
        (&["load.rate=10000001"], "load.rate", &[]),
        (&["load.stages=[{ duration = \"1s\", target = 1e12 }]", "load.rate="], "load.stages[0].target", &[]),
        (&["load.stages=[{ duration = \"31d\", target = 5 }]", "load.rate=", "load.duration=1s"], "load.stages[0].duration", &[]),
        (&["load.connections=10001"], "load.connections", &["load.connections=10000"]),
        (&["load.pipeline_depth=1001"], "load.pipeline_depth", &["load.pipeline_depth=1000"]),
        (&["load.connections=1001", "load.pipeline_depth=1000"], "load.pipeline_depth", &["load.connections=1000", "load.pipeline_depth=1000"]),
        (&["load.model=\"closed\"", "load.rate=", "load.clients=2000", "load.pipeline_depth=501"], "load.pipeline_depth", &[]),
        (&["load.total_ops=1000000000001"], "load.total_ops", &["load.total_ops=1000000000000"]),
        (&["keyspace.keys=1000000001"], "keyspace.keys", &["keyspace.keys=1000000000"]),
        (&["keyspace.value_size=\"65MiB\""], "keyspace.value_size", &["keyspace.value_size=\"64MiB\""]),
        (&["ops[0].ttl=366d"], "ops[0].ttl", &["ops[0].ttl=365d"]),
        (&["ops[0].kind=\"mget\"", "ops[0].batch=10001"], "ops[0].batch", &["ops[0].kind=\"mget\"", "ops[0].batch=10000"]),
        (&["target.response_timeout=2h"], "target.response_timeout", &["target.response_timeout=1h"]),
        (&["target.connect_timeout=2h"], "target.connect_timeout", &["target.connect_timeout=1h"]),
        (&["target.breaker.reset_timeout=2h"], "target.breaker.reset_timeout", &["target.breaker.reset_timeout=1h"]),
        (&["target.breaker.slow_call_threshold=2h"], "target.breaker.slow_call_threshold", &[]),
        (&["target.breaker.failure_threshold=1000001"], "target.breaker.failure_threshold", &["target.breaker.failure_threshold=1000000"]),
        (&["target.breaker.success_threshold=4000000000"], "target.breaker.success_threshold", &[]),
        (&["target.breaker.half_open_max_calls=1000001"], "target.breaker.half_open_max_calls", &[]),
        (&["target.fallback.max_bytes=\"65GiB\""], "target.fallback.max_bytes", &["target.fallback.max_bytes=\"64GiB\""]),
        (&["name=\"two\\nlines\""], "name", &["name=\"../../../x\""]),
        (&["load.duration=", "load.total_ops=259300000"], "load.total_ops", &["load.total_ops=259200000"]),
        (&["sizing.start_rate=0.001", "sizing.max_rate=10000000"], "sizing", &["sizing.start_rate=10", "sizing.max_rate=10000000"]),
        (&["sizing.resolution=0.000000001"], "sizing", &["sizing.resolution=0.001"]),
    ];
    let long_prefix = format!("keyspace.prefix=\"{}\"", "a".repeat(257));
    let fitting_prefix = format!("keyspace.prefix=\"{}\"", "a".repeat(256));
    let prefix_case: (&[&str], &str, &[&str]) = (
        &[long_prefix.as_str()],
        "keyspace.prefix",
        &[fitting_prefix.as_str()],
    );
    for (over, field, at) in cases.iter().chain([&prefix_case]) {
        // `load.rate=` / `load.duration=` (empty) stand for removing that line of MINIMAL.
        let mut text = MINIMAL.to_string();
        for (removal, line) in [
            ("load.rate=", "rate = 100\n"),
            ("load.duration=", "duration = \"10s\"\n"),
        ] {
            if over.contains(&removal) {
                text = text.replace(line, "");
            }
        }
        let over: Vec<&str> = over.iter().copied().filter(|o| !o.ends_with('=')).collect();
        let found = errors(&text, &over);
        assert!(
            found.iter().any(|e| e.field == *field),
            "{over:?}: expected an error at {field}, got {found:?}"
        );
        for e in &found {
            assert!(!e.message.is_empty(), "{e}");
        }
        if !at.is_empty() {
            accepts(&text, at);
        }
    }
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let text = r#"name = "many"
colour = "red"

[target]
response_timeout = "0ms"

[keyspace]
keys = 0
distribution = { kind = "zipfian", exponent = -1 }

[[ops]]
kind = "fetch"
weight = 1

[[ops]]
kind = "get"
weight = 1
ttl = "0s"

[origin]
concurrency = 200000

[load]
model = "open"
rate = -5
duration = "10s"
warmup = "600y"
"#;
    let found = errors(text, &["nonsense"]);
    let fields: Vec<(&str, Option<usize>)> =
        found.iter().map(|e| (e.field.as_str(), e.line)).collect();
    let want = [
        ("colour", Some(2)),
        ("target.response_timeout", Some(5)),
        ("keyspace.keys", Some(8)),
        ("ops[0].kind", Some(12)),
        ("ops[1].ttl", Some(18)),
        ("origin.concurrency", Some(21)),
        ("load.warmup", Some(27)),
        ("", None),
    ];
    for w in want {
        assert!(fields.contains(&w), "missing {w:?} in {fields:#?}");
    }
    // Ordered by line, overrides last.
    let lines: Vec<usize> = found.iter().map(|e| e.line.unwrap_or(usize::MAX)).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{fields:?}");
    // One line per problem when displayed.
    let all = parse_str_all(text, Format::Toml, "scenarios/bad.toml", &[])
        .unwrap_err()
        .to_string();
    assert_eq!(all.lines().count(), found.len() - 1, "{all}");
    // A section that types is validated even when others do not.
    let text = text.replace("warmup = \"600y\"", "warmup = \"31d\"");
    let fields: Vec<String> = errors(&text, &[]).into_iter().map(|e| e.field).collect();
    assert!(fields.contains(&"load.rate".to_string()), "{fields:?}");
    // Every bad threshold, not just the first.
    let text = format!("thresholds = [\"p96 < 5ms\", \"p95 < 5ms\", \"p95 < 50\"]\n{MINIMAL}");
    let fields: Vec<String> = errors(&text, &[]).into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["thresholds[0]", "thresholds[2]"]);
}

#[test]
fn printed_scenarios_read_back_as_the_same_scenario() {
    for (label, text) in [("full.toml", FULL), ("minimal.toml", MINIMAL)] {
        let s = parse_str(text, Format::Toml, label, &[]).unwrap();
        let printed = s.to_toml();
        let again = parse_str(&printed, Format::Toml, label, &[])
            .unwrap_or_else(|e| panic!("{e}\n{printed}"));
        let mut expected = s.clone();
        // Secrets print as ***.
        if expected.target.server.password.is_some() {
            expected.target.server.password = Some("***".into());
        }
        expected.target.url = expected
            .target
            .url
            .map(|u| crate::cache::config::redact_url(&u));
        assert_eq!(again, expected, "{printed}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("secret"),
            "{printed}"
        );
    }
    // Defaults are filled in.
    let printed = parse(MINIMAL).to_toml();
    for default in [
        "connect_timeout = \"10s\"",
        "failure_threshold = 5",
        "prefix = \"redline:\"",
        "connections = 8",
        "ttl = \"5m\"",
        "\"p95 < 50ms\"",
    ] {
        assert!(printed.contains(default), "{default} in\n{printed}");
    }
}
