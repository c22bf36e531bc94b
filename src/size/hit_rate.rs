//! The hit-rate study: the scenario's traffic with maxmemory at several fractions of its
//! working set (`sizing.memory_fractions`), under the scenario's eviction policy (default
//! allkeys-lru), measuring hit rate and evictions — and from the curve, the memory the
//! hit-rate target needs.
//!
//! Only on a server redline started: maxmemory is changed with CONFIG SET for each run and
//! put back afterwards ([`MaxmemoryGuard`]); a server redline did not start is never
//! reconfigured, and the study is skipped saying so. Each run starts from the server's
//! baseline (the previous run's keys removed): maxmemory = used_memory now + fraction ×
//! working set, where the working set is `keyspace.keys` × the measured bytes per key.
//! The hit rate is Redis's own (INFO keyspace_hits/misses): the managed layer's fallback
//! may answer while Redis refuses writes. A maxmemory below what Redis's clients need
//! (a small fraction of a small working set) makes Redis refuse writes with OOM errors;
//! such a point is reported with its failures and left out of the interpolation.

use super::plan::{self, Plan};
use super::report::{HitRatePoint, HitRateStudy};
use super::SizeError;
use crate::cache::RedisStore;
use crate::engine::{self, RunOptions};
use crate::report::format;
use crate::scenario::Scenario;
use crate::shutdown::Shutdown;
use crate::target::Target;

/// Why the study cannot run on this target or scenario; `None` when it can.
pub fn cannot_run(scenario: &Scenario, target: &Target) -> Option<String> {
    if target.embedded().is_none() {
        return Some(
            "the server was not started by redline, and redline never changes maxmemory on a \
             server it did not start (run without --redis, REDIS_URL and REDIS_HOST to let \
             redline start one)"
                .to_string(),
        );
    }
    if !plan::reads(scenario) {
        return Some(
            "the mix reads no keys (no get, get_or_set, mget or pipeline), so there is no hit rate"
                .to_string(),
        );
    }
    None
}

/// maxmemory and its policy as they were, put back by [`restore`](Self::restore).
pub struct MaxmemoryGuard<'a> {
    admin: &'a RedisStore,
    maxmemory: String,
    policy: String,
}

async fn config_get(admin: &RedisStore, name: &str) -> Result<String, SizeError> {
    let pair: Vec<String> = admin
        .raw(redis::cmd("CONFIG").arg("GET").arg(name))
        .await
        .map_err(|e| SizeError::Redis(format!("CONFIG GET {name} failed: {e}")))?;
    Ok(pair.get(1).cloned().unwrap_or_default())
}

async fn config_set(admin: &RedisStore, name: &str, value: &str) -> Result<(), SizeError> {
    admin
        .raw::<redis::Value>(redis::cmd("CONFIG").arg("SET").arg(name).arg(value))
        .await
        .map(|_| ())
        .map_err(|e| SizeError::Redis(format!("CONFIG SET {name} {value} failed: {e}")))
}

