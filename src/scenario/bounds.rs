//! Upper bounds on every value that sizes memory or time: a scenario that passes validation
//! can neither exhaust memory while the run is set up (a billion clients) nor overflow a
//! clock or run forever (a warmup of 600 years). The limits are far beyond any real run and
//! are documented, with their reasons, in `scenarios/README.md` ("Limits").

use super::error::Problem;
use super::keyspace::Keyspace;
use super::load::{Arrival, LoadSpec};
use super::origin::{Latency, OriginSpec};
use super::target::TargetSpec;
use super::units::format_duration;
use super::workload::OpSpec;
use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Longest warmup, and longest measured phase: a month is beyond any benchmark or soak.
pub const MAX_RUN_DURATION: Duration = Duration::from_secs(30 * DAY);
/// Longest wait for one operation (timeouts, origin latency, think time, breaker timings):
/// longer than this is an outage, not a latency, and would keep a run from ending.
pub const MAX_OP_DURATION: Duration = Duration::from_secs(HOUR);
/// Longest TTL: longer than any run can last, so a longer one would behave the same.
pub const MAX_TTL: Duration = super::units::MAX_DURATION;
/// Most distinct keys: a billion keys of even a few bytes is beyond one Redis's memory.
pub const MAX_KEYS: u64 = 1_000_000_000;
/// Longest key prefix: every key of every operation carries it.
pub const MAX_PREFIX_BYTES: usize = 256;
/// Most closed-model clients: each is a task with its own buffers.
pub const MAX_CLIENTS: u64 = 100_000;
/// Most connections: Redis's own default `maxclients` is 10 000.
pub const MAX_CONNECTIONS: u64 = 10_000;
/// Deepest pipeline per connection or client (`redis-benchmark -P` is rarely past 100).
pub const MAX_PIPELINE_DEPTH: u64 = 1_000;
/// Most operations in flight at once: closed-model `clients × pipeline_depth`, and Redis
/// slots `connections × pipeline_depth`. Each holds its own random state and buffers.
pub const MAX_IN_FLIGHT: u64 = 1_000_000;
/// Highest arrival rate, ops/s: one generator process tops out far below this.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Most ramp stages.
pub const MAX_STAGES: usize = 10_000;
/// Most measured operations (`load.total_ops`).
pub const MAX_TOTAL_OPS: u64 = 1_000_000_000_000;
/// Largest origin connection pool.
pub const MAX_ORIGIN_CONCURRENCY: u64 = 100_000;
/// Largest breaker count (thresholds, half-open calls).
pub const MAX_BREAKER_COUNT: u64 = 1_000_000;
/// Largest in-memory fallback budget: it lives in redline's own process.
pub const MAX_FALLBACK_BYTES: u64 = 64 << 30;
/// Longest scenario name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Every bound a resolved section breaks, appended to `out`.
pub(crate) struct Bounds<'a> {
    out: &'a mut Vec<Problem>,
}

