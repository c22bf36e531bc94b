//! Terminal output: the compact end-of-run summary (at most about 22 lines; summary.md has
//! the rest). The live view during a run is [`live`](super::live).

use super::sentences::{errors_by_kind, redis_failures};
use super::summary::{Provider, RunSummary};
use super::verdict::{exit_code, tally, Verdict};
use super::{format, load_line, sentences};
use std::io::{self, Write};

/// Failed thresholds listed individually before collapsing into "... and N more".
const MAX_LISTED_FAILURES: usize = 5;

/// Writes the end-of-run summary.
pub fn write_summary(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    let verdict = match s.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "INCONCLUSIVE",
    };
    writeln!(
        w,
        "redline · {} · {verdict} (exit {})",
        s.scenario.name,
        exit_code(s.verdict)
    )?;
    if let Some(reason) = &s.verdict_reason {
        writeln!(w, "  {reason}")?;
    }
    let t = &s.totals;
    let target = match (&s.target.server_version, s.target.provider) {
        (_, Provider::Memory) => "in-memory fallback (no Redis)".to_string(),
        (Some(v), Provider::Redis) => format!("Redis {v}"),
        (None, Provider::Redis) => "Redis".to_string(),
    };
    let url = s
        .target
        .url
        .as_deref()
        .map_or_else(String::new, |u| format!(" {u}"));
    writeln!(w, "  target      {target}{url}")?;
    match &s.target.key_prefix {
        Some(prefix) => writeln!(w, "  run         {} · keys under {prefix}", s.target.run_id)?,
        None => writeln!(w, "  run         {}", s.target.run_id)?,
    }
    if let Some(batches) = s.target.cluster_batches {
        writeln!(w, "  cluster     {}", batches.describe())?;
    }
    if let Some(line) = super::generators::describe(s) {
        writeln!(w, "  generators  {line}")?;
    }
    if let Some(load) = load_line::describe(&s.scenario.config) {
        writeln!(w, "  load        {load}")?;
    }
    writeln!(
        w,
        "  duration    {:.1}s, {:.1}s measured ({})",
        s.duration_s,
        s.measured_s,
        sentences::windows(s)
    )?;
    writeln!(
        w,
        "  throughput  {}  ({} ops, {} commands)",
        format::per_second(t.throughput),
        format::count(t.ops),
        format::count(t.commands)
    )?;
    for (name, p) in [
        ("response", &s.latency.overall.response),
        ("service", &s.latency.overall.service),
    ] {
        writeln!(
            w,
            "  {name:<10}  p50 {}  p95 {}  p99 {}  max {}",
            format::us(p.p50_us),
            format::us(p.p95_us),
            format::us(p.p99_us),
            format::us(p.max_us)
        )?;
    }
    let server_hits = s.server.as_ref().map_or_else(String::new, |sv| {
        format!(
            " (Redis INFO {})",
            format::percent_opt(sv.hit_rate_server, 1)
        )
    });
    writeln!(
        w,
        "  hit rate    {}{server_hits}  origin calls {}  fallback ops {}",
        format::percent_opt(t.hit_rate, 1),
        format::count(t.origin_calls),
        format::count(t.fallback_ops)
    )?;
    let kinds = errors_by_kind(s).map_or_else(String::new, |k| format!("  [{k}]"));
    writeln!(
        w,
        "  errors      {} ({}){kinds}",
        format::count(t.errors_total),
        format::percent_opt(t.error_rate, 3)
    )?;
    if let Some(line) = redis_failures(s) {
        writeln!(w, "  redis       {line}")?;
    }
    if let Some(nodes) = &s.nodes {
        for line in nodes.terminal_lines() {
            writeln!(w, "  nodes       {line}")?;
        }
    }
    for line in super::faults::terminal_lines(&s.faults) {
        writeln!(w, "  fault       {line}")?;
    }
    if s.breaker.final_state.is_some() || !s.breaker.transitions.is_empty() {
        writeln!(
            w,
            "  breaker     {} ({})",
            s.breaker.final_state.map_or("unknown", |st| st.name()),
            format::plural(s.breaker.transitions.len(), "transition")
        )?;
    }
    if let Some(f) = &s.failover {
        for line in f.sentences() {
            writeln!(w, "  failover    {line}")?;
        }
    }
    if let Some(c) = s.consistency.as_ref().filter(|c| c.checked_reads > 0) {
        writeln!(w, "  stale       {}", c.line())?;
    }
    // A flapping breaker has many windows: the terminal shows the first few.
    let windows: Vec<_> = (s.origin.windows.iter())
        .filter(|o| o.covered_s > 0.0)
        .collect();
    for o in windows.iter().take(2) {
        writeln!(w, "  origin      {}", super::origin_windows::describe(o))?;
    }
    if windows.len() > 2 {
        writeln!(
            w,
            "  origin      and {} more (report.json origin.windows)",
            windows.len() - 2
        )?;
    }
    for line in super::backlog::describe(s, true) {
        let (name, rest) = line.split_once(": ").unwrap_or(("", &line));
        writeln!(w, "  {name:<10}  {rest}")?;
    }
    if let Some(c) = &s.cache_effect {
        writeln!(w, "  cache       {}", sentences::cache_latency(c))?;
    }
    thresholds(s, w)?;
    warnings(s, w)
}

