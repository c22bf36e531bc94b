//! One operation of the workload mix, executed and recorded: which key, which value, which
//! codec, through which backend; response time from the intended start, service time from
//! the actual send, hits, misses, fallback answers and errors by kind.

mod batch;
mod cache_aside;

use super::backend::Backend;
use super::origin::{Origin, OriginError};
use super::outcome::{us, Outcome};
use super::stale::{Stamp, STAMP_LEN};
use super::wire::{Reply as WireReply, WireClient};
use crate::cache::codec::{self, CodecConfig};
use crate::cache::redis_store::px_millis;
use crate::cache::single_flight::SingleFlight;
use crate::cache::{Codec, OpError, RedisConfig};
use crate::op::{ErrorKind, OpKind, RedisCalls};
use crate::report::backlog::OpWaits;
use crate::report::recorder::Recorder;
use crate::report::RecorderShards;
use crate::scenario::dist::{KeyChooser, OpMix, ValueGen};
use crate::scenario::workload::OpSpec;
use crate::scenario::Scenario;
use rand::rngs::SmallRng;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys per "workspace" group: `del_pattern` removes one group (`w{g}:*`), as the guide's
/// `contacts:workspace:{id}:*` invalidation does.
const GROUP: u64 = crate::scenario::keyspace::KEY_GROUP;

/// The key of index `i`: `w{group}:{i}` under the run's prefix (applied by the store).
pub fn key_name(i: u64) -> String {
    key_name_in(i, false)
}

/// The key of index `i`, with `hash_tags` its group as a Redis Cluster hash tag:
/// `{w{group}}:{i}`, so a group's keys share one slot.
pub fn key_name_in(i: u64, hash_tags: bool) -> String {
    let mut key = String::with_capacity(26);
    push_key_name(&mut key, i, hash_tags);
    key
}

/// Appends [`key_name_in`] of `i` to `out` without a temporary string.
fn push_key_name(out: &mut String, i: u64, hash_tags: bool) {
    let mut n = itoa::Buffer::new();
    if hash_tags {
        out.push('{');
    }
    out.push('w');
    out.push_str(n.format(i / GROUP));
    if hash_tags {
        out.push('}');
    }
    out.push(':');
    out.push_str(n.format(i));
}

/// Everything a worker needs, shared by all of them.
pub struct Workload {
    pub backend: Backend,
    keys: KeyChooser,
    values: ValueGen,
    mix: OpMix,
    /// Codec settings per entry of `scenario.ops`, in the same order.
    codecs: Vec<CodecConfig>,
    pub origin: Origin,
    /// Keys written by the run: the denominator of the eviction rate.
    pub keys_written: AtomicU64,
    /// Recorder shards; an operation records into the shard it is given.
    pub recorders: RecorderShards,
    /// `get_or_set` loads in progress per key, when `cache.single_flight` is on (managed and
    /// memory targets: the raw target has no cache layer). The engine runs cache-aside
    /// itself, to record each step, with the cache layer's single flight.
    flights: Option<SingleFlight<Result<(), OriginError>>>,
    /// `keyspace.hash_tags`: keys carry their group as a hash tag, batches stay in a group.
    hash_tags: bool,
}

fn codec_of(spec: &OpSpec) -> CodecConfig {
    CodecConfig {
        codec: spec.codec.name().parse().unwrap_or(Codec::None),
        threshold: spec.compress_threshold as usize,
    }
}

impl Workload {
    /// Builds the samplers for `scenario` over `backend`.
    pub fn new(
        scenario: &Scenario,
        backend: Backend,
        recorders: RecorderShards,
        seed: u64,
    ) -> Self {
        let flights =
            (scenario.cache.single_flight && backend.manager().is_some()).then(SingleFlight::new);
        Workload {
            flights,
            backend,
            keys: KeyChooser::new(&scenario.keyspace),
            values: ValueGen::new(&scenario.keyspace, seed),
            mix: OpMix::new(&scenario.ops).expect("validated scenarios have a non-empty mix"),
            codecs: scenario.ops.iter().map(codec_of).collect(),
            origin: Origin::new(&scenario.origin, scenario.keyspace.keys),
            keys_written: AtomicU64::new(0),
            recorders,
            hash_tags: scenario.keyspace.hash_tags,
        }
    }

