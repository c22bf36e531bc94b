//! The three targets a scenario can load, behind one interface: `managed` (breaker, Redis
//! and fallback, through `CacheManager`), `redis` (the raw store, no breaker: the ceiling)
//! and `memory` (the fallback alone). Each call answers with a [`Call`]: the value and how
//! it was served, as the application saw it, and apart from that what Redis did
//! ([`RedisCalls`]) — so a failure the fallback absorbed is still counted as Redis's.
//!
//! Every call holds Redis command slots (see [`queueing`]) while it runs, so
//! `connections × pipeline_depth` bounds what is on the wire and the wait shows in the report.

use super::queueing;
use crate::cache::manager::{Served, Source};
use crate::cache::redis_store::{Command, Reply};
use crate::cache::reply_cap::REDIS_MAX_BULK;
use crate::cache::{CacheManager, OpError, RedisConfig, RedisStore};
use crate::op::RedisCalls;
use crate::scenario::workload::Batch;
use crate::scenario::Scenario;
use std::time::{Duration, Instant};

/// What served an operation that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Redis (or, for the memory target, the memory store itself).
    Primary,
    /// The fallback, because Redis was refused by the breaker or failed.
    Fallback,
}

/// Smallest cap on one reply: INFO, SCAN pages and error replies fit in it many times over.
const MIN_REPLY_CAP: u64 = 16 << 20;

/// The largest reply `scenario` can legitimately get — the biggest MGET of the biggest
/// values, with room for encoding overhead — at least [`MIN_REPLY_CAP`] and at most Redis's
/// own bulk limit. A peer sending more is cut off with a protocol error, so each
/// connection buffers at most this much whatever it is sent.
pub fn reply_cap(scenario: &Scenario) -> u64 {
    let widest = scenario
        .ops
        .iter()
        .map(|op| match op.batch {
            Batch::Fixed(n) => n,
            Batch::Range { max, .. } => max,
        })
        .max()
        .unwrap_or(1);
    let value = scenario.keyspace.value_size.max();
    // Base64 of gzip grows incompressible data by a third; twice the size covers it and
    // the framing.
    widest
        .saturating_mul(value.saturating_mul(2))
        .clamp(MIN_REPLY_CAP, REDIS_MAX_BULK)
}

/// One call to the cache layer: what the application got, and what Redis did.
#[derive(Debug)]
pub struct Call<T> {
    /// The value and who served it, or the error the application saw.
    pub result: Result<(T, Via), OpError>,
    /// Commands the call consists of, whatever served them (an MGET is one, a pipeline of
    /// 16 is 16).
    pub commands: u64,
    /// Those commands as Redis saw them (none for the memory target).
    pub redis: RedisCalls,
}

/// The loaded cache layer.
#[derive(Clone, Debug)]
pub enum Backend {
    Managed(CacheManager),
    Raw(RedisStore),
    Memory(CacheManager),
}

/// Redis's side of `commands` commands that ended in `result`.
fn redis_calls<T>(
    result: &Result<T, OpError>,
    cause: Option<&OpError>,
    commands: u64,
) -> RedisCalls {
    let failure = match result {
        Err(e) if e.is_redis_failure() => Some(e),
        _ => cause.filter(|e| e.is_redis_failure()),
    };
    match failure {
        Some(e) => RedisCalls::failed(commands, e.kind()),
        None => RedisCalls::answered(commands),
    }
}

impl Backend {
    /// The manager, for targets that have one.
    pub fn manager(&self) -> Option<&CacheManager> {
        match self {
            Backend::Managed(m) | Backend::Memory(m) => Some(m),
            Backend::Raw(_) => None,
        }
    }

    /// Wraps a raw store's answer.
    fn raw<T>(&self, result: Result<T, OpError>, commands: u64) -> Call<T> {
        Call {
            redis: redis_calls(&result, None, commands),
            result: result.map(|v| (v, Via::Primary)),
            commands,
        }
    }

    /// Wraps a manager's answer; the fallback's `cause` is Redis's failure.
    fn managed<T>(&self, result: Result<Served<T>, OpError>, commands: u64) -> Call<T> {
        let redis = match self {
            Backend::Memory(_) => RedisCalls::default(),
            _ => {
                let cause = result.as_ref().ok().and_then(|s| s.cause.as_ref());
                redis_calls(&result, cause, commands)
            }
        };
        Call {
            result: result.map(|s| {
                let via = if s.source == Source::Fallback {
                    Via::Fallback
                } else {
                    Via::Primary
                };
                (s.value, via)
            }),
            commands,
            redis,
        }
    }

    /// The store's settings when batches may take the lean wire path ([`super::wire`]): the
    /// raw target over plain TCP. The one place that choice is made; callers add only what
    /// is theirs to decide (the mix, the depth, a connection per client).
    pub fn lean_wire(&self) -> Option<&RedisConfig> {
        match self {
            Backend::Raw(store) if super::wire::plain_tcp(store.config()) => Some(store.config()),
            _ => None,
        }
    }

