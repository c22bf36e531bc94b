//! Criterion micro-benchmarks of the code on redline's per-operation hot path: the circuit
//! breaker's guard, the in-memory fallback store, the value codecs, the per-worker recorder,
//! key and value generation, and the open-model scheduler.
//!
//! Run with `cargo bench --bench hot_paths` (about three minutes; `-- codec` and the like
//! run one group). Keep a baseline and compare against it with criterion's own flags:
//! `cargo bench --bench hot_paths -- --save-baseline main`, then after a change
//! `cargo bench --bench hot_paths -- --baseline main` (see README, Benchmarks). Budgets the numbers
//! are judged against: the breaker adds under 100 ns to a guarded call (compare
//! `breaker/guarded_*` with `breaker/bare_call`), a `MemoryStore` get takes under 1 µs, and
//! a zipfian key choice takes under 100 ns (`generate/key_zipfian_*`; the rank-to-key scramble
//! alone, `generate/scramble_*`, a few ns: more when the key count is just above a power of
//! two, where about half the draws walk a second pass).
//! Everything here is single-threaded: contention between workers is not measured.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use redline::cache::breaker::{BreakerConfig, CircuitBreaker};
use redline::cache::codec::{self, Codec, CodecConfig};
use redline::cache::MemoryStore;
use redline::engine::ops::key_name;
use redline::engine::schedule::Schedule;
use redline::op::OpKind;
use redline::report::hdr::{encode_compressed, new_histogram};
use redline::report::recorder::Recorder;
use redline::scenario::dist::{KeyChooser, Permutation, ValueGen};
use redline::scenario::keyspace::{Distribution, Keyspace, ValueContent, ValueSize};
use redline::scenario::load::{Arrival, Pacing};
use std::hint::black_box;
use std::time::Duration;

/// Entries preloaded into the memory store.
const STORE_ENTRIES: u64 = 10_000;
/// Sizes of the values the codecs compress: small (just above the compression threshold),
/// typical, and large.
const CODEC_VALUE_SIZES: [u64; 3] = [1024, 10 * 1024, 100 * 1024];

/// Short runs: the machine has two cores and the whole file should finish in ~2 minutes.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

fn keyspace(keys: u64, distribution: Distribution, value_size: u64) -> Keyspace {
    Keyspace {
        keys,
        prefix: "bench:".into(),
        distribution,
        value_size: ValueSize::Fixed(value_size),
        value_content: ValueContent::Json {
            compressibility: 0.7,
        },
        hash_tags: false,
    }
}

/// The call being guarded: kept out of line so the bare and guarded variants pay the same
/// call and differ only by the breaker.
#[inline(never)]
fn bare_call(x: u64) -> u64 {
    black_box(x.wrapping_add(1))
}

fn guarded_call(breaker: &CircuitBreaker, x: u64) -> u64 {
    let permit = breaker.try_acquire().expect("a fresh breaker is CLOSED");
    let v = bare_call(x);
    breaker.on_success(permit);
    v
}

fn breaker(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker");
    g.bench_function("bare_call", |b| b.iter(|| bare_call(black_box(7))));

    let plain = CircuitBreaker::new(BreakerConfig::default());
    g.bench_function("guarded_default", |b| {
        b.iter(|| guarded_call(&plain, black_box(7)))
    });

    // A slow-call threshold makes both halves of the guard read the system clock.
    let timed = CircuitBreaker::new(BreakerConfig {
        slow_call_threshold: Some(Duration::from_secs(1)),
        ..BreakerConfig::default()
    });
    g.bench_function("guarded_slow_threshold", |b| {
        b.iter(|| guarded_call(&timed, black_box(7)))
    });
    g.finish();
    assert_eq!(
        plain.state().name(),
        "CLOSED",
        "the benchmark must stay on the fast path"
    );
    assert_eq!(
        timed.state().name(),
        "CLOSED",
        "a 1 s threshold must never trip"
    );
}

