//! Breaker transitions driven by a manual clock.

use super::*;
use crate::cache::clock::ManualClock;

fn breaker(config: BreakerConfig) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    (
        CircuitBreaker::with_clock(config, Arc::new(clock.clone())),
        clock,
    )
}

fn fail(b: &CircuitBreaker, n: u32) {
    for _ in 0..n {
        let p = b.try_acquire().expect("admitted");
        b.on_failure(p, "boom");
    }
}

fn succeed(b: &CircuitBreaker, n: u32) {
    for _ in 0..n {
        let p = b.try_acquire().expect("admitted");
        b.on_success(p);
    }
}

#[test]
fn opens_after_failure_threshold_consecutive_failures() {
    let (b, _) = breaker(BreakerConfig::default());
    fail(&b, 4);
    assert_eq!(b.state(), BreakerState::Closed);
    fail(&b, 1);
    assert_eq!(b.state(), BreakerState::Open);
    let t = b.transitions();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].from, t[0].to),
        (BreakerState::Closed, BreakerState::Open)
    );
    assert!(
        t[0].cause.contains("5 consecutive failures"),
        "{}",
        t[0].cause
    );
}

#[test]
fn a_success_resets_the_consecutive_count() {
    let (b, _) = breaker(BreakerConfig::default());
    fail(&b, 4);
    succeed(&b, 1);
    fail(&b, 4);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn open_rejects_until_reset_timeout_then_half_opens() {
    let (b, clock) = breaker(BreakerConfig::default());
    fail(&b, 5);
    assert_eq!(b.try_acquire().unwrap_err(), Rejected(BreakerState::Open));
    clock.advance(Duration::from_millis(59_999));
    assert!(b.try_acquire().is_err());
    clock.advance(Duration::from_millis(1));
    let probe = b.try_acquire().expect("first probe admitted");
    assert_eq!(b.state(), BreakerState::HalfOpen);
    b.on_success(probe);
    assert_eq!(b.counters().rejected, 2);
}

#[test]
fn half_open_admits_at_most_max_calls_at_a_time() {
    let (b, clock) = breaker(BreakerConfig::default());
    fail(&b, 5);
    clock.advance(Duration::from_secs(60));
    let p1 = b.try_acquire().expect("probe 1");
    let p2 = b.try_acquire().expect("probe 2");
    assert_eq!(
        b.try_acquire().unwrap_err(),
        Rejected(BreakerState::HalfOpen)
    );
    b.on_success(p1);
    // One slot free again.
    let p3 = b.try_acquire().expect("probe 3");
    b.on_success(p2);
    assert_eq!(b.state(), BreakerState::Closed, "two successes close it");
    b.on_success(p3);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn closes_after_success_threshold() {
    let (b, clock) = breaker(BreakerConfig::default());
    fail(&b, 5);
    clock.advance(Duration::from_secs(60));
    succeed(&b, 1);
    assert_eq!(b.state(), BreakerState::HalfOpen);
    succeed(&b, 1);
    assert_eq!(b.state(), BreakerState::Closed);
    let states: Vec<_> = b.transitions().iter().map(|t| t.to).collect();
    assert_eq!(
        states,
        [
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::Closed
        ]
    );
}

#[test]
fn any_failure_in_half_open_reopens_and_restarts_the_timeout() {
    let (b, clock) = breaker(BreakerConfig::default());
    fail(&b, 5);
    clock.advance(Duration::from_secs(60));
    succeed(&b, 1);
    fail(&b, 1);
    assert_eq!(b.state(), BreakerState::Open);
    clock.advance(Duration::from_secs(59));
    assert!(b.try_acquire().is_err(), "timeout restarts when it reopens");
    clock.advance(Duration::from_secs(1));
    assert!(b.try_acquire().is_ok());
    let last = b.transitions().into_iter().nth(2).unwrap();
    assert_eq!(last.to, BreakerState::Open);
    assert!(last.cause.starts_with("probe failed"));
    assert_eq!(last.at, Duration::from_secs(60));
}

#[test]
fn neutral_outcomes_free_probe_slots_without_counting() {
    let (b, clock) = breaker(BreakerConfig::default());
    fail(&b, 5);
    clock.advance(Duration::from_secs(60));
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    b.on_neutral(p1);
    b.on_neutral(p2);
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(b.try_acquire().is_ok(), "slots were freed");
}

#[test]
fn slow_calls_count_as_failures_when_configured() {
    let config = BreakerConfig {
        slow_call_threshold: Some(Duration::from_millis(100)),
        ..BreakerConfig::default()
    };
    let (b, clock) = breaker(config);
    for _ in 0..5 {
        let p = b.try_acquire().unwrap();
        clock.advance(Duration::from_millis(101));
        b.on_success(p);
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert!(b.transitions()[0].cause.contains("slow call"));
    assert_eq!(b.counters().failures, 5);
    assert_eq!(b.counters().successes, 0);
}

#[test]
fn fast_calls_are_successes_with_slow_rule() {
    let config = BreakerConfig {
        slow_call_threshold: Some(Duration::from_millis(100)),
        ..BreakerConfig::default()
    };
    let (b, clock) = breaker(config);
    let p = b.try_acquire().unwrap();
    clock.advance(Duration::from_millis(100));
    b.on_success(p);
    assert_eq!(b.counters().successes, 1);
}

#[test]
fn manual_reset_closes_an_open_breaker() {
    let (b, _) = breaker(BreakerConfig::default());
    fail(&b, 5);
    b.reset();
    assert_eq!(b.state(), BreakerState::Closed);
    assert!(b.try_acquire().is_ok());
    assert_eq!(b.transitions().last().unwrap().cause, "manual reset");
    // The consecutive count restarted too.
    fail(&b, 4);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn counters_track_failures_successes_and_rejections() {
    let (b, _) = breaker(BreakerConfig::default());
    succeed(&b, 3);
    fail(&b, 5);
    let _ = b.try_acquire();
    let c = b.counters();
    assert_eq!((c.successes, c.failures, c.rejected), (3, 5, 1));
    assert_eq!(c.state, BreakerState::Open);
}

#[test]
fn transitions_carry_the_failure_count_and_are_counted() {
    let (b, clock) = breaker(BreakerConfig::default());
    fail(&b, 2);
    succeed(&b, 1);
    fail(&b, 5);
    assert_eq!(b.transition_count(), 1);
    // Drills subtract the count when a fault started from this one: 7 failures so far.
    assert_eq!(b.transitions()[0].failures, 7);
    clock.advance(Duration::from_secs(60));
    fail(&b, 1);
    let t = b.transitions();
    assert_eq!(b.transition_count(), 3);
    assert_eq!((t[1].to, t[1].failures), (BreakerState::HalfOpen, 7));
    assert_eq!((t[2].to, t[2].failures), (BreakerState::Open, 8));
}
