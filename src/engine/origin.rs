//! The simulated origin (the database behind `get_or_set`): a latency distribution, a
//! connection-pool-sized concurrency limit, and an error rate. Every call is counted and
//! its duration recorded, so the report can compare cached reads with origin-only reads.
//! The wait for a pool connection and the pool's occupancy go to the operation's
//! [`queueing`](super::queueing) record, so a pool that is too small is named in the report.
//! It keeps a version per key ([`Versions`]): writes bump it, loads return it, and the
//! stale-read checker ([`super::stale`]) judges every cached value read against it.

use super::stale::Versions;
use crate::report::hdr::new_histogram;
use crate::scenario::dist::OriginLatency;
use crate::scenario::origin::OriginSpec;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::Rng;
use std::sync::Mutex;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The origin failed (by its configured error rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("origin failed (simulated)")]
pub struct OriginError;

/// A simulated database.
pub struct Origin {
    latency: OriginLatency,
    pool: Semaphore,
    /// Connections in the pool (`origin.concurrency`).
    size: usize,
    error_rate: f64,
    /// Duration of each call including the wait for a pool slot, in µs.
    durations: Mutex<Histogram<u64>>,
    /// The version of every key, bumped by writes.
    versions: Versions,
}

impl Origin {
    /// An origin as the scenario describes it, over a keyspace of `keys` keys.
    pub fn new(spec: &OriginSpec, keys: u64) -> Self {
        Origin {
            latency: OriginLatency::new(&spec.latency),
            pool: Semaphore::new(spec.concurrency.max(1)),
            size: spec.concurrency.max(1),
            error_rate: spec.error_rate,
            durations: Mutex::new(new_histogram()),
            versions: Versions::new(keys),
        }
    }

    /// Every key's version, and the checker's records.
    pub fn versions(&self) -> &Versions {
        &self.versions
    }

    /// Loads key `index`: waits for a pool slot, then for the sampled latency, and returns
    /// the key's version as of the end of that latency (when the database answered).
    pub async fn load(&self, rng: &mut SmallRng, index: u64) -> Result<u64, OriginError> {
        let started = Instant::now();
        let delay = self.latency.sample(rng);
        let fails = self.error_rate > 0.0 && rng.random::<f64>() < self.error_rate;
        {
            let _slot = self.pool.acquire().await.map_err(|_| OriginError)?;
            let in_use = (self.size - self.pool.available_permits()) as u64;
            super::queueing::note_origin(started.elapsed().as_micros() as u64, in_use);
            tokio::time::sleep(delay).await;
        }
        let took = started.elapsed().as_micros() as u64;
        if let Ok(mut h) = self.durations.lock() {
            // Auto-resizing: record grows the histogram (saturating_record would clamp).
            if h.record(took.max(1)).is_err() {
                h.saturating_record(took.max(1));
            }
        }
        if fails {
            Err(OriginError)
        } else {
            Ok(self.versions.current(index))
        }
    }

    /// Connections in the pool.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Median duration of an origin call so far (µs), if any call was made.
    pub fn p50_us(&self) -> Option<f64> {
        let h = self.durations.lock().ok()?;
        (!h.is_empty()).then(|| h.value_at_quantile(0.5) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::origin::Latency;
    use rand::SeedableRng;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn calls_take_the_configured_latency_and_fail_at_the_error_rate() {
        let origin = Origin::new(
            &OriginSpec {
                latency: Latency::Fixed {
                    value: Duration::from_millis(20),
                },
                concurrency: 4,
                error_rate: 0.5,
            },
            10,
        );
        let mut rng = SmallRng::seed_from_u64(1);
        let mut failures = 0;
        for _ in 0..200 {
            let started = tokio::time::Instant::now();
            if origin.load(&mut rng, 0).await.is_err() {
                failures += 1;
            }
            assert!(started.elapsed() >= Duration::from_millis(20));
        }
        assert!((70..130).contains(&failures), "{failures} failures");
        let p50 = origin.p50_us().unwrap();
        assert!((19_000.0..21_000.0).contains(&p50), "p50 {p50}");
    }
}