fn memory_store(c: &mut Criterion) {
    let store = MemoryStore::default();
    let value = vec![b'x'; 100];
    let keys: Vec<String> = (0..STORE_ENTRIES).map(key_name).collect();
    let absent: Vec<String> = (0..STORE_ENTRIES).map(|i| format!("absent:{i}")).collect();
    for k in &keys {
        store
            .set(k, &value, None)
            .expect("100 B fits the default bound");
    }
    assert!(store.get(&keys[0]).is_some(), "preloaded key missing");

    let mut g = c.benchmark_group("memory_store");
    let mut i = 0usize;
    g.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(store.get(&keys[i]))
        })
    });
    g.bench_function("get_miss", |b| {
        b.iter(|| {
            i = (i + 1) % absent.len();
            black_box(store.get(&absent[i]))
        })
    });
    // Overwrites the preloaded keys, so the store stays at 10 000 entries.
    let ttl = Some(Duration::from_secs(300));
    g.bench_function("set_100B", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            store.set(&keys[i], &value, ttl)
        })
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    for size in CODEC_VALUE_SIZES {
        let gen = ValueGen::new(&keyspace(1, Distribution::Uniform, size), 42);
        let raw = gen
            .value(&mut SmallRng::seed_from_u64(1), size as usize)
            .to_vec();
        let label = size_label(size);
        g.throughput(Throughput::Bytes(raw.len() as u64));
        for codec in [Codec::Gzip, Codec::GzipBase64, Codec::Zstd] {
            let cfg = CodecConfig {
                codec,
                threshold: 512,
            };
            let stored = cfg.encode(&raw).expect("encode").into_owned();
            assert_eq!(codec::decode(&stored).expect("decode").as_ref(), &raw[..]);
            println!(
                "codec {} {label}: {} B -> {} B ({:.1} %)",
                codec.name(),
                raw.len(),
                stored.len(),
                100.0 * stored.len() as f64 / raw.len() as f64
            );
            g.bench_function(format!("encode_{label}/{}", codec.name()), |b| {
                b.iter(|| cfg.encode(black_box(&raw)).expect("encode"))
            });
            g.bench_function(format!("decode_{label}/{}", codec.name()), |b| {
                b.iter(|| codec::decode(black_box(&stored)).expect("decode"))
            });
        }
    }
    g.finish();
}

/// `1KiB`, `100KiB`.
fn size_label(bytes: u64) -> String {
    if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{}KiB", bytes / 1024)
    } else {
        format!("{bytes}B")
    }
}

/// Latencies (µs) spread from 50 µs to ~100 ms, log-uniformly, like a run with a slow tail.
fn latencies(n: usize) -> Vec<u64> {
    let mut rng = SmallRng::seed_from_u64(5);
    (0..n)
        .map(|_| (50.0 * 2000f64.powf(rng.random::<f64>())) as u64)
        .collect()
}

fn recorder(c: &mut Criterion) {
    let samples = latencies(4096);
    let mut g = c.benchmark_group("recorder");

    // Pre-sized: the steady state, where histograms have already grown to the largest value.
    let mut rec = Recorder::new();
    for &v in &samples {
        rec.record(OpKind::Get, v, v / 2);
    }
    let mut i = 0usize;
    g.bench_function("record_get", |b| {
        b.iter(|| {
            i = (i + 1) % samples.len();
            let v = samples[i];
            rec.record(OpKind::Get, black_box(v), black_box(v / 2));
        })
    });

    // One worker's second of GETs and SETs folded into the aggregator's running total.
    let mut shard = Recorder::new();
    for (k, &v) in samples.iter().cycle().take(20_000).enumerate() {
        let op = if k % 5 == 0 { OpKind::Set } else { OpKind::Get };
        shard.record(op, v, v / 2);
        shard.hit();
    }
    let mut total = Recorder::new();
    total.merge(&shard);
    g.bench_function("merge_20k_samples", |b| {
        b.iter(|| total.merge(black_box(&shard)))
    });

    // A bare HDR histogram at redline's precision: what `record_get` adds on top of it is
    // the recorder's counters and per-operation lookup.
    let mut h = new_histogram();
    for &v in &samples {
        h.record(v).expect("in range");
    }
    g.bench_function("hdr_record", |b| {
        b.iter(|| {
            i = (i + 1) % samples.len();
            h.record(black_box(samples[i])).expect("in range")
        })
    });

    // Once a second the aggregator encodes the interval's histogram for the interval log
    // (`latency.hlog`): a second of 20 000 operations.
    let mut second = new_histogram();
    for &v in samples.iter().cycle().take(20_000) {
        second.record(v).expect("in range");
    }
    g.bench_function("interval_encode_20k_samples", |b| {
        b.iter(|| encode_compressed(black_box(&second)).expect("encode"))
    });
    g.finish();
}

