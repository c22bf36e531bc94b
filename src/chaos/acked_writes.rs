//! The acknowledged-writes checker (Jepsen's set checker) for failover drills.
//!
//! A task beside the load writes versioned keys one at a time — `SET <prefix><n> n` for
//! n = 0, 1, 2, … — through its own connection to the primary (found through Sentinel, so it
//! follows a failover), with no breaker in the way: what counts is what Redis acknowledged.
//! It remembers the acknowledged sequence numbers as ranges. After the run (and after the
//! failover settled) [`WriteChecker::finish`] reads every written key back from the current
//! primary: an acknowledged key that is missing or changed is a lost write.
//!
//! Memory stays bounded: ranges grow only with failures, at most [`MAX_WRITES`] are sent.

use crate::cache::{OpError, RedisStore};
use crate::report::failover::{AckedWrites, WriteOutage, MAX_LISTED};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Pause between two writes: about 500 writes/s, dense enough to see a failover's loss,
/// light beside the load.
pub const WRITE_INTERVAL: Duration = Duration::from_millis(2);
/// Pause after a failed write: during an outage each write asks the sentinels for the
/// primary, and hammering them would slow the very failover being measured. It bounds the
/// precision of "writes resumed" to this much.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(50);
/// Most writes in one run (a 10-minute run at the interval); then the writer stops.
pub const MAX_WRITES: u64 = 300_000;
/// Keys read back per MGET.
const READ_BATCH: usize = 500;
/// How long the read-back keeps retrying a failed batch (the primary may just have moved).
const READ_RETRY_FOR: Duration = Duration::from_secs(10);

/// What the writer saw, before the read-back.
#[derive(Debug, Default)]
struct WriteLog {
    attempted: u64,
    failed: u64,
    /// Acknowledged sequence numbers, as sorted disjoint `[first, last]` ranges.
    acked: Vec<[u64; 2]>,
    outages: Vec<WriteOutage>,
}

impl WriteLog {
    fn acknowledged(&self) -> u64 {
        self.acked.iter().map(|[a, b]| b - a + 1).sum()
    }

    fn ack(&mut self, n: u64, t_s: f64) {
        match self.acked.last_mut() {
            Some(last) if last[1] + 1 == n => last[1] = n,
            _ => self.acked.push([n, n]),
        }
        if let Some(o) = self.outages.last_mut() {
            if o.resumed_s.is_none() {
                o.resumed_s = Some(t_s);
            }
        }
    }

    fn fail(&mut self, t_s: f64) {
        self.failed += 1;
        let in_outage = self.outages.last().is_some_and(|o| o.resumed_s.is_none());
        if !in_outage {
            self.outages.push(WriteOutage {
                failed_from_s: t_s,
                resumed_s: None,
            });
        }
    }
}

/// A running writer.
pub struct WriteChecker {
    stop: watch::Sender<bool>,
    task: JoinHandle<WriteLog>,
    store: RedisStore,
}

impl WriteChecker {
    /// Starts writing through `store` (its key prefix is the versioned keys' prefix), with
    /// times measured from `start` (the clock of the run's time series).
    pub fn start(store: RedisStore, start: Instant) -> WriteChecker {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(write(store.clone(), start, stopped));
        WriteChecker { stop, task, store }
    }

    /// Stops writing and reads every written key back; `stop_reading` (a second signal)
    /// abandons the read-back, which then says so.
    pub async fn finish(self, stop_reading: impl std::future::Future<Output = ()>) -> AckedWrites {
        let _ = self.stop.send(true);
        let log = self.task.await.unwrap_or_default();
        let mut out = AckedWrites {
            key_prefix: self.store.config().key_prefix.clone(),
            attempted: log.attempted,
            acknowledged: log.acknowledged(),
            failed: log.failed,
            acknowledged_ranges: log.acked.iter().take(MAX_LISTED).copied().collect(),
            outages: log.outages.iter().take(MAX_LISTED).copied().collect(),
            ..AckedWrites::default()
        };
        // A fresh connection asks Sentinel for the primary now: the writer's may still reach
        // a primary that was demoted since.
        let reader = match RedisStore::connect(self.store.config().clone()).await {
            Ok(fresh) => fresh,
            Err(_) => self.store.clone(),
        };
        tokio::select! {
            read = read_back(&reader, &log) => match read {
                Ok((lost, present, sample)) => {
                    out.lost = lost;
                    out.unacknowledged_present = present;
                    out.lost_sample = sample;
                    out.checked = true;
                }
                Err(e) => out.check_error = Some(format!("the read-back failed: {e}")),
            },
            _ = stop_reading => out.check_error = Some("a second signal skipped the read-back".into()),
        }
        out
    }
}

