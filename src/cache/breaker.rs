//! The circuit breaker, with exactly the guide's states and numbers: CLOSED → OPEN after
//! `failure_threshold` consecutive failures; OPEN → HALF_OPEN once `reset_timeout` has passed;
//! HALF_OPEN admits at most `half_open_max_calls` probes at a time, closes after
//! `success_threshold` consecutive successes and reopens on any failure.
//!
//! The CLOSED fast path is two relaxed atomic loads and one increment, so guarding a call
//! costs nanoseconds; transitions take a mutex. The clock is injected (see [`Clock`]).

use super::clock::{Clock, SystemClock};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The breaker's settings; defaults are the guide's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (guide: 5).
    pub failure_threshold: u32,
    /// How long the breaker stays OPEN before probing (guide: 60 s).
    pub reset_timeout: Duration,
    /// Consecutive probe successes that close it again (guide: 2).
    pub success_threshold: u32,
    /// Probe calls admitted at a time while HALF_OPEN.
    pub half_open_max_calls: u32,
    /// When set, a call slower than this counts as a failure even if it succeeded.
    pub slow_call_threshold: Option<Duration>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            reset_timeout: Duration::from_secs(60),
            success_threshold: 2,
            half_open_max_calls: 2,
            slow_call_threshold: None,
        }
    }
}

/// The breaker's state, spelled as the guide spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// `CLOSED`, `OPEN` or `HALF_OPEN`.
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "CLOSED",
            BreakerState::Open => "OPEN",
            BreakerState::HalfOpen => "HALF_OPEN",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => BreakerState::Closed,
            1 => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }
}

impl std::fmt::Display for BreakerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One state change, with when (on the breaker's clock) and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Time on the breaker's clock.
    pub at: Duration,
    pub from: BreakerState,
    pub to: BreakerState,
    /// What caused it, e.g. "5 consecutive failures (last: timed out ...)".
    pub cause: String,
    /// Failures counted since the breaker was made, at this change (drills compare it
    /// with the count when a fault started).
    pub failures: u64,
}

/// Admission to make one guarded call; hand it back with the outcome.
#[derive(Debug)]
#[must_use = "report the call's outcome with on_success/on_failure"]
pub struct Permit {
    probe: bool,
    started: Option<Duration>,
}

/// The call was refused because the breaker is OPEN (or HALF_OPEN with all probes busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker is {0}; failing fast")]
pub struct Rejected(pub BreakerState);

/// Counter snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BreakerCounters {
    pub state: BreakerState,
    /// Calls that failed (in total).
    pub failures: u64,
    /// Calls that succeeded (in total).
    pub successes: u64,
    /// Calls refused without being attempted.
    pub rejected: u64,
}

/// Most transitions kept; a flapping breaker in a long run must not grow memory forever.
const MAX_EVENTS: usize = 10_000;

struct Inner {
    opened_at: Duration,
    probes_in_flight: u32,
    probe_successes: u32,
    events: Vec<Transition>,
    events_dropped: u64,
}

/// A circuit breaker shared by every caller of one store.
pub struct CircuitBreaker {
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    state: AtomicU8,
    consecutive_failures: AtomicU32,
    failures: AtomicU64,
    successes: AtomicU64,
    rejected: AtomicU64,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("config", &self.config)
            .field("counters", &self.counters())
            .finish()
    }
}