fn generation(c: &mut Criterion) {
    let mut g = c.benchmark_group("generate");
    let mut rng = SmallRng::seed_from_u64(9);

    let uniform = KeyChooser::new(&keyspace(1_000_000, Distribution::Uniform, 1024));
    g.bench_function("key_uniform_1M", |b| b.iter(|| uniform.next(&mut rng)));

    let zipf = Distribution::Zipfian { exponent: 0.99 };
    let zipfian = KeyChooser::new(&keyspace(1_000_000, zipf.clone(), 1024));
    g.bench_function("key_zipfian_0.99_1M", |b| b.iter(|| zipfian.next(&mut rng)));
    // 1 025 keys: the permutation's domain is 2 048, the worst case for cycle walking.
    let zipfian = KeyChooser::new(&keyspace(1_025, zipf, 1024));
    g.bench_function("key_zipfian_0.99_1025", |b| {
        b.iter(|| zipfian.next(&mut rng))
    });
    let hotspot = Distribution::Hotspot {
        hot_keys: 0.2,
        hot_requests: 0.8,
    };
    let hotspot = KeyChooser::new(&keyspace(1_000_000, hotspot, 1024));
    g.bench_function("key_hotspot_1M", |b| b.iter(|| hotspot.next(&mut rng)));

    // The rank-to-key scramble alone, over hot (low) ranks as zipfian feeds it.
    for keys in [1_000_000, 1_025] {
        let scramble = Permutation::new(keys, 1);
        let mut rank = 0u64;
        g.bench_function(format!("scramble_{keys}"), |b| {
            b.iter(|| {
                rank = (rank + 1) & 1023;
                scramble.apply(black_box(rank))
            })
        });
    }

    let mut i = 0u64;
    g.bench_function("key_name", |b| {
        b.iter(|| {
            i = (i + 7919) % 1_000_000;
            key_name(black_box(i))
        })
    });

    for size in [64u64, 1024, 100 * 1024] {
        let values = ValueGen::new(&keyspace(1, Distribution::Uniform, size), 3);
        g.throughput(Throughput::Bytes(size));
        g.bench_function(format!("value_{}_json", size_label(size)), |b| {
            b.iter(|| black_box(values.value(&mut rng, size as usize)).len())
        });
    }
    g.finish();
}

fn schedule(c: &mut Criterion) {
    let mut g = c.benchmark_group("schedule");
    for pacing in [Pacing::Even, Pacing::Poisson] {
        let arrival = Arrival::Open {
            rate: 50_000.0,
            pacing,
        };
        let name = format!("next_offset/{pacing:?}").to_lowercase();
        g.bench_function(name, |b| {
            // A fresh schedule per batch keeps offsets in a realistic range however long the
            // measurement runs.
            b.iter_batched_ref(
                || Schedule::new(&arrival, Duration::ZERO, 11).expect("open model"),
                |s| s.next_offset(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = hot_paths;
    config = config();
    targets = breaker, memory_store, codecs, recorder, generation, schedule
}
criterion_main!(hot_paths);
