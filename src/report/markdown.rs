//! summary.md: the run on one page a person reads in ten seconds. Verdict, the threshold
//! tally, target and the load that ran, and warnings first; then thresholds, key numbers,
//! per-operation latency, server and cache effect, breaker, compression and generator.
//! Rendered from the [`RunSummary`] alone.

use super::sentences::{errors_by_kind, redis_failures};
use super::summary::RunSummary;
use super::verdict::{self, ThresholdStatus, Verdict};
use super::{format, load_line, sentences};
use std::io::{self, Write};

/// Writes the Markdown summary.
pub fn write(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    header(s, w)?;
    warnings(s, w)?;
    thresholds(s, w)?;
    key_numbers(s, w)?;
    per_op(s, w)?;
    server_and_cache(s, w)?;
    if let Some(nodes) = &s.nodes {
        super::nodes::markdown(nodes, w)?;
    }
    super::faults::markdown(&s.faults, w)?;
    breaker(s, w)?;
    failover(s, w)?;
    compression(s, w)?;
    generator(s, w)
}

fn verdict_badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ PASS",
        Verdict::Fail => "❌ FAIL",
        Verdict::Inconclusive => "⚠️ INCONCLUSIVE",
    }
}

fn header(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "# redline: {}", s.scenario.name)?;
    writeln!(w)?;
    let tally = verdict::tally(&s.thresholds);
    match &s.verdict_reason {
        Some(reason) => {
            writeln!(w, "**{}** — {reason}", verdict_badge(s.verdict))?;
            writeln!(w)?;
            writeln!(w, "Thresholds: {tally}.")?;
        }
        None => writeln!(w, "**{}** — {tally}", verdict_badge(s.verdict))?,
    }
    writeln!(w)?;
    let t = &s.target;
    let mut target = format!("{:?}", t.kind).to_lowercase();
    if let Some(v) = &t.server_version {
        target.push_str(&format!(" (Redis {v})"));
    }
    if let Some(url) = &t.url {
        target.push_str(&format!(" at `{url}`"));
    }
    writeln!(
        w,
        "Target: {target} · started {} · {:.1} s ({:.1} s measured) · redline {}",
        s.started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        s.duration_s,
        s.measured_s,
        s.redline_version,
    )?;
    writeln!(w)?;
    match &t.key_prefix {
        Some(prefix) => writeln!(w, "Run id: `{}` · keys under `{prefix}`", t.run_id)?,
        None => writeln!(w, "Run id: `{}`", t.run_id)?,
    }
    if let Some(batches) = t.cluster_batches {
        writeln!(w)?;
        writeln!(w, "{}.", batches.describe())?;
    }
    writeln!(w)?;
    if let Some(line) = super::generators::describe(s) {
        writeln!(w, "Generators: {line}")?;
        writeln!(w)?;
    }
    if let Some(load) = load_line::describe(&s.scenario.config) {
        writeln!(w, "Load: {load}")?;
        writeln!(w)?;
    }
    Ok(())
}

fn warnings(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    for warning in sentences::warnings(s) {
        writeln!(w, "> ⚠️ **{}**: {}", warning.title, warning.text)?;
        writeln!(w)?;
    }
    Ok(())
}

fn thresholds(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "## Thresholds")?;
    writeln!(w)?;
    if s.thresholds.is_empty() {
        writeln!(w, "No thresholds were set.")?;
        return writeln!(w);
    }
    writeln!(w, "| | Threshold | Measured | Note |")?;
    writeln!(w, "|---|---|---|---|")?;
    for row in sentences::threshold_rows(s) {
        let mark = match row.status {
            ThresholdStatus::Pass => "✅",
            ThresholdStatus::Fail => "❌",
            ThresholdStatus::NotApplicable => "➖",
        };
        let note = match (row.status, row.note) {
            (ThresholdStatus::NotApplicable, Some(why)) => format!("not applicable: {why}"),
            (ThresholdStatus::NotApplicable, None) => "not applicable".to_string(),
            (_, note) => note.unwrap_or("").to_string(),
        };
        writeln!(
            w,
            "| {mark} | `{}` | {} | {} |",
            cell(row.expr),
            row.measured,
            cell(&note)
        )?;
    }
    writeln!(w)
}

