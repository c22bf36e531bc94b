//! Which key an operation touches: an index in `0..keys` drawn from the keyspace's
//! distribution. Zipfian is YCSB's generator (Gray et al., "Quickly generating
//! billion-record synthetic databases") with YCSB's scrambling: the rank is hashed with
//! FNV-1a 64 so the popular keys are spread over the keyspace rather than packed at index 0.

use crate::scenario::keyspace::{Distribution, Keyspace};
use rand::rngs::SmallRng;
use rand::Rng;
use rand_distr::Distribution as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Draws key indices for one run; shared by all workers.
#[derive(Debug)]
pub struct KeyChooser {
    keys: u64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Uniform,
    Zipfian(Zipfian),
    Hotspot {
        hot: u64,
        hot_share: f64,
    },
    /// The next index; shared so workers together walk the keyspace once per lap.
    Sequential(AtomicU64),
}

impl KeyChooser {
    /// Precomputes what the distribution needs (for zipfian: zeta(keys), O(min(keys, 1M))).
    pub fn new(keyspace: &Keyspace) -> KeyChooser {
        let keys = keyspace.keys.max(1);
        let kind = match keyspace.distribution {
            Distribution::Uniform => Kind::Uniform,
            Distribution::Zipfian { exponent } => Kind::Zipfian(Zipfian::new(keys, exponent)),
            Distribution::Hotspot {
                hot_keys,
                hot_requests,
            } => Kind::Hotspot {
                hot: ((keys as f64 * hot_keys).round() as u64).clamp(1, keys),
                hot_share: hot_requests,
            },
            Distribution::Sequential => Kind::Sequential(AtomicU64::new(0)),
        };
        KeyChooser { keys, kind }
    }

    /// Number of keys: indices are in `0..keys()`.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// The next key index.
    pub fn next(&self, rng: &mut SmallRng) -> u64 {
        let n = self.keys;
        match &self.kind {
            Kind::Uniform => rng.random_range(0..n),
            Kind::Zipfian(z) => fnv1a64(z.rank(rng)) % n,
            Kind::Hotspot { hot, hot_share } => {
                if *hot == n || rng.random::<f64>() < *hot_share {
                    rng.random_range(0..*hot)
                } else {
                    rng.random_range(*hot..n)
                }
            }
            Kind::Sequential(next) => next.fetch_add(1, Ordering::Relaxed) % n,
        }
    }
}

/// FNV-1a 64 over the 8 little-endian bytes of `value` (YCSB's `fnvhash64`).
pub(crate) fn fnv1a64(value: u64) -> u64 {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for byte in value.to_le_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
    }
    hash
}

/// Zipfian ranks in `0..n` (rank 0 most popular).
#[derive(Debug)]
enum Zipfian {
    /// YCSB's ZipfianGenerator, for exponents below 1 (its formula needs theta < 1).
    Ycsb {
        n: u64,
        theta: f64,
        alpha: f64,
        zetan: f64,
        eta: f64,
    },
    /// Exponents of 1 and above: rejection-inversion sampling (rand_distr's `Zipf`).
    Steep(rand_distr::Zipf<f64>),
}

/// Terms of zeta summed exactly; the rest of the sum uses Euler–Maclaurin, so construction
/// stays fast for billion-key keyspaces.
const EXACT_TERMS: u64 = 1_000_000;

impl Zipfian {
    fn new(n: u64, theta: f64) -> Zipfian {
        if theta >= 1.0 {
            if let Ok(z) = rand_distr::Zipf::new(n as f64, theta) {
                return Zipfian::Steep(z);
            }
        }
        // Validation keeps theta > 0; a bad value from elsewhere falls back to YCSB's default.
        let theta = if theta > 0.0 && theta < 1.0 {
            theta
        } else {
            0.99
        };
        let zeta2 = zeta(2, theta, EXACT_TERMS);
        let zetan = zeta(n, theta, EXACT_TERMS);
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Zipfian::Ycsb {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
        }
    }

    fn rank(&self, rng: &mut SmallRng) -> u64 {
        match self {
            Zipfian::Ycsb {
                n,
                theta,
                alpha,
                zetan,
                eta,
            } => {
                let u: f64 = rng.random();
                let uz = u * zetan;
                if uz < 1.0 {
                    return 0;
                }
                if uz < 1.0 + 0.5f64.powf(*theta) {
                    return 1.min(n - 1);
                }
                let rank = (*n as f64 * (eta * u - eta + 1.0).powf(*alpha)) as u64;
                rank.min(n - 1)
            }
            Zipfian::Steep(z) => (z.sample(rng) as u64).saturating_sub(1),
        }
    }
}

