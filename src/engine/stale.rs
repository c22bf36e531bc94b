//! The stale-read checker: the simulated origin keeps a version per key, every value the
//! engine writes to the cache carries a [`Stamp`] (the origin version it holds and which of
//! the key's cache stores wrote it), and every read of a cached value is judged against
//! what the origin held when the read began.
//!
//! A write to the origin (`set`, `mset` and pipeline SETs: write-through; `del`/`invalidate`,
//! `del_pattern` and pipeline DELs: invalidation) bumps the key's version and then
//! invalidates the cache (the SET or DEL itself). A read that began when the origin held
//! version `v` and got a value stamped `g`:
//!
//! - `g >= v`: fresh.
//! - `g < v`, and the cache store that wrote `g` had returned before the invalidation of
//!   `v` began, and that invalidation had returned before the read began: the invalidation
//!   should have removed `g` and did not. A **lost invalidation** — counted once per
//!   invalidation — and a **stale read**.
//! - `g < v` and the value is older than its TTL (plus [`TTL_GRACE`]): the cache served it
//!   past its expiry. A **stale read**.
//! - otherwise `g < v` is the staleness cache-aside with a TTL permits: a reader loaded `g`
//!   before the write and stored it after (or while) the invalidation ran, so the stale copy
//!   lives until its TTL ends. Counted apart (`stale_reads_within_ttl`), never a failure.
//!
//! The rule never blames a race: when another store of the key was still in flight as the
//! invalidation began, or when a newer write's invalidation is still running, the read is
//! given the benefit of the doubt (within the TTL). A value too short to carry a stamp
//! ([`STAMP_LEN`] bytes) is not checked, nor are keys past [`MAX_CHECKED_KEYS`].
//!
//! Memory is bounded by the keyspace (bounded at validation) and by [`MAX_CHECKED_KEYS`]:
//! one small record per followed key, allocated when the run starts.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Keys the checker follows: key indices below this. Key popularity is spread over indices
/// (zipfian ranks are permuted), so in a larger keyspace they are a fair sample. 48 bytes
/// each: 12 MiB at most.
pub const MAX_CHECKED_KEYS: u64 = 1 << 18;
/// How long past its TTL a value may still be read before the read counts as stale: the
/// TTL starts when Redis applies the write, a little after the stamp was taken.
pub const TTL_GRACE: Duration = Duration::from_secs(1);
/// Bytes a stamp takes at the start of a value.
pub const STAMP_LEN: usize = 28;
/// Marks a stamped value; starts with a zero byte so no codec header or text matches it.
const MAGIC: [u8; 4] = *b"\0rlv";
const SHARDS: usize = 64;

/// What a cached value carries: the origin version it holds and the store that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Origin version of the value.
    pub version: u64,
    /// Which of the key's cache stores wrote it (1, 2, ...).
    pub store: u64,
    /// When that store was issued, ms since the checker started.
    pub stored_ms: u32,
    /// The TTL it was written with, ms (saturated).
    pub ttl_ms: u32,
}

impl Stamp {
    /// Writes the stamp over the start of `value`; false (and nothing written) when the
    /// value is too short to carry it.
    pub fn write_into(&self, value: &mut [u8]) -> bool {
        let Some(head) = value.get_mut(..STAMP_LEN) else {
            return false;
        };
        head[..4].copy_from_slice(&MAGIC);
        head[4..12].copy_from_slice(&self.version.to_le_bytes());
        head[12..20].copy_from_slice(&self.store.to_le_bytes());
        head[20..24].copy_from_slice(&self.stored_ms.to_le_bytes());
        head[24..28].copy_from_slice(&self.ttl_ms.to_le_bytes());
        true
    }

    /// The stamp at the start of a (decoded) value, if it carries one.
    pub fn read(value: &[u8]) -> Option<Stamp> {
        let head = value.get(..STAMP_LEN)?;
        if head[..4] != MAGIC {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().unwrap_or_default());
        Some(Stamp {
            version: u64_at(4),
            store: u64_at(12),
            stored_ms: u32_at(20),
            ttl_ms: u32_at(24),
        })
    }
}

