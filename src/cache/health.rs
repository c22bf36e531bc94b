//! The health snapshot: the cache layer's counters, serialized in exactly the shape of the
//! guide's `/api/health` response (`{"cache": {...}}`), with `errors` and
//! `fallback_operations` added after `total_operations`.

use super::breaker::BreakerCounters;
use serde::Serialize;

/// Counters of one cache manager at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthSnapshot {
    /// `connected` (Redis serving), `degraded` (breaker not CLOSED: fallback serving) or
    /// `memory` (no Redis configured).
    pub status: &'static str,
    /// `redis` or `memory`.
    pub provider: &'static str,
    pub hits: u64,
    pub misses: u64,
    pub total_operations: u64,
    pub errors: u64,
    pub fallback_operations: u64,
    pub circuit_breaker: BreakerCounters,
}

impl HealthSnapshot {
    /// hits / (hits + misses), 0 when nothing was read.
    pub fn hit_rate(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 / reads as f64
        }
    }

    /// The guide's `/api/health` body.
    pub fn to_health_json(&self) -> serde_json::Value {
        serde_json::json!({
            "cache": {
                "status": self.status,
                "provider": self.provider,
                "hit_rate": format!("{:.1}%", self.hit_rate() * 100.0),
                "hits": self.hits,
                "misses": self.misses,
                "total_operations": self.total_operations,
                "errors": self.errors,
                "fallback_operations": self.fallback_operations,
                "circuit_breaker": {
                    "state": self.circuit_breaker.state.name(),
                    "failures": self.circuit_breaker.failures,
                    "successes": self.circuit_breaker.successes,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::breaker::BreakerState;

    #[test]
    fn matches_the_guides_example() {
        let s = HealthSnapshot {
            status: "connected",
            provider: "redis",
            hits: 1250,
            misses: 265,
            total_operations: 1515,
            errors: 0,
            fallback_operations: 0,
            circuit_breaker: BreakerCounters {
                state: BreakerState::Closed,
                failures: 0,
                successes: 1515,
                rejected: 0,
            },
        };
        let json = s.to_health_json();
        assert_eq!(json["cache"]["hit_rate"], "82.5%");
        assert_eq!(json["cache"]["status"], "connected");
        assert_eq!(json["cache"]["circuit_breaker"]["state"], "CLOSED");
        assert_eq!(json["cache"]["circuit_breaker"]["successes"], 1515);
        let keys: Vec<_> = json["cache"].as_object().unwrap().keys().cloned().collect();
        for k in [
            "status",
            "provider",
            "hit_rate",
            "hits",
            "misses",
            "total_operations",
        ] {
            assert!(keys.contains(&k.to_string()));
        }
    }
}
