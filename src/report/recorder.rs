//! The per-worker [`Recorder`]: HDR histograms of response and service time per operation,
//! plus the counters a run is judged by (hits, misses, origin calls, fallback operations,
//! errors by kind, encoded bytes per codec, scheduler lag).
//!
//! Each worker owns one `Arc<Mutex<Recorder>>` and records into it on its hot path; the
//! aggregator empties it once a second. Recording allocates only when an operation kind first
//! appears or a latency larger than any before grows its histogram (a few times per run at
//! most), and never panics: values above one hour are clamped to one hour.
//!
//! Cost note (for the lead's criterion bench of `record`; not measured here): a call is two
//! histogram slot increments (index from a leading-zeros count) and one counter add, with no
//! allocation in the steady state, so it should cost nanoseconds; the
//! uncontended `Mutex` lock around it likely costs more. Memory (measured): histograms
//! auto-resize to the largest value seen, 16 KiB up to 2 ms plus 8 KiB per doubling: 40 KiB
//! at 10 ms, 64 KiB at 100 ms, 184 KiB at the one-hour ceiling. An operation kind holds two
//! (response, service), and the aggregator keeps one spare Recorder per worker, so keep one
//! Recorder per worker task, not per virtual user.

use super::backlog::{OpWaits, Queueing};
use super::consistency::Checks;
use super::hdr::{add_histogram, new_histogram, record_us};
use crate::op::{ErrorKind, OpKind, RedisCalls};
use hdrhistogram::Histogram;

const OP_COUNT: usize = OpKind::ALL.len();
const ERROR_COUNT: usize = ErrorKind::ALL.len();

/// Response-time and service-time histograms of one operation kind.
#[derive(Debug, Clone)]
pub struct OpHistograms {
    /// Time from the operation's intended start (the schedule) to completion, so queueing
    /// behind a slow server is measured (coordinated-omission correction).
    pub response: Histogram<u64>,
    /// Time from the actual send to completion: what the server and network cost alone.
    pub service: Histogram<u64>,
}

impl OpHistograms {
    fn new() -> Self {
        OpHistograms {
            response: new_histogram(),
            service: new_histogram(),
        }
    }

    fn reset(&mut self) {
        self.response.reset();
        self.service.reset();
    }
}

/// Value bytes before and after encoding for one codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecBytes {
    /// Codec name as the cache layer reports it ("none", "gzip-base64", "gzip", "zstd").
    pub codec: String,
    /// Serialized value bytes before compression.
    pub raw: u64,
    /// Bytes actually sent to Redis.
    pub wire: u64,
}