    /// The key of index `i` ([`key_name_in`] with the scenario's hash tags).
    pub fn key(&self, i: u64) -> String {
        key_name_in(i, self.hash_tags)
    }

    /// `n` key indices for one batch: drawn from the distribution, and with hash tags
    /// folded into the first key's group (same place in the group as drawn), so the whole
    /// batch shares one hash slot.
    pub(super) fn batch_indices(&self, rng: &mut SmallRng, n: usize) -> Vec<u64> {
        let mut indices: Vec<u64> = (0..n).map(|_| self.keys.next(rng)).collect();
        if self.hash_tags {
            if let Some(&first) = indices.first() {
                let base = first / GROUP * GROUP;
                let span = GROUP.min(self.key_count() - base).max(1);
                for i in &mut indices[1..] {
                    *i = base + *i % span;
                }
            }
        }
        indices
    }

    /// Position of `spec` in the mix (the mix hands out references into its own list).
    fn spec_index(&self, spec: &OpSpec) -> usize {
        self.mix
            .ops()
            .iter()
            .position(|o| std::ptr::eq(o, spec))
            .unwrap_or(0)
    }

    /// A value for preloading key `index` with `ttl`, encoded with the first operation's
    /// codec and stamped with the key's version.
    pub fn preload_value(&self, rng: &mut SmallRng, index: u64, ttl: Duration) -> Vec<u8> {
        let codec = self.codecs.first().copied().unwrap_or_default();
        let stamp = self.origin.versions().preloaded(index, ttl);
        match self.value(rng, &codec, stamp.as_ref()) {
            Ok((v, _)) => v.into_owned(),
            Err(_) => Vec::new(),
        }
    }

    /// Number of keys in the keyspace.
    pub fn key_count(&self) -> u64 {
        self.keys.keys()
    }

