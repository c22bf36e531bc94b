//! The guide-style text report: header block, "Test N: Name" sections with ✅/❌ lines, the
//! audit, then the "Test Summary" block and a one-line verdict (or the connection error).

use std::io::{self, Write};

use super::{AuditStatus, CheckReport};

const RULE: &str = "============================================================";
const DASHES: &str = "----------------------------------------";

/// Writes `report` as the guide's test script would print it.
pub(super) fn text(report: &CheckReport, out: &mut dyn Write) -> io::Result<()> {
    banner(out, "Redis Production Setup Test")?;
    writeln!(out)?;
    let provider = match (report.target.provider, &report.target.version) {
        ("embedded", Some(v)) => format!("Redis (embedded redis-server {v})"),
        ("embedded", None) => "Redis (embedded redis-server)".to_string(),
        _ => "Redis".to_string(),
    };
    writeln!(out, "ℹ️  Provider: {provider}")?;
    writeln!(out, "ℹ️  Connecting to: {}", report.target.url)?;
    writeln!(out)?;

    for (i, check) in report.checks.iter().enumerate() {
        writeln!(out, "Test {}: {}", i + 1, check.name)?;
        writeln!(out, "{DASHES}")?;
        let mark = if check.passed { "✅" } else { "❌" };
        writeln!(out, "{mark} {}", check.detail)?;
        writeln!(out)?;
    }

    if !report.audit.is_empty() {
        banner(out, "Production Readiness Audit")?;
        for item in &report.audit {
            let mark = match item.status {
                AuditStatus::Pass => "✅ PASS",
                AuditStatus::Warn => "⚠️  WARN",
            };
            writeln!(out, "{mark}  {}: {}", item.name, item.detail)?;
        }
        writeln!(out)?;
    }
    if let Some(cleanup) = &report.cleanup_error {
        writeln!(out, "⚠️  cleanup: {cleanup}")?;
        writeln!(out)?;
    }

    banner(out, "Test Summary")?;
    writeln!(out, "Total Tests: {}", report.summary.total)?;
    writeln!(out, "✅ Passed: {}", report.summary.passed)?;
    writeln!(out, "Failed: {}", report.summary.failed)?;
    writeln!(out, "{RULE}")?;
    writeln!(out)?;
    if report.all_passed() {
        // Never "configured correctly" under audit warnings: the verdict names both.
        let s = &report.summary;
        writeln!(
            out,
            "✅ {}/{} checks passed; {}",
            s.passed,
            s.total,
            audit_summary(&report.audit)
        )?;
    } else {
        writeln!(
            out,
            "❌ {} of {} tests failed.",
            report.summary.failed, report.summary.total
        )?;
    }
    if let Some(error) = &report.error {
        writeln!(out, "error: {error}")?;
    }
    Ok(())
}

/// `production audit: 4 warnings` / `production audit: 1 warning` / `production audit: all
/// 5 passed` / `no production audit` (when it did not run).
fn audit_summary(audit: &[super::AuditItem]) -> String {
    let warnings = audit
        .iter()
        .filter(|a| matches!(a.status, AuditStatus::Warn))
        .count();
    match (audit.len(), warnings) {
        (0, _) => "no production audit".to_string(),
        (n, 0) => format!("production audit: all {n} passed"),
        (_, 1) => "production audit: 1 warning".to_string(),
        (_, w) => format!("production audit: {w} warnings"),
    }
}

fn banner(out: &mut dyn Write, title: &str) -> io::Result<()> {
    writeln!(out, "{RULE}")?;
    writeln!(out, "  {title}")?;
    writeln!(out, "{RULE}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{AuditItem, CheckResult, Summary, TargetInfo};

    fn report(passed: bool) -> CheckReport {
        let checks = ["Connection", "PING Command"]
            .into_iter()
            .map(|name| CheckResult {
                name,
                passed,
                detail: "d".into(),
            })
            .collect();
        CheckReport {
            target: TargetInfo {
                url: "redis://:***@h:1".into(),
                version: Some("7.0.15".into()),
                provider: "url",
            },
            checks,
            audit: vec![AuditItem {
                name: "tls",
                status: AuditStatus::Warn,
                detail: "plaintext".into(),
            }],
            summary: Summary {
                total: 8,
                passed: if passed { 8 } else { 0 },
                failed: if passed { 0 } else { 8 },
            },
            cleanup_error: None,
            error: (!passed).then(|| "cannot connect to redis://:***@h:1: refused".into()),
        }
    }

    fn render(report: &CheckReport) -> String {
        let mut out = Vec::new();
        text(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn passing_report_follows_the_guide_layout() {
        let out = render(&report(true));
        assert!(out.starts_with(&format!("{RULE}\n  Redis Production Setup Test\n{RULE}\n")));
        assert!(
            out.contains("Test 1: Connection\n----------------------------------------\n✅ d\n")
        );
        assert!(out.contains("⚠️  WARN  tls: plaintext\n"));
        assert!(out.contains("Total Tests: 8\n✅ Passed: 8\nFailed: 0\n"));
        assert!(
            out.trim_end()
                .ends_with("✅ 8/8 checks passed; production audit: 1 warning"),
            "{out}"
        );
        assert!(!out.contains("configured correctly"), "{out}");
    }

    #[test]
    fn the_verdict_line_counts_audit_warnings() {
        let item = |status| AuditItem {
            name: "x",
            status,
            detail: String::new(),
        };
        assert_eq!(audit_summary(&[]), "no production audit");
        assert_eq!(
            audit_summary(&[item(AuditStatus::Pass), item(AuditStatus::Pass)]),
            "production audit: all 2 passed"
        );
        assert_eq!(
            audit_summary(&[
                item(AuditStatus::Warn),
                item(AuditStatus::Pass),
                item(AuditStatus::Warn)
            ]),
            "production audit: 2 warnings"
        );
    }

    #[test]
    fn failing_report_ends_with_the_error_line() {
        let out = render(&report(false));
        assert!(out.contains("❌ d\n"));
        assert!(out
            .trim_end()
            .ends_with("error: cannot connect to redis://:***@h:1: refused"));
    }
}
