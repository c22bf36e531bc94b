//! The per-node figures: deltas, the skew, restarted and silent nodes, the renderers
//! and the `hot_shard_skew` threshold.

use super::*;

/// A sample of a node that has run `ops` data commands, half of them hits.
pub(crate) fn sample(addr: &str, primary: bool, ops: u64) -> NodeSample {
    NodeSample {
        addr: addr.to_string(),
        id: format!("id-{addr}"),
        primary,
        primary_addr: (!primary).then(|| "127.0.0.1:7001".to_string()),
        run_id: "run-a".to_string(),
        data_commands: ops,
        keyspace_hits: ops / 2,
        keyspace_misses: ops / 2,
        evicted_keys: 0,
        used_memory: 2 << 20,
        maxmemory: 0,
    }
}

/// A cluster of three primaries (7001 the hottest) and one replica, after a run.
pub(crate) fn report() -> NodesReport {
    let before = [
        sample("127.0.0.1:7001", true, 100),
        sample("127.0.0.1:7002", true, 100),
        sample("127.0.0.1:7003", true, 100),
        sample("127.0.0.1:7004", false, 50),
    ];
    let after = [
        sample("127.0.0.1:7002", true, 300),
        sample("127.0.0.1:7004", false, 250),
        sample("127.0.0.1:7001", true, 700),
        sample("127.0.0.1:7003", true, 300),
    ];
    build(&before, &after, Vec::new(), Window::new(2.0, 12.0)).expect("nodes")
}

#[test]
fn skew_is_the_busiest_primarys_share_against_an_even_one() {
    let r = report();
    assert_eq!(r.primaries, 3);
    let hot = r.hot_shard.as_ref().expect("hot shard");
    // 600 of 1,000 primary ops: 0.6 × 3 = 1.8; the replica's 200 are not counted.
    assert_eq!((hot.addr.as_str(), hot.ops), ("127.0.0.1:7001", 600));
    assert_eq!((hot.share, hot.skew), (0.6, 1.8));
    let order: Vec<_> = r.nodes.iter().map(|n| (n.addr.as_str(), n.role)).collect();
    assert_eq!(
        order,
        [
            ("127.0.0.1:7001", NodeRole::Primary),
            ("127.0.0.1:7002", NodeRole::Primary),
            ("127.0.0.1:7003", NodeRole::Primary),
            ("127.0.0.1:7004", NodeRole::Replica),
        ]
    );
    assert_eq!(r.nodes[1].share, Some(0.2));
    assert_eq!(r.nodes[3].share, None, "replicas have no share");
    assert_eq!(r.nodes[3].replica_of.as_deref(), Some("127.0.0.1:7001"));
    assert_eq!(
        (r.nodes[0].keyspace_hits, r.nodes[0].hit_rate),
        (300, Some(0.5))
    );
}

#[test]
fn an_even_spread_has_skew_one_and_no_load_has_none() {
    let before = [sample("a:1", true, 0), sample("b:1", true, 0)];
    let even = [sample("a:1", true, 500), sample("b:1", true, 500)];
    let r = build(&before, &even, Vec::new(), Window::default()).expect("nodes");
    let hot = r.hot_shard.expect("hot shard");
    assert_eq!(
        (hot.addr.as_str(), hot.skew),
        ("a:1", 1.0),
        "ties go to the first"
    );
    let idle = build(&before, &before, Vec::new(), Window::default()).expect("nodes");
    assert_eq!(idle.hot_shard, None);
    assert!(
        idle.skew_sentence().contains("no skew"),
        "{}",
        idle.skew_sentence()
    );
    assert_eq!(build(&before, &[], Vec::new(), Window::default()), None);
}

#[test]
fn a_restarted_node_counts_from_its_restart() {
    let before = [sample("a:1", true, 1_000), sample("b:1", true, 1_000)];
    let mut restarted = sample("a:1", true, 40);
    restarted.run_id = "run-b".to_string();
    // d:1 did not answer at the start: it has no change to report.
    let mut late = sample("d:1", true, 5);
    late.run_id = "run-d".to_string();
    let after = [restarted, sample("b:1", true, 1_160), late];
    let r = build(&before, &after, vec!["c:1".into()], Window::default()).expect("nodes");
    assert_eq!(r.unanswered, ["c:1", "d:1"]);
    assert_eq!(r.nodes.len(), 2);
    assert_eq!((r.nodes[0].ops, r.nodes[0].restarted), (40, true));
    assert_eq!((r.nodes[1].ops, r.nodes[1].restarted), (160, false));
    assert_eq!(r.hot_shard.as_ref().map(|h| h.addr.as_str()), Some("b:1"));
    let sentence = r.skew_sentence();
    assert!(
        sentence.contains("2 nodes did not answer INFO at one end of the window: c:1, d:1"),
        "{sentence}"
    );
}

#[test]
fn sentences_and_rows_name_the_hot_node() {
    let r = report();
    assert_eq!(
        r.skew_sentence(),
        "hot shard 127.0.0.1:7001: 60.0% of the primaries' data commands, 1.80× an even \
         share (3 primaries; 1.00× is even)"
    );
    let lines = r.terminal_lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].ends_with(" · 1 replica not counted"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "  127.0.0.1:7001  600 ops (60.0%)  hit 50.0%  mem 2.0 MiB  evicted 0"
    );
    let rows = r.rows();
    assert_eq!(rows[3][1], "replica of 127.0.0.1:7001");
    assert_eq!(rows[3][3], "—");
    assert_eq!(rows.len(), r.nodes.len());
}

