//! A weighted choice among N entries: cumulative weights built once, one uniform draw and a
//! binary search per pick.

use rand::rngs::SmallRng;
use rand::Rng;

/// Cumulative weights of N entries, at least one of them positive.
#[derive(Debug, Clone)]
pub(crate) struct Cumulative {
    ends: Box<[f64]>,
    /// Index of the last entry with a positive weight: the clamp for rounding at the top.
    last_positive: usize,
}

impl Cumulative {
    /// `None` when no weight is positive. Negative or non-finite weights count as 0.
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Option<Cumulative> {
        let mut total = 0.0;
        let mut last_positive = None;
        let ends = weights
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                if w.is_finite() && w > 0.0 {
                    total += w;
                    last_positive = Some(i);
                }
                total
            })
            .collect();
        Some(Cumulative {
            ends,
            last_positive: last_positive?,
        })
    }

    /// An index, with probability proportional to its weight.
    pub(crate) fn pick(&self, rng: &mut SmallRng) -> usize {
        let total = self.ends[self.ends.len() - 1];
        let u = rng.random::<f64>() * total;
        self.ends
            .partition_point(|&end| end <= u)
            .min(self.last_positive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn picks_in_proportion_and_never_zero_weights() {
        let table = Cumulative::new([0.0, 1.0, 0.0, 3.0, 0.0]).unwrap();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut counts = [0u32; 5];
        for _ in 0..40_000 {
            counts[table.pick(&mut rng)] += 1;
        }
        assert_eq!((counts[0], counts[2], counts[4]), (0, 0, 0));
        let share = f64::from(counts[3]) / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{share}");
        assert!(Cumulative::new([0.0, -1.0]).is_none());
        assert!(Cumulative::new([]).is_none());
    }
}
