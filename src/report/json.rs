//! report.json: writing a [`RunSummary`] as pretty JSON and reading one back (for
//! `redline report` and `redline compare`), refusing files of another schema.

use super::summary::{RunSummary, SCHEMA};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Why a report.json could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        error: io::Error,
    },
    /// The file is not JSON (e.g. truncated), or not a redline report (a field missing or
    /// of the wrong type): the message names the field and the line and column, and says
    /// when the file looks truncated.
    #[error(
        "{} is not a valid redline report: {}{error}{}",
        path.display(),
        at(field),
        if error.is_eof() { " (the file looks truncated)" } else { "" }
    )]
    Json {
        /// The file.
        path: PathBuf,
        /// Where in the document it went wrong, e.g. `timeseries[3].p99_us`; empty at the top.
        field: String,
        /// What did not parse, with its line and column (in the message already, so not a
        /// `source` that `{:#}` would print a second time).
        error: serde_json::Error,
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

fn at(field: &str) -> String {
    if field.is_empty() || field == "." {
        String::new()
    } else {
        format!("field `{field}`: ")
    }
}

/// Parses `text` as `T`, naming the field where it fails.
fn parse<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ReadError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| ReadError::Json {
        path: path.to_path_buf(),
        field: e.path().to_string(),
        error: e.into_inner(),
    })?;
    // Trailing characters after the report (a botched edit) are an error too.
    de.end().map_err(|error| ReadError::Json {
        path: path.to_path_buf(),
        field: String::new(),
        error,
    })?;
    Ok(value)
}

/// Writes `summary` as pretty JSON followed by a newline.
pub fn write(summary: &RunSummary, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, summary).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// Reads a report.json file.
pub fn read(path: &Path) -> Result<RunSummary, ReadError> {
    let file = std::fs::File::open(path).map_err(|error| ReadError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    read_from(io::BufReader::new(file), path)
}

/// Reads a report from any reader; `path` only names it in errors.
pub fn read_from(r: impl Read, path: &Path) -> Result<RunSummary, ReadError> {
    read_checked(r, path, true)
}

/// Reads a report.json file whatever schema it declares (`compare --allow-mismatch`): it
/// still has to have every field this version reads.
pub fn read_any_schema(path: &Path) -> Result<RunSummary, ReadError> {
    let file = std::fs::File::open(path).map_err(|error| ReadError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    read_checked(io::BufReader::new(file), path, false)
}

fn read_checked(
    mut r: impl Read,
    path: &Path,
    check_schema: bool,
) -> Result<RunSummary, ReadError> {
    let mut text = String::new();
    r.read_to_string(&mut text).map_err(|error| ReadError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    // Check the schema first: a v2 report would otherwise fail on some renamed field with a
    // confusing message.
    #[derive(serde::Deserialize)]
    struct Header {
        schema: Option<String>,
    }
    let header: Header = parse(&text, path)?;
    match header.schema {
        Some(s) if s == SCHEMA => {}
        _ if !check_schema => {}
        found => {
            return Err(ReadError::Schema {
                path: path.to_path_buf(),
                found: found.unwrap_or_default(),
            })
        }
    }
    parse(&text, path)
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

    #[test]
    fn a_truncated_or_edited_report_names_what_is_wrong_and_where() {
        let mut out = Vec::new();
        write(&fixture::summary(), &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        let p = Path::new("r.json");

        let cut = &text[..text.find("\"timeseries\"").expect("timeseries") + 40];
        let err = read_from(cut.as_bytes(), p).unwrap_err().to_string();
        assert!(
            err.starts_with("r.json is not a valid redline report: field `timeseries"),
            "{err}"
        );
        assert!(err.ends_with("(the file looks truncated)"), "{err}");

        let edited = text.replacen("\"p99_us\": ", "\"p99_us\": \"fast\", \"x\": ", 1);
        let err = read_from(edited.as_bytes(), p).unwrap_err().to_string();
        assert!(
            err.contains("field `latency.overall.response.p99_us`: invalid type: string \"fast\""),
            "{err}"
        );
        assert!(err.contains(" line "), "{err}");

        let missing = text.replacen("\"throughput\": ", "\"throughput_renamed\": ", 1);
        let err = read_from(missing.as_bytes(), p).unwrap_err().to_string();
        assert!(err.contains("missing field `throughput`"), "{err}");
    }

    #[test]
    fn another_schema_reads_when_the_caller_allows_it() {
        let mut out = Vec::new();
        write(&fixture::summary(), &mut out).expect("write");
        let text = String::from_utf8(out)
            .expect("utf-8")
            .replace(SCHEMA, "redline.report/v3");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("report.json");
        std::fs::write(&path, text).expect("write");
        assert!(matches!(read(&path), Err(ReadError::Schema { .. })));
        assert_eq!(
            read_any_schema(&path).expect("read").schema,
            "redline.report/v3"
        );
    }
    fn fixture_text() -> String {
        let mut out = Vec::new();
        write(&fixture::summary(), &mut out).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn a_truncated_report_names_the_line_where_it_ends() {
        let text = fixture_text();
        // Trimmed, so the file ends inside its last line whatever lies at the half.
        let cut = text[..text.len() / 2].trim_end();
        let err = read_from(cut.as_bytes(), Path::new("run/report.json")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("run/report.json is not a valid redline report"),
            "{msg}"
        );
        assert!(msg.contains("EOF while parsing"), "{msg}");
        assert!(
            msg.contains(&format!("line {}", cut.lines().count())),
            "{msg}"
        );
    }

    #[test]
    fn a_hand_edited_field_is_named_by_its_path() {
        let mut v: serde_json::Value = serde_json::from_str(&fixture_text()).expect("json");
        v["timeseries"][1]["p99_us"] = "fast".into();
        let err = read_from(v.to_string().as_bytes(), Path::new("r.json")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("field `timeseries[1].p99_us`"), "{msg}");
        assert!(msg.contains("invalid type: string \"fast\""), "{msg}");

        let mut v: serde_json::Value = serde_json::from_str(&fixture_text()).expect("json");
        v["totals"].as_object_mut().expect("totals").remove("ops");
        let err = read_from(v.to_string().as_bytes(), Path::new("r.json")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("field `totals`") && msg.contains("missing field `ops`"),
            "{msg}"
        );

        let text = format!("{}garbage", fixture_text());
        let msg = read_from(text.as_bytes(), Path::new("r.json"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("trailing characters"), "{msg}");
    }

    #[test]
    fn reports_without_faults_still_read() {
        let mut v: serde_json::Value = serde_json::from_str(&fixture_text()).expect("json");
        v.as_object_mut().expect("object").remove("faults");
        let back = read_from(v.to_string().as_bytes(), Path::new("r.json")).expect("read");
        assert!(back.faults.is_empty());
    }
}