/// The fixture run as if against a cluster.
fn cluster_summary() -> super::super::RunSummary {
    let mut s = crate::report::fixture::summary();
    s.nodes = Some(report());
    s
}

#[test]
fn terminal_summary_shows_the_skew_and_each_primary() {
    let mut out = Vec::new();
    crate::report::terminal::write_summary(&cluster_summary(), &mut out).expect("write");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.contains("  nodes       hot shard 127.0.0.1:7001: 60.0% of the primaries'"),
        "{text}"
    );
    assert!(
        text.contains("  nodes         127.0.0.1:7003  200 ops (20.0%)"),
        "{text}"
    );
    assert!(
        !text.contains("127.0.0.1:7004"),
        "replicas stay out of the terminal"
    );
    let mut plain = Vec::new();
    let single = crate::report::fixture::summary();
    crate::report::terminal::write_summary(&single, &mut plain).expect("write");
    assert!(!String::from_utf8(plain).expect("utf-8").contains("nodes "));
}

#[test]
fn summary_md_has_the_node_table() {
    let mut out = Vec::new();
    crate::report::markdown::write(&cluster_summary(), &mut out).expect("write");
    let md = String::from_utf8(out).expect("utf-8");
    for line in [
        "## Cluster nodes (INFO change over the measured phase, 2.0–12.0 s)\n\n\
         Hot shard 127.0.0.1:7001: 60.0% of the primaries' data commands, 1.80× an even \
         share (3 primaries; 1.00× is even).\n\n\
         | Node | Role | Ops | Share | Hit rate | Used memory | Evicted |\n",
        "| 127.0.0.1:7001 | primary | 600 | 60.0% | 50.0% | 2.0 MiB | 0 |\n",
        "| 127.0.0.1:7004 | replica of 127.0.0.1:7001 | 200 | — | 50.0% | 2.0 MiB | 0 |\n",
        "Ops are the data commands",
    ] {
        assert!(md.contains(line), "missing {line:?} in\n{md}");
    }
    let mut plain = Vec::new();
    crate::report::markdown::write(&crate::report::fixture::summary(), &mut plain).expect("write");
    assert!(!String::from_utf8(plain)
        .expect("utf-8")
        .contains("Cluster nodes"));
}

#[test]
fn report_html_has_the_node_table_escaped() {
    let mut s = cluster_summary();
    if let Some(n) = s.nodes.as_mut() {
        n.nodes[0].addr = "<b>:1".into();
    }
    let charts = crate::report::plot::charts(&s, None).expect("charts");
    let mut out = Vec::new();
    crate::report::html::write(&s, &charts, None, &mut out).expect("write");
    let html = String::from_utf8(out).expect("utf-8");
    assert!(html.contains("<table id=\"nodes\">"), "{html}");
    assert!(html.contains("<p id=\"hot-shard\">Hot shard 127.0.0.1:7001: 60.0%"));
    assert!(html.contains("<td>&lt;b&gt;:1</td><td>primary</td><td class=\"num\">600</td>"));
    assert!(!html.contains("<b>:1"));
}

#[test]
fn hot_shard_skew_threshold_measures_the_skew_or_says_why_not() {
    use crate::report::thresholds::{measurement, Measurement};
    use crate::scenario::threshold::Metric;
    let skew = Metric::HotShardSkew;
    let mut s = cluster_summary();
    assert_eq!(measurement(&s, &skew), Measurement::Value(1.8));
    let t = crate::scenario::Threshold::parse("hot_shard_skew < 1.5").expect("parse");
    let judged = crate::report::verdict::evaluate(&s, &[t]);
    assert!(judged[0].failed(), "{judged:?}");
    assert_eq!(
        crate::report::format::metric(&skew, 1.8),
        "1.80×",
        "shown as a factor"
    );
    if let Some(n) = s.nodes.as_mut() {
        n.hot_shard = None;
    }
    assert!(matches!(measurement(&s, &skew), Measurement::NoData(_)));
    s.nodes = None;
    assert_eq!(
        measurement(&s, &skew),
        Measurement::NotApplicable("a single-node target has no shards".into())
    );
    s.target.url = Some("redis+cluster://127.0.0.1:7001,127.0.0.1:7002".into());
    assert!(matches!(measurement(&s, &skew), Measurement::NoData(_)));
}

#[test]
fn the_section_reads_back_and_older_reports_have_none() {
    let r = report();
    let json = serde_json::to_string(&r).expect("json");
    assert!(!json.contains("unanswered") && !json.contains("restarted"));
    assert_eq!(serde_json::from_str::<NodesReport>(&json).expect("read"), r);
    let mut text = Vec::new();
    crate::report::json::write(&cluster_summary(), &mut text).expect("json");
    let whole: serde_json::Value = serde_json::from_slice(&text).expect("json");
    assert_eq!(whole["nodes"]["hot_shard"]["skew"], 1.8);
    let mut plain = Vec::new();
    crate::report::json::write(&crate::report::fixture::summary(), &mut plain).expect("json");
    let plain: serde_json::Value = serde_json::from_slice(&plain).expect("json");
    assert!(
        plain.get("nodes").is_none(),
        "absent for single-node targets"
    );
}