fn thresholds(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "  thresholds  {}", tally(&s.thresholds))?;
    let failed: Vec<_> = s.thresholds.iter().filter(|t| t.failed()).collect();
    for t in failed.iter().take(MAX_LISTED_FAILURES) {
        let measured = match (t.measured, &t.note) {
            (Some(v), _) => format!("measured {}", format::metric(&t.metric, v)),
            (None, Some(note)) => note.clone(),
            (None, None) => "no data".to_string(),
        };
        writeln!(w, "    ✗ {}  {measured}", t.expr)?;
    }
    if failed.len() > MAX_LISTED_FAILURES {
        writeln!(w, "    ... and {} more", failed.len() - MAX_LISTED_FAILURES)?;
    }
    Ok(())
}

fn warnings(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    if s.generator.saturated {
        writeln!(
            w,
            "  ⚠ load generator saturated (lag p99 {}): latencies are a lower bound",
            format::us(s.generator.schedule_lag_p99_us)
        )?;
    }
    if s.aborted {
        writeln!(
            w,
            "  ⚠ run aborted{}: numbers are partial",
            super::phase::during(s.aborted_in)
        )?;
    }
    if let Some(left) = s.cleanup.as_ref().and_then(|c| c.sentence()) {
        writeln!(w, "  ⚠ {left}")?;
    }
    if s.target.provider == Provider::Memory {
        writeln!(
            w,
            "  ⚠ no Redis server: measured the in-memory fallback store"
        )?;
    }
    if let Some(warning) = &s.target.warning {
        writeln!(w, "  ⚠ {warning}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn summary_is_compact_and_names_failures() {
        let mut out = Vec::new();
        write_summary(&fixture::summary(), &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.lines().count() <= 22, "{text}");
        assert!(
            text.starts_with("redline · read-heavy · FAIL (exit 1)"),
            "{text}"
        );
        assert!(
            text.contains("✗ error_rate < 0.001  measured 0.182%"),
            "{text}"
        );
        assert!(text.contains("thresholds  5 passed, 1 failed\n"), "{text}");
        assert!(text.contains("[timeout 2]"));
    }

    #[test]
    fn summary_states_the_load_the_cache_effect_and_not_applicable_thresholds() {
        let mut out = Vec::new();
        write_summary(&fixture::slow_cache(), &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.starts_with("redline · slow-cache · PASS (exit 0)\n"),
            "{text}"
        );
        for line in [
            "  load        open model, 110 ops/s (even arrivals) for 10s after 2s warmup, keys \
             preloaded · 1,000 keys, zipfian (exponent 0.99) · values 1.0 KiB · mix get_or_set \
             9, set 1 · 4 connections × pipeline depth 32 · in-flight limit 1,000 · origin \
             200us, pool 16\n",
            "  duration    12.3s, 10.0s measured (measured phase 2.0–12.0 s; Redis INFO \
             2.0–12.0 s)\n",
            "  hit rate    80.0% (Redis INFO 79.0%)",
            "  cache       cached reads were 12× slower than the origin (p50 500µs vs 42µs)\n",
            "  thresholds  4 passed, 1 not applicable: memory — the server has no maxmemory\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(text.lines().count() <= 22, "{text}");
    }

    #[test]
    fn many_failures_collapse_and_lines_stay_bounded() {
        let mut inputs = fixture::inputs();
        let extra = inputs.thresholds.clone();
        inputs.thresholds.extend(extra);
        for t in &mut inputs.thresholds {
            t.limit = 0.0;
            t.cmp = crate::scenario::threshold::Cmp::Lt;
        }
        inputs.aborted_in = Some(crate::report::summary::Phase::Measured);
        inputs.target.warning = Some("demo".to_string());
        let s = RunSummary::build(inputs);
        let mut out = Vec::new();
        write_summary(&s, &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("... and 7 more"), "{text}");
        assert!(text.lines().count() <= 24, "{text}");
    }
}