/// How one read of a cached value came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// The value carried no stamp, or the key is not followed.
    Unchecked,
    /// As new as the origin when the read began.
    Fresh,
    /// Older than the origin, within what the TTL permits (a cache-aside race).
    StaleWithinTtl,
    /// Older than the origin beyond that bound. `lost` when an invalidation was lost;
    /// `first` when this read is the first to prove that invalidation lost.
    Stale { lost: bool, first: bool },
}

/// One key's record.
#[derive(Debug, Default, Clone, Copy)]
struct KeyState {
    /// The origin's version (0 until the first write).
    version: u64,
    /// Cache stores issued (the last store's number).
    stores: u64,
    /// Cache stores issued and not yet returned.
    in_flight: u32,
    /// The latest write's invalidation: which version it made room for (0: none yet)...
    inv_version: u64,
    /// ...the stores that had returned when it began (0: unknown, a store was in flight)...
    inv_floor: u64,
    /// ...and whether it has returned.
    inv_done: bool,
    /// The invalidation whose loss was last counted.
    lost_counted: u64,
}

/// A write in progress: bumped the version, its invalidation not yet returned.
#[derive(Debug)]
pub struct Write {
    index: u64,
    version: u64,
    /// The stamp of the value it stores (write-through); `None` for a deletion.
    pub stamp: Option<Stamp>,
}

/// A cache store in progress (a `get_or_set` write-back).
#[derive(Debug)]
pub struct Store {
    index: u64,
    /// The stamp of the value it stores.
    pub stamp: Stamp,
}

/// What the origin held when a read began.
#[derive(Debug, Clone, Copy)]
pub struct ReadStart {
    index: u64,
    version: u64,
    inv_version: u64,
    inv_floor: u64,
    inv_done: bool,
    at_ms: u64,
}

/// The origin's versions and the checker's per-key records.
#[derive(Debug)]
pub struct Versions {
    shards: Vec<Mutex<Vec<KeyState>>>,
    /// Keys followed (indices `0..checked`).
    checked: u64,
    start: Instant,
}

