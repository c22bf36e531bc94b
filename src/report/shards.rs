//! [`RecorderShards`]: the recorders a run's tasks record into. Operations pick a shard by
//! their own number, so concurrent tasks rarely contend for one lock, and the
//! [`Aggregator`] empties every shard once a second.

use super::aggregate::Aggregator;
use super::recorder::Recorder;
use std::ops::Index;
use std::sync::{Arc, Mutex, MutexGuard};

/// A fixed set of recorders registered with one aggregator. Indexing wraps around, so any
/// task number is a valid shard.
#[derive(Debug, Clone)]
pub struct RecorderShards {
    shards: Vec<Arc<Mutex<Recorder>>>,
}

impl RecorderShards {
    /// `n` (at least one) new recorders, each registered with `aggregator`.
    pub fn register(aggregator: &mut Aggregator, n: usize) -> RecorderShards {
        RecorderShards {
            shards: (0..n.max(1)).map(|_| aggregator.register()).collect(),
        }
    }

    /// Shards over existing recorders (at least one).
    pub fn from_recorders(shards: Vec<Arc<Mutex<Recorder>>>) -> RecorderShards {
        assert!(!shards.is_empty(), "at least one recorder shard");
        RecorderShards { shards }
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        self.shards.len()
    }

    /// Always false: there is at least one shard.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Locks shard `i` (modulo the number of shards). A task that panicked mid-record
    /// leaves counters at worst one sample short, so a poisoned lock is used, not propagated.
    pub fn lock(&self, i: usize) -> MutexGuard<'_, Recorder> {
        self[i].lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Index<usize> for RecorderShards {
    type Output = Mutex<Recorder>;

    fn index(&self, i: usize) -> &Mutex<Recorder> {
        &self.shards[i % self.shards.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::OpKind;
    use std::time::Duration;

    #[test]
    fn any_index_is_a_shard_and_the_aggregator_reads_them_all() {
        let mut agg = Aggregator::new();
        let shards = RecorderShards::register(&mut agg, 3);
        assert_eq!((shards.len(), agg.workers()), (3, 3));
        for i in 0..7 {
            shards.lock(i).record(OpKind::Get, 1, 1);
        }
        assert_eq!(shards.lock(3).ops(), 3, "shard 0 got tasks 0, 3 and 6");
        agg.tick(Duration::from_secs(1), None, true);
        assert_eq!(agg.totals().ops(), 7);
    }
}
