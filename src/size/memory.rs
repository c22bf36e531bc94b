//! The memory study: what one key of the scenario's profile costs Redis, measured, and
//! what that means for the keyspace sized for.
//!
//! `sizing.sample_keys` keys are written under the study's own prefix, with names spread
//! over the sized keyspace's indices (so key lengths are those of the whole keyspace), the
//! scenario's value sizes and content, the writing operation's codec and TTL (an expiring
//! key also costs an entry in the expires dictionary). used_memory before and after gives
//! the cost per key with every overhead included; `MEMORY USAGE` on up to
//! [`USAGE_SAMPLE`] of them cross-checks it. The keys are removed afterwards.
//!
//! Extrapolation ([`extrapolate`]): dataset = per-key cost × keys + `used_memory_startup`;
//! maxmemory = dataset / memory target (the `memory` threshold, default 0.80), rounded up;
//! an instance takes a maxmemory of at most `sizing.instance_fill` of its memory (the rest
//! is for fragmentation, client buffers and a fork's copy-on-write); when none is large
//! enough, the sizing says how many Redis Cluster shards of each size would be.

use super::plan::Plan;
use super::report::{InstanceFit, MemoryStudy};
use super::SizeError;
use crate::cache::codec::CodecConfig;
use crate::cache::{Codec, RedisStore};
use crate::engine::ops::key_name;
use crate::op::OpKind;
use crate::scenario::{Scenario, ValueGen};
use crate::shutdown::Shutdown;
use crate::target::Target;
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// Keys whose `MEMORY USAGE` is asked.
pub const USAGE_SAMPLE: u64 = 200;
/// Keys written per round trip.
const CHUNK: u64 = 100;

/// What the sample measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub keys: u64,
    pub key_bytes: f64,
    pub value_bytes: f64,
    pub raw_value_bytes: f64,
    pub used_memory_delta: i64,
    pub memory_usage_mean: f64,
    pub overhead_bytes: u64,
}

/// The codec and TTL of the operation that writes values (the first set, get_or_set, mset
/// or pipeline; else the first operation).
fn writer(scenario: &Scenario) -> (CodecConfig, std::time::Duration) {
    let spec = scenario
        .ops
        .iter()
        .find(|o| {
            matches!(
                o.kind,
                OpKind::Set | OpKind::GetOrSet | OpKind::Mset | OpKind::Pipeline
            )
        })
        .or(scenario.ops.first());
    match spec {
        Some(spec) => (
            CodecConfig {
                codec: spec.codec.name().parse().unwrap_or(Codec::None),
                threshold: spec.compress_threshold as usize,
            },
            spec.ttl,
        ),
        None => (CodecConfig::default(), std::time::Duration::from_secs(300)),
    }
}

/// The codec's name as the scenario writes it.
pub fn codec_name(scenario: &Scenario) -> String {
    writer(scenario).0.codec.name().to_string()
}

/// used_memory and used_memory_startup.
async fn memory_info(admin: &RedisStore) -> Result<(u64, u64), SizeError> {
    let info = admin
        .raw::<redis::InfoDict>(redis::cmd("INFO").arg("memory"))
        .await
        .map_err(|e| SizeError::Redis(format!("INFO memory failed: {e}")))?;
    let n = |k: &str| info.get::<u64>(k).unwrap_or(0);
    Ok((n("used_memory"), n("used_memory_startup")))
}

/// Writes the sample under `prefix`, measures it and removes it. `None` when a stop
/// request came first (the keys written so far are removed all the same).
pub async fn measure(
    scenario: &Scenario,
    plan: &Plan,
    target: &Target,
    prefix: &str,
    shutdown: &Shutdown,
) -> Result<Option<Sample>, SizeError> {
    let admin = target.admin().ok_or(SizeError::NoRedis)?;
    let store = target
        .connect_cache(prefix, 1, crate::engine::backend::reply_cap(scenario))
        .await
        .map_err(|e| SizeError::Redis(e.to_string()))?;
    let store = store.ok_or(SizeError::NoRedis)?;
    let measured = tokio::select! {
        r = write_and_measure(scenario, plan, admin, &store) => Some(r),
        _ = shutdown.stopping() => None,
    };
    if !shutdown.is_abandoning() {
        let mut pattern = crate::cache::sweep::escape_glob(prefix);
        pattern.push('*');
        let _ = admin
            .del_pattern(&pattern, crate::cache::sweep::DEFAULT_BATCH)
            .await;
    }
    measured.transpose()
}