fn key_numbers(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    let t = &s.totals;
    let r = &s.latency.overall.response;
    let sv = &s.latency.overall.service;
    writeln!(w, "## Key numbers")?;
    writeln!(w)?;
    writeln!(
        w,
        "Over the measured phase only (preload and warmup excluded): {}; seconds since the \
         load started.",
        sentences::windows(s)
    )?;
    writeln!(w)?;
    writeln!(w, "| Metric | Value |")?;
    writeln!(w, "|---|---|")?;
    writeln!(w, "| Throughput | {} |", format::per_second(t.throughput))?;
    writeln!(
        w,
        "| Operations | {} ({}) |",
        format::count(t.ops),
        format::plural(t.commands as usize, "command")
    )?;
    let trio = |p: &super::summary::Percentiles| {
        format!(
            "{} / {} / {}",
            format::us(p.p50_us),
            format::us(p.p95_us),
            format::us(p.p99_us)
        )
    };
    writeln!(w, "| Response p50 / p95 / p99 | {} |", trio(r))?;
    writeln!(w, "| Service p50 / p95 / p99 | {} |", trio(sv))?;
    writeln!(
        w,
        "| Hit rate | {} ({} hits, {} misses) |",
        format::percent_opt(t.hit_rate, 1),
        format::count(t.hits),
        format::count(t.misses)
    )?;
    writeln!(
        w,
        "| Errors | {} ({}){} |",
        format::count(t.errors_total),
        format::percent_opt(t.error_rate, 3),
        errors_by_kind(s).map_or_else(String::new, |k| format!(": {k}")),
    )?;
    if let Some(line) = redis_failures(s) {
        writeln!(
            w,
            "| Redis (failures the fallback absorbed included) | {line} |"
        )?;
    }
    writeln!(w, "| Origin calls | {} |", format::count(t.origin_calls))?;
    writeln!(w, "| Fallback ops | {} |", format::count(t.fallback_ops))?;
    if let Some(c) = s.consistency.as_ref().filter(|c| c.checked_reads > 0) {
        writeln!(w, "| Stale-read checker | {} |", cell(&c.line()))?;
    }
    writeln!(w)
}

fn per_op(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    if s.latency.per_op.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "## Latency per operation (response time; service p50 / p99)"
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "| Op | Count | p50 | p90 | p95 | p99 | p99.9 | Max | Mean | Service p50 | Service p99 |"
    )?;
    writeln!(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")?;
    for (op, l) in &s.latency.per_op {
        let r = &l.response;
        writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            op.name(),
            format::count(r.count),
            format::us(r.p50_us),
            format::us(r.p90_us),
            format::us(r.p95_us),
            format::us(r.p99_us),
            format::us(r.p999_us),
            format::us(r.max_us),
            format::us_f64(r.mean_us),
            format::us(l.service.p50_us),
            format::us(l.service.p99_us),
        )?;
    }
    writeln!(w)
}

