//! [`RedisPeers`]: the generators of a sharded run meet on the Redis they load, through a
//! few marker keys under the run's own prefix (so shard 0's cleanup removes them, and a TTL
//! removes them if nobody does):
//!
//! 1. every shard but 0 sets `<prefix>shards:ready:<i>` once connected, then waits for
//!    `<prefix>shards:start`;
//! 2. shard 0 preloads, waits until every `ready` marker is there, then sets `start` to
//!    the agreed start time: `--start-at`, or the next whole second at least
//!    [`START_LEAD`] away, whichever is later, and everyone sleeps until it;
//! 3. at the end, every shard but 0 sets `<prefix>shards:done:<i>`; shard 0 waits for
//!    them before it removes the run's keys, so no key still in use disappears.
//!
//! Every wait is bounded (`--shard-wait`, default [`DEFAULT_WAIT`]) and the engine gives it
//! up on SIGINT/SIGTERM. A lone generator with `--start-at` only sleeps until that time.

use super::shard::Shard;
use super::start;
use crate::cache::RedisStore;
use crate::engine::peers::{PeerFuture, Peers, PeersError};
use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

/// Default bound on each wait for the other shards.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(600);
/// Longest `--shard-wait`.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Shard 0 announces a start at least this far ahead, so every shard sees it in time.
pub const START_LEAD: Duration = Duration::from_secs(1);
/// How often a waiting shard looks at the markers.
const POLL: Duration = Duration::from_millis(50);

/// The coordination of one generator with the others of its run.
#[derive(Debug, Clone)]
pub struct RedisPeers {
    shard: Shard,
    start_at: Option<DateTime<Utc>>,
    wait: Duration,
}

impl RedisPeers {
    /// Coordination for `shard`; `wait` bounds each wait for the others.
    pub fn new(shard: Shard, start_at: Option<DateTime<Utc>>, wait: Duration) -> RedisPeers {
        RedisPeers {
            shard,
            start_at,
            wait,
        }
    }

    fn marker(prefix: &str, what: &str) -> String {
        format!("{prefix}shards:{what}")
    }

    /// Markers outlive the longest wait, then expire if no cleanup removed them.
    fn ttl(&self) -> Duration {
        self.wait + Duration::from_secs(600)
    }

    /// Indices among 1..count whose `<what>:<i>` marker is missing.
    async fn missing(admin: &RedisStore, prefix: &str, what: &str, count: u32) -> Vec<u32> {
        let mut missing = Vec::new();
        for i in 1..count {
            let key = Self::marker(prefix, &format!("{what}:{i}"));
            if !matches!(admin.get(&key).await, Ok(Some(_))) {
                missing.push(i);
            }
        }
        missing
    }