async fn write_and_measure(
    scenario: &Scenario,
    plan: &Plan,
    admin: &RedisStore,
    store: &RedisStore,
) -> Result<Sample, SizeError> {
    let (codec, ttl) = writer(scenario);
    let values = ValueGen::new(&scenario.keyspace, 0x51CE);
    let mut rng = SmallRng::seed_from_u64(0x51CE);
    let sample = plan.spec.sample_keys;
    let stride = (plan.keys / sample).max(1);
    let (before, startup) = memory_info(admin).await?;
    let (mut key_total, mut value_total, mut raw_total) = (0u64, 0u64, 0u64);
    let mut usage_keys = Vec::new();
    let usage_every = (sample / USAGE_SAMPLE).max(1);
    let mut j = 0;
    while j < sample {
        let n = (sample - j).min(CHUNK);
        let mut names = Vec::with_capacity(n as usize);
        let mut encoded = Vec::with_capacity(n as usize);
        for k in j..j + n {
            let name = key_name(k * stride);
            let size = values.size(&mut rng);
            let raw = values.value(&mut rng, size);
            let v = codec
                .encode(raw)
                .map_err(|e| SizeError::Redis(e.to_string()))?
                .into_owned();
            key_total += store.full_key(&name).len() as u64;
            raw_total += raw.len() as u64;
            value_total += v.len() as u64;
            if k % usage_every == 0 {
                usage_keys.push(store.full_key(&name));
            }
            names.push(name);
            encoded.push(v);
        }
        let items: Vec<(&str, &[u8])> = names
            .iter()
            .map(String::as_str)
            .zip(encoded.iter().map(Vec::as_slice))
            .collect();
        store
            .mset(&items, Some(ttl))
            .await
            .map_err(|e| SizeError::Redis(format!("writing the memory sample failed: {e}")))?;
        j += n;
    }
    let (after, _) = memory_info(admin).await?;
    let mut usage_total = 0u64;
    let mut usage_n = 0u64;
    for key in &usage_keys {
        let cmd = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .to_owned();
        if let Ok(Some(bytes)) = admin.raw::<Option<u64>>(&cmd).await {
            usage_total += bytes;
            usage_n += 1;
        }
    }
    let mean = |total: u64, n: u64| if n == 0 { 0.0 } else { total as f64 / n as f64 };
    Ok(Sample {
        keys: sample,
        key_bytes: mean(key_total, sample),
        value_bytes: mean(value_total, sample),
        raw_value_bytes: mean(raw_total, sample),
        used_memory_delta: after as i64 - before as i64,
        memory_usage_mean: mean(usage_total, usage_n),
        overhead_bytes: startup,
    })
}

