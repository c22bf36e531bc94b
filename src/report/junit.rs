//! JUnit XML (`--junit FILE` on `run` and `compare`), the test-report format CI systems
//! show: one testcase per threshold of the run, one per metric compared with a baseline, and
//! one for the run's verdict (it also fails on what no threshold covers: an inconclusive run,
//! dropped operations). A failed threshold or a regression is a `<failure>`; a threshold that
//! does not apply, or a metric that could not be compared, is `<skipped>`.

use super::compare::{markdown, Comparison, MetricVerdict};
use super::format;
use super::summary::RunSummary;
use super::verdict::Verdict;
use std::io::{self, Write};

/// One testcase.
struct Case {
    classname: &'static str,
    name: String,
    /// `Some((message, details))` for a failure.
    failure: Option<(String, String)>,
    /// `Some(message)` for a skipped case.
    skipped: Option<String>,
    /// What was measured, shown under the case.
    out: String,
}

/// Writes the JUnit report of `current`, with the comparison when there was a baseline.
pub fn write(
    current: &RunSummary,
    comparison: Option<&Comparison>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let scenario = &current.scenario.name;
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    let mut run = vec![verdict_case(current)];
    run.extend(current.thresholds.iter().map(|t| {
        let measured = t
            .measured
            .map(|v| format!("measured {}", format::metric(&t.metric, v)));
        let what = measured
            .clone()
            .or_else(|| t.note.clone())
            .unwrap_or_default();
        Case {
            classname: "redline.thresholds",
            name: t.expr.clone(),
            failure: t
                .failed()
                .then(|| (format!("{}: {what}", t.expr), what.clone())),
            skipped: t
                .not_applicable()
                .then(|| t.note.clone().unwrap_or_else(|| "not applicable".into())),
            out: what,
        }
    }));
    suites.push((format!("redline run: {scenario}"), run));
    if let Some(c) = comparison {
        let cases = c
            .metrics
            .iter()
            .map(|m| {
                let line = format!(
                    "baseline {}, current {}, change {} (limit {}), {}: {}",
                    markdown::value(m.metric, m.baseline),
                    markdown::value(m.metric, m.current),
                    markdown::change(m),
                    markdown::limit(m),
                    markdown::evidence(m),
                    m.verdict.label()
                );
                Case {
                    classname: "redline.compare",
                    name: m.metric.label().to_string(),
                    failure: (m.verdict == MetricVerdict::Regression).then(|| {
                        (
                            format!("{} regressed: {line}", m.metric.label()),
                            line.clone(),
                        )
                    }),
                    skipped: matches!(
                        m.verdict,
                        MetricVerdict::NotComparable | MetricVerdict::TooFewSamples
                    )
                    .then(|| m.verdict.label().to_string()),
                    out: line,
                }
            })
            .collect();
        suites.push((format!("redline compare: {scenario}"), cases));
    }

    let all: Vec<&Case> = suites.iter().flat_map(|(_, c)| c).collect();
    let failures = all.iter().filter(|c| c.failure.is_some()).count();
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        w,
        r#"<testsuites name="redline" tests="{}" failures="{failures}" errors="0" time="{:.3}">"#,
        all.len(),
        current.duration_s
    )?;
    let timestamp = current.started_at.format("%Y-%m-%dT%H:%M:%S");
    for (name, cases) in &suites {
        let failures = cases.iter().filter(|c| c.failure.is_some()).count();
        let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
        writeln!(
            w,
            r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="0" skipped="{skipped}" timestamp="{timestamp}" time="{:.3}">"#,
            escape(name),
            cases.len(),
            current.duration_s
        )?;
        for c in cases {
            writeln!(
                w,
                r#"    <testcase classname="{}" name="{}" time="0">"#,
                c.classname,
                escape(&c.name)
            )?;
            if let Some((message, details)) = &c.failure {
                writeln!(
                    w,
                    r#"      <failure message="{}" type="{}">{}</failure>"#,
                    escape(message),
                    c.classname,
                    escape(details)
                )?;
            }
            if let Some(message) = &c.skipped {
                writeln!(w, r#"      <skipped message="{}"/>"#, escape(message))?;
            }
            if !c.out.is_empty() {
                writeln!(w, "      <system-out>{}</system-out>", escape(&c.out))?;
            }
            writeln!(w, "    </testcase>")?;
        }
        writeln!(w, "  </testsuite>")?;
    }
    writeln!(w, "</testsuites>")
}

