//! The three targets a scenario can load, behind one interface: `managed` (breaker, Redis
//! and fallback, through `CacheManager`), `redis` (the raw store, no breaker: the ceiling)
//! and `memory` (the fallback alone). Each call answers with the value and how it was served,
//! so workers count hits, fallback operations and errors the same way for all three.
//!
//! Every call holds Redis command slots (see [`queueing`]) while it runs, so
//! `connections × pipeline_depth` bounds what is on the wire and the wait shows in the report.

use super::queueing;
use crate::cache::manager::{Served, Source};
use crate::cache::redis_store::{Command, Reply};
use crate::cache::{CacheManager, OpError, RedisConfig, RedisStore};
use std::time::{Duration, Instant};

/// What served an operation that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Redis (or, for the memory target, the memory store itself).
    Primary,
    /// The fallback, because Redis was refused by the breaker or failed.
    Fallback,
}

/// The loaded cache layer.
#[derive(Clone, Debug)]
pub enum Backend {
    Managed(CacheManager),
    Raw(RedisStore),
    Memory(CacheManager),
}

fn via<T>(s: Served<T>) -> (T, Via) {
    let v = if s.source == Source::Fallback {
        Via::Fallback
    } else {
        Via::Primary
    };
    (s.value, v)
}

impl Backend {
    /// The manager, for targets that have one.
    pub fn manager(&self) -> Option<&CacheManager> {
        match self {
            Backend::Managed(m) | Backend::Memory(m) => Some(m),
            Backend::Raw(_) => None,
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
    pub async fn get(&self, key: &str) -> Result<(Option<Vec<u8>>, Via), OpError> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => Ok((r.get(key).await?, Via::Primary)),
            Backend::Managed(m) | Backend::Memory(m) => m.get_bytes(key).await.map(via),
        }
    }

    /// SET with a TTL.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<Via, OpError> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => r.set(key, value, Some(ttl)).await.map(|()| Via::Primary),
            Backend::Managed(m) | Backend::Memory(m) => {
                m.set_bytes(key, value, Some(ttl)).await.map(|s| via(s).1)
            }
        }
    }

    /// DEL.
    pub async fn del(&self, key: &str) -> Result<Via, OpError> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => r.del(&[key]).await.map(|_| Via::Primary),
            Backend::Managed(m) | Backend::Memory(m) => m.del(key).await.map(|s| via(s).1),
        }
    }

    /// Pattern delete (SCAN MATCH + UNLINK).
    pub async fn del_pattern(&self, pattern: &str) -> Result<Via, OpError> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => r.del_pattern(pattern, 1000).await.map(|_| Via::Primary),
            Backend::Managed(m) | Backend::Memory(m) => {
                m.del_pattern(pattern).await.map(|s| via(s).1)
            }
        }
    }

    /// MGET.
    pub async fn mget(&self, keys: &[&str]) -> Result<(Vec<Option<Vec<u8>>>, Via), OpError> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => Ok((r.mget(keys).await?, Via::Primary)),
            Backend::Managed(m) | Backend::Memory(m) => m.mget_bytes(keys).await.map(via),
        }
    }

    /// MSET with one TTL.
    pub async fn mset(&self, items: &[(&str, &[u8])], ttl: Duration) -> Result<Via, OpError> {
        let _slot = queueing::redis_slot(1).await;
        match self {
            Backend::Raw(r) => r.mset(items, Some(ttl)).await.map(|()| Via::Primary),
            Backend::Managed(m) | Backend::Memory(m) => {
                m.mset_bytes(items, Some(ttl)).await.map(|s| via(s).1)
            }
        }
    }

    /// A batch of commands in one round trip; each reply with the instant it arrived.
    pub async fn pipeline(
        &self,
        cmds: &[Command],
    ) -> Vec<(Result<(Reply, Via), OpError>, Instant)> {
        let _slots = queueing::redis_slot(cmds.len()).await;
        match self {
            Backend::Raw(r) => r
                .pipeline(cmds)
                .await
                .into_iter()
                .map(|(r, at)| (r.map(|v| (v, Via::Primary)), at))
                .collect(),
            Backend::Managed(m) | Backend::Memory(m) => m
                .pipeline(cmds)
                .await
                .into_iter()
                .map(|(r, at)| (r.map(via), at))
                .collect(),
        }
    }
}
