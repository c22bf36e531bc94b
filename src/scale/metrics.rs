//! `--metrics-addr ADDR`: a run's live figures in the Prometheus text format (OpenMetrics,
//! through the `prometheus-client` crate), served at `/metrics` by axum while the run goes,
//! so a long or distributed run can be watched in Grafana (`deploy/grafana-dashboard.json`).
//!
//! [`LiveMetrics`] is the engine's [`Observer`]: every closed interval adds to the running
//! counters (operations, commands, hits, misses, errors by kind, Redis failures, origin
//! calls, fallback operations, dropped; warmup included, as counters never go back) and
//! sets the gauges of the last interval (throughput, response-time quantiles, generator
//! lag, breaker state, warmup). Every series carries the labels `scenario`, `run_id` and
//! `shard` (`0/1` for a lone generator), so the shards of one run sum up in a query.

use crate::cache::BreakerState;
use crate::engine::peers::Observer;
use crate::op::ErrorKind;
use crate::report::{Recorder, TimePoint};
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The content type of the OpenMetrics text format `prometheus-client` writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, &'static str)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// What one closed interval adds to a counter.
type Increment = fn(&TimePoint, &Recorder) -> u64;

/// The counters with no labels: name, help, and what each interval adds to them.
const COUNTERS: [(&str, &str, Increment); 8] = [
    (
        "operations",
        "Operations completed (one application call each), warmup included",
        |point, _| point.ops,
    ),
    (
        "commands",
        "Commands the operations consisted of",
        |_, interval| interval.command_count(),
    ),
    ("hits", "Keys read and found in the cache", |point, _| {
        point.hits
    }),
    ("misses", "Keys read and not found", |point, _| point.misses),
    (
        "redis_errors",
        "Redis commands that failed, the ones the fallback absorbed included",
        |point, _| point.redis_errors,
    ),
    (
        "origin_calls",
        "Loads from the origin after a miss",
        |point, _| point.origin_calls,
    ),
    (
        "fallback_operations",
        "Operations the in-memory fallback served",
        |point, _| point.fallback_ops,
    ),
    (
        "dropped",
        "Scheduled operations that never ran or were cut off",
        |point, _| point.backlog.dropped,
    ),
];

/// The metrics of one run, updated by the engine once per interval.
#[derive(Debug)]
pub struct LiveMetrics {
    registry: Registry,
    /// One a row of [`COUNTERS`].
    counters: [Counter; COUNTERS.len()],
    errors: Family<Labels, Counter>,
    throughput: FloatGauge,
    latency: Family<Labels, FloatGauge>,
    lag_p99: FloatGauge,
    breaker: Family<Labels, Gauge>,
    warmup: Gauge,
    elapsed: FloatGauge,
}

impl LiveMetrics {
    /// Metrics labelled with the run's scenario name, run id and shard (`INDEX/COUNT`).
    pub fn new(scenario: &str, run_id: &str, shard: &str) -> LiveMetrics {
        let labels = [
            ("scenario", scenario.to_string()),
            ("run_id", run_id.to_string()),
            ("shard", shard.to_string()),
        ]
        .map(|(k, v)| (Cow::Borrowed(k), Cow::Owned(v)));
        let mut registry = Registry::with_prefix_and_labels("redline", labels.into_iter());
        let m = LiveMetrics {
            registry: Registry::default(),
            counters: Default::default(),
            errors: Family::default(),
            throughput: FloatGauge::default(),
            latency: Family::default(),
            lag_p99: FloatGauge::default(),
            breaker: Family::default(),
            warmup: Gauge::default(),
            elapsed: FloatGauge::default(),
        };
        let r = &mut registry;
        for ((name, help, _), counter) in COUNTERS.iter().zip(&m.counters) {
            r.register(*name, *help, counter.clone());
        }
        r.register(
            "errors",
            "Failed operations as the application saw them, by kind",
            m.errors.clone(),
        );
        r.register(
            "throughput",
            "Operations per second in the last interval",
            m.throughput.clone(),
        );
        r.register_with_unit(
            "response_time",
            "Response-time quantile of the last interval (from the intended start)",
            Unit::Seconds,
            m.latency.clone(),
        );
        r.register_with_unit(
            "generator_lag_p99",
            "99th percentile of the generator's lag behind its schedule in the last interval \
             (open model)",
            Unit::Seconds,
            m.lag_p99.clone(),
        );
        r.register(
            "breaker_state",
            "1 for the circuit breaker's current state, 0 for the others (no series without \
             a breaker)",
            m.breaker.clone(),
        );
        r.register("warmup", "1 while the run warms up", m.warmup.clone());
        r.register_with_unit(
            "elapsed",
            "Time since the load started, at the end of the last interval",
            Unit::Seconds,
            m.elapsed.clone(),
        );
        // Every error kind is a series from the start, so rate() sees the first error.
        for kind in ErrorKind::ALL {
            m.errors
                .get_or_create(&vec![("kind", kind.name())])
                .inc_by(0);
        }
        LiveMetrics { registry, ..m }
    }

