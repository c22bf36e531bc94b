//! One operation of the workload mix, executed and recorded: which key, which value, which
//! codec, through which backend; response time from the intended start, service time from
//! the actual send, hits, misses, fallback answers and errors by kind.

use super::backend::{Backend, Via};
use super::origin::Origin;
use super::wire::{Reply as WireReply, WireClient};
use crate::cache::codec::{self, CodecConfig};
use crate::cache::redis_store::{px_millis, Command, Reply};
use crate::cache::{Codec, OpError, RedisConfig};
use crate::op::{ErrorKind, OpKind};
use crate::report::recorder::Recorder;
use crate::report::RecorderShards;
use crate::scenario::dist::{KeyChooser, OpMix, ValueGen};
use crate::scenario::workload::OpSpec;
use crate::scenario::Scenario;
use rand::rngs::SmallRng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys per "workspace" group: `del_pattern` removes one group (`w{g}:*`), as the guide's
/// `contacts:workspace:{id}:*` invalidation does.
const GROUP: u64 = 100;

/// The key of index `i`: `w{group}:{i}` under the run's prefix (applied by the store).
pub fn key_name(i: u64) -> String {
    let mut key = String::with_capacity(24);
    push_key_name(&mut key, i);
    key
}

/// Appends [`key_name`] of `i` to `out` without a temporary string.
fn push_key_name(out: &mut String, i: u64) {
    let mut n = itoa::Buffer::new();
    out.push('w');
    out.push_str(n.format(i / GROUP));
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
}