/// The run's verdict as a testcase: fails for fail and inconclusive, with the reason.
fn verdict_case(s: &RunSummary) -> Case {
    let reason = s.verdict_reason.clone().unwrap_or_default();
    Case {
        classname: "redline.run",
        name: "verdict".to_string(),
        failure: (s.verdict != Verdict::Pass)
            .then(|| (format!("verdict {}: {reason}", s.verdict.name()), reason)),
        skipped: None,
        out: format!("verdict {}", s.verdict.name()),
    }
}

/// Text for an XML attribute or element: markup characters escaped, characters XML 1.0
/// cannot hold (control characters other than tab and newlines) replaced.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::{compare, Limits};
    use crate::report::fixture;

    fn parse(xml: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"))
    }

    #[test]
    fn thresholds_alone_parse_back_with_their_statuses() {
        let s = fixture::summary();
        let mut out = Vec::new();
        write(&s, None, &mut out).expect("write");
        let xml = String::from_utf8(out).expect("utf-8");
        let doc = parse(&xml);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 1);
        let cases: Vec<_> = suites[0]
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 1 + s.thresholds.len());
        assert_eq!(
            root.attribute("tests"),
            Some(cases.len().to_string().as_str())
        );
        for (case, t) in cases[1..].iter().zip(&s.thresholds) {
            assert_eq!(case.attribute("name"), Some(t.expr.as_str()));
            let failed = case.children().any(|n| n.has_tag_name("failure"));
            assert_eq!(failed, t.failed(), "{}", t.expr);
        }
        // The fixture fails on its error rate: the verdict case and one threshold fail.
        let failures = s.thresholds.iter().filter(|t| t.failed()).count() + 1;
        assert_eq!(
            root.attribute("failures"),
            Some(failures.to_string().as_str())
        );
        assert!(cases[0].children().any(|n| n.has_tag_name("failure")));
    }

    #[test]
    fn a_comparison_adds_one_case_per_metric() {
        let baseline = fixture::summary();
        let mut current = fixture::summary();
        current.scenario.name = "a <weird> & \"quoted\" name\u{1}".into();
        let c = compare(&baseline, &current, &Limits::default(), &[]);
        let mut out = Vec::new();
        write(&current, Some(&c), &mut out).expect("write");
        let xml = String::from_utf8(out).expect("utf-8");
        let doc = parse(&xml);
        let suites: Vec<_> = doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 2);
        assert_eq!(
            suites[1].attribute("name"),
            Some("redline compare: a <weird> & \"quoted\" name\u{FFFD}")
        );
        let names: Vec<&str> = suites[1]
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .filter_map(|n| n.attribute("name"))
            .collect();
        assert_eq!(
            names,
            [
                "p50 latency",
                "p95 latency",
                "p99 latency",
                "throughput",
                "hit rate",
                "error rate"
            ]
        );
        // The fixture's series has one measured second: too few samples, so skipped.
        assert_eq!(suites[1].attribute("skipped"), Some("6"));
    }

    #[test]
    fn a_regression_is_a_failure_with_its_evidence() {
        use crate::report::compare::tests::{synthetic, Shape, SHAPE};
        let baseline = synthetic(SHAPE, 1);
        let slower = Shape {
            p95_us: SHAPE.p95_us * 1.3,
            ..SHAPE
        };
        let current = synthetic(slower, 2);
        let c = compare(&baseline, &current, &Limits::default(), &[]);
        let mut out = Vec::new();
        write(&current, Some(&c), &mut out).expect("write");
        let xml = String::from_utf8(out).expect("utf-8");
        let doc = parse(&xml);
        let p95 = doc
            .descendants()
            .find(|n| n.attribute("name") == Some("p95 latency"))
            .expect("p95 case");
        assert_eq!(p95.attribute("classname"), Some("redline.compare"));
        let failure = p95
            .children()
            .find(|n| n.has_tag_name("failure"))
            .expect("failure");
        let message = failure.attribute("message").expect("message");
        assert!(
            message.starts_with("p95 latency regressed: baseline "),
            "{message}"
        );
        assert!(
            message.contains("(limit +10%), p < 0.0001, n = 30/30"),
            "{message}"
        );
        let p50 = doc
            .descendants()
            .find(|n| n.attribute("name") == Some("p50 latency"))
            .expect("p50 case");
        assert!(!p50.children().any(|n| n.has_tag_name("failure")));
    }
}