/// What `sample` means for `plan`'s keyspace: the recommended maxmemory and how it fits
/// the instance sizes.
pub fn extrapolate(sample: &Sample, plan: &Plan, codec: String, embedded: bool) -> MemoryStudy {
    let delta = sample.used_memory_delta as f64 / sample.keys.max(1) as f64;
    let mut notes = Vec::new();
    let per_key = if delta >= sample.memory_usage_mean {
        delta
    } else {
        notes.push(format!(
            "used_memory grew by less than MEMORY USAGE reports ({delta:.0} vs {:.0} bytes per \
             key): another client changed memory meanwhile, so MEMORY USAGE is used",
            sample.memory_usage_mean
        ));
        sample.memory_usage_mean
    };
    if !embedded {
        notes.push(
            "measured on a server redline did not start: other clients' writes during the \
             sample make the used_memory delta approximate"
                .to_string(),
        );
    }
    let dataset = (per_key * plan.keys as f64).ceil() as u64 + sample.overhead_bytes;
    let maxmemory = round_up(((dataset as f64) / plan.memory_target).ceil() as u64);
    let fill = plan.spec.instance_fill;
    let instances: Vec<InstanceFit> = plan
        .spec
        .instance_sizes
        .iter()
        .map(|b| {
            let usable = (b.0 as f64 * fill) as u64;
            InstanceFit {
                instance_bytes: b.0,
                usable_bytes: usable,
                shards: maxmemory.div_ceil(usable.max(1)),
            }
        })
        .collect();
    let single = instances
        .iter()
        .filter(|i| i.shards == 1)
        .map(|i| i.instance_bytes)
        .min();
    let cluster_shards = match single {
        Some(_) => None,
        None => instances
            .iter()
            .max_by_key(|i| i.instance_bytes)
            .map(|i| i.shards),
    };
    MemoryStudy {
        sample_keys: sample.keys,
        key_bytes: round1(sample.key_bytes),
        value_bytes: round1(sample.value_bytes),
        raw_value_bytes: round1(sample.raw_value_bytes),
        codec,
        used_memory_per_key_bytes: round1(delta),
        memory_usage_per_key_bytes: round1(sample.memory_usage_mean),
        per_key_bytes: round1(per_key),
        overhead_bytes: sample.overhead_bytes,
        dataset_bytes: dataset,
        recommended_maxmemory_bytes: maxmemory,
        instances,
        recommended_instance_bytes: single,
        cluster_shards,
        notes,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounds a maxmemory up to a setting people write: a whole number of MiB below 1 GiB
/// (multiples of 16 MiB from 256 MiB), of 64 MiB from 1 GiB, of 256 MiB from 8 GiB.
pub fn round_up(bytes: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    let step = match bytes {
        b if b < 256 * MIB => MIB,
        b if b < 1024 * MIB => 16 * MIB,
        b if b < 8192 * MIB => 64 * MIB,
        _ => 256 * MIB,
    };
    bytes.div_ceil(step).max(1) * step
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(keys: u64, extra: &str) -> Plan {
        let toml = format!(
            "[keyspace]\nkeys = {keys}\n[[ops]]\nkind = \"get_or_set\"\nweight = 1\n\
             [load]\nmodel = \"open\"\nrate = 100\nduration = \"1s\"\n{extra}"
        );
        let s = crate::scenario::parse_str(&toml, crate::scenario::Format::Toml, "t.toml", &[])
            .expect("parses");
        Plan::new(&s)
    }

    fn sample(delta_per_key: i64, usage: f64) -> Sample {
        Sample {
            keys: 1000,
            key_bytes: 20.0,
            value_bytes: 2048.0,
            raw_value_bytes: 2048.0,
            used_memory_delta: delta_per_key * 1000,
            memory_usage_mean: usage,
            overhead_bytes: 1 << 20,
        }
    }

    #[test]
    fn two_million_2kib_keys_fit_one_8gib_instance() {
        let m = extrapolate(
            &sample(2_200, 2_150.0),
            &plan(2_000_000, ""),
            "none".into(),
            true,
        );
        assert_eq!(m.per_key_bytes, 2_200.0);
        assert_eq!(m.dataset_bytes, 2_200 * 2_000_000 + (1 << 20));
        // 4.4 GB / 0.8 = 5.5 GB → 5.13 GiB rounded up to 64 MiB steps.
        assert!(m.recommended_maxmemory_bytes >= m.dataset_bytes * 5 / 4);
        assert_eq!(m.recommended_maxmemory_bytes % (64 << 20), 0);
        assert_eq!(m.recommended_instance_bytes, Some(8 << 30));
        assert_eq!(m.cluster_shards, None);
        let four = m
            .instances
            .iter()
            .find(|i| i.instance_bytes == 4 << 30)
            .unwrap();
        assert_eq!(four.shards, 2);
    }

    #[test]
    fn a_keyspace_beyond_the_largest_instance_needs_cluster_shards() {
        let m = extrapolate(
            &sample(2_200, 2_150.0),
            &plan(100_000_000, ""),
            "none".into(),
            true,
        );
        assert_eq!(m.recommended_instance_bytes, None);
        // 220 GB / 0.8 = 275 GB over 24 GiB usable per 32 GiB instance.
        let shards = m.cluster_shards.unwrap();
        assert!((11..=12).contains(&shards), "{shards}");
    }

    #[test]
    fn a_delta_below_memory_usage_falls_back_to_it() {
        let m = extrapolate(&sample(100, 2_150.0), &plan(1000, ""), "none".into(), false);
        assert_eq!(m.per_key_bytes, 2_150.0);
        assert_eq!(m.notes.len(), 2);
    }

    #[test]
    fn maxmemory_rounds_up_to_settings_people_write() {
        assert_eq!(round_up(1), 1 << 20);
        assert_eq!(round_up(300 << 20), 304 << 20);
        assert_eq!(round_up((5 << 30) + 1), (5 << 30) + (64 << 20));
    }
}
