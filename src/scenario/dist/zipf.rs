//! Exact zipfian ranks: rank k in `1..=n` with probability k^-s / H(n, s), for any s > 0,
//! by Hörmann and Derflinger's rejection-inversion ("Rejection-inversion to generate
//! variates from monotone discrete distributions", 1996), as Apache Commons RNG's
//! `RejectionInversionZipfSampler` implements it.
//!
//! Why not a crate: YCSB's generator (one `powf`) is an approximation that gives ranks
//! 3..100 about 1.5 % too much at s = 0.99, and rand_distr's `Zipf` is exact but takes three
//! `powf` per draw near s = 1 (about six times slower than this, measured). Rejection-
//! inversion accepts most draws with one `ln_1p` and one `exp` and needs no table, so it
//! costs about what YCSB's does and is built in constant time for any number of keys.

use rand::rngs::SmallRng;
use rand::Rng;

/// Zipfian ranks over `1..=n`.
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    n: f64,
    exponent: f64,
    /// H(1.5) - 1: the upper end of the inverted range (rank 1's share of the hat).
    h_integral_x1: f64,
    /// H(n + 0.5): the lower end of the inverted range.
    h_integral_n: f64,
    /// Accepts a draw without evaluating the hat when `k - x` is at most this.
    squeeze: f64,
}

impl Zipf {
    /// Ranks over `1..=n` with exponent `exponent` (> 0 and finite; `n` of 0 counts as 1).
    pub(crate) fn new(n: u64, exponent: f64) -> Zipf {
        debug_assert!(exponent.is_finite() && exponent > 0.0, "{exponent}");
        let mut z = Zipf {
            n: n.max(1) as f64,
            exponent,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(z.n + 0.5);
        z.squeeze = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// One rank in `1..=n`.
    #[inline]
    pub(crate) fn sample(&self, rng: &mut SmallRng) -> u64 {
        loop {
            // u is uniform over (H(1.5) - 1, H(n + 0.5)]; its inverse x falls in the bar of
            // rank k = round(x), and is accepted with the ratio of that bar to the hat.
            let u =
                self.h_integral_n + rng.random::<f64>() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.squeeze || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    /// h(x) = x^-s, the hat's density.
    #[inline]
    fn h(&self, x: f64) -> f64 {
        (-self.exponent * x.ln()).exp()
    }

    /// H(x) = (x^(1-s) - 1) / (1 - s), an antiderivative of h (ln x at s = 1), written so
    /// it stays accurate as s approaches 1.
    #[inline]
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        expm1_over_x((1.0 - self.exponent) * log_x) * log_x
    }

    /// The inverse of [`Zipf::h_integral`].
    #[inline]
    fn h_integral_inverse(&self, x: f64) -> f64 {
        // t >= -1 holds mathematically; clamping keeps rounding from taking ln_1p below -1.
        let t = (x * (1.0 - self.exponent)).max(-1.0);
        (ln_1p_over_x(t) * x).exp()
    }
}

/// ln(1 + x) / x, with its Taylor series near 0 where the quotient loses precision.
#[inline]
fn ln_1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (e^x - 1) / x, with its Taylor series near 0.
#[inline]
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ranks_stay_in_range_for_small_and_huge_n() {
        let mut rng = SmallRng::seed_from_u64(1);
        for n in [1, 2, 3, 10, 1 << 40] {
            for s in [0.01, 0.5, 1.0, 0.99, 1.01, 3.0, 50.0] {
                let z = Zipf::new(n, s);
                for _ in 0..2_000 {
                    let k = z.sample(&mut rng);
                    assert!((1..=n).contains(&k), "n {n} s {s}: {k}");
                }
            }
        }
        assert_eq!(Zipf::new(0, 0.99).sample(&mut rng), 1);
    }

    #[test]
    fn exponent_one_is_handled_by_the_series() {
        // s = 1 makes 1 - s exactly 0: the series branches must give P(1) = 1 / H(3) here.
        let z = Zipf::new(3, 1.0);
        let mut rng = SmallRng::seed_from_u64(2);
        let draws = 100_000;
        let ones = (0..draws).filter(|_| z.sample(&mut rng) == 1).count();
        let p = 1.0 / (1.0 + 0.5 + 1.0 / 3.0);
        super::super::goodness::assert_share("P(rank 1)", ones as u64, draws, p);
    }
}