fn server_and_cache(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    if let Some(sv) = &s.server {
        writeln!(
            w,
            "## Redis server (INFO change over the measured phase, {})",
            format::window(&sv.window)
        )?;
        writeln!(w)?;
        writeln!(
            w,
            "- Keyspace hits / misses: {} / {} (server hit rate {}, client {} over {})",
            format::count(sv.keyspace_hits),
            format::count(sv.keyspace_misses),
            format::percent_opt(sv.hit_rate_server, 1),
            format::percent_opt(s.totals.hit_rate, 1),
            format::window(&s.measured_window),
        )?;
        writeln!(
            w,
            "- Evicted keys: {} of {} written",
            format::count(sv.evicted_keys),
            format::count(sv.keys_written)
        )?;
        let max = if sv.maxmemory == 0 {
            "no maxmemory".to_string()
        } else {
            format!(
                "{} maxmemory, {}",
                format::bytes(sv.maxmemory),
                format::percent(sv.used_memory as f64 / sv.maxmemory as f64, 1)
            )
        };
        writeln!(
            w,
            "- Memory used: {} ({max})",
            format::bytes(sv.used_memory)
        )?;
        writeln!(
            w,
            "- Commands processed: {}",
            format::count(sv.total_commands_processed)
        )?;
        writeln!(w)?;
    }
    if let Some(c) = &s.cache_effect {
        writeln!(w, "## Cache effect (against an origin-only baseline)")?;
        writeln!(w)?;
        writeln!(w, "- Latency: {}", sentences::cache_latency(c))?;
        writeln!(w, "- Origin load: {}", sentences::origin_load(c))?;
        writeln!(w)?;
    }
    Ok(())
}

fn breaker(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    let b = &s.breaker;
    if b.transitions.is_empty() && b.final_state.is_none() {
        return Ok(());
    }
    writeln!(w, "## Circuit breaker")?;
    writeln!(w)?;
    let final_state = b.final_state.map_or("unknown", |st| st.name());
    writeln!(
        w,
        "Final state **{final_state}**, {}.",
        format::plural(b.transitions.len(), "transition")
    )?;
    writeln!(w)?;
    if !b.transitions.is_empty() {
        writeln!(w, "| t | From | To | Cause |")?;
        writeln!(w, "|--:|---|---|---|")?;
        for t in &b.transitions {
            writeln!(
                w,
                "| {:.1} s | {} | {} | {} |",
                t.t_s,
                t.from,
                t.to,
                cell(&t.cause)
            )?;
        }
        writeln!(w)?;
    }
    let windows: Vec<_> = (s.origin.windows.iter())
        .filter(|o| o.covered_s > 0.0)
        .collect();
    if !windows.is_empty() {
        writeln!(
            w,
            "Origin load while the fallback served (whole seconds of the series):"
        )?;
        writeln!(w)?;
        for o in windows {
            writeln!(w, "- {}", super::origin_windows::describe(o))?;
        }
        writeln!(w)?;
    }
    Ok(())
}

fn failover(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    let Some(f) = &s.failover else {
        return Ok(());
    };
    writeln!(w, "## Failover")?;
    writeln!(w)?;
    for line in f.sentences() {
        writeln!(w, "- {}", line.replace('|', "\\|"))?;
    }
    writeln!(w)?;
    Ok(())
}

fn compression(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    if s.compression.is_empty() {
        return Ok(());
    }
    writeln!(w, "## Compression")?;
    writeln!(w)?;
    writeln!(w, "| Codec | Raw | Wire | Ratio |")?;
    writeln!(w, "|---|--:|--:|--:|")?;
    for c in &s.compression {
        let ratio = c
            .ratio
            .map_or_else(|| "—".to_string(), |r| format!("{r:.2}×"));
        writeln!(
            w,
            "| {} | {} | {} | {ratio} |",
            cell(&c.codec),
            format::bytes(c.raw_bytes),
            format::bytes(c.wire_bytes)
        )?;
    }
    writeln!(w)
}

fn generator(s: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "## Load generator")?;
    writeln!(w)?;
    for line in super::backlog::describe(s, false) {
        writeln!(w, "- {line}")?;
    }
    Ok(())
}

