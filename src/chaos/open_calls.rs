//! Counting the commands that reached Redis while the breaker was OPEN (the
//! `redis_calls_while_open` expectation): an open breaker must not touch Redis. The fault
//! proxy counts the RESP commands it forwards; this watch samples that count and the
//! breaker every few milliseconds, and attributes the commands forwarded between two
//! samples to the open breaker only when it was OPEN at both and did not change in between
//! — so a probe let through by a HALF_OPEN breaker is never counted — and only once the
//! breaker has been open for longer than the response timeout: a call admitted just before
//! it opened may still send its command until then (every call gives up within the response
//! timeout, connecting included), and that command was not let through by the open breaker.

use super::proxy::FaultProxy;
use crate::cache::{BreakerState, CircuitBreaker};
use crate::report::faults::CallsWhileOpen;
use crate::report::summary::round_to;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the proxy's count and the breaker are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(2);
/// Most observations kept; later ones are added to the last (memory stays bounded).
const MAX_OBSERVATIONS: usize = 10_000;

/// The breaker's state and how many transitions it has made, sampled together.
pub type BreakerProbe = Arc<dyn Fn() -> (BreakerState, u64) + Send + Sync>;

/// A probe of `breaker`.
pub fn probe_of<F>(breaker: F) -> BreakerProbe
where
    F: Fn() -> Option<(BreakerState, u64)> + Send + Sync + 'static,
{
    Arc::new(move || breaker().unwrap_or((BreakerState::Closed, 0)))
}

/// A breaker's state and transition count.
pub fn sample(b: &CircuitBreaker) -> (BreakerState, u64) {
    (b.state(), b.transition_count())
}

/// A running watch.
pub struct OpenCallsWatch {
    stop: watch::Sender<bool>,
    task: JoinHandle<Vec<CallsWhileOpen>>,
}

impl OpenCallsWatch {
    /// Starts sampling; times are seconds since `start` (the load's start). `grace` is the
    /// cache layer's response timeout.
    pub fn start(
        proxy: Arc<FaultProxy>,
        breaker: BreakerProbe,
        start: Instant,
        grace: Duration,
    ) -> OpenCallsWatch {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut seen: Vec<CallsWhileOpen> = Vec::new();
            let mut commands = proxy.counters().commands_up;
            let mut state = breaker();
            // When the current OPEN spell was first seen (no later than it began + a sample).
            let mut open_since = (state.0 == BreakerState::Open).then(Instant::now);
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.wait_for(|s| *s) => break,
                }
                // The count first: every command in it was forwarded before the state read.
                let now_commands = proxy.counters().commands_up;
                let now_state = breaker();
                if now_state != state {
                    open_since = (now_state.0 == BreakerState::Open).then(Instant::now);
                }
                let delta = now_commands.saturating_sub(commands);
                let past_grace = open_since.is_some_and(|t| t.elapsed() > grace);
                if delta > 0 && state.0 == BreakerState::Open && now_state == state && past_grace {
                    let t_s = round_to(start.elapsed().as_secs_f64(), 3);
                    let full = seen.len() >= MAX_OBSERVATIONS;
                    match seen.last_mut() {
                        Some(last) if full => last.commands += delta,
                        _ => seen.push(CallsWhileOpen {
                            t_s,
                            commands: delta,
                        }),
                    }
                }
                commands = now_commands;
                state = now_state;
            }
            seen
        });
        OpenCallsWatch { stop, task }
    }

    /// Stops sampling and returns what was seen.
    pub async fn finish(self) -> Vec<CallsWhileOpen> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}
