//! report.html: the run on one self-contained page — verdict, thresholds, the charts
//! (inlined SVG), key numbers, the load that ran, the target and the environment. Nothing
//! is fetched: CSS is inline, fonts are the reader's own, and a Content-Security-Policy of
//! `default-src 'none'` makes the browser refuse any request the page might make. Light and
//! dark themes follow `prefers-color-scheme`. Rendered from the [`RunSummary`] alone.

use super::plot::Chart;
use super::sentences::{errors_by_kind, redis_failures};
use super::summary::{Percentiles, Provider, RunSummary};
use super::verdict::{self, ThresholdStatus, Verdict};
use super::{format, load_line, sentences};
use crate::report::plot::theme::{DARK_BG, DARK_FG, LIGHT_BG, LIGHT_FG};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn style() -> String {
    format!(
        ":root{{color-scheme:light dark;--fg:{LIGHT_FG};--bg:{LIGHT_BG};--rl-bg:{LIGHT_BG};\
         --muted:#59636e;--line:#d1d9e0;--card:#f6f8fa;--pass:#1a7f37;--fail:#cf222e;--warn:#9a6700}}
@media (prefers-color-scheme: dark){{:root{{--fg:{DARK_FG};--bg:{DARK_BG};--rl-bg:{DARK_BG};\
         --muted:#9198a1;--line:#3d444d;--card:#151b23;--pass:#3fb950;--fail:#f85149;--warn:#d29922}}}}
body{{margin:0;background:var(--bg);color:var(--fg);\
font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}}
main{{max-width:960px;margin:0 auto;padding:24px 16px 48px}}
h1{{font-size:1.6em;margin:0 0 .3em}} h2{{font-size:1.2em;margin:1.6em 0 .5em;\
border-bottom:1px solid var(--line);padding-bottom:.2em}}
.verdict{{display:inline-block;font-weight:700;padding:.15em .6em;border-radius:6px;color:#fff}}
.pass{{background:var(--pass)}} .fail{{background:var(--fail)}} .inconclusive{{background:var(--warn)}}
.muted{{color:var(--muted)}} code,pre{{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}}
.warning{{border-left:4px solid var(--warn);background:var(--card);padding:.5em .8em;margin:.6em 0}}
table{{border-collapse:collapse;width:100%;margin:.4em 0}}
th,td{{border:1px solid var(--line);padding:.3em .55em;text-align:left;vertical-align:top}}
th{{background:var(--card)}} td.num{{text-align:right;font-variant-numeric:tabular-nums}}
td.st-pass{{color:var(--pass);font-weight:700}} td.st-fail{{color:var(--fail);font-weight:700}}
td.st-na{{color:var(--muted)}}
figure{{margin:1em 0;background:var(--rl-bg);border:1px solid var(--line);border-radius:6px;padding:6px}}
figure svg{{display:block;width:100%;height:auto}}
figcaption{{color:var(--muted);font-size:.9em;padding:.2em .4em}}
pre{{background:var(--card);padding:.8em;overflow:auto;border-radius:6px}}
dl{{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}} dt{{color:var(--muted)}} dd{{margin:0}}"
    )
}

/// Writes report.html with `charts` (from [`plot::charts`](super::plot::charts)) inlined.
/// `baseline` names the report the percentile curve was compared with, if any.
pub fn write(
    s: &RunSummary,
    charts: &[Chart],
    baseline: Option<&RunSummary>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut h = String::new();
    // Writing into a String cannot fail.
    let _ = page(s, charts, baseline, &mut h);
    w.write_all(h.as_bytes())
}

fn page(
    s: &RunSummary,
    charts: &[Chart],
    baseline: Option<&RunSummary>,
    h: &mut String,
) -> std::fmt::Result {
    let name = escape(&s.scenario.name);
    writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
    )?;
    writeln!(
        h,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
    )?;
    writeln!(
        h,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(h, "<meta name=\"color-scheme\" content=\"light dark\">")?;
    writeln!(h, "<title>redline: {name} — {}</title>", s.verdict.name())?;
    writeln!(h, "<style>\n{}\n</style>\n</head>\n<body>\n<main>", style())?;
    header(s, h)?;
    warnings(s, h)?;
    thresholds(s, h)?;
    writeln!(h, "<h2>Charts</h2>")?;
    if let Some(b) = baseline {
        writeln!(
            h,
            "<p class=\"muted\">Baseline: {} started {} (its response-time curve is grey in the \
             percentile chart).</p>",
            escape(&b.scenario.name),
            escape(
                &b.started_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        )?;
    }
    for c in charts {
        writeln!(h, "<figure id=\"chart-{}\">", c.name)?;
        h.push_str(&c.inline_svg());
        writeln!(
            h,
            "<figcaption>{} ({}.svg)</figcaption>\n</figure>",
            escape(c.title),
            c.name
        )?;
    }
    key_numbers(s, h)?;
    per_op(s, h)?;
    if let Some(nodes) = &s.nodes {
        super::nodes::html(nodes, h)?;
    }
    faults_and_breaker(s, h)?;
    load_target_environment(s, h)?;
    writeln!(h, "</main>\n</body>\n</html>")
}

fn header(s: &RunSummary, h: &mut String) -> std::fmt::Result {
    let (class, word) = match s.verdict {
        Verdict::Pass => ("pass", "PASS"),
        Verdict::Fail => ("fail", "FAIL"),
        Verdict::Inconclusive => ("inconclusive", "INCONCLUSIVE"),
    };
    writeln!(h, "<h1>redline: {}</h1>", escape(&s.scenario.name))?;
    write!(
        h,
        "<p><span class=\"verdict {class}\" id=\"verdict\">{word}</span> exit {} · thresholds: {}",
        verdict::exit_code(s.verdict),
        escape(&verdict::tally(&s.thresholds).to_string())
    )?;
    if let Some(reason) = &s.verdict_reason {
        write!(h, "<br>{}", escape(reason))?;
    }
    writeln!(h, "</p>")?;
    writeln!(
        h,
        "<p class=\"muted\">started {} · {:.1} s ({:.1} s measured) · run id <code>{}</code></p>",
        escape(
            &s.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        s.duration_s,
        s.measured_s,
        escape(&s.target.run_id),
    )
}

fn warnings(s: &RunSummary, h: &mut String) -> std::fmt::Result {
    for warning in sentences::warnings(s) {
        writeln!(
            h,
            "<p class=\"warning\">⚠ <strong>{}</strong>: {}</p>",
            escape(warning.title),
            escape(&warning.text)
        )?;
    }
    Ok(())
}

fn thresholds(s: &RunSummary, h: &mut String) -> std::fmt::Result {
    writeln!(h, "<h2>Thresholds</h2>")?;
    if s.thresholds.is_empty() {
        return writeln!(h, "<p>No thresholds were set.</p>");
    }
    writeln!(
        h,
        "<table id=\"thresholds\"><tr><th>Status</th><th>Threshold</th><th>Measured</th><th>Note</th></tr>"
    )?;
    for row in sentences::threshold_rows(s) {
        let (class, word) = match row.status {
            ThresholdStatus::Pass => ("st-pass", "pass"),
            ThresholdStatus::Fail => ("st-fail", "FAIL"),
            ThresholdStatus::NotApplicable => ("st-na", "n/a"),
        };
        writeln!(
            h,
            "<tr><td class=\"{class}\">{word}</td><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(row.expr),
            escape(&row.measured),
            escape(row.note.unwrap_or(""))
        )?;
    }
    writeln!(h, "</table>")
}

fn row(h: &mut String, key: &str, value: &str) -> std::fmt::Result {
    writeln!(
        h,
        "<tr><th>{}</th><td>{}</td></tr>",
        escape(key),
        escape(value)
    )
}

fn trio(p: &Percentiles) -> String {
    format!(
        "{} / {} / {}",
        format::us(p.p50_us),
        format::us(p.p95_us),
        format::us(p.p99_us)
    )
}

fn key_numbers(s: &RunSummary, h: &mut String) -> std::fmt::Result {
    let t = &s.totals;
    writeln!(h, "<h2>Key numbers</h2>")?;
    writeln!(
        h,
        "<p class=\"muted\">Measured phase only (preload and warmup excluded): {}.</p>",
        escape(&sentences::windows(s))
    )?;
    writeln!(h, "<table id=\"key-numbers\">")?;
    row(h, "Throughput", &format::per_second(t.throughput))?;
    row(
        h,
        "Operations",
        &format!(
            "{} ({})",
            format::count(t.ops),
            format::plural(t.commands as usize, "command")
        ),
    )?;
    row(
        h,
        "Response p50 / p95 / p99",
        &trio(&s.latency.overall.response),
    )?;
    row(
        h,
        "Service p50 / p95 / p99",
        &trio(&s.latency.overall.service),
    )?;
    row(
        h,
        "Hit rate",
        &format!(
            "{} ({} hits, {} misses)",
            format::percent_opt(t.hit_rate, 1),
            format::count(t.hits),
            format::count(t.misses)
        ),
    )?;
    let kinds = errors_by_kind(s).map_or_else(String::new, |k| format!(": {k}"));
    row(
        h,
        "Errors",
        &format!(
            "{} ({}){kinds}",
            format::count(t.errors_total),
            format::percent_opt(t.error_rate, 3)
        ),
    )?;
    if let Some(line) = redis_failures(s) {
        row(
            h,
            "Redis failures (absorbed by the fallback included)",
            &line,
        )?;
    }
    row(h, "Origin calls", &format::count(t.origin_calls))?;
    row(h, "Served by the fallback", &format::count(t.fallback_ops))?;
    if let Some(c) = &s.cache_effect {
        row(h, "Cache effect", &sentences::cache_latency(c))?;
    }
    writeln!(h, "</table>")
}

fn per_op(s: &RunSummary, h: &mut String) -> std::fmt::Result {
    if s.latency.per_op.is_empty() {
        return Ok(());
    }
    writeln!(h, "<h2>Latency per operation</h2>\n<table id=\"per-op\">")?;
    writeln!(
        h,
        "<tr><th>Op</th><th>Count</th><th>p50</th><th>p95</th><th>p99</th><th>p99.9</th><th>Max</th><th>Service p99</th></tr>"
    )?;
    for (op, l) in &s.latency.per_op {
        let r = &l.response;
        write!(h, "<tr><td>{}</td>", escape(op.name()))?;
        for cell in [
            format::count(r.count),
            format::us(r.p50_us),
            format::us(r.p95_us),
            format::us(r.p99_us),
            format::us(r.p999_us),
            format::us(r.max_us),
            format::us(l.service.p99_us),
        ] {
            write!(h, "<td class=\"num\">{}</td>", escape(&cell))?;
        }
        writeln!(h, "</tr>")?;
    }
    writeln!(h, "</table>")
}

fn seconds(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |t| format!("{t:.1} s"))
}

fn faults_and_breaker(s: &RunSummary, h: &mut String) -> std::fmt::Result {
    if !s.faults.is_empty() {
        writeln!(h, "<h2>Faults</h2>\n<table id=\"faults\">")?;
        writeln!(
            h,
            "<tr><th>Fault</th><th>Kind</th><th>Planned</th><th>In force</th><th>Undone</th><th>Detail</th></tr>"
        )?;
        for f in &s.faults {
            writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>at {:.1} s for {}</td><td>{} – {}</td><td>{}</td><td>{}</td></tr>",
                escape(&f.name),
                escape(&f.kind),
                f.planned_at_s,
                seconds(Some(f.planned_for_s)),
                seconds(f.started_s),
                seconds(f.ended_s),
                if f.undone { "yes" } else { "no" },
                escape(&f.detail)
            )?;
        }
        writeln!(h, "</table>")?;
    }
    let b = &s.breaker;
    if b.final_state.is_none() && b.transitions.is_empty() {
        return Ok(());
    }
    writeln!(h, "<h2>Circuit breaker</h2>")?;
    writeln!(
        h,
        "<p>{} · final state {}</p>",
        format::plural(b.transitions.len(), "transition"),
        b.final_state.map_or("—", |st| st.name())
    )?;
    if b.transitions.is_empty() {
        return Ok(());
    }
    writeln!(
        h,
        "<table id=\"transitions\"><tr><th>At</th><th>From</th><th>To</th><th>Cause</th></tr>"
    )?;
    for t in &b.transitions {
        writeln!(
            h,
            "<tr><td class=\"num\">{:.1} s</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.t_s,
            t.from.name(),
            t.to.name(),
            escape(&t.cause)
        )?;
    }
    writeln!(h, "</table>")
}

fn load_target_environment(s: &RunSummary, h: &mut String) -> std::fmt::Result {
    writeln!(h, "<h2>Load</h2>")?;
    match load_line::describe(&s.scenario.config) {
        Some(load) => writeln!(h, "<p id=\"load\">{}</p>", escape(&load))?,
        None => writeln!(
            h,
            "<p id=\"load\" class=\"muted\">The report holds no load settings.</p>"
        )?,
    }
    writeln!(h, "<h2>Target</h2>\n<dl id=\"target\">")?;
    let t = &s.target;
    let dd = |h: &mut String, k: &str, v: &str| {
        writeln!(h, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v))
    };
    dd(h, "kind", &format!("{:?}", t.kind).to_lowercase())?;
    dd(
        h,
        "store",
        match t.provider {
            Provider::Redis => "Redis",
            Provider::Memory => "in-memory fallback",
        },
    )?;
    dd(
        h,
        "server version",
        t.server_version.as_deref().unwrap_or("—"),
    )?;
    dd(
        h,
        "URL (password redacted)",
        t.url.as_deref().unwrap_or("—"),
    )?;
    dd(h, "key prefix", t.key_prefix.as_deref().unwrap_or("—"))?;
    writeln!(h, "</dl>")?;
    writeln!(h, "<h2>Environment</h2>\n<dl id=\"environment\">")?;
    let g = &s.generator;
    dd(h, "redline", &s.redline_version)?;
    dd(h, "report schema", &s.schema)?;
    dd(
        h,
        "load generator",
        &format!(
            "{} model · CPU {:.1} s ({} of the machine){} · schedule lag p99 {}{}",
            if g.open_model { "open" } else { "closed" },
            g.cpu_s,
            format::percent(g.cpu_share, 0),
            g.cpu_us_per_op
                .map_or_else(String::new, |us| format!(", {us:.1} µs per operation")),
            format::us(g.schedule_lag_p99_us),
            if g.saturated { " · SATURATED" } else { "" }
        ),
    )?;
    if let Some(server) = &s.server {
        dd(
            h,
            "server memory",
            &format!(
                "{} used{}",
                format::bytes(server.used_memory),
                if server.maxmemory > 0 {
                    format!(" of {} maxmemory", format::bytes(server.maxmemory))
                } else {
                    " (no maxmemory)".to_string()
                }
            ),
        )?;
    }
    writeln!(h, "</dl>")?;
    let config = serde_json::to_string_pretty(&s.scenario.config).unwrap_or_default();
    writeln!(
        h,
        "<details><summary>Resolved scenario</summary><pre id=\"scenario\">{}</pre></details>",
        escape(&config)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plot::{charts, CHART_NAMES};

    fn render(s: &RunSummary, baseline: Option<&RunSummary>) -> String {
        let charts = charts(s, baseline).expect("charts");
        let mut out = Vec::new();
        write(s, &charts, baseline, &mut out).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn page_is_self_contained_with_every_section_and_chart() {
        let s = crate::report::plot::tests::synthetic();
        let html = render(&s, None);
        for bad in [
            "src=\"http",
            "href=\"http",
            "src='http",
            "href='http",
            "@import",
            "url(",
        ] {
            assert!(!html.contains(bad), "page refers outside itself: {bad}");
        }
        assert!(
            !html.contains("<script"),
            "no script needed to read the report"
        );
        assert_eq!(html.matches("<svg").count(), CHART_NAMES.len());
        for name in CHART_NAMES {
            assert!(html.contains(&format!("id=\"chart-{name}\"")), "{name}");
        }
        for id in [
            "verdict",
            "thresholds",
            "key-numbers",
            "load",
            "target",
            "environment",
            "faults",
            "transitions",
        ] {
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "section {id} missing"
            );
        }
        assert!(html.contains("prefers-color-scheme: dark"));
        assert!(html.contains("default-src 'none'"));
        assert!(html.contains("cut-redis"));
    }

    #[test]
    fn text_from_the_report_is_escaped() {
        let mut s = crate::report::fixture::summary();
        s.scenario.name = "<script>alert(1)</script>".into();
        let html = render(&s, None);
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn a_baseline_is_named() {
        let s = crate::report::fixture::summary();
        let b = crate::report::fixture::slow_cache();
        let html = render(&s, Some(&b));
        assert!(html.contains("Baseline: slow-cache"));
    }
}
