//! Single flight: concurrent misses for one key share one load. The first caller for a key
//! leads — its load runs — and every caller that arrives while it runs waits for the same
//! output, errors included, instead of sending its own load to the origin (the thundering
//! herd a cold or invalidated hot key causes, worst behind an empty fallback).
//!
//! Built on `async_singleflight`'s `UnaryGroup`, whose output is cloned to every waiter
//! (an error is part of the output, so every waiter gets it, message and all), and which
//! survives a cancelled leader: when the leading caller is dropped mid-load, one waiter
//! takes over with its own load, so no waiter hangs. Its map holds one entry per key being
//! loaded, removed when the load ends; only a key whose leader was cancelled keeps a
//! finished entry until its next load, so the map never outgrows the keyspace.

use async_singleflight::UnaryGroup;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

/// Loads in progress, one per key.
pub struct SingleFlight<T> {
    group: UnaryGroup<String, T>,
}

impl<T> std::fmt::Debug for SingleFlight<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight").finish()
    }
}

impl<T: Clone + Send + Sync> Default for SingleFlight<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Send + Sync> SingleFlight<T> {
    /// No load in progress.
    pub fn new() -> Self {
        SingleFlight {
            group: UnaryGroup::new(),
        }
    }

    /// Runs `load` unless one for `key` is already running, in which case waits for that one
    /// and returns a clone of its output. The flag is true when this caller's own `load` ran
    /// (it led, or took over from a cancelled leader).
    pub async fn run<F>(&self, key: &str, load: F) -> (T, bool)
    where
        F: Future<Output = T> + Send,
    {
        let led = AtomicBool::new(false);
        let flag = &led;
        let out = self
            .group
            .work(key, async move {
                flag.store(true, Ordering::Relaxed);
                load.await
            })
            .await;
        (out, led.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;
    use std::time::Duration;

    /// Spawns `n` callers of `flight.run("k", ..)` whose loads count themselves in `calls`,
    /// sleep `took` and return `out`.
    fn callers<T: Clone + Send + Sync + 'static>(
        flight: &Arc<SingleFlight<T>>,
        calls: &Arc<AtomicU32>,
        n: usize,
        took: Duration,
        out: T,
    ) -> Vec<tokio::task::JoinHandle<(T, bool)>> {
        (0..n)
            .map(|_| {
                let (flight, calls, out) = (flight.clone(), calls.clone(), out.clone());
                tokio::spawn(async move {
                    flight
                        .run("k", async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(took).await;
                            out
                        })
                        .await
                })
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_load() {
        let flight = Arc::new(SingleFlight::<u32>::new());
        let calls = Arc::new(AtomicU32::new(0));
        let handles = callers(&flight, &calls, 10, Duration::from_millis(100), 7);
        let mut leaders = 0;
        for h in handles {
            let (v, led) = h.await.expect("caller");
            assert_eq!(v, 7);
            leaders += u32::from(led);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one load for ten callers");
        assert_eq!(leaders, 1);
        // The load is over: the next caller loads again.
        let (v, led) = flight.run("k", async { 8 }).await;
        assert_eq!((v, led), (8, true));
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_of_the_shared_load_reaches_every_waiter() {
        let flight = Arc::new(SingleFlight::<Result<u32, String>>::new());
        let calls = Arc::new(AtomicU32::new(0));
        let failed = Err("origin down".to_string());
        let handles = callers(&flight, &calls, 8, Duration::from_millis(50), failed);
        for h in handles {
            assert_eq!(h.await.expect("caller").0, Err("origin down".to_string()));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn no_waiter_hangs_when_the_leader_is_cancelled() {
        let flight = Arc::new(SingleFlight::<u32>::new());
        let started = Arc::new(tokio::sync::Notify::new());
        let leader = {
            let (flight, started) = (flight.clone(), started.clone());
            tokio::spawn(async move {
                flight
                    .run("k", async move {
                        started.notify_one();
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        1
                    })
                    .await
            })
        };
        started.notified().await;
        let calls = Arc::new(AtomicU32::new(0));
        let waiters = callers(&flight, &calls, 5, Duration::from_millis(10), 2);
        // Let the waiters attach to the leader's load before it is cancelled.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        leader.abort();
        for w in waiters {
            let (v, _) = tokio::time::timeout(Duration::from_secs(5), w)
                .await
                .expect("a waiter hung after its leader was cancelled")
                .expect("waiter");
            assert_eq!(v, 2, "a waiter's own load took over");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one waiter took over");
    }
}