    /// A value of a sampled size, carrying `stamp` (for the stale-read checker) when it is
    /// long enough, encoded with `codec`; with its raw length.
    fn value<'a>(
        &'a self,
        rng: &mut SmallRng,
        codec: &CodecConfig,
        stamp: Option<&Stamp>,
    ) -> Result<(Cow<'a, [u8]>, u64), OpError> {
        let size = self.values.size(rng);
        let raw = self.values.value(rng, size);
        let Some(stamp) = stamp.filter(|_| raw.len() >= STAMP_LEN) else {
            return Ok((codec.encode(raw)?, raw.len() as u64));
        };
        let mut stamped = raw.to_vec();
        stamp.write_into(&mut stamped);
        let compressed = match codec.encode(&stamped)? {
            Cow::Owned(v) => Some(v),
            Cow::Borrowed(_) => None,
        };
        Ok((Cow::Owned(compressed.unwrap_or(stamped)), raw.len() as u64))
    }

    /// Picks one operation and runs it; `intended` is its scheduled start (the actual send
    /// for the closed model). Each kind is one method returning an [`Outcome`], recorded in
    /// one place ([`Outcome::record`]) into shard `shard`.
    pub async fn execute(&self, rng: &mut SmallRng, intended: Instant, shard: usize) {
        let spec = self.mix.pick(rng);
        let index = self.spec_index(spec);
        let codec = &self.codecs[index];
        let sent = Instant::now();
        let outcome = match spec.kind {
            OpKind::Get => self.get(rng).await,
            OpKind::Set => self.set(rng, spec, codec).await,
            OpKind::GetOrSet => self.get_or_set(rng, spec, codec).await,
            OpKind::Del => self.del(rng).await,
            OpKind::DelPattern => self.del_pattern(rng).await,
            OpKind::Mget => self.mget(rng, spec).await,
            OpKind::Mset => self.mset(rng, spec, codec).await,
            OpKind::Pipeline => self.pipeline(rng, spec, codec).await,
        };
        let rec = &self.recorders[shard % self.recorders.len()];
        outcome.record(&mut lock(rec), spec.kind, codec, intended, sent);
    }

    async fn get(&self, rng: &mut SmallRng) -> Outcome {
        let index = self.keys.next(rng);
        let read = self.origin.versions().read(index);
        let call = self.backend.get(&self.key(index)).await;
        let mut out = Outcome::of(&call);
        match call.result {
            Ok((v, via)) => {
                out.served(via);
                match v.as_deref().map(codec::decode).transpose() {
                    Ok(decoded) => {
                        out.read(u64::from(v.is_some()), u64::from(v.is_none()));
                        if let Some(d) = decoded {
                            out.check(self.origin.versions().judge(read, &d));
                        }
                    }
                    Err(e) => out.fail(&e),
                }
            }
            Err(e) => out.fail(&e),
        }
        out
    }

    /// Encodes a value carrying `stamp` and writes it (shared by `set` and `get_or_set`'s
    /// write-back).
    async fn write(
        &self,
        rng: &mut SmallRng,
        key: &str,
        spec: &OpSpec,
        codec: &CodecConfig,
        stamp: Option<&Stamp>,
    ) -> Outcome {
        let (v, raw) = match self.value(rng, codec, stamp) {
            Ok(v) => v,
            Err(e) => return Outcome::failed(&e),
        };
        self.keys_written.fetch_add(1, Ordering::Relaxed);
        let call = self.backend.set(key, &v, spec.ttl).await;
        let mut out = Outcome::of(&call);
        match call.result {
            Ok(((), via)) => {
                out.served(via);
                out.bytes = Some((raw, v.len() as u64));
            }
            Err(e) => out.fail(&e),
        }
        out
    }

    /// A write to the origin, written through to the cache (a new version, stamped).
    async fn set(&self, rng: &mut SmallRng, spec: &OpSpec, codec: &CodecConfig) -> Outcome {
        let index = self.keys.next(rng);
        let versions = self.origin.versions();
        let write = versions.write(index, Some(spec.ttl));
        let stamp = write.as_ref().and_then(|w| w.stamp);
        let out = (self.write(rng, &self.key(index), spec, codec, stamp.as_ref())).await;
        versions.write_done(write);
        out
    }

    /// An invalidation: the record changed in the origin, its cache entry is deleted.
    async fn del(&self, rng: &mut SmallRng) -> Outcome {
        let index = self.keys.next(rng);
        let versions = self.origin.versions();
        let write = versions.write(index, None);
        let out = Outcome::done(self.backend.del(&self.key(index)).await);
        versions.write_done(write);
        out
    }

    /// Invalidates a group of a hundred keys (all changed in the origin).
    async fn del_pattern(&self, rng: &mut SmallRng) -> Outcome {
        let group = self.keys.next(rng) / GROUP;
        let versions = self.origin.versions();
        let first = group.saturating_mul(GROUP);
        let last = first.saturating_add(GROUP).min(self.key_count());
        let writes: Vec<_> = (first..last).map(|i| versions.write(i, None)).collect();
        let pattern = match self.hash_tags {
            true => format!("{{w{group}}}:*"),
            false => format!("w{group}:*"),
        };
        let out = Outcome::done(self.backend.del_pattern(&pattern).await);
        writes.into_iter().for_each(|w| versions.write_done(w));
        out
    }
}

impl Workload {
    /// The store's settings when a closed-model client's `depth` operations can go out as
    /// one batch on the lean wire path ([`super::wire`]): raw target over plain TCP, depth
    /// above 1, and a mix of GET, SET and DEL only. `None` keeps the redis crate path.
    pub fn wire_config(&self, depth: usize) -> Option<RedisConfig> {
        let simple = self
            .mix
            .ops()
            .iter()
            .all(|o| matches!(o.kind, OpKind::Get | OpKind::Set | OpKind::Del));
        let config = self.backend.lean_wire()?;
        (depth > 1 && simple).then(|| config.clone())
    }

