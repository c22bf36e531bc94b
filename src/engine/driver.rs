//! Driving the load. The open model's pacer is an ordinary task: it sleeps until the next
//! arrival is due (tokio's timer while a tick away, then a short precise sleep of at least
//! [`RELEASE_QUANTUM`]) and releases every arrival due by then, each into an in-flight slot
//! (`load.max_in_flight`) and a task of its own; an arrival that finds no slot waits, and
//! that wait is named in the report rather than blamed on the generator. (A pacer on a
//! thread of its own, handing batches to the runtime, measured worse: every hand-off
//! crosses threads.) The closed model runs N clients back to back.
//! Both stop releasing at the end of the measured phase: arrivals that never started are
//! counted as dropped, operations already running get `load.graceful_stop` to finish and are
//! cut off (and counted) after it. Preload lives in [`super::preload`].

use super::lanes::Lanes;
use super::ops::Workload;
use super::queueing::{self, RedisSlots};
use super::schedule::Schedule;
use super::wire::WireClient;
use crate::cache::redis_store::with_connection;
use crate::report::backlog::OpWaits;
use crate::scenario::load::{Arrival, LoadSpec};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Longest the pacer sleeps before looking at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(50);
/// Below this, the pacer sleeps on its thread rather than on tokio's millisecond timer.
const FINE_SLEEP: Duration = Duration::from_micros(1_500);
/// Shortest sleep of the pacer: arrivals due within it are released together.
const RELEASE_QUANTUM: Duration = Duration::from_micros(200);
/// Arrivals the pacer releases back to back before it yields to the operations' tasks.
const RELEASE_BURST: u32 = 256;

/// What `drive` needs besides the workload.
pub struct DriveParams {
    pub load: LoadSpec,
    /// When the run started (offset 0 of the schedule).
    pub start: Instant,
    pub seed: u64,
    /// Set to stop early (Ctrl-C).
    pub stop: Arc<AtomicBool>,
    /// The Redis command slots (`connections × pipeline_depth`) every operation shares.
    pub redis_slots: Arc<RedisSlots>,
}

/// How the drive ended.
#[derive(Debug, Clone, Copy)]
pub struct Drive {
    /// True for the open model (the only one with a schedule to fall behind).
    pub open_model: bool,
}

/// Runs the load until it is done, then records what was dropped or cut off. The pacer and
/// the clients run as tasks of their own on the runtime's workers: the caller may be a
/// `block_on` thread, from which every spawn would go through the runtime's injection queue
/// and every timer wake-up through a cross-thread unpark.
pub async fn drive(workload: Arc<Workload>, p: DriveParams) -> Drive {
    let open_model = !matches!(p.load.arrival, Arrival::Closed { .. });
    let task = tokio::spawn(async move {
        let end = p.load.duration.map(|d| p.start + p.load.warmup + d);
        let measured_from = p.start + p.load.warmup;
        let (open_model, unfinished) = match &p.load.arrival {
            Arrival::Closed {
                clients,
                think_time,
            } => (
                false,
                closed(&workload, &p, *clients, *think_time, end, measured_from).await,
            ),
            arrival => {
                let schedule = Schedule::new(arrival, p.load.warmup, p.seed).expect("open arrival");
                (
                    true,
                    open(&workload, &p, schedule, end, measured_from).await,
                )
            }
        };
        if unfinished.dropped + unfinished.interrupted > 0 {
            let mut rec = workload.recorders.lock(0);
            rec.dropped(unfinished.dropped);
            rec.interrupted(unfinished.interrupted);
        }
        Drive { open_model }
    });
    // Only a panic in the driver itself gets here without a Drive; the report still says
    // which model ran.
    task.await.unwrap_or(Drive { open_model })
}

/// Operations that did not complete.
#[derive(Debug, Default)]
struct Unfinished {
    /// Scheduled but never started.
    dropped: u64,
    /// Started, still running when the graceful stop ran out.
    interrupted: u64,
}

/// How long operations still running may take once the load stops: the scenario's graceful
/// stop, but at most a moment after Ctrl-C, which asks for a prompt end.
fn grace(p: &DriveParams) -> Duration {
    if p.stop.load(Ordering::Relaxed) {
        p.load.graceful_stop.min(Duration::from_secs(2))
    } else {
        p.load.graceful_stop
    }
}