/// One worker's measurements since it was last emptied.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Histograms per operation, indexed by [`OpKind::index`]. Created on an operation's first
    /// record so a worker that only runs GETs does not carry eight pairs of histograms.
    ops: [Option<OpHistograms>; OP_COUNT],
    /// Operations recorded per kind; equals the response histogram's count and is kept
    /// separately so `ops()` is a sum of eight integers.
    counts: [u64; OP_COUNT],
    /// Keys read and found in the cache (an MGET of n keys counts n).
    hits: u64,
    /// Keys read and not found.
    misses: u64,
    /// Loads from the simulated origin (database) after a miss: the load the cache saves.
    origin_calls: u64,
    /// Operations served by the in-memory fallback while Redis was unavailable.
    fallback_ops: u64,
    /// What the stale-read checker found in the reads recorded.
    checks: Checks,
    /// Failed operations per [`ErrorKind::index`].
    errors: [u64; ERROR_COUNT],
    /// Encoded bytes per codec, in first-seen order. Entries are zeroed, not removed, on reset
    /// so the steady state allocates nothing.
    codecs: Vec<CodecBytes>,
    /// How late each operation was released versus its intended start; the evidence for
    /// `generator.saturated`. Created on first use (closed-loop runs never record lag).
    lag: Option<Histogram<u64>>,
    /// Waits for in-flight, Redis and origin slots, and dropped operations. Boxed and
    /// created on first use: three histograms a run without queueing never needs.
    queueing: Option<Box<Queueing>>,

    // ---- Redis's own view and command counts (apart from what the application saw) ----
    /// Commands the operations consisted of: an MGET is one operation and one command, a
    /// pipeline of 16 one operation and 16 commands.
    commands: u64,
    /// Commands asked of Redis (breaker refusals included) and those that failed, by kind,
    /// whether or not the fallback then answered the application.
    redis: RedisCalls,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder. Allocates nothing until the first record.
    pub fn new() -> Self {
        Recorder {
            ops: Default::default(),
            counts: [0; OP_COUNT],
            hits: 0,
            misses: 0,
            origin_calls: 0,
            fallback_ops: 0,
            checks: Checks::default(),
            errors: [0; ERROR_COUNT],
            codecs: Vec::new(),
            lag: None,
            queueing: None,
            commands: 0,
            redis: RedisCalls::default(),
        }
    }

    /// Records one completed operation (one application call: a GET, an MGET, a whole
    /// pipeline), successful or not.
    /// A failure is also reported with [`Recorder::error`].
    #[inline]
    pub fn record(&mut self, op: OpKind, response_us: u64, service_us: u64) {
        let i = op.index();
        let h = self.ops[i].get_or_insert_with(OpHistograms::new);
        record_us(&mut h.response, response_us);
        record_us(&mut h.service, service_us);
        self.counts[i] += 1;
    }

    /// One key read found in the cache.
    #[inline]
    pub fn hit(&mut self) {
        self.hits += 1;
    }

    /// One key read not found in the cache.
    #[inline]
    pub fn miss(&mut self) {
        self.misses += 1;
    }

    /// `n` keys found (an MGET).
    #[inline]
    pub fn hits(&mut self, n: u64) {
        self.hits += n;
    }

    /// `n` keys not found (an MGET).
    #[inline]
    pub fn misses(&mut self, n: u64) {
        self.misses += n;
    }

    /// One load from the origin.
    #[inline]
    pub fn origin_call(&mut self) {
        self.origin_calls += 1;
    }

    /// One operation served by the in-memory fallback.
    #[inline]
    pub fn fallback_op(&mut self) {
        self.fallback_ops += 1;
    }

    /// What the stale-read checker found in one operation's reads.
    #[inline]
    pub fn checks(&mut self, checks: Checks) {
        self.checks.add(checks);
    }

    /// One failed operation of the given kind.
    #[inline]
    pub fn error(&mut self, kind: ErrorKind) {
        self.errors[kind.index()] += 1;
    }

    /// `n` commands issued by one operation.
    #[inline]
    pub fn commands(&mut self, n: u64) {
        self.commands += n;
    }

    /// What Redis did for one operation.
    #[inline]
    pub fn redis(&mut self, calls: RedisCalls) {
        self.redis.add(calls);
    }

    /// Value bytes before (`raw`) and after (`wire`) encoding with `codec`. Allocates only the
    /// first time a codec name is seen.
    pub fn bytes(&mut self, codec: &str, raw: u64, wire: u64) {
        if let Some(c) = self.codecs.iter_mut().find(|c| c.codec == codec) {
            c.raw += raw;
            c.wire += wire;
        } else {
            self.codecs.push(CodecBytes {
                codec: codec.to_string(),
                raw,
                wire,
            });
        }
    }

    /// Scheduler lag: how late (µs) an operation was released versus its intended start.
    #[inline]
    pub fn lag(&mut self, lag_us: u64) {
        record_us(self.lag.get_or_insert_with(new_histogram), lag_us);
    }

    /// Where one operation waited (in-flight slot, Redis slots, origin pool).
    #[inline]
    pub fn waits(&mut self, waits: &OpWaits) {
        self.queueing
            .get_or_insert_with(Default::default)
            .record(waits);
    }

    /// `n` scheduled operations that never started before the measured phase ended: an
    /// application error of kind `dropped` each.
    pub fn dropped(&mut self, n: u64) {
        self.queueing.get_or_insert_with(Default::default).dropped += n;
        self.errors[ErrorKind::Dropped.index()] += n;
    }

    /// `n` operations still running when the graceful stop ran out, cut off: an application
    /// error of kind `dropped` each.
    pub fn interrupted(&mut self, n: u64) {
        self.queueing
            .get_or_insert_with(Default::default)
            .interrupted += n;
        self.errors[ErrorKind::Dropped.index()] += n;
    }

    /// Returns everything recorded so far and leaves `self` empty. O(1): the histograms move
    /// out and `self` re-creates them on its next record. The aggregator uses
    /// [`Recorder::swap_with`] instead, which also avoids that re-allocation.
    pub fn take(&mut self) -> Recorder {
        std::mem::take(self)
    }

    /// Exchanges contents with `spare`, which the caller has [`reset`](Recorder::reset)
    /// outside the lock: `self` keeps recording into `spare`'s (allocated, empty) histograms and
    /// `spare` now holds the interval. O(1) under the worker's lock, no allocation.
    pub fn swap_with(&mut self, spare: &mut Recorder) {
        std::mem::swap(self, spare);
    }

    /// Empties every histogram and counter, keeping allocations for reuse.
    pub fn reset(&mut self) {
        for h in self.ops.iter_mut().flatten() {
            h.reset();
        }
        self.counts = [0; OP_COUNT];
        self.hits = 0;
        self.misses = 0;
        self.origin_calls = 0;
        self.fallback_ops = 0;
        self.checks = Checks::default();
        self.errors = [0; ERROR_COUNT];
        for c in &mut self.codecs {
            c.raw = 0;
            c.wire = 0;
        }
        if let Some(lag) = &mut self.lag {
            lag.reset();
        }
        if let Some(q) = &mut self.queueing {
            q.reset();
        }
        self.commands = 0;
        self.redis = RedisCalls::default();
    }

    /// Adds `other`'s measurements to `self`.
    pub fn merge(&mut self, other: &Recorder) {
        for (mine, theirs) in self.ops.iter_mut().zip(&other.ops) {
            let Some(theirs) = theirs else { continue };
            match mine {
                Some(mine) => {
                    add_histogram(&mut mine.response, &theirs.response);
                    add_histogram(&mut mine.service, &theirs.service);
                }
                None if theirs.response.is_empty() && theirs.service.is_empty() => {}
                None => *mine = Some(theirs.clone()),
            }
        }
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
        self.hits += other.hits;
        self.misses += other.misses;
        self.origin_calls += other.origin_calls;
        self.fallback_ops += other.fallback_ops;
        self.checks.add(other.checks);
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
        for c in &other.codecs {
            if c.raw != 0 || c.wire != 0 {
                self.bytes(&c.codec, c.raw, c.wire);
            }
        }
        if let Some(theirs) = &other.lag {
            if !theirs.is_empty() {
                add_histogram(self.lag.get_or_insert_with(new_histogram), theirs);
            }
        }
        if let Some(theirs) = &other.queueing {
            self.queueing
                .get_or_insert_with(Default::default)
                .merge(theirs);
        }
        self.commands += other.commands;
        self.redis.add(other.redis);
    }

    /// Operations recorded, all kinds.
    pub fn ops(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Operations recorded of one kind.
    pub fn op_count(&self, op: OpKind) -> u64 {
        self.counts[op.index()]
    }

    /// The histograms of one operation, if it was recorded at least once.
    pub fn op_histograms(&self, op: OpKind) -> Option<&OpHistograms> {
        self.ops[op.index()]
            .as_ref()
            .filter(|_| self.counts[op.index()] > 0)
    }

    /// Response-time histogram of all operations together (allocates; call once per tick).
    pub fn response_overall(&self) -> Histogram<u64> {
        self.overall(|h| &h.response)
    }

    /// Service-time histogram of all operations together (allocates).
    pub fn service_overall(&self) -> Histogram<u64> {
        self.overall(|h| &h.service)
    }

    /// Merges one histogram of every operation into `into` (after resetting it), so a caller
    /// ticking every second can reuse one buffer.
    pub fn response_overall_into(&self, into: &mut Histogram<u64>) {
        into.reset();
        for h in self.ops.iter().flatten() {
            add_histogram(into, &h.response);
        }
    }

    fn overall(&self, pick: impl Fn(&OpHistograms) -> &Histogram<u64>) -> Histogram<u64> {
        let mut all = new_histogram();
        for h in self.ops.iter().flatten() {
            add_histogram(&mut all, pick(h));
        }
        all
    }

    /// Keys found in the cache.
    pub fn hit_count(&self) -> u64 {
        self.hits
    }

    /// Keys not found in the cache.
    pub fn miss_count(&self) -> u64 {
        self.misses
    }

    /// Loads from the origin.
    pub fn origin_call_count(&self) -> u64 {
        self.origin_calls
    }

    /// Operations served by the fallback store.
    pub fn fallback_op_count(&self) -> u64 {
        self.fallback_ops
    }

    /// What the stale-read checker found.
    pub fn check_counts(&self) -> Checks {
        self.checks
    }

    /// Failures of one kind.
    pub fn error_count(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()]
    }

    /// Failures of every kind.
    pub fn errors_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Encoded bytes per codec, first-seen order; may contain all-zero entries after a reset.
    pub fn codec_bytes(&self) -> &[CodecBytes] {
        &self.codecs
    }

    /// Queueing and dropped operations, if any were recorded.
    pub fn queueing(&self) -> Option<&Queueing> {
        self.queueing.as_deref()
    }

    /// Commands issued, all operations.
    pub fn command_count(&self) -> u64 {
        self.commands
    }

    /// Redis's own view: commands asked of it and failures by kind.
    pub fn redis_calls(&self) -> &RedisCalls {
        &self.redis
    }

    /// Scheduler lag histogram, if any lag was recorded.
    pub fn lag_histogram(&self) -> Option<&Histogram<u64>> {
        self.lag.as_ref().filter(|h| !h.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::hdr::MAX_US;

    #[test]
    fn record_counts_per_op_and_overall() {
        let mut r = Recorder::new();
        r.record(OpKind::Get, 100, 80);
        r.record(OpKind::Get, 200, 150);
        r.record(OpKind::Set, 300, 300);
        assert_eq!(r.ops(), 3);
        assert_eq!(r.op_count(OpKind::Get), 2);
        assert_eq!(r.op_count(OpKind::Del), 0);
        assert!(r.op_histograms(OpKind::Del).is_none());
        let get = r.op_histograms(OpKind::Get).expect("get ran");
        assert_eq!(get.response.len(), 2);
        assert_eq!(get.service.max(), 150);
        let all = r.response_overall();
        assert_eq!(all.len(), 3);
        assert_eq!(all.max(), 300);
    }

    #[test]
    fn counters_accumulate() {
        let mut r = Recorder::new();
        r.hit();
        r.hits(4);
        r.miss();
        r.misses(2);
        r.origin_call();
        r.fallback_op();
        r.error(ErrorKind::Timeout);
        r.error(ErrorKind::Timeout);
        r.error(ErrorKind::Origin);
        r.bytes("gzip", 1000, 300);
        r.bytes("gzip", 1000, 200);
        r.bytes("none", 10, 10);
        assert_eq!((r.hit_count(), r.miss_count()), (5, 3));
        assert_eq!((r.origin_call_count(), r.fallback_op_count()), (1, 1));
        assert_eq!(r.error_count(ErrorKind::Timeout), 2);
        assert_eq!(r.errors_total(), 3);
        assert_eq!(r.codec_bytes().len(), 2);
        assert_eq!(
            (r.codec_bytes()[0].raw, r.codec_bytes()[0].wire),
            (2000, 500)
        );
    }

    #[test]
    fn out_of_range_values_are_clamped_not_lost() {
        let mut r = Recorder::new();
        r.record(OpKind::Get, u64::MAX, 0);
        r.lag(u64::MAX);
        let get = r.op_histograms(OpKind::Get).expect("get ran");
        assert_eq!(get.response.len(), 1);
        assert!(get.response.equivalent(get.response.max(), MAX_US));
        assert_eq!(get.service.max(), 0);
        assert!(r.lag_histogram().is_some());
    }

    #[test]
    fn take_returns_contents_and_resets() {
        let mut r = Recorder::new();
        r.record(OpKind::Get, 10, 10);
        r.hit();
        r.lag(5);
        let taken = r.take();
        assert_eq!(taken.ops(), 1);
        assert_eq!(taken.hit_count(), 1);
        assert!(taken.lag_histogram().is_some());
        assert_eq!(r.ops(), 0);
        assert_eq!(r.hit_count(), 0);
        assert!(r.op_histograms(OpKind::Get).is_none());
        assert!(r.lag_histogram().is_none());
    }

    #[test]
    fn swap_with_reset_spare_keeps_allocations() {
        let mut worker = Recorder::new();
        let mut spare = Recorder::new();
        worker.record(OpKind::Get, 10, 10);
        worker.bytes("zstd", 100, 40);
        worker.swap_with(&mut spare);
        assert_eq!(spare.ops(), 1);
        assert_eq!(worker.ops(), 0);
        // Second interval: the spare (now holding interval 1) is reset and swapped back in.
        spare.reset();
        worker.record(OpKind::Get, 20, 20);
        worker.swap_with(&mut spare);
        assert_eq!(spare.ops(), 1);
        assert_eq!(
            spare.op_histograms(OpKind::Get).map(|h| h.response.max()),
            Some(20)
        );
        assert_eq!(worker.ops(), 0);
        // The worker got back interval 1's histograms and codec entry, emptied.
        assert!(worker.ops[OpKind::Get.index()].is_some());
        assert_eq!(worker.codecs.len(), 1);
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        a.record(OpKind::Get, 100, 90);
        a.hit();
        a.bytes("gzip", 100, 50);
        b.record(OpKind::Get, 300, 250);
        b.record(OpKind::Mget, 500, 400);
        b.miss();
        b.error(ErrorKind::Connection);
        b.bytes("gzip", 100, 30);
        b.bytes("zstd", 10, 5);
        b.lag(7);
        b.commands(10);
        b.redis(RedisCalls::failed(2, ErrorKind::Protocol));
        a.commands(1);
        a.redis(RedisCalls::answered(1));
        a.merge(&b);
        assert_eq!(a.command_count(), 11);
        assert_eq!(a.redis_calls().attempted, 3);
        assert_eq!(a.redis_calls().failed[ErrorKind::Protocol.index()], 2);
        assert_eq!(a.ops(), 3);
        assert_eq!(a.op_count(OpKind::Mget), 1);
        let get = a.op_histograms(OpKind::Get).expect("get ran");
        assert_eq!((get.response.min(), get.response.max()), (100, 300));
        assert_eq!((a.hit_count(), a.miss_count()), (1, 1));
        assert_eq!(a.error_count(ErrorKind::Connection), 1);
        assert_eq!(a.codec_bytes()[0].wire, 80);
        assert_eq!(a.codec_bytes()[1].codec, "zstd");
        assert_eq!(a.lag_histogram().map(|h| h.max()), Some(7));
    }
}
