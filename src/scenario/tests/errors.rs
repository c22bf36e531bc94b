//! Each validation error names its field and line and says what is allowed.

use super::*;

#[test]
fn validation_errors_name_field_and_line() {
    // (from, to, field, line, message fragment)
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, Option<usize>, &str)] = &[
        ("rate = 100", "rate = -5", "load.rate", Some(10), "must be greater than 0 (got -5)"),
        ("rate = 100", "rate = 0", "load.rate", Some(10), "greater than 0"),
        ("rate = 100", "rate = \"fast\"", "load.rate", Some(10), "invalid type: string \"fast\""),
        ("keys = 1000", "keys = 0", "keyspace.keys", Some(2), "must be greater than 0 (got 0)"),
        ("keys = 1000", "keys = 1.5", "keyspace.keys", Some(2), "whole number"),
        ("keys = 1000", "kyes = 1000", "keyspace.kyes", Some(2), "unknown field `kyes`, expected one of"),
        ("keys = 1000\n", "", "keyspace.keys", Some(1), "is required"),
        ("", "pipeline_depth = 0", "load.pipeline_depth", Some(12), "greater than 0"),
        ("", "connections = -2", "load.connections", Some(12), "greater than 0 (got -2)"),
        ("duration = \"10s\"", "duration = \"10 parsecs\"", "load.duration", Some(11), "invalid duration"),
        ("duration = \"10s\"", "duration = 10", "load.duration", Some(11), "needs a unit"),
        ("duration = \"10s\"", "duration = \"0s\"", "load.duration", Some(11), "greater than 0s"),
        ("duration = \"10s\"", "total_ops = 0", "load.total_ops", Some(11), "greater than 0"),
        ("duration = \"10s\"\n", "", "load.duration", Some(8), "load.total_ops"),
        ("rate = 100\n", "", "load.rate", Some(8), "required when load.model = \"open\""),
        ("rate = 100", "rate = 100\nstages = [{ duration = \"1s\", target = 5 }]", "load.stages", Some(11), "not both"),
        ("rate = 100", "stages = []", "load.stages", Some(10), "at least one stage"),
        ("rate = 100", "stages = [{ duration = \"1s\", target = -5 }]", "load.stages[0].target", Some(10), "0 or more (got -5)"),
        ("rate = 100", "stages = [{ duration = \"1s\", target = 0 }]", "load.stages", Some(10), "nothing would be sent"),
        ("rate = 100", "stages = [{ duration = \"1s\", goal = 5 }]", "load.stages[0].goal", Some(10), "unknown field `goal`"),
        ("rate = 100", "rate = 100\nstart_rate = 5", "load.start_rate", Some(11), "only applies with load.stages"),
        ("rate = 100", "rate = 100\nclients = 5", "load.clients", Some(11), "only applies to load.model = \"closed\""),
        ("rate = 100", "rate = 100\narrivals = \"bursty\"", "load.arrivals", Some(11), "unknown variant `bursty`"),
        ("model = \"open\"\nrate = 100", "model = \"closed\"", "load.clients", Some(8), "is required when load.model = \"closed\""),
        ("model = \"open\"\nrate = 100", "model = \"closed\"\nclients = 0", "load.clients", Some(10), "greater than 0"),
        ("model = \"open\"", "model = \"bursty\"", "load.model", Some(9), "unknown variant `bursty`"),
        ("weight = 1", "weight = 0", "ops", Some(4), "weights are all 0"),
        ("weight = 1", "weight = -1", "ops[0].weight", Some(6), "must be 0 or more"),
        ("weight = 1\n", "", "ops[0].weight", Some(4), "is required"),
        ("kind = \"get\"", "kind = \"fetch\"", "ops[0].kind", Some(5), "unknown operation `fetch`"),
        ("weight = 1", "weight = 1\nbatch = 5", "ops[0].batch", Some(7), "only mget, mset and pipeline"),
        ("kind = \"get\"", "kind = \"mget\"\nbatch = { min = 9, max = 3 }", "ops[0].batch.min", Some(6), "must not exceed max"),
        ("kind = \"get\"", "kind = \"mget\"\nbatch = 0", "ops[0].batch", Some(6), "greater than 0"),
        ("kind = \"get\"", "kind = \"mget\"\nbatch = 20000", "ops[0].batch", Some(6), "at most 10000"),
        ("kind = \"get\"", "kind = \"get\"\nttl = \"0s\"", "ops[0].ttl", Some(6), "at least 1ms"),
        ("kind = \"get\"", "kind = \"get\"\ncodec = \"lz4\"", "ops[0].codec", Some(6), "unknown variant `lz4`"),
        ("kind = \"get\"", "kind = \"get\"\npipeline_mix = { get = 1 }", "ops[0].pipeline_mix", Some(6), "only pipeline"),
        ("kind = \"get\"", "kind = \"pipeline\"\npipeline_mix = { mget = 1 }", "ops[0].pipeline_mix.mget", Some(6), "only get, set and del"),
        ("kind = \"get\"", "kind = \"pipeline\"\npipeline_mix = { get = 0 }", "ops[0].pipeline_mix", Some(6), "all 0"),
        ("keys = 1000", "keys = 1000\nvalue_size = { min = \"4KiB\", max = \"1KiB\" }", "keyspace.value_size.min", Some(3), "must not exceed max"),
        ("keys = 1000", "keys = 1000\nvalue_size = \"lots\"", "keyspace.value_size", Some(3), "invalid size"),
        ("keys = 1000", "keys = 1000\nvalue_size = \"1GiB\"", "keyspace.value_size", Some(3), "64MiB"),
        ("keys = 1000", "keys = 1000\nvalue_size = [{ size = 1, weight = 0 }]", "keyspace.value_size", Some(3), "all 0"),
        ("keys = 1000", "keys = 1000\nvalue_size = true", "keyspace.value_size", Some(3), "a size (\"1KiB\"), a range"),
        ("keys = 1000", "keys = 1000\ndistribution = \"pareto\"", "keyspace.distribution", Some(3), "unknown distribution `pareto`"),
        ("keys = 1000", "keys = 1000\ndistribution = { kind = \"zipfian\", exponent = 0 }", "keyspace.distribution.exponent", Some(3), "greater than 0"),
        ("keys = 1000", "keys = 1000\ndistribution = { kind = \"zipfian\", skew = 1 }", "keyspace.distribution.skew", Some(3), "unknown field `skew`"),
        ("keys = 1000", "keys = 1000\ndistribution = { kind = \"hotspot\", hot_keys = 0 }", "keyspace.distribution.hot_keys", Some(3), "greater than 0"),
        ("keys = 1000", "keys = 1000\nvalue_content = { kind = \"json\", compressibility = 2 }", "keyspace.value_content", Some(3), "between 0 and 1"),
        ("keys = 1000", "keys = 1000\nprefix = \"a*\"", "keyspace.prefix", Some(3), "must not contain"),
        ("", "[origin]\nerror_rate = 1.5", "origin.error_rate", Some(13), "between 0 and 1 (got 1.5)"),
        ("", "[origin]\nerror_rate = -0.1", "origin.error_rate", Some(13), "between 0 and 1"),
        ("", "[origin]\nconcurrency = 0", "origin.concurrency", Some(13), "greater than 0"),
        ("", "[origin]\nlatency = { kind = \"uniform\", min = \"9ms\", max = \"1ms\" }", "origin.latency.min", Some(13), "must not exceed max"),
        ("", "[origin]\nlatency = { kind = \"lognormal\", p50 = \"9ms\", p99 = \"1ms\" }", "origin.latency.p99", Some(13), "shorter than p50"),
        ("", "[origin]\nlatency = 20", "origin.latency", Some(13), "needs a unit"),
        ("", "[target]\nurl = \"http://x\"", "target.url", Some(13), "redis://"),
        ("", "[target]\nkind = \"proxy\"", "target.kind", Some(13), "unknown variant `proxy`"),
        ("", "[target]\nresponse_timeout = \"0ms\"", "target.response_timeout", Some(13), "longer than 0s"),
        ("", "[target.breaker]\nfailure_threshold = 0", "target.breaker.failure_threshold", Some(13), "greater than 0"),
        ("", "[target.fallback]\nmax_bytes = 0", "target.fallback.max_bytes", Some(13), "greater than 0"),
        ("", "[target.server]\nmaxmemory = 0", "target.server.maxmemory", Some(13), "omit it for no limit"),
        ("", "[target.server]\nmaxmemory_policy = \"allkeys-lru\"", "target.server.maxmemory_policy", Some(13), "without target.server.maxmemory"),
        ("", "[target]\nkind = \"memory\"\n[target.server]\ntopology = \"cluster\"", "target.server.topology", Some(15), "\"cluster\" needs Redis"),
        ("", "[target]\nurl = \"redis://h\"\n[target.server]\ntopology = \"cluster\"", "target.server.topology", Some(15), "redis+cluster://"),
        ("", "[[faults]]\nname = \"promote\"\nkind = \"cluster_failover\"\nat = \"1s\"\nfor = \"1s\"", "faults[0]", Some(12), "`promote` (cluster_failover) fails over a primary of redline's own Redis Cluster"),
        ("", "[target.server]\nmaxmemory_policy = \"lru\"", "target.server.maxmemory_policy", Some(13), "unknown variant"),
        ("", "thresholds = 5", "load.thresholds", Some(12), "unknown field"),
        ("[keyspace]", "thresholds = 5\n[keyspace]", "thresholds", Some(1), "invalid type: integer `5`, expected a sequence"),
        ("[keyspace]", "thresholds = [\"p96 < 5ms\"]\n[keyspace]", "thresholds[0]", Some(1), "unknown metric `p96`"),
        ("[keyspace]", "thresholds = [\"p95 < 50\"]\n[keyspace]", "thresholds[0]", Some(1), "needs a unit"),
        ("[keyspace]", "thresholds = [\"mget.p99 < 5ms\"]\n[keyspace]", "thresholds[0]", Some(1), "not in the workload"),
        ("[keyspace]", "thresholds = [\"fetch.p99 < 5ms\"]\n[keyspace]", "thresholds[0]", Some(1), "unknown operation `fetch`"),
        ("[keyspace]", "thresholds = [\"p95 < 5ms\",\n  \"memory < 2\"]\n[keyspace]", "thresholds[1]", Some(2), "between 0 and 1"),
        ("[keyspace]", "name = \"\"\n[keyspace]", "name", Some(1), "must not be empty"),
        ("[keyspace]", "color = \"red\"\n[keyspace]", "color", Some(1), "unknown field `color`"),
        ("[[ops]]\nkind = \"get\"\nweight = 1\n", "", "ops", None, "at least one operation"),
        ("[keyspace]\nkeys = 1000\n", "", "keyspace", None, "is required"),
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