async fn open(
    workload: &Arc<Workload>,
    p: &DriveParams,
    mut schedule: Schedule,
    end: Option<Instant>,
    measured_from: Instant,
) -> Unfinished {
    let max = p.load.max_in_flight.max(1);
    let in_flight = Arc::new(Semaphore::new(max));
    // Operations cut off after the graceful stop end when this flips.
    let (cancel, cancelled) = watch::channel(false);
    let mut unfinished = Unfinished::default();
    // Arrivals intended before this instant queued behind a full set of in-flight slots:
    // their delay is the system's latency (named in `backlog`), not the generator's lag.
    let mut backlog_until = p.start;
    let (mut measured_ops, mut k, mut burst) = (0u64, 0u64, 0u32);
    // The raw target's batches go out whole per connection (see `lanes`); every other
    // target runs a task per operation.
    let depth = p.load.pipeline_depth.max(1);
    let mut lanes = workload
        .wire_config(depth)
        .map(|config| Lanes::start(workload, &config, p.load.connections, depth, p.seed));
    while let Some(offset) = schedule.next_offset() {
        let intended = p.start + offset;
        if end.is_some_and(|e| intended >= e) || p.stop.load(Ordering::Relaxed) {
            break;
        }
        if intended >= measured_from {
            measured_ops += 1;
            if p.load.total_ops.is_some_and(|t| measured_ops > t) {
                break;
            }
        }
        // Sleep until it is due: on tokio's timer (millisecond resolution) while more than
        // a tick away, then the last stretch on the thread itself, so releases are on time
        // to tens of microseconds instead of up to a tick late. The operations released so
        // far run first (the yield), so none waits behind that short sleep.
        loop {
            let now = Instant::now();
            if now >= intended || p.stop.load(Ordering::Relaxed) {
                break;
            }
            burst = 0;
            let left = intended - now;
            if left > FINE_SLEEP {
                let coarse = (intended - FINE_SLEEP).min(now + STOP_POLL);
                tokio::time::sleep_until(coarse.into()).await;
            } else {
                tokio::task::yield_now().await;
                // Never less than a quantum: at high rates one wake-up releases the few
                // arrivals due within it (late by at most the quantum), instead of a
                // sleep system call per arrival.
                let left = intended.saturating_duration_since(Instant::now());
                if !left.is_zero() {
                    precise_timers();
                    std::thread::sleep(left.max(RELEASE_QUANTUM));
                }
            }
        }
        let permit = match in_flight.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match wait_for_slot(&in_flight, end, &p.stop).await {
                Some(permit) => {
                    backlog_until = Instant::now();
                    permit
                }
                None => {
                    // The measured phase ended (or Ctrl-C) before a slot freed up: this
                    // arrival and every later one due before the end never start.
                    if let Some(e) = end.filter(|_| !p.stop.load(Ordering::Relaxed)) {
                        let left = schedule.remaining_before(e.saturating_duration_since(p.start));
                        let cap = p.load.total_ops.map_or(u64::MAX, |t| {
                            t.saturating_sub(measured_ops.saturating_sub(1))
                        });
                        unfinished.dropped = left.saturating_add(1).min(cap);
                    }
                    break;
                }
            },
        };
        let released = Instant::now();
        let in_use = (max - in_flight.available_permits()) as u64;
        let backlogged = intended < backlog_until;
        let release = Release {
            k,
            intended,
            released,
            backlogged,
            in_flight_in_use: in_use,
            permit,
        };
        match &mut lanes {
            Some(lanes) => release.into_lane(lanes),
            None => release.spawn(workload, p, &cancelled),
        }
        k += 1;
        burst += 1;
        if burst >= RELEASE_BURST {
            // Far behind (or an absurd rate): let the released operations run.
            burst = 0;
            tokio::task::yield_now().await;
        }
    }
    if let Some(lanes) = &mut lanes {
        lanes.close();
    }
    // Grace: wait until every slot is back, bounded.
    let drained = tokio::time::timeout(grace(p), in_flight.acquire_many(max as u32)).await;
    if drained.is_err() {
        unfinished.interrupted = (max - in_flight.available_permits()) as u64;
        let _ = cancel.send(true);
        if let Some(lanes) = &lanes {
            lanes.abort();
        }
    }
    unfinished
}

/// One arrival the pacer lets go, with its in-flight slot.
struct Release {
    /// Its index in the schedule (seeds its choices, picks its recorder shard).
    k: u64,
    intended: Instant,
    released: Instant,
    /// It waited for an in-flight slot: the delay up to `released` is the system's.
    backlogged: bool,
    in_flight_in_use: u64,
    permit: OwnedSemaphorePermit,
}

impl Release {
    /// Time spent waiting for an in-flight slot.
    fn slot_wait(&self) -> Duration {
        if self.backlogged {
            self.released - self.intended
        } else {
            Duration::ZERO
        }
    }

    /// Queues it on a connection's lane (the raw target's lean wire path).
    fn into_lane(self, lanes: &mut Lanes) {
        let slot_wait = self.slot_wait().as_micros() as u64;
        lanes.release(
            self.intended,
            self.released,
            slot_wait,
            self.in_flight_in_use,
            self.permit,
        );
    }