    /// Picks one operation per generator in `rngs` and sends them as one pipeline over the
    /// client's connection (reconnected with backoff after a failure). Each operation's
    /// service time is the time from the send to its own reply; the batch is bounded by the
    /// response timeout. `due` is empty in the closed model (response time = service time);
    /// in the open model it holds, per operation, when it was due and when the pacer
    /// released it, so response time runs from the schedule and the waits are named.
    pub async fn execute_wire(
        &self,
        client: &mut WireClient,
        config: &RedisConfig,
        rngs: &mut [SmallRng],
        due: &[Due],
        shard: usize,
    ) {
        debug_assert!(due.is_empty() || due.len() == rngs.len());
        client.back_off().await;
        let started = Instant::now();
        let rec = &self.recorders[shard % self.recorders.len()];
        let c = match client.connection(config).await {
            Ok(c) => c,
            Err(e) => {
                let failed_at = Instant::now();
                let mut rec = lock(rec);
                for (i, rng) in rngs.iter_mut().enumerate() {
                    let (response, service) = times(due.get(i), started, failed_at);
                    rec.record(self.mix.pick(rng).kind, response, service);
                    if let Some(d) = due.get(i) {
                        d.record_waits(&mut rec, started);
                    }
                    rec.error(e.kind());
                    rec.commands(1);
                    rec.redis(RedisCalls::failed(1, e.kind()));
                }
                return;
            }
        };
        let sent = Instant::now();
        let mut batch: Vec<Queued> = Vec::with_capacity(rngs.len());
        let mut key = String::with_capacity(config.key_prefix.len() + 24);
        for rng in rngs.iter_mut() {
            let spec = self.mix.pick(rng);
            let index = self.spec_index(spec);
            key.clear();
            key.push_str(&config.key_prefix);
            push_key_name(&mut key, self.keys.next(rng), self.hash_tags);
            let mut queued = Queued {
                kind: spec.kind,
                index,
                bytes: (0, 0),
                at: None,
                outcome: Ok(Answer::Done),
                redis_failed: None,
            };
            match spec.kind {
                OpKind::Set => match self.value(rng, &self.codecs[index], None) {
                    Ok((v, raw)) => {
                        let mut px = itoa::Buffer::new();
                        let px = px.format(px_millis(spec.ttl)).as_bytes();
                        c.push(&[b"SET", key.as_bytes(), &v, b"PX", px]);
                        self.keys_written.fetch_add(1, Ordering::Relaxed);
                        queued.bytes = (raw, v.len() as u64);
                    }
                    Err(e) => {
                        queued.at = Some(Instant::now());
                        queued.outcome = Err(e.kind());
                    }
                },
                OpKind::Del => c.push(&[b"DEL", key.as_bytes()]),
                _ => c.push(&[b"GET", key.as_bytes()]),
            }
            batch.push(queued);
        }
        // Replies come back in order, one per command that went out.
        let mut waiting = batch.iter_mut().filter(|q| q.at.is_none());
        let on_reply = |reply: WireReply<'_>, at: Instant| {
            let Some(q) = waiting.next() else { return };
            q.at = Some(at);
            q.outcome = match (q.kind, reply) {
                (_, WireReply::Error(_)) => {
                    q.redis_failed = Some(ErrorKind::ServerReply);
                    Err(ErrorKind::ServerReply)
                }
                (OpKind::Get, WireReply::Nil) => Ok(Answer::Miss),
                (OpKind::Get, WireReply::Bulk(v)) => {
                    codec::decode(v).map(|_| Answer::Hit).map_err(|e| e.kind())
                }
                (OpKind::Set, WireReply::Status) | (OpKind::Del, WireReply::Int(_)) => {
                    Ok(Answer::Done)
                }
                _ => {
                    q.redis_failed = Some(ErrorKind::Protocol);
                    Err(ErrorKind::Protocol)
                }
            };
        };
        let timeout = config.response_timeout;
        let failure = match tokio::time::timeout(timeout, c.round_trip(on_reply)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.kind()),
            Err(_) => Some(ErrorKind::Timeout),
        };
        if failure.is_some() {
            client.failed();
        } else {
            client.succeeded();
        }
        let failed_at = Instant::now();
        let mut rec = lock(rec);
        for (i, q) in batch.iter().enumerate() {
            let (response, service) = times(due.get(i), sent, q.at.unwrap_or(failed_at));
            rec.record(q.kind, response, service);
            if let Some(d) = due.get(i) {
                d.record_waits(&mut rec, sent);
            }
            rec.commands(1);
            // A command that never went out (its value failed to encode) is not Redis's.
            let encode_failed = q.kind == OpKind::Set
                && q.at.is_some()
                && q.outcome.is_err()
                && q.redis_failed.is_none();
            if !encode_failed {
                rec.redis(match (q.at, failure, q.redis_failed) {
                    (None, Some(kind), _) | (Some(_), _, Some(kind)) => RedisCalls::failed(1, kind),
                    _ => RedisCalls::answered(1),
                });
            }
            match (q.at, failure) {
                (None, Some(kind)) => rec.error(kind),
                _ => match q.outcome {
                    Ok(Answer::Hit) => rec.hit(),
                    Ok(Answer::Miss) => rec.miss(),
                    Ok(Answer::Done) if q.kind == OpKind::Set => {
                        let (raw, wire) = q.bytes;
                        rec.bytes(self.codecs[q.index].codec.name(), raw, wire);
                    }
                    Ok(Answer::Done) => {}
                    Err(kind) => rec.error(kind),
                },
            }
        }
    }
}