impl<'a> MaxmemoryGuard<'a> {
    /// Notes the current settings.
    pub async fn take(admin: &'a RedisStore) -> Result<MaxmemoryGuard<'a>, SizeError> {
        Ok(MaxmemoryGuard {
            admin,
            maxmemory: config_get(admin, "maxmemory").await?,
            policy: config_get(admin, "maxmemory-policy").await?,
        })
    }

    /// Puts them back.
    pub async fn restore(self) {
        let _ = config_set(self.admin, "maxmemory", &self.maxmemory).await;
        let _ = config_set(self.admin, "maxmemory-policy", &self.policy).await;
    }
}

/// Runs the sweep. `per_key_bytes` is the memory study's figure; `rate` the runs' rate.
/// Points measured before a stop request are kept.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    scenario: &Scenario,
    plan: &Plan,
    target: &Target,
    per_key_bytes: f64,
    rate: f64,
    run_id: &str,
    shutdown: &Shutdown,
    on_point: &mut (dyn FnMut(&HitRatePoint) + Send),
) -> Result<HitRateStudy, SizeError> {
    let admin = target.admin().ok_or(SizeError::NoRedis)?;
    let working_set = (per_key_bytes * scenario.keyspace.keys as f64).ceil() as u64;
    let mut fractions: Vec<f64> = plan.spec.memory_fractions.iter().map(|f| f.0).collect();
    fractions.sort_by(f64::total_cmp);
    fractions.dedup();
    let guard = MaxmemoryGuard::take(admin).await?;
    config_set(admin, "maxmemory-policy", plan.policy.as_str()).await?;
    let mut points = Vec::new();
    let mut failure = None;
    for (i, fraction) in fractions.iter().copied().enumerate() {
        if shutdown.is_stopping() {
            break;
        }
        let baseline = match super::memory::memory_info(admin).await {
            Ok((used, _, _)) => used,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let maxmemory = baseline + (fraction * working_set as f64).ceil() as u64;
        if let Err(e) = config_set(admin, "maxmemory", &maxmemory.to_string()).await {
            failure = Some(e);
            break;
        }
        let opts = RunOptions {
            run_id: Some(format!("{run_id}{i}")),
            keep_keys: false,
            seed: Some(0x417 + i as u64),
            ..RunOptions::default()
        };
        let run = plan.hit_run(scenario, rate);
        let summary = match engine::run(&run, target, &opts, shutdown.clone(), &mut |_| {}).await {
            Ok(s) => s,
            Err(e) => {
                failure = Some(SizeError::Engine(e));
                break;
            }
        };
        if summary.aborted {
            break;
        }
        let server = summary.server.as_ref();
        let point = HitRatePoint {
            fraction,
            maxmemory_bytes: maxmemory,
            hit_rate: server
                .and_then(|s| s.hit_rate_server)
                .or(summary.totals.hit_rate),
            client_hit_rate: summary.totals.hit_rate,
            redis_failures: summary.redis.as_ref().map_or(0, |r| r.failures_total),
            evicted_keys: server.map_or(0, |s| s.evicted_keys),
            keys_written: server.map_or(0, |s| s.keys_written),
            preload_keys_per_s: summary.preload.map(|p| p.keys_per_s.round()),
            preload_complete: summary.preload.is_none_or(|p| p.complete),
        };
        on_point(&point);
        points.push(point);
    }
    guard.restore().await;
    if let Some(e) = failure {
        return Err(e);
    }
    let fraction_needed = needed(&points, plan.hit_rate_target);
    let memory_needed =
        fraction_needed.map(|f| (f * per_key_bytes * plan.keys as f64).ceil() as u64);
    let message = message(&points, plan, fraction_needed, memory_needed);
    Ok(HitRateStudy {
        policy: plan.policy.as_str().to_string(),
        rate_per_s: rate,
        working_set_bytes: working_set,
        points,
        fraction_needed,
        memory_needed_bytes: memory_needed,
        message,
    })
}

/// The points that measured a hit rate for their memory, with it: a point where Redis
/// refused writes (maxmemory below what its clients need), during the run or its preload,
/// measured the refusals instead.
pub fn measured(points: &[HitRatePoint]) -> impl Iterator<Item = (&HitRatePoint, f64)> {
    points
        .iter()
        .filter(|p| p.redis_failures == 0 && p.preload_complete)
        .filter_map(|p| Some((p, p.hit_rate?)))
}

/// Why the target was not reached, from the points (none reached it): that no point could
/// measure, or the best measured and how much memory it had.
pub fn unreached(points: &[HitRatePoint], target: f64) -> String {
    let target = format::percent(target, 0);
    let best = measured(points).max_by(|a, b| a.0.fraction.total_cmp(&b.0.fraction));
    match best {
        None if points.is_empty() => "no maxmemory setting was measured".to_string(),
        None => format!(
            "the hit rate was not measured: Redis refused writes (in the run or its preload) \
             at every maxmemory tried (up to {} of the working set): the working set is too \
             small next to Redis's client buffers; raise keyspace.keys or \
             sizing.memory_fractions",
            format::percent(points.iter().map(|p| p.fraction).fold(0.0, f64::max), 0)
        ),
        Some((p, h)) if p.fraction >= 1.0 => format!(
            "{target} hits were not reached even with the whole working set: {} (misses that \
             no memory avoids — first reads, TTL expiry, invalidations — or a distribution \
             too flat for the cache)",
            format::percent(h, 1)
        ),
        Some((p, h)) => format!(
            "{target} hits were not reached with up to {} of the working set ({}); more memory \
             was not measured (add larger sizing.memory_fractions)",
            format::percent(p.fraction, 0),
            format::percent(h, 1)
        ),
    }
}

/// The smallest fraction whose hit rate reaches `target`, interpolated linearly between
/// the last point below it and the first at or above it; `None` when no point reaches it.
pub fn needed(points: &[HitRatePoint], target: f64) -> Option<f64> {
    let mut below: Option<(f64, f64)> = None;
    for (p, h) in measured(points) {
        if h >= target {
            return Some(match below {
                Some((f0, h0)) if h > h0 => {
                    let f = f0 + (p.fraction - f0) * (target - h0) / (h - h0);
                    (f * 1000.0).round() / 1000.0
                }
                _ => p.fraction,
            });
        }
        below = Some((p.fraction, h));
    }
    None
}

fn message(
    points: &[HitRatePoint],
    plan: &Plan,
    fraction: Option<f64>,
    memory: Option<u64>,
) -> String {
    match (fraction, memory) {
        (Some(f), Some(m)) => format!(
            "{} hits need {} of the working set: {} for {} keys",
            format::percent(plan.hit_rate_target, 0),
            format::percent(f, 0),
            format::bytes(m),
            format::count(plan.keys)
        ),
        _ => unreached(points, plan.hit_rate_target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(fraction: f64, hit_rate: f64) -> HitRatePoint {
        HitRatePoint {
            fraction,
            maxmemory_bytes: 0,
            hit_rate: Some(hit_rate),
            client_hit_rate: None,
            redis_failures: 0,
            evicted_keys: 0,
            keys_written: 0,
            preload_keys_per_s: None,
            preload_complete: true,
        }
    }

    #[test]
    fn the_fraction_needed_is_interpolated_between_the_points_around_the_target() {
        let points = [point(0.1, 0.5), point(0.25, 0.7), point(0.5, 0.9)];
        assert_eq!(needed(&points, 0.8), Some(0.375));
        assert_eq!(needed(&points, 0.4), Some(0.1));
        assert_eq!(needed(&points, 0.95), None);
        let refused = HitRatePoint {
            redis_failures: 3,
            ..point(0.05, 0.9)
        };
        assert_eq!(needed(&[refused, point(0.5, 0.9)], 0.8), Some(0.5));
    }

    #[test]
    fn an_unreached_target_says_what_was_measured_not_more() {
        let oom = |f| HitRatePoint {
            redis_failures: 40,
            ..point(f, 0.1)
        };
        // Every point refused writes: nothing about hits was measured.
        let all_oom = unreached(&[oom(0.05), oom(0.1)], 0.8);
        assert!(
            all_oom.starts_with("the hit rate was not measured") && all_oom.contains("10%"),
            "{all_oom}"
        );
        // The sweep stopped at half the working set: not "even with the whole".
        let half = unreached(&[point(0.25, 0.5), point(0.5, 0.7), oom(1.0)], 0.8);
        assert!(
            half.contains("with up to 50% of the working set (70.0%)"),
            "{half}"
        );
        // A preload cut short left a cold cache: its hit rate is not the memory's.
        let cold = HitRatePoint {
            preload_complete: false,
            ..point(1.0, 0.07)
        };
        let half = unreached(&[point(0.5, 0.7), cold.clone()], 0.8);
        assert!(half.contains("with up to 50%"), "{half}");
        assert_eq!(needed(&[cold, point(1.0, 0.9)], 0.8), Some(1.0));
        let whole = unreached(&[point(0.5, 0.6), point(1.0, 0.7)], 0.8);
        assert!(
            whole.contains("even with the whole working set: 70.0%"),
            "{whole}"
        );
    }
}
