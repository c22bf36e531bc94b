//! The significance test behind `redline compare`: the Mann–Whitney U test (Wilcoxon
//! rank-sum) on two runs' per-second samples, with the normal approximation, tie correction
//! and continuity correction. It asks whether one run's seconds tend to be larger than the
//! other's without assuming any distribution, so a slow second or two in either run does not
//! decide the verdict. Hand-written: about sixty lines, checked against published values.

/// The outcome of one test of `current` against `baseline`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankTest {
    /// One-sided p-value for "current's samples tend to be larger than baseline's".
    pub p_greater: f64,
    /// One-sided p-value for "current's samples tend to be smaller than baseline's".
    pub p_less: f64,
    /// Samples in the baseline.
    pub n_baseline: usize,
    /// Samples in the current run.
    pub n_current: usize,
}

/// Mann–Whitney U test of `current` against `baseline`. NaN samples are ignored. With no
/// variation at all (every sample tied) or an empty side, both p-values are 1: no evidence.
pub fn mann_whitney(baseline: &[f64], current: &[f64]) -> RankTest {
    let b: Vec<f64> = baseline.iter().copied().filter(|x| !x.is_nan()).collect();
    let c: Vec<f64> = current.iter().copied().filter(|x| !x.is_nan()).collect();
    let (n1, n2) = (b.len(), c.len());
    let none = RankTest {
        p_greater: 1.0,
        p_less: 1.0,
        n_baseline: n1,
        n_current: n2,
    };
    if n1 == 0 || n2 == 0 {
        return none;
    }
    // Rank the pooled samples, ties sharing their average rank; remember which side each
    // sample came from.
    let mut pooled: Vec<(f64, bool)> = b
        .iter()
        .map(|&x| (x, false))
        .chain(c.iter().map(|&x| (x, true)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = pooled.len();
    let mut rank_sum_current = 0.0;
    let mut tie_term = 0.0; // Σ (t³ − t) over groups of t tied samples
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        let t = (j - i) as f64;
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum_current += average_rank * pooled[i..j].iter().filter(|s| s.1).count() as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let u_current = rank_sum_current - n2f * (n2f + 1.0) / 2.0;
    let mean = n1f * n2f / 2.0;
    let variance = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    if variance <= 0.0 || !variance.is_finite() {
        return none;
    }
    let sd = variance.sqrt();
    RankTest {
        // Continuity correction: U moves in steps of 1/2 at least.
        p_greater: upper_tail((u_current - mean - 0.5) / sd),
        p_less: upper_tail((mean - u_current - 0.5) / sd),
        ..none
    }
}

/// P(Z > z) for a standard normal Z.
pub fn upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, to a relative error below 1.2e-7 everywhere
/// (Numerical Recipes' `erfcc`, a Chebyshev fit): plenty for a p-value shown to 2 digits.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tail_matches_tables() {
        for (z, p) in [
            (0.0, 0.5),
            (1.644_853_6, 0.05),
            (2.326_347_9, 0.01),
            (-1.96, 0.975_002_1),
        ] {
            assert!((upper_tail(z) - p).abs() < 1e-6, "z={z}: {}", upper_tail(z));
        }
    }

    #[test]
    fn matches_a_textbook_example() {
        // Two samples of 8 with no ties, fully separated: U = 0 for the smaller group, so
        // z = (0 + 0.5 − 32) / sqrt(8·8·17/12) = −3.308 and one-sided p ≈ 0.00047 (scipy's
        // mannwhitneyu with the normal approximation and continuity correction agrees).
        let low: Vec<f64> = (1..=8).map(f64::from).collect();
        let high: Vec<f64> = (9..=16).map(f64::from).collect();
        let t = mann_whitney(&low, &high);
        assert!((t.p_greater - 0.000_47).abs() < 0.000_01, "{t:?}");
        assert!(t.p_less > 0.999);
        let back = mann_whitney(&high, &low);
        assert!((back.p_less - t.p_greater).abs() < 1e-12);
    }

    #[test]
    fn ties_are_corrected_and_all_ties_give_no_evidence() {
        let t = mann_whitney(&[1.0; 10], &[1.0; 10]);
        assert_eq!((t.p_greater, t.p_less), (1.0, 1.0));
        // Heavy ties still move p the right way.
        let t = mann_whitney(
            &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        );
        assert!(t.p_greater < 0.05, "{t:?}");
        assert_eq!(mann_whitney(&[], &[1.0]).p_greater, 1.0);
    }

    #[test]
    fn identical_samples_are_not_significant() {
        let a: Vec<f64> = (0..30).map(|i| f64::from(i % 7)).collect();
        let t = mann_whitney(&a, &a);
        assert!(t.p_greater > 0.4 && t.p_less > 0.4, "{t:?}");
    }
}