    /// GET.
    pub async fn get(&self, key: &str) -> Call<Option<Vec<u8>>> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => self.raw(r.get(key).await, 1),
            Backend::Managed(m) | Backend::Memory(m) => self.managed(m.get_bytes(key).await, 1),
        }
    }

    /// SET with a TTL.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Call<()> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => self.raw(r.set(key, value, Some(ttl)).await, 1),
            Backend::Managed(m) | Backend::Memory(m) => {
                self.managed(m.set_bytes(key, value, Some(ttl)).await, 1)
            }
        }
    }

    /// DEL.
    pub async fn del(&self, key: &str) -> Call<()> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => self.raw(r.del(&[key]).await.map(|_| ()), 1),
            Backend::Managed(m) | Backend::Memory(m) => {
                self.managed(m.del(key).await.map(|s| s.map(|_| ())), 1)
            }
        }
    }

    /// Pattern delete (SCAN MATCH + UNLINK): one command, however many pages it takes.
    pub async fn del_pattern(&self, pattern: &str) -> Call<()> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => self.raw(r.del_pattern(pattern, 1000).await.map(|_| ()), 1),
            Backend::Managed(m) | Backend::Memory(m) => {
                self.managed(m.del_pattern(pattern).await.map(|s| s.map(|_| ())), 1)
            }
        }
    }

    /// MGET: one command.
    pub async fn mget(&self, keys: &[&str]) -> Call<Vec<Option<Vec<u8>>>> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => self.raw(r.mget(keys).await, 1),
            Backend::Managed(m) | Backend::Memory(m) => self.managed(m.mget_bytes(keys).await, 1),
        }
    }

    /// MSET with one TTL: a `SET .. PX` per key, sent together.
    pub async fn mset(&self, items: &[(&str, &[u8])], ttl: Duration) -> Call<()> {
        let _slot = queueing::redis_slot(1).await;
        let n = items.len() as u64;
        match self {
            Backend::Raw(r) => self.raw(r.mset(items, Some(ttl)).await, n),
            Backend::Managed(m) | Backend::Memory(m) => {
                self.managed(m.mset_bytes(items, Some(ttl)).await, n)
            }
        }
    }

    /// A batch of commands in one round trip: each reply with the instant it arrived, each
    /// command its own [`Call`].
    pub async fn pipeline(&self, cmds: &[Command]) -> Vec<(Call<Reply>, Instant)> {
        let _slots = queueing::redis_slot(cmds.len()).await;
        match self {
            Backend::Raw(r) => r
                .pipeline(cmds)
                .await
                .into_iter()
                .map(|(r, at)| (self.raw(r, 1), at))
                .collect(),
            Backend::Managed(m) | Backend::Memory(m) => m
                .pipeline(cmds)
                .await
                .into_iter()
                .map(|(r, at)| (self.managed(r, 1), at))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::ErrorKind;

    fn scenario(ops: &str, value_size: &str) -> Scenario {
        let toml = format!(
            "[keyspace]\nkeys = 10\nvalue_size = \"{value_size}\"\n{ops}\n\
             [load]\nmodel = \"closed\"\nclients = 1\nduration = \"1s\"\n"
        );
        crate::scenario::parse_str(&toml, crate::scenario::Format::Toml, "t.toml", &[])
            .expect("parses")
    }

    #[test]
    fn the_reply_cap_fits_the_largest_legitimate_reply() {
        let get = "[[ops]]\nkind = \"get\"\nweight = 1\n";
        assert_eq!(reply_cap(&scenario(get, "1KiB")), MIN_REPLY_CAP);
        let mget = "[[ops]]\nkind = \"mget\"\nweight = 1\nbatch = 100\n";
        assert_eq!(reply_cap(&scenario(mget, "1MiB")), 100 * (2 << 20));
        let huge = "[[ops]]\nkind = \"mget\"\nweight = 1\nbatch = 1000\n";
        assert_eq!(reply_cap(&scenario(huge, "64MiB")), REDIS_MAX_BULK);
    }

    #[test]
    fn a_failure_the_fallback_absorbed_is_still_redis_s() {
        let served: Result<Served<()>, OpError> = Ok(Served {
            value: (),
            source: Source::Fallback,
            cause: Some(OpError::Protocol("GET expects a bulk string".into())),
        });
        let cause = served.as_ref().ok().and_then(|s| s.cause.as_ref());
        let calls = redis_calls(&served, cause, 3);
        assert_eq!(calls.attempted, 3);
        assert_eq!(calls.failed[ErrorKind::Protocol.index()], 3);
        let refused: Result<(), OpError> = Err(OpError::BreakerOpen);
        assert_eq!(
            redis_calls(&refused, None, 1).failed[ErrorKind::BreakerRejected.index()],
            1
        );
        let not_redis: Result<(), OpError> = Err(OpError::Codec("bad gzip".into()));
        assert_eq!(redis_calls(&not_redis, None, 1).failures(), 0);
    }
}