    /// Runs it as a task of its own through the backend; `cancelled` cuts it off after
    /// the graceful stop.
    fn spawn(self, workload: &Arc<Workload>, p: &DriveParams, cancelled: &watch::Receiver<bool>) {
        let w = workload.clone();
        let slots = p.redis_slots.clone();
        let mut cancelled = cancelled.clone();
        let seed = p.seed;
        tokio::spawn(async move {
            let started = Instant::now();
            // Waiting for a slot is the system's; the rest of the delay is the generator's.
            let slot_wait = self.slot_wait();
            let lag = started - self.intended - slot_wait;
            let k = self.k;
            let mut rng = SmallRng::seed_from_u64(seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let shard = k as usize;
            let op = queueing::scope(
                slots,
                with_connection(k as usize, w.execute(&mut rng, self.intended, shard)),
            );
            tokio::select! {
                biased;
                ((), waits) = op => {
                    let waits = OpWaits {
                        in_flight_us: Some(slot_wait.as_micros() as u64),
                        in_flight_in_use: self.in_flight_in_use,
                        ..waits
                    };
                    let mut rec = w.recorders.lock(shard);
                    rec.lag(lag.as_micros() as u64);
                    rec.waits(&waits);
                }
                _ = cancelled.wait_for(|c| *c) => {}
            }
            drop(self.permit);
        });
    }
}

/// An in-flight slot, waited for until the end of the measured phase or a stop.
async fn wait_for_slot(
    in_flight: &Arc<Semaphore>,
    end: Option<Instant>,
    stop: &AtomicBool,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    loop {
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) || end.is_some_and(|e| now >= e) {
            return None;
        }
        let until = end.map_or(now + STOP_POLL, |e| e.min(now + STOP_POLL));
        let acquire = in_flight.clone().acquire_owned();
        if let Ok(permit) = tokio::time::timeout_at(until.into(), acquire).await {
            return permit.ok();
        }
    }
}

async fn closed(
    workload: &Arc<Workload>,
    p: &DriveParams,
    clients: usize,
    think: Option<Duration>,
    end: Option<Instant>,
    measured_from: Instant,
) -> Unfinished {
    let depth = p.load.pipeline_depth.max(1);
    let claimed = Arc::new(AtomicU64::new(0));
    // With a connection per client to spare, batches of the raw target go out whole, as
    // `redis-benchmark -P` sends them (see `wire`).
    let wire = if clients <= p.load.connections {
        workload.wire_config(depth)
    } else {
        None
    };
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let (w, stop, claimed) = (workload.clone(), p.stop.clone(), claimed.clone());
        let (seed, total) = (p.seed, p.load.total_ops);
        let wire = wire.clone();
        let slots = p.redis_slots.clone();
        tasks.push(tokio::spawn(with_connection(c, async move {
            let mut rngs: Vec<SmallRng> = (0..depth)
                .map(|j| {
                    SmallRng::seed_from_u64(
                        seed ^ ((c * depth + j) as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    )
                })
                .collect();
            let shard = c;
            let mut client = WireClient::default();
            if let Some(config) = &wire {
                // Connect before the first batch so its latency is not the handshake's.
                let _ = client.connection(config).await;
            }
            loop {
                let now = Instant::now();
                if stop.load(Ordering::Relaxed) || end.is_some_and(|e| now >= e) {
                    break;
                }
                if let Some(t) = total {
                    if now >= measured_from
                        && claimed.fetch_add(depth as u64, Ordering::Relaxed) >= t
                    {
                        break;
                    }
                }
                if let Some(config) = &wire {
                    w.execute_wire(&mut client, config, &mut rngs, &[], shard)
                        .await;
                } else {
                    let batch = rngs
                        .iter_mut()
                        .map(|r| queueing::scope(slots.clone(), w.execute(r, now, shard)));
                    let waits = futures::future::join_all(batch).await;
                    let mut rec = w.recorders.lock(shard);
                    for ((), waits) in &waits {
                        rec.waits(waits);
                    }
                }
                if let Some(t) = think {
                    tokio::time::sleep(t).await;
                }
            }
        })));
    }
    // Clients stop starting operations at the end; what is running gets the grace.
    let deadline = end.map_or(Duration::MAX, |e| {
        e.saturating_duration_since(Instant::now())
    });
    let finished = {
        let mut all = futures::future::join_all(tasks.iter_mut());
        tokio::time::timeout(deadline, &mut all).await.is_ok()
            || tokio::time::timeout(grace(p), &mut all).await.is_ok()
    };
    let mut unfinished = Unfinished::default();
    if !finished {
        let running = tasks.iter().filter(|t| !t.is_finished()).count();
        unfinished.interrupted = (running * depth) as u64;
        for t in &tasks {
            t.abort();
        }
    }
    unfinished
}

/// Lowers this thread's timer slack so the pacer's short sleeps end on time (Linux; a
/// no-op elsewhere). Only the slack of a sleep changes, nothing the runtime relies on.
fn precise_timers() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// CPU time (user + system) this process has used so far.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut u = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