/// When an open-model operation of a wire batch was due and when the pacer released it.
#[derive(Debug, Clone, Copy)]
pub struct Due {
    /// Its place in the schedule: response time runs from here.
    pub intended: Instant,
    /// When the pacer handed it to a connection.
    pub released: Instant,
    /// Time it waited for an in-flight slot (all slots were busy), µs; zero otherwise.
    pub in_flight_wait_us: u64,
    /// In-flight slots in use once it got one.
    pub in_flight_in_use: u64,
    /// Released operations not yet answered, over all connections, itself included.
    pub queued_for_redis: u64,
}

impl Due {
    /// Records the generator's lag (released late, beyond any in-flight wait) and the
    /// system's waits: the in-flight slot, then the connection (released until `sent`).
    fn record_waits(&self, rec: &mut Recorder, sent: Instant) {
        let late = us(self.released.saturating_duration_since(self.intended));
        rec.lag(late.saturating_sub(self.in_flight_wait_us));
        rec.waits(&OpWaits {
            in_flight_us: Some(self.in_flight_wait_us),
            in_flight_in_use: self.in_flight_in_use,
            redis_us: Some(us(sent.saturating_duration_since(self.released))),
            redis_in_use: self.queued_for_redis,
            ..OpWaits::default()
        });
    }
}

/// Response and service time (µs) of a wire command that went out at `sent` and was
/// answered (or failed) at `at`: response from the schedule when it had one.
fn times(due: Option<&Due>, sent: Instant, at: Instant) -> (u64, u64) {
    let service = us(at.saturating_duration_since(sent));
    let response = due.map_or(service, |d| us(at.saturating_duration_since(d.intended)));
    (response, service)
}

/// One command of a wire batch and, once its reply arrived, what it said.
struct Queued {
    kind: OpKind,
    index: usize,
    /// (raw, wire) value bytes of a SET.
    bytes: (u64, u64),
    at: Option<Instant>,
    outcome: Result<Answer, ErrorKind>,
    /// The reply broke the protocol or was an error reply: a failure of Redis itself.
    redis_failed: Option<ErrorKind>,
}

#[derive(Clone, Copy)]
enum Answer {
    Hit,
    Miss,
    Done,
}

fn lock(m: &Mutex<Recorder>) -> std::sync::MutexGuard<'_, Recorder> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_group_a_hundred_keys() {
        for (i, name) in [
            (0, "w0:0"),
            (99, "w0:99"),
            (100, "w1:100"),
            (12_345, "w123:12345"),
        ] {
            assert_eq!(key_name(i), name);
        }
        assert_eq!(
            key_name(u64::MAX),
            format!("w{}:{}", u64::MAX / 100, u64::MAX)
        );
        assert_eq!(
            key_name_in(12_345, true),
            "{w123}:12345",
            "hash tag = group"
        );
    }
}