/// zeta(n, theta) = sum of 1/i^theta for i in 1..=n: exact for the first `exact` terms,
/// Euler–Maclaurin for the rest.
fn zeta(n: u64, theta: f64, exact: u64) -> f64 {
    let m = n.min(exact);
    let head: f64 = (1..=m).map(|i| (i as f64).powf(-theta)).sum();
    if n == m {
        return head;
    }
    let (mf, nf) = (m as f64, n as f64);
    let integral = (nf.powf(1.0 - theta) - mf.powf(1.0 - theta)) / (1.0 - theta);
    let ends = (nf.powf(-theta) - mf.powf(-theta)) / 2.0;
    let slope = theta * (mf.powf(-theta - 1.0) - nf.powf(-theta - 1.0)) / 12.0;
    head + integral + ends + slope
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn keyspace(keys: u64, distribution: Distribution) -> Keyspace {
        Keyspace {
            keys,
            prefix: "t:".into(),
            distribution,
            value_size: Default::default(),
            value_content: Default::default(),
        }
    }

    fn counts(chooser: &KeyChooser, samples: usize) -> Vec<u32> {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = vec![0u32; chooser.keys() as usize];
        for _ in 0..samples {
            counts[chooser.next(&mut rng) as usize] += 1;
        }
        counts
    }

    /// Share of samples taken by the hottest 1 % of keys, and those keys' indices.
    fn top_percent(counts: &[u32], samples: usize) -> (f64, Vec<usize>) {
        let mut by_heat: Vec<usize> = (0..counts.len()).collect();
        by_heat.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
        let top = &by_heat[..counts.len() / 100];
        let hits: u32 = top.iter().map(|&i| counts[i]).sum();
        (f64::from(hits) / samples as f64, top.to_vec())
    }

    #[test]
    fn zipfian_is_skewed_and_scrambled() {
        let n = 10_000;
        let samples = 200_000;
        let chooser = KeyChooser::new(&keyspace(n, Distribution::Zipfian { exponent: 0.99 }));
        let counts = counts(&chooser, samples);
        let (share, hot) = top_percent(&counts, samples);
        assert!(share > 0.4, "top 1% of keys took only {share}");
        // Unscrambled, the 100 hottest keys would be indices 0..100.
        let clustered = hot.iter().filter(|&&i| i < n as usize / 100).count();
        assert!(clustered < 10, "{clustered} hot keys in the lowest 1%");
        let mean = hot.iter().sum::<usize>() as f64 / hot.len() as f64;
        assert!(
            (0.25..0.75).contains(&(mean / n as f64)),
            "mean hot index {mean}"
        );
    }

    #[test]
    fn steeper_exponents_concentrate_more() {
        let samples = 100_000;
        let share = |exponent| {
            let chooser = KeyChooser::new(&keyspace(10_000, Distribution::Zipfian { exponent }));
            top_percent(&counts(&chooser, samples), samples).0
        };
        let (mild, ycsb, steep) = (share(0.5), share(0.99), share(1.2));
        assert!(mild < ycsb && ycsb < steep, "{mild} {ycsb} {steep}");
    }

    #[test]
    fn zeta_tail_approximation_matches_the_exact_sum() {
        for theta in [0.5, 0.99] {
            let exact = zeta(300_000, theta, u64::MAX);
            let approx = zeta(300_000, theta, 1_000);
            assert!(
                ((exact - approx) / exact).abs() < 1e-9,
                "{theta}: {exact} vs {approx}"
            );
        }
    }

    #[test]
    fn hotspot_sends_the_hot_share_to_the_hot_keys() {
        let n = 1_000;
        let dist = Distribution::Hotspot {
            hot_keys: 0.2,
            hot_requests: 0.8,
        };
        let samples = 100_000;
        let counts = counts(&KeyChooser::new(&keyspace(n, dist)), samples);
        let hot: u32 = counts[..200].iter().sum();
        let share = f64::from(hot) / samples as f64;
        assert!((share - 0.8).abs() < 0.01, "{share}");
        assert!(counts[200..].iter().all(|&c| c > 0));
    }

    #[test]
    fn sequential_walks_and_wraps() {
        let chooser = KeyChooser::new(&keyspace(3, Distribution::Sequential));
        let mut rng = SmallRng::seed_from_u64(1);
        let seen: Vec<u64> = (0..7).map(|_| chooser.next(&mut rng)).collect();
        assert_eq!(seen, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn uniform_covers_the_keyspace_evenly() {
        let samples = 100_000;
        let counts = counts(
            &KeyChooser::new(&keyspace(100, Distribution::Uniform)),
            samples,
        );
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn tiny_keyspaces_stay_in_range() {
        for dist in [
            Distribution::Zipfian { exponent: 0.99 },
            Distribution::Zipfian { exponent: 2.0 },
            Distribution::Hotspot {
                hot_keys: 1.0,
                hot_requests: 0.5,
            },
            Distribution::Uniform,
        ] {
            for n in [1, 2, 3] {
                let chooser = KeyChooser::new(&keyspace(n, dist.clone()));
                let mut rng = SmallRng::seed_from_u64(3);
                assert!(
                    (0..1000).all(|_| chooser.next(&mut rng) < n),
                    "{dist:?} {n}"
                );
            }
        }
        let zero = KeyChooser::new(&keyspace(0, Distribution::Uniform));
        assert_eq!(zero.next(&mut SmallRng::seed_from_u64(0)), 0);
    }
}