/// Escapes text for a table cell: a `|` would end the cell, a newline the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use crate::report::summary::{Provider, RunSummary, TargetKind};

    fn render(s: &RunSummary) -> String {
        let mut out = Vec::new();
        write(s, &mut out).expect("write to Vec");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn verdict_comes_first_and_every_threshold_is_listed() {
        let s = fixture::summary();
        let md = render(&s);
        let first_lines: Vec<&str> = md.lines().take(3).collect();
        assert!(first_lines.iter().any(|l| l.contains("❌ FAIL")), "{md}");
        assert!(first_lines.iter().any(|l| l.contains("error_rate < 0.001")));
        for t in &s.thresholds {
            assert!(md.contains(&format!("`{}`", t.expr)), "missing {}", t.expr);
        }
        assert!(
            md.contains("| ❌ | `error_rate < 0.001` | 0.182% |"),
            "{md}"
        );
        assert!(md.contains("| ✅ | `p95 < 50ms` | 2.0ms |"), "{md}");
        assert!(md.contains("timeout 2"));
        assert!(md.contains("| get | 1,000 |"));
        assert!(md.contains("5 consecutive failures"));
        assert!(md.contains("| gzip | 9.8 KiB | 2.4 KiB | 4.00× |"));
        assert!(md.contains("## Cache effect"));
    }

    #[test]
    fn memory_provider_and_saturation_are_flagged() {
        let mut inputs = fixture::inputs();
        inputs.target.kind = TargetKind::Memory;
        inputs.target.provider = Provider::Memory;
        inputs.target.warning = Some("redis-server not found on PATH".to_string());
        inputs.server = None;
        inputs.measured.totals.lag(1_000_000);
        inputs.measured.totals.lag(1_000_000);
        let s = RunSummary::build(inputs);
        let md = render(&s);
        assert!(md.contains("⚠️ INCONCLUSIVE"));
        assert!(md.contains("Load generator saturated"));
        assert!(md.contains("No Redis server"));
        assert!(md.contains("redis-server not found on PATH"));
        assert!(
            md.contains(
                "| ➖ | `evictions < 0.01` | — | not applicable: no Redis server (in-memory store) |"
            ),
            "{md}"
        );
        assert!(!md.contains("## Redis server"));
    }

    #[test]
    fn pass_without_reason_counts_thresholds() {
        let mut inputs = fixture::inputs();
        inputs.thresholds.retain(|t| t.expr != "error_rate < 0.001");
        let md = render(&RunSummary::build(inputs));
        assert!(md.contains("**✅ PASS** — 5 passed\n"), "{md}");
    }

    #[test]
    fn summary_md_of_a_synthetic_run_reads_as_expected() {
        let md = render(&fixture::slow_cache());
        let expect = [
            "# redline: slow-cache\n\n\
             **✅ PASS** — 4 passed, 1 not applicable: memory — the server has no maxmemory\n\n",
            "Load: open model, 110 ops/s (even arrivals) for 10s after 2s warmup, keys preloaded \
             · 1,000 keys, zipfian (exponent 0.99) · values 1.0 KiB · mix get_or_set 9, set 1 · \
             4 connections × pipeline depth 32 · in-flight limit 1,000 · origin 200us, pool 16\n",
            "| ✅ | `p95 < 50ms` | 2.0ms |  |\n\
             | ✅ | `hit_rate >= 0.80` | 80.0% |  |\n\
             | ✅ | `evictions < 0.01` | 0.33% |  |\n\
             | ➖ | `memory < 0.80` | — | not applicable: the server has no maxmemory |\n\
             | ✅ | `get.p99 < 5ms` | 990µs |  |\n",
            "Over the measured phase only (preload and warmup excluded): measured phase \
             2.0–12.0 s; Redis INFO 2.0–12.0 s; seconds since the load started.\n",
            "## Redis server (INFO change over the measured phase, 2.0–12.0 s)\n\n\
             - Keyspace hits / misses: 790 / 210 (server hit rate 79.0%, client 80.0% over \
             2.0–12.0 s)\n",
            "## Cache effect (against an origin-only baseline)\n\n\
             - Latency: cached reads were 12× slower than the origin (p50 500µs vs 42µs)\n\
             - Origin load: 200 origin calls for 1,000 key reads: 80.0% fewer than without the \
             cache\n",
        ];
        for block in expect {
            assert!(
                md.contains(block),
                "summary.md lacks\n{block}\n--- in ---\n{md}"
            );
        }
        assert!(!md.contains("% lower"), "the old wording is gone: {md}");
    }

    #[test]
    fn table_cells_are_escaped() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