impl<'a> Bounds<'a> {
    pub(crate) fn new(out: &'a mut Vec<Problem>) -> Bounds<'a> {
        Bounds { out }
    }

    fn duration(&mut self, path: impl Into<String>, d: Duration, max: Duration, why: &str) {
        if d > max {
            self.out.push(Problem::new(
                path,
                format!(
                    "must be at most {} (got {}): {why}",
                    format_duration(max),
                    format_duration(d)
                ),
            ));
        }
    }

    fn op_duration(&mut self, path: impl Into<String>, d: Duration) {
        self.duration(
            path,
            d,
            MAX_OP_DURATION,
            "one operation waiting longer is an outage, not a latency",
        );
    }

    fn count(&mut self, path: impl Into<String>, n: u64, max: u64, why: &str) {
        if n > max {
            self.out.push(Problem::new(
                path,
                format!("must be at most {} (got {n}): {why}", group(max)),
            ));
        }
    }

    fn rate(&mut self, path: impl Into<String>, rate: f64) {
        if rate > MAX_RATE {
            self.out.push(Problem::new(
                path,
                format!(
                    "must be at most {} ops/s (got {rate}): one load generator cannot send more",
                    group(MAX_RATE as u64)
                ),
            ));
        }
    }

    /// `name`: printable, and short enough for a folder name and a report title.
    pub(crate) fn name(&mut self, name: &str) {
        if name.chars().any(char::is_control) {
            self.out.push(Problem::new(
                "name",
                "must not contain control characters (line breaks, tabs, escapes)",
            ));
        }
        let chars = name.chars().count();
        if chars > MAX_NAME_CHARS {
            self.out.push(Problem::new(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters (got {chars})"),
            ));
        }
    }

    pub(crate) fn target(&mut self, t: &TargetSpec) {
        self.op_duration("target.response_timeout", t.response_timeout);
        self.op_duration("target.connect_timeout", t.connect_timeout);
        self.op_duration("target.breaker.reset_timeout", t.breaker.reset_timeout);
        if let Some(d) = t.breaker.slow_call_threshold {
            self.op_duration("target.breaker.slow_call_threshold", d);
        }
        let b = &t.breaker;
        for (field, n) in [
            ("failure_threshold", b.failure_threshold),
            ("success_threshold", b.success_threshold),
            ("half_open_max_calls", b.half_open_max_calls),
        ] {
            self.count(
                format!("target.breaker.{field}"),
                u64::from(n),
                MAX_BREAKER_COUNT,
                "a breaker count this large never changes state",
            );
        }
        self.count(
            "target.fallback.max_bytes",
            t.fallback.max_bytes,
            MAX_FALLBACK_BYTES,
            "the fallback lives in redline's own memory (64GiB at most)",
        );
    }

    pub(crate) fn keyspace(&mut self, k: &Keyspace) {
        self.count(
            "keyspace.keys",
            k.keys,
            MAX_KEYS,
            "more keys than one Redis can hold",
        );
        self.count(
            "keyspace.prefix",
            k.prefix.len() as u64,
            MAX_PREFIX_BYTES as u64,
            "every key carries the prefix (the number is its length in bytes)",
        );
    }

    pub(crate) fn op(&mut self, path: &str, op: &OpSpec) {
        self.duration(
            format!("{path}.ttl"),
            op.ttl,
            MAX_TTL,
            "no run lasts that long, so a longer TTL behaves the same",
        );
    }

    pub(crate) fn origin(&mut self, o: &OriginSpec) {
        match o.latency {
            Latency::Fixed { value } => self.op_duration("origin.latency", value),
            Latency::Uniform { min, max } => {
                self.op_duration("origin.latency.min", min);
                self.op_duration("origin.latency.max", max);
            }
            Latency::Lognormal { p50, p99 } => {
                self.op_duration("origin.latency.p50", p50);
                self.op_duration("origin.latency.p99", p99);
            }
        }
        self.count(
            "origin.concurrency",
            o.concurrency as u64,
            MAX_ORIGIN_CONCURRENCY,
            "a pool of more connections than any database accepts",
        );
    }

    pub(crate) fn load(&mut self, l: &LoadSpec) {
        let run = "a run longer than 30 days";
        match &l.arrival {
            Arrival::Open { rate, .. } => self.rate("load.rate", *rate),
            Arrival::Ramp {
                start_rate, stages, ..
            } => {
                self.rate("load.start_rate", *start_rate);
                if stages.len() > MAX_STAGES {
                    self.out.push(Problem::new(
                        "load.stages",
                        format!("at most {MAX_STAGES} stages (got {})", stages.len()),
                    ));
                }
                for (i, s) in stages.iter().enumerate() {
                    self.rate(format!("load.stages[{i}].target"), s.target);
                    self.duration(
                        format!("load.stages[{i}].duration"),
                        s.duration,
                        MAX_RUN_DURATION,
                        run,
                    );
                }
            }
            Arrival::Closed {
                clients,
                think_time,
            } => {
                self.count(
                    "load.clients",
                    *clients as u64,
                    MAX_CLIENTS,
                    "each client is a task with its own buffers",
                );
                if let Some(d) = think_time {
                    self.op_duration("load.think_time", *d);
                }
            }
        }
        self.count(
            "load.connections",
            l.connections as u64,
            MAX_CONNECTIONS,
            "Redis's default maxclients is 10,000",
        );
        self.count(
            "load.pipeline_depth",
            l.pipeline_depth as u64,
            MAX_PIPELINE_DEPTH,
            "deeper pipelines only add queueing",
        );
        let depth = l.pipeline_depth as u64;
        let (who, count) = match l.arrival {
            Arrival::Closed { clients, .. } => ("load.clients", clients as u64),
            _ => ("load.connections", l.connections as u64),
        };
        if count.saturating_mul(depth) > MAX_IN_FLIGHT {
            self.out.push(Problem::new(
                "load.pipeline_depth",
                format!(
                    "{who} × load.pipeline_depth must be at most {} operations in flight (got {count} × {depth}): each holds its own state and buffers",
                    group(MAX_IN_FLIGHT)
                ),
            ));
        }
        self.duration("load.warmup", l.warmup, MAX_RUN_DURATION, run);
        if let Some(d) = l.duration {
            self.duration("load.duration", d, MAX_RUN_DURATION, run);
        }
        if let Some(n) = l.total_ops {
            self.count(
                "load.total_ops",
                n,
                MAX_TOTAL_OPS,
                "a trillion operations is years of load",
            );
            if l.duration.is_none() {
                self.total_ops_time(n, &l.arrival);
            }
        }
    }

    /// Without a duration, `total_ops` alone ends the run: at the declared pace it must end
    /// within [`MAX_RUN_DURATION`] (the closed model's pace is known only from think time).
    fn total_ops_time(&mut self, total_ops: u64, arrival: &Arrival) {
        let seconds = match arrival {
            Arrival::Open { rate, .. } => total_ops as f64 / rate,
            Arrival::Closed {
                clients,
                think_time: Some(think),
            } => total_ops as f64 / *clients as f64 * think.as_secs_f64(),
            _ => return,
        };
        if seconds > MAX_RUN_DURATION.as_secs_f64() {
            self.out.push(Problem::new(
                "load.total_ops",
                format!(
                    "{total_ops} operations at this pace take {} days, longer than 30 days: lower it or give load.duration too",
                    (seconds / 86_400.0).round()
                ),
            ));
        }
    }
}

/// `1000000` → `1,000,000`, for limits in messages.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_grouped_for_reading() {
        assert_eq!(group(1_000_000), "1,000,000");
        assert_eq!(group(100), "100");
        assert_eq!(group(10_000), "10,000");
    }
}
