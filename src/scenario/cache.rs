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

#[cfg(test)]
mod tests {
    use crate::scenario::{parse_str, Format};

    const BASE: &str = "[keyspace]\nkeys = 10\n[[ops]]\nkind = \"get_or_set\"\nweight = 1\n\
                        [load]\nmodel = \"closed\"\nclients = 1\nduration = \"1s\"\n";

    #[test]
    fn cache_switches_default_to_the_guide_and_are_read_and_overridden() {
        let s = parse_str(BASE, Format::Toml, "t.toml", &[]).expect("parses");
        assert!(!s.cache.single_flight && s.cache.replay_invalidations);
        let text = format!("{BASE}[cache]\nsingle_flight = true\nreplay_invalidations = false\n");
        let s = parse_str(&text, Format::Toml, "t.toml", &[]).expect("parses");
        assert!(s.cache.single_flight && !s.cache.replay_invalidations);
        let set = ["cache.replay_invalidations=true".to_string()];
        let s = parse_str(&text, Format::Toml, "t.toml", &set).expect("parses");
        assert!(s.cache.replay_invalidations);
        assert!(s.to_toml().contains("[cache]"), "{}", s.to_toml());
    }

    #[test]
    fn an_unknown_cache_field_names_itself() {
        let text = format!("{BASE}[cache]\nsingle_flite = true\n");
        let e = parse_str(&text, Format::Toml, "t.toml", &[]).expect_err("refused");
        assert!(e.to_string().contains("cache.single_flite"), "{e}");
        assert_eq!(e.line, Some(11), "{e}");
    }
}
