//! Which cache layer a run drives over the opened target: `managed` (breaker + Redis +
//! fallback), `redis` (the raw store) or the memory store alone. The target decides whether
//! there is a Redis; the scenario's `target.kind` decides the layer in front of it.

use super::backend::Backend;
use crate::cache::{BreakerConfig, CacheManager, ManagerConfig};
use crate::scenario::target::TargetKind;
use crate::scenario::Scenario;
use crate::target::{Target, TargetError};

/// Connects the run's cache store (keys under `key_prefix`) and builds the layer.
pub async fn backend(
    scenario: &Scenario,
    target: &Target,
    key_prefix: &str,
) -> Result<Backend, TargetError> {
    if scenario.target.kind == TargetKind::Memory {
        return Ok(Backend::Memory(CacheManager::new(
            None,
            manager_config(scenario),
        )));
    }
    let store = target
        .connect_cache(
            key_prefix,
            scenario.load.connections,
            super::backend::reply_cap(scenario),
        )
        .await?;
    Ok(match (store, scenario.target.kind) {
        (None, _) => Backend::Memory(CacheManager::new(None, manager_config(scenario))),
        (Some(store), TargetKind::Redis) => Backend::Raw(store),
        (Some(store), _) => {
            Backend::Managed(CacheManager::new(Some(store), manager_config(scenario)))
        }
    })
}

fn manager_config(scenario: &Scenario) -> ManagerConfig {
    let b = &scenario.target.breaker;
    ManagerConfig {
        breaker: BreakerConfig {
            failure_threshold: b.failure_threshold,
            reset_timeout: b.reset_timeout,
            success_threshold: b.success_threshold,
            half_open_max_calls: b.half_open_max_calls,
            slow_call_threshold: b.slow_call_threshold,
        },
        fallback_max_bytes: scenario.target.fallback.max_bytes,
        single_flight: scenario.cache.single_flight,
        replay_invalidations: scenario.cache.replay_invalidations,
        ..ManagerConfig::default()
    }
}
