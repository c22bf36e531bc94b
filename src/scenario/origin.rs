//! `[origin]`: the simulated database behind `get_or_set`. On a cache miss the engine waits
//! for a slot in the origin's pool, sleeps a sampled latency and fails at `error_rate`, so the
//! cost of a miss shows in the latencies just as it would in production.

use super::units;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// `[origin]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginSpec {
    /// How long one origin load takes.
    #[serde(deserialize_with = "latency")]
    pub latency: Latency,
    /// Size of the origin's connection pool: loads beyond it queue, as on a real database.
    #[serde(deserialize_with = "units::positive")]
    pub concurrency: usize,
    /// Fraction of loads that fail.
    #[serde(with = "units::fraction")]
    pub error_rate: f64,
}

impl Default for OriginSpec {
    fn default() -> Self {
        OriginSpec {
            latency: Latency::Fixed {
                value: Duration::from_millis(20),
            },
            concurrency: 10,
            error_rate: 0.0,
        }
    }
}

/// Distribution of one origin load's latency. Written as a duration (`"20ms"`, fixed) or a
/// table with `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always this long.
    Fixed {
        #[serde(with = "units::duration")]
        value: Duration,
    },
    /// Uniform between the bounds.
    Uniform {
        #[serde(with = "units::duration")]
        min: Duration,
        #[serde(with = "units::duration")]
        max: Duration,
    },
    /// Log-normal with the given median and 99th percentile: the long right tail real
    /// databases have.
    Lognormal {
        #[serde(with = "units::duration")]
        p50: Duration,
        #[serde(with = "units::duration")]
        p99: Duration,
    },
}

/// z-score of the 99th percentile of the standard normal distribution.
pub const Z_99: f64 = 2.326;

impl Latency {
    /// `(mu, sigma)` of the underlying normal, in ln(microseconds), for the log-normal form:
    /// mu = ln(p50), sigma = (ln(p99) - mu) / z99.
    pub fn lognormal_params(p50: Duration, p99: Duration) -> (f64, f64) {
        let mu = micros(p50).ln();
        let sigma = ((micros(p99).ln() - mu) / Z_99).max(0.0);
        (mu, sigma)
    }
}

pub(crate) fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn latency<'de, D: Deserializer<'de>>(d: D) -> Result<Latency, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Latency;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(
                "a duration (\"20ms\") or a table: { kind = \"uniform\", min, max } or \
                 { kind = \"lognormal\", p50, p99 }",
            )
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Latency, E> {
            units::parse_duration(v)
                .map(|value| Latency::Fixed { value })
                .map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Latency, E> {
            Err(E::custom(format!(
                "a duration needs a unit: write \"{v}ms\", not {v}"
            )))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Latency, A::Error> {
            Latency::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(V)
}