    /// The exposition, as served at `/metrics`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Serves `/metrics` on `addr` until the returned server is dropped or stopped.
    pub async fn serve(self: &Arc<Self>, addr: SocketAddr) -> std::io::Result<MetricsServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let metrics = Arc::clone(self);
        let app =
            axum::Router::new().route(
                "/metrics",
                axum::routing::get(move || {
                    let metrics = Arc::clone(&metrics);
                    async move {
                        ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()).into_response()
                    }
                }),
            );
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("the metrics endpoint stopped: {e}");
            }
        });
        Ok(MetricsServer { local, task })
    }
}

/// The running `/metrics` endpoint; dropping it stops it.
#[derive(Debug)]
pub struct MetricsServer {
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// The address it listens on (the port chosen when ADDR asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn seconds(us: Option<u64>) -> f64 {
    us.map_or(f64::NAN, |us| us as f64 / 1e6)
}

impl Observer for LiveMetrics {
    fn interval(&self, point: &TimePoint, interval: &Recorder) {
        for ((_, _, increment), counter) in COUNTERS.iter().zip(&self.counters) {
            counter.inc_by(increment(point, interval));
        }
        for kind in ErrorKind::ALL {
            let n = interval.error_count(kind);
            if n > 0 {
                self.errors
                    .get_or_create(&vec![("kind", kind.name())])
                    .inc_by(n);
            }
        }
        self.throughput.set(point.throughput);
        for (q, v) in [
            ("0.5", point.p50_us),
            ("0.95", point.p95_us),
            ("0.99", point.p99_us),
        ] {
            self.latency
                .get_or_create(&vec![("quantile", q)])
                .set(seconds(v));
        }
        self.lag_p99.set(seconds(point.lag_p99_us));
        if let Some(state) = point.breaker {
            for s in [
                BreakerState::Closed,
                BreakerState::Open,
                BreakerState::HalfOpen,
            ] {
                let g = self.breaker.get_or_create(&vec![("state", s.name())]);
                g.set(i64::from(s == state));
            }
        }
        self.warmup.set(i64::from(point.warmup));
        self.elapsed.set(point.t_s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::OpKind;
    use crate::report::Aggregator;
    use std::time::Duration;

    #[test]
    fn intervals_add_to_the_counters_and_set_the_gauges() {
        let m = LiveMetrics::new("smoke", "1a2b", "0/1");
        let mut agg = Aggregator::new();
        let w = agg.register();
        for tick in 1..=2u64 {
            {
                let mut r = w.lock().expect("lock");
                for v in 1..=100 {
                    r.record(OpKind::Get, v * 10, v);
                    r.commands(1);
                }
                r.hits(60);
                r.misses(40);
                r.error(ErrorKind::Timeout);
            }
            agg.tick(Duration::from_secs(tick), Some(BreakerState::Open), true);
            let point = agg.timeseries().last().expect("a point");
            m.interval(point, agg.last_interval());
        }
        let text = m.render();
        // The value of the series `name` whose labels include `label`.
        let value = |name: &str, label: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
                .and_then(|l| l.rsplit(' ').next())
                .unwrap_or_else(|| panic!("{name} with {label} missing from:\n{text}"))
                .to_string()
        };
        let run = "scenario=\"smoke\",run_id=\"1a2b\",shard=\"0/1\"";
        assert_eq!(value("redline_operations_total", run), "200");
        assert_eq!(value("redline_commands_total", run), "200");
        assert_eq!(value("redline_hits_total", run), "120");
        assert_eq!(value("redline_errors_total", "kind=\"timeout\""), "2");
        assert_eq!(value("redline_errors_total", "kind=\"dropped\""), "0");
        assert_eq!(value("redline_throughput", run), "100.0");
        assert_eq!(
            value("redline_response_time_seconds", "quantile=\"0.99\""),
            "0.00099"
        );
        assert_eq!(value("redline_breaker_state", "state=\"OPEN\""), "1");
        assert_eq!(value("redline_breaker_state", "state=\"CLOSED\""), "0");
        assert_eq!(value("redline_elapsed_seconds", run), "2.0");
        assert!(text.ends_with("# EOF\n"));
    }
}
