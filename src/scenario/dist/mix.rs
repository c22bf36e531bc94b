//! Which operation runs next: a weighted pick over the scenario's `[[ops]]`, plus the batch
//! size of batch operations and the commands inside a pipeline.

use super::weighted::Cumulative;
use crate::op::OpKind;
use crate::scenario::workload::{Batch, OpSpec};
use rand::rngs::SmallRng;
use rand::Rng;

/// The operation mix has nothing to pick from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operation mix is empty or every weight is 0: give at least one op a positive weight")]
pub struct EmptyMix;

/// Weighted choice over the operation mix; shared by all workers.
#[derive(Debug, Clone)]
pub struct OpMix {
    ops: Box<[OpSpec]>,
    table: Cumulative,
}

impl OpMix {
    /// Precomputes the cumulative weights.
    pub fn new(ops: &[OpSpec]) -> Result<OpMix, EmptyMix> {
        let table = Cumulative::new(ops.iter().map(|op| op.weight)).ok_or(EmptyMix)?;
        Ok(OpMix {
            ops: ops.into(),
            table,
        })
    }

    /// Every entry, in scenario order.
    pub fn ops(&self) -> &[OpSpec] {
        &self.ops
    }

    /// The next operation, with probability proportional to its weight.
    pub fn pick(&self, rng: &mut SmallRng) -> &OpSpec {
        &self.ops[self.table.pick(rng)]
    }

    /// How many keys this call of `spec` touches (1 for single-key operations).
    pub fn batch(&self, spec: &OpSpec, rng: &mut SmallRng) -> usize {
        let n = match spec.batch {
            Batch::Fixed(n) => n,
            Batch::Range { min, max } => rng.random_range(min..=max.max(min)),
        };
        n.max(1) as usize
    }

    /// The command for one slot of a pipeline, drawn from `spec.pipeline_mix`
    /// (`get` when it has none).
    pub fn pipeline_op(&self, spec: &OpSpec, rng: &mut SmallRng) -> OpKind {
        let Some(mix) = &spec.pipeline_mix else {
            return OpKind::Get;
        };
        let weights = || mix.iter().filter(|(_, w)| w.is_finite() && **w > 0.0);
        let total: f64 = weights().map(|(_, w)| *w).sum();
        let mut u = rng.random::<f64>() * total;
        let mut chosen = OpKind::Get;
        for (kind, w) in weights() {
            chosen = *kind;
            if u < *w {
                break;
            }
            u -= w;
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::super::goodness::assert_fits;
    use super::*;
    use rand::SeedableRng;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn op(kind: OpKind, weight: f64, batch: Batch) -> OpSpec {
        OpSpec {
            kind,
            weight,
            ttl: Duration::from_secs(300),
            codec: Default::default(),
            compress_threshold: 1024,
            batch,
            pipeline_mix: None,
        }
    }

    #[test]
    fn picks_by_weight() {
        let ops = [
            op(OpKind::GetOrSet, 80.0, Batch::Fixed(1)),
            op(OpKind::Set, 20.0, Batch::Fixed(1)),
            op(OpKind::Del, 0.0, Batch::Fixed(1)),
        ];
        let mix = OpMix::new(&ops).unwrap();
        let mut rng = SmallRng::seed_from_u64(5);
        let mut counts = BTreeMap::new();
        for _ in 0..50_000 {
            *counts.entry(mix.pick(&mut rng).kind).or_insert(0u32) += 1;
        }
        let share = f64::from(counts[&OpKind::GetOrSet]) / 50_000.0;
        assert!((share - 0.8).abs() < 0.01, "{share}");
        assert!(!counts.contains_key(&OpKind::Del));
        assert_eq!(OpMix::new(&[]).err(), Some(EmptyMix));
        assert!(OpMix::new(&ops[2..]).is_err());
    }

    #[test]
    fn picks_pass_a_chi_square_test() {
        let weights = [5.0, 0.5, 2.0, 12.5];
        let kinds = [OpKind::Get, OpKind::Set, OpKind::Del, OpKind::GetOrSet];
        let ops: Vec<OpSpec> = kinds
            .iter()
            .zip(weights)
            .map(|(&kind, w)| op(kind, w, Batch::Fixed(1)))
            .collect();
        let mix = OpMix::new(&ops).unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        let samples = 40_000;
        let mut observed = [0u64; 4];
        for _ in 0..samples {
            let kind = mix.pick(&mut rng).kind;
            observed[kinds.iter().position(|&k| k == kind).unwrap()] += 1;
        }
        let total: f64 = weights.iter().sum();
        let expected: Vec<f64> = weights.iter().map(|w| w / total * samples as f64).collect();
        assert_fits("op mix", &observed, &expected);

        let ranged = op(OpKind::Mget, 1.0, Batch::Range { min: 3, max: 12 });
        let mut sizes = [0u64; 10];
        for _ in 0..samples {
            sizes[mix.batch(&ranged, &mut rng) - 3] += 1;
        }
        assert_fits("batch sizes", &sizes, &[samples as f64 / 10.0; 10]);
    }

    #[test]
    fn batches_and_pipeline_commands() {
        let mut rng = SmallRng::seed_from_u64(6);
        let mget = op(OpKind::Mget, 1.0, Batch::Range { min: 2, max: 5 });
        let mix = OpMix::new(std::slice::from_ref(&mget)).unwrap();
        assert!((0..1000).all(|_| (2..=5).contains(&mix.batch(&mget, &mut rng))));
        assert_eq!(
            mix.batch(&op(OpKind::Get, 1.0, Batch::Fixed(1)), &mut rng),
            1
        );

        let mut pipeline = op(OpKind::Pipeline, 1.0, Batch::Fixed(16));
        pipeline.pipeline_mix = Some(BTreeMap::from([
            (OpKind::Get, 80.0),
            (OpKind::Set, 20.0),
            (OpKind::Del, 0.0),
        ]));
        let sets = (0..20_000)
            .map(|_| mix.pipeline_op(&pipeline, &mut rng))
            .inspect(|k| assert_ne!(*k, OpKind::Del))
            .filter(|k| *k == OpKind::Set)
            .count();
        assert!((3_600..4_400).contains(&sets), "{sets}");
    }
}
