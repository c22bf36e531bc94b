//! Queueing inside the system under test, per operation: how long it waited for one of the
//! `connections × pipeline_depth` Redis command slots and for a connection of the origin's
//! pool, and how busy each was when it got in. (The wait for an in-flight slot happens
//! before the operation starts; the driver measures that one itself.)
//!
//! The driver runs each operation inside [`scope`], which carries the Redis slots; the
//! backend takes a slot around every Redis call ([`redis_slot`]) and the origin notes its
//! pool wait ([`note_origin`]). A task-local keeps these three places from passing a
//! context through every cache-layer signature, and code outside a scope (preload,
//! cleanup) is simply not gated or measured.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
// tokio's clock, so paused-time tests see the waits they arrange.
use tokio::time::Instant;

pub use crate::report::backlog::OpWaits;

/// The Redis command slots: `connections × pipeline_depth` permits shared by every
/// operation, so queueing for Redis shows as a wait rather than as an unbounded pile of
/// commands in the client's buffers.
#[derive(Debug)]
pub struct RedisSlots {
    permits: Arc<Semaphore>,
    size: usize,
}

impl RedisSlots {
    /// `size` slots (at least one).
    pub fn new(size: usize) -> Arc<RedisSlots> {
        let size = size.max(1);
        Arc::new(RedisSlots {
            permits: Arc::new(Semaphore::new(size)),
            size,
        })
    }

    /// Number of slots.
    pub fn size(&self) -> usize {
        self.size
    }
}

struct Context {
    slots: Arc<RedisSlots>,
    waits: Cell<OpWaits>,
}

tokio::task_local! {
    static CONTEXT: Context;
}

/// Runs one operation with `slots` gating its Redis calls; returns its output and waits.
pub async fn scope<F: Future>(slots: Arc<RedisSlots>, f: F) -> (F::Output, OpWaits) {
    let context = Context {
        slots,
        waits: Cell::new(OpWaits::default()),
    };
    CONTEXT
        .scope(context, async {
            let out = f.await;
            (out, CONTEXT.with(|c| c.waits.get()))
        })
        .await
}

/// Takes `commands` Redis slots (capped at the number of slots) for one call, recording the
/// wait; `None` outside an operation's [`scope`]. Hold the permit until the reply arrived.
pub async fn redis_slot(commands: usize) -> Option<OwnedSemaphorePermit> {
    let slots = CONTEXT.try_with(|c| c.slots.clone()).ok()?;
    let n = commands.clamp(1, slots.size) as u32;
    let permit = match slots.permits.clone().try_acquire_many_owned(n) {
        Ok(p) => p,
        Err(_) => {
            let asked = Instant::now();
            // The semaphore is never closed, so acquiring only fails if it were.
            let p = slots.permits.clone().acquire_many_owned(n).await.ok()?;
            let waited = asked.elapsed().as_micros() as u64;
            note(|w| w.redis_us = Some(w.redis_us.unwrap_or(0) + waited));
            p
        }
    };
    let in_use = (slots.size - slots.permits.available_permits()) as u64;
    note(|w| {
        w.redis_us.get_or_insert(0);
        w.redis_in_use = w.redis_in_use.max(in_use);
    });
    Some(permit)
}

/// The Redis slot wait (µs) of the current operation so far; 0 outside a [`scope`].
pub fn redis_waited_us() -> u64 {
    CONTEXT
        .try_with(|c| c.waits.get().redis_us.unwrap_or(0))
        .unwrap_or(0)
}

/// The origin's pool wait (µs) and the connections in use once this call got one.
pub fn note_origin(waited_us: u64, in_use: u64) {
    note(|w| {
        w.origin_us = Some(w.origin_us.unwrap_or(0) + waited_us);
        w.origin_in_use = w.origin_in_use.max(in_use);
    });
}

fn note(f: impl FnOnce(&mut OpWaits)) {
    let _ = CONTEXT.try_with(|c| {
        let mut w = c.waits.get();
        f(&mut w);
        c.waits.set(w);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_second_caller_waits_for_the_only_slot_and_the_wait_is_recorded() {
        let slots = RedisSlots::new(1);
        let holder = {
            let slots = slots.clone();
            tokio::spawn(scope(slots, async {
                let _p = redis_slot(1).await.expect("inside a scope");
                tokio::time::sleep(Duration::from_millis(30)).await;
            }))
        };
        tokio::task::yield_now().await;
        let ((), waits) = scope(slots, async {
            let _p = redis_slot(1).await;
        })
        .await;
        holder.await.expect("holder");
        assert!(
            waits
                .redis_us
                .is_some_and(|us| (29_000..=31_000).contains(&us)),
            "waited {:?} µs",
            waits.redis_us
        );
        assert_eq!(waits.redis_in_use, 1);
        assert_eq!(waits.origin_us, None);
    }

    #[tokio::test]
    async fn outside_a_scope_nothing_is_gated() {
        assert!(redis_slot(1).await.is_none());
        note_origin(5, 1);
    }
}
