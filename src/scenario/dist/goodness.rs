//! Goodness-of-fit checks the distribution tests share: Pearson's chi-square against a
//! critical value, and a normal bound on a sampled proportion. The tests use fixed seeds, so
//! each verdict is deterministic; the small alpha (0.001) is what keeps a correct sampler
//! from failing on an unlucky seed when a test is changed.

/// Upper 0.001 quantile of the standard normal.
const Z_999: f64 = 3.090_232_306_167_813;

/// Upper 0.001 critical values of chi-square for 1..=10 degrees of freedom (exact tables);
/// beyond that the Wilson–Hilferty approximation is within a fraction of a percent.
const CHI2_999: [f64; 10] = [
    10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588,
];

/// The value chi-square with `df` degrees of freedom exceeds with probability 0.001.
pub(crate) fn chi_square_critical_999(df: usize) -> f64 {
    assert!(df > 0, "chi-square needs at least one degree of freedom");
    if df <= CHI2_999.len() {
        return CHI2_999[df - 1];
    }
    let k = df as f64;
    let h = 2.0 / (9.0 * k);
    k * (1.0 - h + Z_999 * h.sqrt()).powi(3)
}

/// Pearson's statistic of `observed` counts against `expected` counts (same length, each
/// expected count positive).
pub(crate) fn chi_square(observed: &[u64], expected: &[f64]) -> f64 {
    assert_eq!(observed.len(), expected.len());
    observed
        .iter()
        .zip(expected)
        .map(|(&o, &e)| {
            assert!(e > 0.0, "a bin with no expected count");
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

/// Fails unless `observed` fits `expected` at alpha = 0.001 (df = bins - 1). Bins should
/// expect at least about 5 each.
pub(crate) fn assert_fits(what: &str, observed: &[u64], expected: &[f64]) {
    let statistic = chi_square(observed, expected);
    let critical = chi_square_critical_999(observed.len() - 1);
    assert!(
        statistic < critical,
        "{what}: chi-square {statistic:.1} >= {critical:.1} (df {}, alpha 0.001)",
        observed.len() - 1
    );
}

/// Fails unless `hits` of `trials` is within 4.5 standard errors of probability `p`
/// (two-sided, about 7 in a million for a correct sampler).
pub(crate) fn assert_share(what: &str, hits: u64, trials: u64, p: f64) {
    let share = hits as f64 / trials as f64;
    let sigma = (p * (1.0 - p) / trials as f64).sqrt();
    assert!(
        (share - p).abs() <= 4.5 * sigma,
        "{what}: share {share:.5} against {p:.5} (sigma {sigma:.5}, {hits} of {trials})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_values_match_the_tables() {
        // Published 0.001 critical values for 30, 100 and 999 degrees of freedom.
        for (df, table) in [(30, 59.703), (100, 149.449), (999, 1142.848)] {
            let got = chi_square_critical_999(df);
            assert!((got - table).abs() / table < 0.003, "df {df}: {got}");
        }
        assert_eq!(chi_square_critical_999(1), 10.828);
    }

    #[test]
    fn a_biased_sample_is_rejected() {
        // 1000 draws a fair die would spread evenly; one face taking twice its share fails.
        let fair = [167, 166, 167, 166, 167, 167];
        let loaded = [286, 143, 143, 143, 142, 143];
        let expected = [1000.0 / 6.0; 6];
        assert!(chi_square(&fair, &expected) < chi_square_critical_999(5));
        assert!(chi_square(&loaded, &expected) > chi_square_critical_999(5));
    }
}
