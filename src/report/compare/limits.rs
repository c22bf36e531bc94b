//! Regression limits: how much worse each compared metric may get before a significant change
//! counts as a regression (`--max-regression p95=10%,throughput=5%,hit_rate=1pt`), and their
//! defaults.

use std::fmt;

/// A metric `redline compare` judges, from the per-second samples both reports carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareMetric {
    /// Median response time.
    P50,
    /// 95th percentile response time.
    P95,
    /// 99th percentile response time.
    P99,
    /// Operations per second.
    Throughput,
    /// Cache hit rate.
    HitRate,
    /// Failed operations per operation.
    ErrorRate,
}

impl CompareMetric {
    /// Every metric, in the order tables list them.
    pub const ALL: [CompareMetric; 6] = [
        CompareMetric::P50,
        CompareMetric::P95,
        CompareMetric::P99,
        CompareMetric::Throughput,
        CompareMetric::HitRate,
        CompareMetric::ErrorRate,
    ];

    /// The name `--max-regression` uses.
    pub fn key(self) -> &'static str {
        match self {
            CompareMetric::P50 => "p50",
            CompareMetric::P95 => "p95",
            CompareMetric::P99 => "p99",
            CompareMetric::Throughput => "throughput",
            CompareMetric::HitRate => "hit_rate",
            CompareMetric::ErrorRate => "error_rate",
        }
    }

    /// The name tables use.
    pub fn label(self) -> &'static str {
        match self {
            CompareMetric::P50 => "p50 latency",
            CompareMetric::P95 => "p95 latency",
            CompareMetric::P99 => "p99 latency",
            CompareMetric::Throughput => "throughput",
            CompareMetric::HitRate => "hit rate",
            CompareMetric::ErrorRate => "error rate",
        }
    }

    /// True when a larger value is better (throughput, hit rate).
    pub fn higher_is_better(self) -> bool {
        matches!(self, CompareMetric::Throughput | CompareMetric::HitRate)
    }

    /// True for fractions (hit rate, error rate), whose limits may be in percentage points.
    pub fn is_rate(self) -> bool {
        matches!(self, CompareMetric::HitRate | CompareMetric::ErrorRate)
    }

    /// The default limit: latency 10 % at p50 and p95 and 20 % at p99 (the tail moves more
    /// between identical runs), throughput 5 %, hit rate 1 point, error rate 0.1 point.
    pub fn default_limit(self) -> Limit {
        match self {
            CompareMetric::P50 | CompareMetric::P95 => Limit::Percent(10.0),
            CompareMetric::P99 => Limit::Percent(20.0),
            CompareMetric::Throughput => Limit::Percent(5.0),
            CompareMetric::HitRate => Limit::Points(1.0),
            CompareMetric::ErrorRate => Limit::Points(0.1),
        }
    }
}

/// How much worse a metric may get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Relative to the baseline, in percent (`10%`).
    Percent(f64),
    /// Absolute, in percentage points of a rate (`1pt`: 92 % → 91 %).
    Points(f64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Percent(p) => write!(f, "{}%", trim(*p)),
            Limit::Points(p) => write!(f, "{}pt", trim(*p)),
        }
    }
}

/// `10` rather than `10.0`, `0.1` as is.
fn trim(x: f64) -> String {
    let s = format!("{x}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The limit of every compared metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    limits: Vec<(CompareMetric, Limit)>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            limits: CompareMetric::ALL
                .iter()
                .map(|&m| (m, m.default_limit()))
                .collect(),
        }
    }
}

/// Why a `--max-regression` value was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    /// An item is not `metric=value`.
    #[error("`{0}` is not metric=limit (e.g. p95=10%)")]
    Syntax(String),
    /// The metric is not one `compare` judges.
    #[error("unknown metric `{0}`: use p50, p95, p99, throughput, hit_rate or error_rate")]
    UnknownMetric(String),
    /// The value is not a non-negative number followed by `%` or `pt`.
    #[error("`{0}` is not a limit: write a non-negative number followed by % (relative) or pt (percentage points, for hit_rate and error_rate), e.g. 10% or 1pt")]
    Value(String),
    /// Percentage points given for a metric that is not a rate.
    #[error("`{metric}={value}`: percentage points apply only to hit_rate and error_rate; use % for {metric}")]
    PointsNotARate {
        /// The metric.
        metric: String,
        /// The value given.
        value: String,
    },
}

impl Limits {
    /// The defaults overridden by a `--max-regression` list such as
    /// `p95=10%,throughput=5%,hit_rate=1pt`.
    pub fn parse(text: &str) -> Result<Limits, LimitError> {
        let mut limits = Limits::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| LimitError::Syntax(item.to_string()))?;
            let (key, value) = (key.trim(), value.trim());
            let metric = CompareMetric::ALL
                .into_iter()
                .find(|m| m.key() == key)
                .ok_or_else(|| LimitError::UnknownMetric(key.to_string()))?;
            let number = |s: &str| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| LimitError::Value(value.to_string()))
            };
            let limit = if let Some(n) = value.strip_suffix('%') {
                Limit::Percent(number(n)?)
            } else if let Some(n) = value.strip_suffix("pt") {
                if !metric.is_rate() {
                    return Err(LimitError::PointsNotARate {
                        metric: key.to_string(),
                        value: value.to_string(),
                    });
                }
                Limit::Points(number(n)?)
            } else {
                return Err(LimitError::Value(value.to_string()));
            };
            limits.set(metric, limit);
        }
        Ok(limits)
    }

    /// Sets one metric's limit.
    pub fn set(&mut self, metric: CompareMetric, limit: Limit) {
        if let Some(slot) = self.limits.iter_mut().find(|(m, _)| *m == metric) {
            slot.1 = limit;
        }
    }

    /// One metric's limit.
    pub fn get(&self, metric: CompareMetric) -> Limit {
        self.limits
            .iter()
            .find(|(m, _)| *m == metric)
            .map_or(metric.default_limit(), |(_, l)| *l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_keep_the_other_defaults() {
        let l = Limits::parse("p95=15%, hit_rate=2pt,error_rate=0.5%").expect("valid");
        assert_eq!(l.get(CompareMetric::P95), Limit::Percent(15.0));
        assert_eq!(l.get(CompareMetric::HitRate), Limit::Points(2.0));
        assert_eq!(l.get(CompareMetric::ErrorRate), Limit::Percent(0.5));
        assert_eq!(l.get(CompareMetric::Throughput), Limit::Percent(5.0));
        assert_eq!(l.get(CompareMetric::P99), Limit::Percent(20.0));
        assert_eq!(Limits::parse("").expect("empty"), Limits::default());
        assert_eq!(Limit::Percent(10.0).to_string(), "10%");
        assert_eq!(Limit::Points(0.1).to_string(), "0.1pt");
    }

    #[test]
    fn bad_limits_say_what_is_wrong() {
        for (text, want) in [
            ("p95", "not metric=limit"),
            ("p96=10%", "unknown metric `p96`"),
            ("p95=10", "not a limit"),
            ("p95=-1%", "not a limit"),
            ("p95=abc%", "not a limit"),
            ("p95=1pt", "only to hit_rate and error_rate"),
        ] {
            let err = Limits::parse(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