impl Versions {
    /// Versions for a keyspace of `keys` keys (the first [`MAX_CHECKED_KEYS`] followed).
    pub fn new(keys: u64) -> Self {
        let checked = keys.min(MAX_CHECKED_KEYS);
        let per_shard = checked.div_ceil(SHARDS as u64) as usize;
        Versions {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(vec![KeyState::default(); per_shard]))
                .collect(),
            checked,
            start: Instant::now(),
        }
    }

    /// Keys followed.
    pub fn checked_keys(&self) -> u64 {
        self.checked
    }

    /// The record of key `index`, locked; `None` for a key not followed.
    fn key(&self, index: u64) -> Option<(MutexGuard<'_, Vec<KeyState>>, usize)> {
        if index >= self.checked {
            return None;
        }
        let shard = &self.shards[(index % SHARDS as u64) as usize];
        let guard = shard.lock().unwrap_or_else(|e| e.into_inner());
        Some((guard, (index / SHARDS as u64) as usize))
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn stamp(&self, state: &mut KeyState, version: u64, ttl: Duration) -> Stamp {
        state.stores += 1;
        Stamp {
            version,
            store: state.stores,
            stored_ms: self.now_ms().min(u64::from(u32::MAX)) as u32,
            ttl_ms: ttl.as_millis().min(u128::from(u32::MAX)) as u32,
        }
    }

    /// The origin's version of key `index` now (0 for a key not followed).
    pub fn current(&self, index: u64) -> u64 {
        self.key(index).map_or(0, |(g, i)| g[i].version)
    }

    /// A write to the origin begins: bumps the version and starts its invalidation. With a
    /// `ttl` the write stores the new value in the cache (write-through) and carries its
    /// stamp; without, it deletes. Pass the result to [`write_done`](Self::write_done).
    pub fn write(&self, index: u64, ttl: Option<Duration>) -> Option<Write> {
        let (mut g, i) = self.key(index)?;
        let state = &mut g[i];
        state.version += 1;
        state.inv_version = state.version;
        state.inv_floor = if state.in_flight == 0 {
            state.stores
        } else {
            0
        };
        state.inv_done = false;
        let stamp = ttl.map(|ttl| {
            let version = state.version;
            let stamp = self.stamp(state, version, ttl);
            state.in_flight += 1;
            stamp
        });
        Some(Write {
            index,
            version: state.version,
            stamp,
        })
    }

    /// The write's cache call returned (whatever served it).
    pub fn write_done(&self, write: Option<Write>) {
        let Some(w) = write else { return };
        if let Some((mut g, i)) = self.key(w.index) {
            let state = &mut g[i];
            if state.inv_version == w.version {
                state.inv_done = true;
            }
            if w.stamp.is_some() {
                state.in_flight = state.in_flight.saturating_sub(1);
            }
        }
    }

    /// A cache store of `version` (loaded from the origin) begins.
    pub fn store(&self, index: u64, version: u64, ttl: Duration) -> Option<Store> {
        let (mut g, i) = self.key(index)?;
        let state = &mut g[i];
        let stamp = self.stamp(state, version, ttl);
        state.in_flight += 1;
        Some(Store { index, stamp })
    }

    /// The store's cache call returned.
    pub fn store_done(&self, store: Option<Store>) {
        let Some(s) = store else { return };
        if let Some((mut g, i)) = self.key(s.index) {
            g[i].in_flight = g[i].in_flight.saturating_sub(1);
        }
    }

    /// The stamp of a value written before the load starts (preload): no other store can
    /// be in flight, so it is issued and returned at once.
    pub fn preloaded(&self, index: u64, ttl: Duration) -> Option<Stamp> {
        let (mut g, i) = self.key(index)?;
        let version = g[i].version;
        Some(self.stamp(&mut g[i], version, ttl))
    }

    /// A read of key `index` begins.
    pub fn read(&self, index: u64) -> Option<ReadStart> {
        let at_ms = self.now_ms();
        let (g, i) = self.key(index)?;
        let s = &g[i];
        Some(ReadStart {
            index,
            version: s.version,
            inv_version: s.inv_version,
            inv_floor: s.inv_floor,
            inv_done: s.inv_done,
            at_ms,
        })
    }

    /// Judges a read that began at `start` and got a value whose (decoded) bytes are `got`.
    pub fn judge(&self, start: Option<ReadStart>, got: &[u8]) -> Judgement {
        let (Some(start), Some(stamp)) = (start, Stamp::read(got)) else {
            return Judgement::Unchecked;
        };
        if stamp.version >= start.version {
            return Judgement::Fresh;
        }
        let lost = start.inv_done
            && start.inv_version > stamp.version
            && start.inv_floor != 0
            && stamp.store <= start.inv_floor;
        if lost {
            let mut first = false;
            if let Some((mut g, i)) = self.key(start.index) {
                first = g[i].lost_counted < start.inv_version;
                g[i].lost_counted = g[i].lost_counted.max(start.inv_version);
            }
            return Judgement::Stale { lost: true, first };
        }
        let age = start.at_ms.saturating_sub(u64::from(stamp.stored_ms));
        let bound = u64::from(stamp.ttl_ms) + TTL_GRACE.as_millis() as u64;
        if age > bound {
            Judgement::Stale {
                lost: false,
                first: false,
            }
        } else {
            Judgement::StaleWithinTtl
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(300);

    fn value(stamp: Option<Stamp>) -> Vec<u8> {
        let mut v = vec![b'x'; 64];
        if let Some(s) = stamp {
            assert!(s.write_into(&mut v));
        }
        v
    }

    #[test]
    fn stamps_round_trip_and_short_values_carry_none() {
        let s = Stamp {
            version: 7,
            store: 3,
            stored_ms: 1234,
            ttl_ms: 60_000,
        };
        assert_eq!(Stamp::read(&value(Some(s))), Some(s));
        assert_eq!(Stamp::read(&value(None)), None);
        let mut short = vec![0u8; STAMP_LEN - 1];
        assert!(!s.write_into(&mut short));
        assert_eq!(Stamp::read(b"{\"json\": true, \"padding\": 123456}"), None);
    }

    #[test]
    fn a_value_stored_before_an_invalidation_that_returned_is_a_lost_invalidation() {
        let v = Versions::new(10);
        let st = v.store(3, v.current(3), TTL);
        let old = value(st.as_ref().map(|s| s.stamp));
        v.store_done(st);
        // The write and its invalidation (lost, as if an outage swallowed it).
        let w = v.write(3, None);
        v.write_done(w);
        assert_eq!(
            v.judge(v.read(3), &old),
            Judgement::Stale {
                lost: true,
                first: true
            }
        );
        assert_eq!(
            v.judge(v.read(3), &old),
            Judgement::Stale {
                lost: true,
                first: false
            },
            "one lost invalidation, however many reads prove it"
        );
    }

    #[test]
    fn a_read_racing_the_invalidation_is_not_blamed() {
        let v = Versions::new(10);
        let st = v.store(1, 0, TTL);
        let old = value(st.as_ref().map(|s| s.stamp));
        v.store_done(st);
        let w = v.write(1, None);
        // The invalidation has not returned: Redis may not have applied it yet.
        assert_eq!(v.judge(v.read(1), &old), Judgement::StaleWithinTtl);
        v.write_done(w);
        let fresh = v.write(1, Some(TTL));
        let new = value(fresh.as_ref().and_then(|w| w.stamp));
        v.write_done(fresh);
        assert_eq!(v.judge(v.read(1), &new), Judgement::Fresh);
    }

    #[test]
    fn a_write_back_stored_after_the_invalidation_is_the_race_the_ttl_permits() {
        let v = Versions::new(10);
        // A reader loaded version 0, then the write and its invalidation ran...
        let loaded = v.current(2);
        let w = v.write(2, None);
        v.write_done(w);
        // ...then the reader stored what it had loaded.
        let st = v.store(2, loaded, TTL);
        let late = value(st.as_ref().map(|s| s.stamp));
        v.store_done(st);
        assert_eq!(v.judge(v.read(2), &late), Judgement::StaleWithinTtl);
        // The same copy read after its TTL is stale beyond the bound.
        let st = v.store(2, loaded, Duration::ZERO);
        let mut expired = st.as_ref().map(|s| s.stamp).expect("followed key");
        v.store_done(st);
        let mut start = v.read(2);
        if let Some(s) = &mut start {
            s.at_ms = u64::from(expired.stored_ms) + TTL_GRACE.as_millis() as u64 + 1;
        }
        expired.store = u64::MAX; // stored after the invalidation: not a lost one
        assert_eq!(
            v.judge(start, &value(Some(expired))),
            Judgement::Stale {
                lost: false,
                first: false
            }
        );
    }

    #[test]
    fn a_store_in_flight_when_the_invalidation_began_gets_the_benefit_of_the_doubt() {
        let v = Versions::new(10);
        let st = v.store(4, 0, TTL);
        let old = value(st.as_ref().map(|s| s.stamp));
        let w = v.write(4, None);
        v.write_done(w);
        v.store_done(st);
        assert_eq!(v.judge(v.read(4), &old), Judgement::StaleWithinTtl);
    }

    #[test]
    fn keys_past_the_bound_and_unstamped_values_are_unchecked() {
        let v = Versions::new(MAX_CHECKED_KEYS + 10);
        assert_eq!(v.checked_keys(), MAX_CHECKED_KEYS);
        assert!(v.write(MAX_CHECKED_KEYS, None).is_none());
        assert!(v.read(MAX_CHECKED_KEYS + 1).is_none());
        assert_eq!(v.judge(v.read(0), &value(None)), Judgement::Unchecked);
        assert_eq!(Versions::new(3).checked_keys(), 3);
    }
}
