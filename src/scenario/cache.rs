//! `[cache]`: switches of the managed cache layer beyond its breaker and fallback — whether
//! concurrent misses for one key share one origin load (`single_flight`), and whether
//! invalidations made during an outage are replayed in Redis when it comes back
//! (`replay_invalidations`, on by default; off only to show in a drill what the stale-read
//! checker catches without it).

use serde::{Deserialize, Serialize};

/// `[cache]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSpec {
    /// Concurrent misses for one key share one origin load and its write-back, instead of
    /// each going to the origin (the guide's `getOrSet` does the latter).
    pub single_flight: bool,
    /// Deletes in Redis, before it serves again, whatever was invalidated or rewritten while
    /// it was unreachable. A test and drill knob: switching it off lets stale values
    /// survive an outage, which the stale-read checker must then catch.
    pub replay_invalidations: bool,
}

impl Default for CacheSpec {
    fn default() -> Self {
        CacheSpec {
            single_flight: false,
            replay_invalidations: true,
        }
    }
}
