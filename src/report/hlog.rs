//! The HdrHistogram interval log (`latency.hlog` in a run directory): one response-time
//! histogram per second of the run, in the text format HdrHistogram's own tools read (Java's
//! `HistogramLogReader` and `HistogramLogProcessor`, Python's `hdrh.log.HistogramLogReader`,
//! the Rust crate's `IntervalLogIterator`).
//!
//! The interval histograms come from the aggregator's once-a-second merge
//! ([`IntervalHistogram`], kept in report.json under `histograms.intervals`), so the log can
//! be written again from report.json alone. Values are microseconds; `Interval_Max` is in
//! milliseconds (`MaxValueDivisor` 1000), as the Java tools expect of latency logs.

use super::summary::RunSummary;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// File name of the interval log inside a run directory.
pub const LATENCY_HLOG: &str = "latency.hlog";

/// `Interval_Max` is the interval's largest value divided by this: µs to ms.
pub const MAX_VALUE_DIVISOR: f64 = 1000.0;

/// The response-time histogram of one interval of the time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalHistogram {
    /// Start of the interval, seconds since the load started (the clock of `timeseries[].t_s`;
    /// the interval ends at its point's `t_s`).
    pub start_s: f64,
    /// Length of the interval, seconds.
    pub length_s: f64,
    /// Largest response time in the interval, µs (0 when nothing completed).
    pub max_us: u64,
    /// True for warmup intervals (left out of the run's totals, kept in the log).
    #[serde(default)]
    pub warmup: bool,
    /// Base64 HdrHistogram V2 compressed encoding (the `.hlog` line's last column).
    pub histogram: String,
}

/// Writes the interval log of `summary`: the header lines HdrHistogram's writers emit
/// (format version, `StartTime`, `BaseTime`, `MaxValueDivisor`, the column legend), then one
/// line per interval. Timestamps are seconds since `BaseTime`, the start of the load.
pub fn write(summary: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    let start = summary.started_at;
    let epoch_s = start.timestamp_millis() as f64 / 1000.0;
    writeln!(w, "#[Histogram log format version 1.3]")?;
    writeln!(
        w,
        "#[Logged with redline {}: response time in microseconds, scenario {}]",
        summary.redline_version,
        comment_safe(&summary.scenario.name)
    )?;
    writeln!(
        w,
        "#[StartTime: {epoch_s:.3} (seconds since epoch), {}]",
        start.to_rfc3339_opts(SecondsFormat::Millis, true)
    )?;
    writeln!(w, "#[BaseTime: {epoch_s:.3} (seconds since epoch)]")?;
    writeln!(w, "#[MaxValueDivisor: {MAX_VALUE_DIVISOR:.3}]")?;
    writeln!(
        w,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    )?;
    for iv in &summary.histograms.intervals {
        writeln!(
            w,
            "{:.3},{:.3},{:.3},{}",
            iv.start_s,
            iv.length_s,
            iv.max_us as f64 / MAX_VALUE_DIVISOR,
            iv.histogram
        )?;
    }
    Ok(())
}

/// A scenario name inside a `#[...]` comment: one line, no closing bracket.
fn comment_safe(name: &str) -> String {
    name.chars()
        .map(|c| if c == ']' || c.is_control() { '_' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::OpKind;
    use crate::report::{decode_histogram, fixture, Aggregator, RunSummary};
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use std::time::Duration;

    /// A summary built from three aggregated seconds: one warmup, two measured.
    fn summary() -> RunSummary {
        let mut agg = Aggregator::new();
        let w = agg.register();
        for (second, n) in [(1u64, 10u64), (2, 200), (3, 30)] {
            for v in 0..n {
                w.lock()
                    .expect("lock")
                    .record(OpKind::Get, 100 + v * 13, 90);
            }
            agg.tick(Duration::from_secs(second), None, second > 1);
        }
        let mut inputs = fixture::inputs();
        inputs.measured = agg.finish();
        RunSummary::build(inputs)
    }

    #[test]
    fn every_interval_is_logged_and_reads_back_with_the_crates_parser() {
        let summary = summary();
        let mut out = Vec::new();
        write(&summary, &mut out).expect("write");
        let text = String::from_utf8(out.clone()).expect("utf-8");
        assert!(text.contains("\n#[StartTime: "), "{text}");
        assert!(text.contains("\n#[BaseTime: "), "{text}");
        assert!(text.contains("\n#[MaxValueDivisor: 1000.000]\n"), "{text}");
        assert!(text.contains(
            "\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
        ));

        let mut counts = Vec::new();
        let mut starts = Vec::new();
        let mut saw_start_time = false;
        for entry in IntervalLogIterator::new(&out) {
            match entry.expect("parses") {
                LogEntry::Interval(iv) => {
                    let h = decode_histogram(iv.encoded_histogram()).expect("decodes");
                    counts.push(h.len());
                    starts.push(iv.start_timestamp().as_secs_f64());
                    assert!((iv.max() - h.max() as f64 / 1000.0).abs() < 0.001);
                }
                LogEntry::StartTime(_) => saw_start_time = true,
                LogEntry::BaseTime(_) => {}
            }
        }
        assert!(saw_start_time);
        assert_eq!(counts, [10, 200, 30]);
        assert_eq!(starts, [0.0, 1.0, 2.0]);
        let measured: u64 = counts[1..].iter().sum();
        assert_eq!(measured, summary.latency.overall.response.count);
    }

    #[test]
    fn a_scenario_name_cannot_break_the_header() {
        assert_eq!(comment_safe("a]b\nc"), "a_b_c");
    }
}
