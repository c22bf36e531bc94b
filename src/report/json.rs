//! report.json: writing a [`RunSummary`] as pretty JSON and reading one back (for
//! `redline report` and `redline compare`), refusing files of another schema.

use super::summary::{RunSummary, SCHEMA};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Why a report.json could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// The file is not JSON, or not a redline report (the message names the field).
    #[error("{} is not a valid redline report: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What did not parse.
        source: serde_json::Error,
    },
    /// The report was written by a redline with another report schema.
    #[error(
        "{} has schema {found:?}, this redline reads {SCHEMA:?}; re-run the scenario or use \
         the redline version that wrote it",
        path.display()
    )]
    Schema {
        /// The file.
        path: PathBuf,
        /// The schema it declares.
        found: String,
    },
}

/// Writes `summary` as pretty JSON followed by a newline.
pub fn write(summary: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, summary).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// Reads a report.json file.
pub fn read(path: &Path) -> Result<RunSummary, ReadError> {
    let file = std::fs::File::open(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_from(io::BufReader::new(file), path)
}

/// Reads a report from any reader; `path` only names it in errors.
pub fn read_from(mut r: impl Read, path: &Path) -> Result<RunSummary, ReadError> {
    let mut text = String::new();
    r.read_to_string(&mut text)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    // Check the schema first: a v2 report would otherwise fail on some renamed field with a
    // confusing message.
    #[derive(serde::Deserialize)]
    struct Header {
        schema: Option<String>,
    }
    let json_err = |source| ReadError::Json {
        path: path.to_path_buf(),
        source,
    };
    let header: Header = serde_json::from_str(&text).map_err(json_err)?;
    match header.schema {
        Some(s) if s == SCHEMA => {}
        found => {
            return Err(ReadError::Schema {
                path: path.to_path_buf(),
                found: found.unwrap_or_default(),
            })
        }
    }
    serde_json::from_str(&text).map_err(json_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn write_then_read_is_equal() {
        let summary = fixture::summary();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("report.json");
        let mut file = std::fs::File::create(&path).expect("create");
        write(&summary, &mut file).expect("write");
        drop(file);
        let back = read(&path).expect("read");
        assert_eq!(back, summary);
    }

    #[test]
    fn awkward_floats_survive_the_round_trip() {
        // Real runs produce durations like 7.3 s and rates like 1/3; every float in the
        // report must read back bit for bit.
        let mut agg = crate::report::Aggregator::new();
        let w = agg.register();
        for i in 1..=7u64 {
            for v in 0..(i * 37) {
                let mut r = w.lock().expect("lock");
                r.record(crate::op::OpKind::Get, 1 + v * 997 % 50_000, v % 700);
                if v % 3 == 0 {
                    r.hit();
                } else {
                    r.miss();
                }
            }
            agg.tick(
                std::time::Duration::from_micros(i * 1_043_117),
                Some(crate::cache::BreakerState::Closed),
                i > 1,
            );
        }
        let mut inputs = fixture::inputs();
        inputs.measured = agg.finish();
        inputs.origin_p50_us = Some(3_333.333_3);
        inputs.duration = std::time::Duration::from_nanos(7_301_999_999);
        if let Some(server) = &mut inputs.server {
            server.hit_rate_server = Some(1.0 / 3.0);
            server.keys_written = 7;
        }
        let summary = crate::report::RunSummary::build(inputs);
        let mut out = Vec::new();
        write(&summary, &mut out).expect("write");
        let back = read_from(out.as_slice(), Path::new("mem")).expect("read");
        assert_eq!(back, summary);
    }

    #[test]
    fn json_has_the_documented_shape() {
        let mut out = Vec::new();
        write(&fixture::summary(), &mut out).expect("write");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["schema"], "redline.report/v2");
        assert_eq!(v["verdict"], "fail");
        assert_eq!(v["target"]["provider"], "redis");
        assert_eq!(v["totals"]["errors"]["timeout"], 2);
        assert_eq!(v["totals"]["errors"]["breaker_rejected"], 0);
        assert!(v["latency"]["per_op"]["get"]["response"]["p99_us"].is_u64());
        assert_eq!(v["measured_window"]["start_s"], 2.0);
        assert_eq!(v["server"]["window"]["end_s"], 12.0);
        let p95 = &v["thresholds"][0];
        assert_eq!(
            (&p95["limit"], &p95["unit"], &p95["status"]),
            (&50_000.0.into(), &"us".into(), &"pass".into())
        );
        assert_eq!(v["thresholds"][2]["status"], "fail");
        assert_eq!(v["thresholds"][2]["unit"], "fraction");
        assert!(v["latency"]["per_op"].get("del").is_none());
        assert!(v["histograms"]["response"]["overall"].is_string());
        assert!(v["started_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    }

    /// Numeric fields of report.json that are not durations (counts, fractions, bytes,
    /// rates), or whose unit a sibling `unit` field names (threshold `limit`/`measured`).
    const NOT_DURATIONS: &[&str] = &[
        "count",
        "ops",
        "throughput",
        "hits",
        "misses",
        "hit_rate",
        "errors",
        "errors_total",
        "error_rate",
        "origin_calls",
        "fallback_ops",
        "keyspace_hits",
        "keyspace_misses",
        "evicted_keys",
        "keys_written",
        "used_memory",
        "maxmemory",
        "total_commands_processed",
        "hit_rate_server",
        "latency_reduction",
        "origin_load_reduction",
        "reads",
        "raw_bytes",
        "wire_bytes",
        "ratio",
        "limit",
        "measured",
        "commands",
        "calls",
        "failures_total",
        "redis_errors",
        "dropped",
        "interrupted",
        "in_flight_peak",
        "max_in_flight",
        "redis_slots",
        "redis_slots_peak",
        "redis_peak",
        "origin_peak",
        "concurrency",
        "peak_concurrency",
        "cpu_share",
        "checked_reads",
        "checked_keys",
        "stale_reads",
        "stale_reads_within_ttl",
        "lost_invalidations",
        "failures",
        "breaker_failures_at_start",
    ];

    /// Every numeric field outside the resolved scenario (whose durations are strings such
    /// as "5s") either names its unit (`_us`, `_s`) or is known not to be a duration.
    fn unnamed_numbers(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map {
                    let here = format!("{path}.{k}");
                    // Counts by error kind are keyed by the kind's name.
                    if here == ".scenario.config"
                        || path == ".totals.errors"
                        || path == ".redis.failures"
                    {
                        continue;
                    }
                    if child.is_number()
                        && !(k.ends_with("_us") || k.ends_with("_s") || k.contains("_us_"))
                        && !NOT_DURATIONS.contains(&k.as_str())
                    {
                        out.push(here.clone());
                    }
                    unnamed_numbers(child, &here, out);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    unnamed_numbers(item, &format!("{path}[]"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_duration_in_the_report_names_its_unit() {
        let mut out = Vec::new();
        write(&fixture::summary(), &mut out).expect("write");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        let mut unnamed = Vec::new();
        unnamed_numbers(&v, "", &mut unnamed);
        unnamed.sort();
        unnamed.dedup();
        assert!(unnamed.is_empty(), "numbers without a unit: {unnamed:?}");
        for t in v["thresholds"].as_array().expect("thresholds") {
            assert!(t["unit"].is_string(), "{t}");
        }
    }

    #[test]
    fn other_schemas_and_garbage_are_refused() {
        let p = Path::new("r.json");
        let err = read_from(&br#"{"schema":"redline.report/v9"}"#[..], p).unwrap_err();
        assert!(matches!(err, ReadError::Schema { ref found, .. } if found == "redline.report/v9"));
        let err = read_from(&b"{}"[..], p).unwrap_err();
        assert!(matches!(err, ReadError::Schema { .. }));
        let err = read_from(&b"not json"[..], p).unwrap_err();
        assert!(matches!(err, ReadError::Json { .. }));
        let err = read(Path::new("/nonexistent/report.json")).unwrap_err();
        assert!(matches!(err, ReadError::Io { .. }));
    }
}