fn codec_of(spec: &OpSpec) -> CodecConfig {
    CodecConfig {
        codec: spec.codec.name().parse().unwrap_or(Codec::None),
        threshold: spec.compress_threshold as usize,
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

/// Service time from the send to `done`, µs, less the wait for Redis command slots: that
/// wait is queueing in the client (reported in `backlog`), not what the server cost.
fn service_us(sent: Instant, done: Instant) -> u64 {
    us(done.saturating_duration_since(sent)).saturating_sub(super::queueing::redis_waited_us())
}

impl Workload {
    /// Builds the samplers for `scenario` over `backend`.
    pub fn new(
        scenario: &Scenario,
        backend: Backend,
        recorders: RecorderShards,
        seed: u64,
    ) -> Self {
        Workload {
            backend,
            keys: KeyChooser::new(&scenario.keyspace),
            values: ValueGen::new(&scenario.keyspace, seed),
            mix: OpMix::new(&scenario.ops).expect("validated scenarios have a non-empty mix"),
            codecs: scenario.ops.iter().map(codec_of).collect(),
            origin: Origin::new(&scenario.origin),
            keys_written: AtomicU64::new(0),
            recorders,
        }
    }

    /// Position of `spec` in the mix (the mix hands out references into its own list).
    fn spec_index(&self, spec: &OpSpec) -> usize {
        self.mix
            .ops()
            .iter()
            .position(|o| std::ptr::eq(o, spec))
            .unwrap_or(0)
    }

    /// A value for preloading, encoded with the first operation's codec.
    pub fn preload_value(&self, rng: &mut SmallRng) -> Vec<u8> {
        let codec = self.codecs.first().copied().unwrap_or_default();
        match self.value(rng, &codec) {
            Ok((v, _)) => v.into_owned(),
            Err(_) => Vec::new(),
        }
    }

    /// Number of keys in the keyspace.
    pub fn key_count(&self) -> u64 {
        self.keys.keys()
    }

    fn value<'a>(
        &'a self,
        rng: &mut SmallRng,
        codec: &CodecConfig,
    ) -> Result<(std::borrow::Cow<'a, [u8]>, u64), OpError> {
        let size = self.values.size(rng);
        let raw = self.values.value(rng, size);
        Ok((codec.encode(raw)?, raw.len() as u64))
    }

    /// Picks one operation and runs it; `intended` is its scheduled start (the actual send
    /// for the closed model). Records into shard `shard`.
    pub async fn execute(&self, rng: &mut SmallRng, intended: Instant, shard: usize) {
        let spec = self.mix.pick(rng);
        let index = self.spec_index(spec);
        let codec = &self.codecs[index];
        let sent = Instant::now();
        let rec = &self.recorders[shard % self.recorders.len()];
        match spec.kind {
            OpKind::Get => {
                let key = key_name(self.keys.next(rng));
                let r = self.backend.get(&key).await.and_then(|(v, via)| {
                    if let Some(v) = &v {
                        codec::decode(v)?;
                    }
                    Ok((v.is_some(), via))
                });
                let done = Instant::now();
                let mut rec = lock(rec);
                rec.record(OpKind::Get, us(done - intended), service_us(sent, done));
                read_outcome(
                    &mut rec,
                    r.map(|(hit, via)| (u64::from(hit), u64::from(!hit), via)),
                );
            }
            OpKind::Set => {
                let key = key_name(self.keys.next(rng));
                let r = match self.value(rng, codec) {
                    Ok((v, raw)) => {
                        let wire = v.len() as u64;
                        self.keys_written.fetch_add(1, Ordering::Relaxed);
                        self.backend
                            .set(&key, &v, spec.ttl)
                            .await
                            .map(|via| (via, raw, wire))
                    }
                    Err(e) => Err(e),
                };
                let done = Instant::now();
                let mut rec = lock(rec);
                rec.record(OpKind::Set, us(done - intended), service_us(sent, done));
                write_outcome(&mut rec, codec, r);
            }
            OpKind::GetOrSet => {
                let key = key_name(self.keys.next(rng));
                let got = self.backend.get(&key).await;
                let mut write = None;
                let mut origin_called = false;
                let read = match got {
                    Ok((Some(v), via)) => codec::decode(&v).map(|_| (1, 0, via)),
                    Ok((None, via)) => {
                        origin_called = true;
                        match self.origin.load(rng).await {
                            Ok(()) => {
                                let w = match self.value(rng, codec) {
                                    Ok((v, raw)) => {
                                        self.keys_written.fetch_add(1, Ordering::Relaxed);
                                        let wire = v.len() as u64;
                                        self.backend
                                            .set(&key, &v, spec.ttl)
                                            .await
                                            .map(|via| (via, raw, wire))
                                    }
                                    Err(e) => Err(e),
                                };
                                write = Some(w);
                                Ok((0, 1, via))
                            }
                            Err(_) => Err(OpError::Loader("origin failed".into())),
                        }
                    }
                    Err(e) => Err(e),
                };
                let done = Instant::now();
                let mut rec = lock(rec);
                rec.record(
                    OpKind::GetOrSet,
                    us(done - intended),
                    service_us(sent, done),
                );
                if origin_called {
                    rec.origin_call();
                }
                let read_failed = read.is_err();
                read_outcome(&mut rec, read);
                if let (Some(w), false) = (write, read_failed) {
                    // A failed write-back is an error of this operation; its bytes still count.
                    match w {
                        Ok((via, raw, wire)) => {
                            rec.bytes(codec.codec.name(), raw, wire);
                            if via == Via::Fallback {
                                rec.fallback_op();
                            }
                        }
                        Err(e) => rec.error(e.kind()),
                    }
                }
            }
            OpKind::Del => {
                let key = key_name(self.keys.next(rng));
                let r = self.backend.del(&key).await;
                let done = Instant::now();
                let mut rec = lock(rec);
                rec.record(OpKind::Del, us(done - intended), service_us(sent, done));
                simple_outcome(&mut rec, r);
            }
            OpKind::DelPattern => {
                let group = self.keys.next(rng) / GROUP;
                let r = self.backend.del_pattern(&format!("w{group}:*")).await;
                let done = Instant::now();
                let mut rec = lock(rec);
                rec.record(
                    OpKind::DelPattern,
                    us(done - intended),
                    service_us(sent, done),
                );
                simple_outcome(&mut rec, r);
            }
            OpKind::Mget => {
                let n = self.mix.batch(spec, rng);
                let keys: Vec<String> = (0..n).map(|_| key_name(self.keys.next(rng))).collect();
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                let r = self.backend.mget(&refs).await.map(|(vals, via)| {
                    let hits = vals.iter().filter(|v| v.is_some()).count() as u64;
                    (hits, vals.len() as u64 - hits, via)
                });
                let done = Instant::now();
                let mut rec = lock(rec);
                rec.record(OpKind::Mget, us(done - intended), service_us(sent, done));
                read_outcome(&mut rec, r);
            }
            OpKind::Mset => {
                let n = self.mix.batch(spec, rng);
                let mut keys = Vec::with_capacity(n);
                let mut vals = Vec::with_capacity(n);
                let (mut raw_total, mut wire_total) = (0, 0);
                let mut failed = None;
                for _ in 0..n {
                    keys.push(key_name(self.keys.next(rng)));
                    match self.value(rng, codec) {
                        Ok((v, raw)) => {
                            raw_total += raw;
                            wire_total += v.len() as u64;
                            vals.push(v);
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                let r = match failed {
                    Some(e) => Err(e),
                    None => {
                        let items: Vec<(&str, &[u8])> = keys
                            .iter()
                            .map(String::as_str)
                            .zip(vals.iter().map(|v| &**v))
                            .collect();
                        self.keys_written.fetch_add(n as u64, Ordering::Relaxed);
                        self.backend
                            .mset(&items, spec.ttl)
                            .await
                            .map(|via| (via, raw_total, wire_total))
                    }
                };
                let done = Instant::now();
                let mut rec = lock(rec);
                rec.record(OpKind::Mset, us(done - intended), service_us(sent, done));
                write_outcome(&mut rec, codec, r);
            }
            OpKind::Pipeline => self.pipeline(rng, index, intended, sent, rec).await,
        }
    }

    async fn pipeline(
        &self,
        rng: &mut SmallRng,
        index: usize,
        intended: Instant,
        sent: Instant,
        rec: &Mutex<Recorder>,
    ) {
        let spec = &self.mix.ops()[index];
        let codec = &self.codecs[index];
        let n = self.mix.batch(spec, rng);
        let mut cmds = Vec::with_capacity(n);
        let (mut raw_total, mut wire_total) = (0, 0);
        for _ in 0..n {
            let key = key_name(self.keys.next(rng));
            cmds.push(match self.mix.pipeline_op(spec, rng) {
                OpKind::Set => match self.value(rng, codec) {
                    Ok((v, raw)) => {
                        raw_total += raw;
                        wire_total += v.len() as u64;
                        self.keys_written.fetch_add(1, Ordering::Relaxed);
                        Command::Set(key, v.into_owned(), Some(spec.ttl))
                    }
                    Err(_) => Command::Get(key),
                },
                OpKind::Del => Command::Del(key),
                _ => Command::Get(key),
            });
        }
        let replies = self.backend.pipeline(&cmds).await;
        let mut rec = lock(rec);
        if raw_total > 0 {
            rec.bytes(codec.codec.name(), raw_total, wire_total);
        }
        for (r, at) in replies {
            rec.record(
                OpKind::Pipeline,
                us(at.saturating_duration_since(intended)),
                service_us(sent, at),
            );
            match r {
                Ok((reply, via)) => {
                    if let Reply::Value(v) = reply {
                        if v.is_some() {
                            rec.hit();
                        } else {
                            rec.miss();
                        }
                    }
                    if via == Via::Fallback {
                        rec.fallback_op();
                    }
                }
                Err(e) => rec.error(e.kind()),
            }
        }
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
    /// latency is the time to its own reply; the batch is bounded by the response timeout.
    pub async fn execute_wire(
        &self,
        client: &mut WireClient,
        config: &RedisConfig,
        rngs: &mut [SmallRng],
        shard: usize,
    ) {
        client.back_off().await;
        let started = Instant::now();
        let rec = &self.recorders[shard % self.recorders.len()];
        let c = match client.connection(config).await {
            Ok(c) => c,
            Err(e) => {
                let at = us(started.elapsed());
                let mut rec = lock(rec);
                for rng in rngs {
                    rec.record(self.mix.pick(rng).kind, at, at);
                    rec.error(e.kind());
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
            push_key_name(&mut key, self.keys.next(rng));
            let mut queued = Queued {
                kind: spec.kind,
                index,
                bytes: (0, 0),
                at: None,
                outcome: Ok(Answer::Done),
            };
            match spec.kind {
                OpKind::Set => match self.value(rng, &self.codecs[index]) {
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
                (_, WireReply::Error(_)) => Err(ErrorKind::ServerReply),
                (OpKind::Get, WireReply::Nil) => Ok(Answer::Miss),
                (OpKind::Get, WireReply::Bulk(v)) => {
                    codec::decode(v).map(|_| Answer::Hit).map_err(|e| e.kind())
                }
                (OpKind::Set, WireReply::Status) | (OpKind::Del, WireReply::Int(_)) => {
                    Ok(Answer::Done)
                }
                _ => Err(ErrorKind::Protocol),
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
        for q in &batch {
            let took = us(q.at.unwrap_or(failed_at).saturating_duration_since(sent));
            rec.record(q.kind, took, took);
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

/// One command of a wire batch and, once its reply arrived, what it said.
struct Queued {
    kind: OpKind,
    index: usize,
    /// (raw, wire) value bytes of a SET.
    bytes: (u64, u64),
    at: Option<Instant>,
    outcome: Result<Answer, ErrorKind>,
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

fn read_outcome(rec: &mut Recorder, r: Result<(u64, u64, Via), OpError>) {
    match r {
        Ok((hits, misses, via)) => {
            rec.hits(hits);
            rec.misses(misses);
            if via == Via::Fallback {
                rec.fallback_op();
            }
        }
        Err(e) => rec.error(e.kind()),
    }
}

fn write_outcome(rec: &mut Recorder, codec: &CodecConfig, r: Result<(Via, u64, u64), OpError>) {
    match r {
        Ok((via, raw, wire)) => {
            rec.bytes(codec.codec.name(), raw, wire);
            if via == Via::Fallback {
                rec.fallback_op();
            }
        }
        Err(e) => rec.error(e.kind()),
    }
}

fn simple_outcome(rec: &mut Recorder, r: Result<Via, OpError>) {
    match r {
        Ok(Via::Fallback) => rec.fallback_op(),
        Ok(Via::Primary) => {}
        Err(e) => rec.error(e.kind()),
    }
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
    }
}