impl CircuitBreaker {
    /// A CLOSED breaker on the system clock.
    pub fn new(config: BreakerConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock::new()))
    }

    /// A CLOSED breaker reading the given clock.
    pub fn with_clock(config: BreakerConfig, clock: Arc<dyn Clock>) -> Self {
        CircuitBreaker {
            config,
            clock,
            state: AtomicU8::new(BreakerState::Closed as u8),
            consecutive_failures: AtomicU32::new(0),
            failures: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                opened_at: Duration::ZERO,
                probes_in_flight: 0,
                probe_successes: 0,
                events: Vec::new(),
                events_dropped: 0,
            }),
        }
    }

    /// The time on the breaker's clock now, the clock of [`Transition::at`]: a caller reads
    /// it at an instant of its own to put transitions on its own timeline.
    pub fn clock_now(&self) -> Duration {
        self.clock.now()
    }

    /// The settings.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The current state (an OPEN breaker whose timeout has passed still reads OPEN until
    /// the next call asks to be admitted).
    pub fn state(&self) -> BreakerState {
        BreakerState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Asks to make one call.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit, Rejected> {
        let started = self.config.slow_call_threshold.map(|_| self.clock.now());
        if self.state.load(Ordering::Acquire) == BreakerState::Closed as u8 {
            return Ok(Permit {
                probe: false,
                started,
            });
        }
        self.acquire_slow(started)
    }

    #[cold]
    fn acquire_slow(&self, started: Option<Duration>) -> Result<Permit, Rejected> {
        let mut inner = self.lock();
        match self.state() {
            BreakerState::Closed => Ok(Permit {
                probe: false,
                started,
            }),
            BreakerState::Open => {
                let now = self.clock.now();
                if now.saturating_sub(inner.opened_at) < self.config.reset_timeout {
                    drop(inner);
                    return Err(self.reject(BreakerState::Open));
                }
                let cause = format!("reset timeout of {:?} elapsed", self.config.reset_timeout);
                self.transition(&mut inner, BreakerState::HalfOpen, cause);
                inner.probes_in_flight = 1;
                Ok(Permit {
                    probe: true,
                    started,
                })
            }
            BreakerState::HalfOpen => {
                if inner.probes_in_flight >= self.config.half_open_max_calls {
                    drop(inner);
                    return Err(self.reject(BreakerState::HalfOpen));
                }
                inner.probes_in_flight += 1;
                Ok(Permit {
                    probe: true,
                    started,
                })
            }
        }
    }

    fn reject(&self, state: BreakerState) -> Rejected {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        Rejected(state)
    }

    /// Reports that the admitted call succeeded. With a slow-call threshold, a success that
    /// took longer counts as a failure.
    #[inline]
    pub fn on_success(&self, permit: Permit) {
        if let (Some(limit), Some(started)) = (self.config.slow_call_threshold, permit.started) {
            let took = self.clock.now().saturating_sub(started);
            if took > limit {
                let cause = format!("slow call: {took:?} > {limit:?}");
                return self.on_failure(permit, &cause);
            }
        }
        self.successes.fetch_add(1, Ordering::Relaxed);
        if !permit.probe {
            if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
                self.consecutive_failures.store(0, Ordering::Relaxed);
            }
            return;
        }
        let mut inner = self.lock();
        inner.probes_in_flight = inner.probes_in_flight.saturating_sub(1);
        if self.state() != BreakerState::HalfOpen {
            return;
        }
        inner.probe_successes += 1;
        if inner.probe_successes >= self.config.success_threshold {
            let cause = format!("{} consecutive probe successes", inner.probe_successes);
            self.transition(&mut inner, BreakerState::Closed, cause);
        }
    }

    /// Reports that the admitted call failed in a way that says the server is unwell.
    /// (Caller mistakes should be reported with [`CircuitBreaker::on_neutral`].)
    pub fn on_failure(&self, permit: Permit, cause: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if permit.probe {
            let mut inner = self.lock();
            inner.probes_in_flight = inner.probes_in_flight.saturating_sub(1);
            if self.state() == BreakerState::HalfOpen {
                let cause = format!("probe failed: {cause}");
                self.transition(&mut inner, BreakerState::Open, cause);
            }
            return;
        }
        let consecutive = self.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
        if consecutive >= self.config.failure_threshold {
            let mut inner = self.lock();
            if self.state() == BreakerState::Closed {
                let cause = format!("{consecutive} consecutive failures (last: {cause})");
                self.transition(&mut inner, BreakerState::Open, cause);
            }
        }
    }

    /// Reports that the admitted call ended in a way that says nothing about the server's
    /// health (e.g. WRONGTYPE): it frees a probe slot and changes no counter.
    pub fn on_neutral(&self, permit: Permit) {
        if permit.probe {
            let mut inner = self.lock();
            inner.probes_in_flight = inner.probes_in_flight.saturating_sub(1);
        }
    }

    /// Forces the breaker CLOSED (the guide's `resetCircuitBreaker()`).
    pub fn reset(&self) {
        let mut inner = self.lock();
        if self.state() != BreakerState::Closed {
            self.transition(&mut inner, BreakerState::Closed, "manual reset".to_string());
        }
        self.consecutive_failures.store(0, Ordering::Relaxed);
    }

    /// Counters now.
    pub fn counters(&self) -> BreakerCounters {
        BreakerCounters {
            state: self.state(),
            failures: self.failures.load(Ordering::Relaxed),
            successes: self.successes.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    /// Every transition so far (the oldest are dropped past 10 000).
    pub fn transitions(&self) -> Vec<Transition> {
        self.lock().events.clone()
    }

    /// How many transitions there have been (those dropped past 10 000 included): a cheap
    /// way to tell that the state changed between two reads.
    pub fn transition_count(&self) -> u64 {
        let inner = self.lock();
        inner.events.len() as u64 + inner.events_dropped
    }

    /// Transitions from index `from` on, for consumers that poll the event stream.
    pub fn transitions_since(&self, from: usize) -> Vec<Transition> {
        let inner = self.lock();
        inner
            .events
            .get(from..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave Inner inconsistent in a way that
        // matters more than stopping the whole cache layer would.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn transition(&self, inner: &mut Inner, to: BreakerState, cause: String) {
        let from = self.state();
        let at = self.clock.now();
        match to {
            BreakerState::Open => inner.opened_at = at,
            BreakerState::HalfOpen => {
                inner.probes_in_flight = 0;
                inner.probe_successes = 0;
            }
            BreakerState::Closed => {
                inner.probes_in_flight = 0;
                inner.probe_successes = 0;
                self.consecutive_failures.store(0, Ordering::Relaxed);
            }
        }
        self.state.store(to as u8, Ordering::Release);
        match to {
            BreakerState::Open => tracing::warn!("circuit breaker {from} -> OPEN: {cause}"),
            _ => tracing::info!("circuit breaker {from} -> {to}: {cause}"),
        }
        if inner.events.len() >= MAX_EVENTS {
            inner.events.remove(0);
            inner.events_dropped += 1;
        }
        inner.events.push(Transition {
            at,
            from,
            to,
            cause,
            failures: self.failures.load(Ordering::Relaxed),
        });
    }
}

#[cfg(test)]
mod tests;