fn seconds_since(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
}

async fn write(store: RedisStore, start: Instant, mut stopped: watch::Receiver<bool>) -> WriteLog {
    let mut log = WriteLog::default();
    let mut tick = tokio::time::interval(WRITE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while log.attempted < MAX_WRITES {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => break,
        }
        let n = log.attempted;
        log.attempted += 1;
        let sent_s = seconds_since(start);
        // A write in flight when the stop comes is let finish: its outcome must be known.
        match store
            .set(&n.to_string(), n.to_string().as_bytes(), None)
            .await
        {
            Ok(()) => log.ack(n, seconds_since(start)),
            Err(_) => {
                log.fail(sent_s);
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_AFTER_FAILURE) => {}
                    _ = stopped.wait_for(|s| *s) => break,
                }
            }
        }
    }
    log
}

/// Reads `0..attempted` back: (acknowledged but missing or changed, unacknowledged but
/// present, the first lost sequence numbers).
async fn read_back(store: &RedisStore, log: &WriteLog) -> Result<(u64, u64, Vec<u64>), OpError> {
    let mut acked = log.acked.iter().peekable();
    let mut lost = 0;
    let mut present_unacked = 0;
    let mut sample = Vec::new();
    let mut first = 0;
    while first < log.attempted {
        let last = (first + READ_BATCH as u64).min(log.attempted);
        let names: Vec<String> = (first..last).map(|n| n.to_string()).collect();
        let keys: Vec<&str> = names.iter().map(String::as_str).collect();
        let values = mget_with_retries(store, &keys).await?;
        for (n, value) in (first..last).zip(values) {
            while acked.peek().is_some_and(|r| r[1] < n) {
                acked.next();
            }
            let was_acked = acked.peek().is_some_and(|r| r[0] <= n && n <= r[1]);
            let intact = value.as_deref() == Some(n.to_string().as_bytes());
            if was_acked && !intact {
                lost += 1;
                if sample.len() < MAX_LISTED {
                    sample.push(n);
                }
            } else if !was_acked && value.is_some() {
                present_unacked += 1;
            }
        }
        first = last;
    }
    Ok((lost, present_unacked, sample))
}

async fn mget_with_retries(
    store: &RedisStore,
    keys: &[&str],
) -> Result<Vec<Option<Vec<u8>>>, OpError> {
    let deadline = Instant::now() + READ_RETRY_FOR;
    let mut attempt = 0;
    loop {
        match store.mget(keys).await {
            Ok(values) => return Ok(values),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(crate::cache::config::retry_delay(attempt)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_merge_into_ranges_and_failures_into_outages() {
        let mut log = WriteLog::default();
        log.ack(0, 0.1);
        log.ack(1, 0.2);
        log.fail(0.3);
        log.fail(0.4);
        log.ack(4, 0.9);
        log.ack(5, 1.0);
        log.fail(1.1);
        assert_eq!(log.acked, vec![[0, 1], [4, 5]]);
        assert_eq!(log.acknowledged(), 4);
        assert_eq!(log.failed, 3);
        assert_eq!(
            log.outages,
            vec![
                WriteOutage {
                    failed_from_s: 0.3,
                    resumed_s: Some(0.9)
                },
                WriteOutage {
                    failed_from_s: 1.1,
                    resumed_s: None
                }
            ]
        );
    }
}