    /// Polls until every other shard's `<what>` marker is there; `Err(missing)` when the
    /// wait ran out.
    async fn await_markers(
        &self,
        admin: &RedisStore,
        prefix: &str,
        what: &str,
    ) -> Result<(), Vec<u32>> {
        let keys: Vec<String> = (1..self.shard.count)
            .map(|i| Self::marker(prefix, &format!("{what}:{i}")))
            .collect();
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let mut exists = redis::cmd("EXISTS");
            for k in &keys {
                exists.arg(k);
            }
            if let Ok(n) = admin.raw::<u64>(&exists).await {
                if n >= keys.len() as u64 {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Self::missing(admin, prefix, what, self.shard.count).await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sets a marker, retrying transient failures until the wait runs out.
    async fn set_marker(
        &self,
        admin: &RedisStore,
        key: &str,
        value: &str,
    ) -> Result<(), PeersError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            match admin.set(key, value.as_bytes(), Some(self.ttl())).await {
                Ok(()) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(PeersError(format!(
                        "shard {}: cannot set the marker {key}: {e}",
                        self.shard
                    )))
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Shard 0: waits for the others, then announces the start.
    async fn lead(&self, admin: &RedisStore, prefix: &str) -> Result<DateTime<Utc>, PeersError> {
        // Markers a crashed earlier run with this run id left must not end this one early.
        let stale: Vec<String> = (1..self.shard.count)
            .map(|i| Self::marker(prefix, &format!("done:{i}")))
            .chain([Self::marker(prefix, "start")])
            .collect();
        let stale: Vec<&str> = stale.iter().map(String::as_str).collect();
        let _ = admin.del(&stale).await;
        if let Err(missing) = self.await_markers(admin, prefix, "ready").await {
            return Err(PeersError(format!(
                "shard(s) {} of {} did not get ready within {} s (--shard-wait): is every \
                 generator running with the same --run-id against the same Redis?",
                list(&missing),
                self.shard.count,
                self.wait.as_secs()
            )));
        }
        let now = Utc::now();
        let lead = chrono::Duration::from_std(START_LEAD).unwrap_or_default();
        let next_second = Utc
            .timestamp_opt((now + lead).timestamp() + 1, 0)
            .single()
            .unwrap_or(now + lead);
        let at = self.start_at.map_or(next_second, |s| s.max(next_second));
        let millis = at.timestamp_millis().to_string();
        self.set_marker(admin, &Self::marker(prefix, "start"), &millis)
            .await?;
        Ok(at)
    }

    /// Any other shard: says it is ready, then waits for shard 0's start.
    async fn follow(&self, admin: &RedisStore, prefix: &str) -> Result<DateTime<Utc>, PeersError> {
        let ready = Self::marker(prefix, &format!("ready:{}", self.shard.index));
        self.set_marker(admin, &ready, "1").await?;
        let key = Self::marker(prefix, "start");
        let deadline = tokio::time::Instant::now() + self.wait;
        let stale = chrono::Duration::from_std(start::MAX_PAST).unwrap_or_default();
        loop {
            if let Ok(Some(v)) = admin.get(&key).await {
                let at = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
                // A start long past is an earlier run's marker: keep waiting for this one's.
                if let Some(at) = at.filter(|at| *at > Utc::now() - stale) {
                    return Ok(at);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(PeersError(format!(
                    "shard {}: shard 0 did not announce the start within {} s (--shard-wait): \
                     is shard 0 running with the same --run-id against the same Redis?",
                    self.shard,
                    self.wait.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// `1, 2 and 5`.
fn list(indices: &[u32]) -> String {
    let names: Vec<String> = indices.iter().map(u32::to_string).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

impl Peers for RedisPeers {
    fn ready<'a>(
        &'a self,
        admin: Option<&'a RedisStore>,
        run_prefix: &'a str,
    ) -> PeerFuture<'a, Result<(), PeersError>> {
        Box::pin(async move {
            let at = match (self.shard.count, admin) {
                (1, _) => self.start_at,
                (_, None) => {
                    return Err(PeersError(
                        "a sharded run needs a Redis server every shard shares (--redis URL)"
                            .into(),
                    ))
                }
                (_, Some(admin)) if self.shard.index == 0 => {
                    Some(self.lead(admin, run_prefix).await?)
                }
                (_, Some(admin)) => Some(self.follow(admin, run_prefix).await?),
            };
            if let Some(at) = at {
                tokio::time::sleep(start::until(at, Utc::now())).await;
            }
            Ok(())
        })
    }

    fn finished<'a>(
        &'a self,
        admin: Option<&'a RedisStore>,
        run_prefix: &'a str,
        interrupted: bool,
    ) -> PeerFuture<'a, ()> {
        Box::pin(async move {
            let Some(admin) = admin.filter(|_| self.shard.count > 1) else {
                return;
            };
            if self.shard.index != 0 {
                let done = Self::marker(run_prefix, &format!("done:{}", self.shard.index));
                if let Err(e) = admin.set(&done, b"1", Some(self.ttl())).await {
                    eprintln!(
                        "warning: shard {}: cannot tell shard 0 it is done: {e}",
                        self.shard
                    );
                }
                return;
            }
            if interrupted {
                return;
            }
            if let Err(missing) = self.await_markers(admin, run_prefix, "done").await {
                eprintln!(
                    "warning: shard(s) {} of {} did not finish within {} s (--shard-wait); \
                     removing the run's keys anyway",
                    list(&missing),
                    self.shard.count,
                    self.wait.as_secs()
                );
            }
        })
    }

    fn cleans_up(&self) -> bool {
        self.shard.index == 0
    }
}

#[cfg(test)]
mod tests {
    use super::list;

    #[test]
    fn missing_shards_are_listed_in_words() {
        assert_eq!(list(&[2]), "2");
        assert_eq!(list(&[1, 2]), "1 and 2");
        assert_eq!(list(&[1, 3, 5]), "1, 3 and 5");
    }
}
