//! How long one origin load takes: fixed, uniform, or log-normal fitted to a p50 and a p99.

use crate::scenario::origin::Latency;
use rand::rngs::SmallRng;
use rand::Rng;
use rand_distr::{Distribution as _, LogNormal};
use std::time::Duration;

/// Longest latency a sample returns: a log-normal tail must not park a worker for hours.
const CAP: Duration = Duration::from_secs(60);

/// Samples origin latencies; shared by all workers.
#[derive(Debug, Clone)]
pub struct OriginLatency {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Fixed(Duration),
    Uniform {
        min_ns: u64,
        max_ns: u64,
    },
    /// Over microseconds.
    LogNormal(LogNormal<f64>),
}

impl OriginLatency {
    /// Derives the sampler; log-normal gets mu = ln(p50), sigma = (ln(p99) - mu) / 2.326.
    pub fn new(latency: &Latency) -> OriginLatency {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let kind = match *latency {
            Latency::Fixed { value } => Kind::Fixed(value),
            Latency::Uniform { min, max } => Kind::Uniform {
                min_ns: nanos(min.min(max)),
                max_ns: nanos(max.max(min)),
            },
            Latency::Lognormal { p50, p99 } => {
                let (mu, sigma) = Latency::lognormal_params(p50, p99);
                match LogNormal::new(mu, sigma) {
                    Ok(d) if mu.is_finite() => Kind::LogNormal(d),
                    _ => Kind::Fixed(p50),
                }
            }
        };
        OriginLatency { kind }
    }

    /// One latency.
    pub fn sample(&self, rng: &mut SmallRng) -> Duration {
        match &self.kind {
            Kind::Fixed(d) => *d,
            Kind::Uniform { min_ns, max_ns } => {
                Duration::from_nanos(rng.random_range(*min_ns..=*max_ns))
            }
            Kind::LogNormal(d) => {
                let seconds = d.sample(rng) / 1e6;
                Duration::from_secs_f64(seconds.min(CAP.as_secs_f64()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::goodness::assert_fits;
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lognormal_deciles_pass_a_chi_square_test() {
        // The declared p50 and p99 fix mu and sigma; the deciles of that log-normal are
        // exp(mu + sigma z) at the standard normal's deciles z. Each should take a tenth.
        const NORMAL_DECILES: [f64; 9] = [
            -1.281_551_6,
            -0.841_621_2,
            -0.524_400_5,
            -0.253_347_1,
            0.0,
            0.253_347_1,
            0.524_400_5,
            0.841_621_2,
            1.281_551_6,
        ];
        let (p50, p99) = (Duration::from_millis(20), Duration::from_millis(80));
        let (mu, sigma) = Latency::lognormal_params(p50, p99);
        let edges_us: Vec<f64> = NORMAL_DECILES
            .iter()
            .map(|z| (mu + sigma * z).exp())
            .collect();
        let sampler = OriginLatency::new(&Latency::Lognormal { p50, p99 });
        let mut rng = SmallRng::seed_from_u64(13);
        let samples = 50_000;
        let mut observed = [0u64; 10];
        for _ in 0..samples {
            let us = sampler.sample(&mut rng).as_secs_f64() * 1e6;
            observed[edges_us.partition_point(|&edge| edge <= us)] += 1;
        }
        assert_fits(
            "log-normal deciles",
            &observed,
            &[samples as f64 / 10.0; 10],
        );
    }

    #[test]
    fn uniform_latency_passes_a_chi_square_test() {
        let (min, max) = (Duration::from_millis(5), Duration::from_millis(15));
        let sampler = OriginLatency::new(&Latency::Uniform { min, max });
        let mut rng = SmallRng::seed_from_u64(14);
        let samples = 20_000;
        let mut observed = [0u64; 20];
        for _ in 0..samples {
            let d = sampler.sample(&mut rng);
            assert!((min..=max).contains(&d), "{d:?}");
            let bin = ((d - min).as_secs_f64() / (max - min).as_secs_f64() * 20.0) as usize;
            observed[bin.min(19)] += 1;
        }
        assert_fits("uniform latency", &observed, &[samples as f64 / 20.0; 20]);
    }

    #[test]
    fn lognormal_matches_its_p50_and_p99() {
        let latency = Latency::Lognormal {
            p50: Duration::from_millis(20),
            p99: Duration::from_millis(80),
        };
        let sampler = OriginLatency::new(&latency);
        let mut rng = SmallRng::seed_from_u64(11);
        let mut samples: Vec<Duration> = (0..100_000).map(|_| sampler.sample(&mut rng)).collect();
        samples.sort();
        let ms = |q: f64| samples[(q * samples.len() as f64) as usize].as_secs_f64() * 1e3;
        let (p50, p99) = (ms(0.50), ms(0.99));
        assert!((p50 - 20.0).abs() < 0.6, "p50 {p50}");
        assert!((p99 - 80.0).abs() < 4.0, "p99 {p99}");
    }

    #[test]
    fn fixed_and_uniform() {
        let mut rng = SmallRng::seed_from_u64(12);
        let fixed = OriginLatency::new(&Latency::Fixed {
            value: Duration::from_millis(20),
        });
        assert_eq!(fixed.sample(&mut rng), Duration::from_millis(20));
        let (min, max) = (Duration::from_millis(5), Duration::from_millis(15));
        let uniform = OriginLatency::new(&Latency::Uniform { min, max });
        let samples: Vec<Duration> = (0..10_000).map(|_| uniform.sample(&mut rng)).collect();
        assert!(samples.iter().all(|d| (min..=max).contains(d)));
        let mean = samples.iter().sum::<Duration>() / 10_000;
        assert!((mean.as_secs_f64() * 1e3 - 10.0).abs() < 0.2, "{mean:?}");
    }

    #[test]
    fn equal_p50_and_p99_is_a_constant() {
        let d = Duration::from_millis(7);
        let s = OriginLatency::new(&Latency::Lognormal { p50: d, p99: d });
        let got = s.sample(&mut SmallRng::seed_from_u64(1));
        assert!((got.as_secs_f64() - 0.007).abs() < 1e-9, "{got:?}");
    }
}
