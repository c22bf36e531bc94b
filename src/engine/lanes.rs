//! The open model over the lean wire path (raw target, GET/SET/DEL, plain TCP: the choice
//! [`Workload::wire_config`] makes once for both models). One task per connection — a
//! *lane* — sends whatever the pacer released to it since its last batch as one pipeline of
//! at most `pipeline_depth` commands, the way a multiplexed client coalesces concurrent
//! requests. The task-per-operation path costs a spawn, a wake-up and a round of the redis
//! crate's channel and timer per operation; at tens of thousands of arrivals a second that
//! bookkeeping, not Redis, set the response-time tail.
//!
//! An arrival waits in its lane while the lane's previous batch is on the wire: that wait
//! is the system's (a connection), named in the report as a Redis-slot wait, never as the
//! generator's lag.

use super::ops::{Due, Workload};
use super::wire::WireClient;
use crate::cache::RedisConfig;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;

/// An arrival handed to a lane; its in-flight slot is freed once it is recorded.
struct Released {
    due: Due,
    _permit: OwnedSemaphorePermit,
}

/// One lane per connection, fed round-robin by the pacer.
pub struct Lanes {
    senders: Vec<UnboundedSender<Released>>,
    tasks: Vec<JoinHandle<()>>,
    /// Released operations not yet answered, over all lanes.
    queued: Arc<AtomicU64>,
    next: usize,
}

impl Lanes {
    /// Starts `connections` lanes, each connecting at once so the first batch does not pay
    /// for the handshake. Memory stays bounded: every queued arrival holds an in-flight slot.
    pub fn start(
        workload: &Arc<Workload>,
        config: &RedisConfig,
        connections: usize,
        depth: usize,
        seed: u64,
    ) -> Lanes {
        let queued = Arc::new(AtomicU64::new(0));
        let depth = depth.max(1);
        let (senders, tasks) = (0..connections.max(1))
            .map(|lane| {
                let (tx, mut rx) = unbounded_channel::<Released>();
                let (w, config, queued) = (workload.clone(), config.clone(), queued.clone());
                let task = tokio::spawn(async move {
                    let mut rngs: Vec<SmallRng> = (0..depth)
                        .map(|j| {
                            let stream = (lane * depth + j) as u64 + 1;
                            SmallRng::seed_from_u64(
                                seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                            )
                        })
                        .collect();
                    let mut client = WireClient::default();
                    let _ = client.connection(&config).await;
                    let mut batch = Vec::with_capacity(depth);
                    let mut due = Vec::with_capacity(depth);
                    while rx.recv_many(&mut batch, depth).await > 0 {
                        due.clear();
                        due.extend(batch.iter().map(|r: &Released| r.due));
                        let n = batch.len();
                        w.execute_wire(&mut client, &config, &mut rngs[..n], &due, lane)
                            .await;
                        queued.fetch_sub(n as u64, Ordering::Relaxed);
                        batch.clear();
                    }
                });
                (tx, task)
            })
            .unzip();
        Lanes {
            senders,
            tasks,
            queued,
            next: 0,
        }
    }

    /// Hands one arrival to the next lane.
    pub fn release(
        &mut self,
        intended: Instant,
        released: Instant,
        in_flight_wait_us: u64,
        in_flight_in_use: u64,
        permit: OwnedSemaphorePermit,
    ) {
        let queued_for_redis = self.queued.fetch_add(1, Ordering::Relaxed) + 1;
        let due = Due {
            intended,
            released,
            in_flight_wait_us,
            in_flight_in_use,
            queued_for_redis,
        };
        let lane = self.next;
        self.next = (self.next + 1) % self.senders.len();
        // A lane only ends once its sender is dropped (or it is aborted), so this send
        // cannot fail while the pacer runs; if it did, dropping the arrival frees its slot.
        let _ = self.senders[lane].send(Released {
            due,
            _permit: permit,
        });
    }

    /// No more arrivals: each lane finishes what it holds, then ends.
    pub fn close(&mut self) {
        self.senders.clear();
    }

    /// Cuts off what is still running (after the graceful stop): frees its slots.
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        self.abort();
    }
}
