//! [`Outcome`]: what one operation came to — hits and misses, who served it, the failure
//! the application saw, bytes written, the commands it consisted of and what Redis did —
//! gathered by the operation's own method in [`ops`](super::ops) and recorded in one place,
//! [`Outcome::record`].

use super::backend::{Call, Via};
use super::stale::Judgement;
use crate::cache::codec::CodecConfig;
use crate::cache::OpError;
use crate::op::{ErrorKind, OpKind, RedisCalls};
use crate::report::consistency::Checks;
use crate::report::recorder::Recorder;
use std::time::{Duration, Instant};

/// A duration in whole microseconds, saturating.
pub(super) fn us(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

/// What one operation came to: everything the recorder counts for it, gathered by the
/// operation's method and recorded in one place.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// When it completed; `None`: when it was recorded (a pipeline sets its last reply's).
    pub(super) done: Option<Instant>,
    /// Keys read and found / not found.
    pub(super) hits: u64,
    pub(super) misses: u64,
    /// A miss went to the origin.
    pub(super) origin_call: bool,
    /// The fallback answered (some of) it.
    pub(super) fallback: bool,
    /// The failure the application saw (the first, for a pipeline).
    pub(super) error: Option<ErrorKind>,
    /// Value bytes (raw, encoded) written.
    pub(super) bytes: Option<(u64, u64)>,
    /// Commands it consisted of.
    pub(super) commands: u64,
    /// What Redis did, apart from what the application saw.
    pub(super) redis: RedisCalls,
    /// What the stale-read checker found in its reads.
    pub(super) checks: Checks,
}

impl Outcome {
    /// The counts of one backend call, before its result is looked at.
    pub(super) fn of<T>(call: &Call<T>) -> Self {
        Outcome {
            commands: call.commands,
            redis: call.redis,
            ..Outcome::default()
        }
    }

    /// An operation that failed before reaching the cache layer (e.g. encoding).
    pub(super) fn failed(e: &OpError) -> Self {
        let mut out = Outcome::default();
        out.fail(e);
        out
    }

    /// A call with nothing to count but how it was served.
    pub(super) fn done(call: Call<()>) -> Self {
        let mut out = Outcome::of(&call);
        match call.result {
            Ok(((), via)) => out.served(via),
            Err(e) => out.fail(&e),
        }
        out
    }

    pub(super) fn served(&mut self, via: Via) {
        self.fallback |= via == Via::Fallback;
    }

    pub(super) fn read(&mut self, hits: u64, misses: u64) {
        self.hits += hits;
        self.misses += misses;
    }

    /// Counts the checker's judgement of one read.
    pub(super) fn check(&mut self, judgement: Judgement) {
        let c = &mut self.checks;
        match judgement {
            Judgement::Unchecked => return,
            Judgement::Fresh => {}
            Judgement::StaleWithinTtl => c.stale_within_ttl += 1,
            Judgement::Stale { first, .. } => {
                c.stale += 1;
                c.lost_invalidations += u64::from(first);
            }
        }
        c.checked += 1;
    }

    pub(super) fn fail(&mut self, e: &OpError) {
        self.error.get_or_insert(e.kind());
    }

    /// Adds a follow-up call of the same operation (a write-back).
    pub(super) fn then(&mut self, next: Outcome) {
        self.fallback |= next.fallback;
        if let Some(kind) = next.error {
            self.error.get_or_insert(kind);
        }
        self.bytes = next.bytes.or(self.bytes);
        self.commands += next.commands;
        self.redis.add(next.redis);
        self.checks.add(next.checks);
    }

    /// Records the operation: latency from `intended` (response) and `sent` (service) to
    /// its completion, and every counter.
    pub(super) fn record(
        self,
        rec: &mut Recorder,
        kind: OpKind,
        codec: &CodecConfig,
        intended: Instant,
        sent: Instant,
    ) {
        let done = self.done.unwrap_or_else(Instant::now);
        // The wait for Redis command slots is queueing in the client (reported in
        // `backlog`), not what the server cost: it stays out of the service time.
        let service = us(done.saturating_duration_since(sent))
            .saturating_sub(super::queueing::redis_waited_us());
        rec.record(kind, us(done.saturating_duration_since(intended)), service);
        rec.hits(self.hits);
        rec.misses(self.misses);
        if self.origin_call {
            rec.origin_call();
        }
        if self.fallback {
            rec.fallback_op();
        }
        if let Some(kind) = self.error {
            rec.error(kind);
        }
        if let Some((raw, wire)) = self.bytes {
            rec.bytes(codec.codec.name(), raw, wire);
        }
        rec.commands(self.commands);
        rec.redis(self.redis);
        if self.checks != Checks::default() {
            rec.checks(self.checks);
        }
    }
}
