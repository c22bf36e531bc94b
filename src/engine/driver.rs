//! Driving the load: the open model's pacer releases each operation at its intended start
//! (never in timer bursts) and bounds outstanding operations by connections × pipeline
//! depth; the closed model runs N clients back to back. Both stop on the duration, the
//! operation count or the stop flag, then drain what is in flight.

use super::ops::{key_name, Workload};
use super::schedule::Schedule;
use super::wire::WireClient;
use crate::cache::redis_store::with_connection;
use crate::op::OpKind;
use crate::scenario::load::{Arrival, LoadSpec};
use crate::scenario::Scenario;
use crate::shutdown::Shutdown;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long in-flight operations may take to finish after the load stops.
const DRAIN_DEADLINE: Duration = Duration::from_secs(15);

/// What `drive` needs besides the workload.
pub struct DriveParams {
    pub load: LoadSpec,
    /// When the run started (offset 0 of the schedule).
    pub start: Instant,
    pub seed: u64,
    /// Set to stop early (Ctrl-C).
    pub stop: Arc<AtomicBool>,
}

/// How the drive ended.
#[derive(Debug, Clone, Copy)]
pub struct Drive {
    /// True for the open model (the only one with a schedule to fall behind).
    pub open_model: bool,
}

/// Runs the load until it is done.
pub async fn drive(workload: Arc<Workload>, p: DriveParams) -> Drive {
    let end = p.load.duration.map(|d| p.start + p.load.warmup + d);
    let measured_from = p.start + p.load.warmup;
    match &p.load.arrival {
        Arrival::Closed {
            clients,
            think_time,
        } => {
            closed(workload, &p, *clients, *think_time, end, measured_from).await;
            Drive { open_model: false }
        }
        arrival => {
            let schedule = Schedule::new(arrival, p.load.warmup, p.seed).expect("open arrival");
            open(workload, &p, schedule, end, measured_from).await;
            Drive { open_model: true }
        }
    }
}

async fn open(
    workload: Arc<Workload>,
    p: &DriveParams,
    mut schedule: Schedule,
    end: Option<Instant>,
    measured_from: Instant,
) {
    let slots = (p.load.connections * p.load.pipeline_depth).max(1);
    let permits = Arc::new(Semaphore::new(slots));
    let handle = tokio::runtime::Handle::current();
    let (start, seed, total) = (p.start, p.seed, p.load.total_ops);
    let stop = p.stop.clone();
    let sem = permits.clone();
    let pacer = tokio::task::spawn_blocking(move || {
        precise_timers();
        let lag_shard = workload.recorders.len() - 1;
        // Arrivals intended before this instant were delayed by back-pressure (all slots
        // busy), which is the system's latency, not the generator's lag.
        let mut backlog_until = start;
        let mut measured_ops = 0u64;
        let mut k = 0u64;
        while let Some(offset) = schedule.next_offset() {
            let intended = start + offset;
            if end.is_some_and(|e| intended >= e) || stop.load(Ordering::Relaxed) {
                break;
            }
            if intended >= measured_from {
                measured_ops += 1;
                if total.is_some_and(|t| measured_ops > t) {
                    break;
                }
            }
            wait_until(intended, &stop);
            let now = Instant::now();
            if intended >= backlog_until {
                let lag = now.saturating_duration_since(intended).as_micros() as u64;
                lock(&workload, lag_shard).lag(lag);
            }
            let permit = match sem.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => match handle.block_on(sem.clone().acquire_owned()) {
                    Ok(permit) => {
                        backlog_until = Instant::now();
                        permit
                    }
                    Err(_) => break,
                },
            };
            let w = workload.clone();
            let released = Instant::now();
            handle.spawn(async move {
                let started = Instant::now();
                let mut rng = SmallRng::seed_from_u64(seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let shard = (k as usize) % (w.recorders.len() - 1);
                let delay = started.saturating_duration_since(released).as_micros() as u64;
                if delay > 0 {
                    lock(&w, shard).lag(delay);
                }
                with_connection(k as usize, w.execute(&mut rng, intended, shard)).await;
                drop(permit);
            });
            k += 1;
        }
    });
    let _ = pacer.await;
    // Drain: wait until every slot is back, bounded.
    let _ = tokio::time::timeout(DRAIN_DEADLINE, permits.acquire_many(slots as u32)).await;
}

async fn closed(
    workload: Arc<Workload>,
    p: &DriveParams,
    clients: usize,
    think: Option<Duration>,
    end: Option<Instant>,
    measured_from: Instant,
) {
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
        tasks.push(tokio::spawn(with_connection(c, async move {
            let mut rngs: Vec<SmallRng> = (0..depth)
                .map(|j| {
                    SmallRng::seed_from_u64(
                        seed ^ ((c * depth + j) as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    )
                })
                .collect();
            let shard = c % (w.recorders.len() - 1);
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
                    w.execute_wire(&mut client, config, &mut rngs, shard).await;
                } else if depth == 1 {
                    w.execute(&mut rngs[0], now, shard).await;
                } else {
                    let batch = rngs.iter_mut().map(|r| w.execute(r, now, shard));
                    futures::future::join_all(batch).await;
                }
                if let Some(t) = think {
                    tokio::time::sleep(t).await;
                }
            }
        })));
    }
    let _ = tokio::time::timeout(
        end.map_or(Duration::MAX, |e| {
            e.saturating_duration_since(Instant::now())
        })
        .saturating_add(DRAIN_DEADLINE),
        futures::future::join_all(tasks),
    )
    .await;
}

fn lock(
    w: &Workload,
    shard: usize,
) -> std::sync::MutexGuard<'_, crate::report::recorder::Recorder> {
    w.recorders[shard].lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes every key once (batches of 100) so reads start warm. Not measured. A stop
/// request ends it between batches, or during one that hangs.
pub async fn preload(workload: &Workload, scenario: &Scenario, shutdown: &Shutdown) {
    let ttl = scenario
        .ops
        .iter()
        .find(|o| matches!(o.kind, OpKind::Set | OpKind::GetOrSet | OpKind::Mset))
        .or(scenario.ops.first())
        .map_or(Duration::from_secs(300), |o| o.ttl);
    let mut rng = SmallRng::seed_from_u64(0x5EED);
    let keys = workload.key_count();
    let mut i = 0;
    while i < keys {
        let n = (keys - i).min(100);
        let names: Vec<String> = (i..i + n).map(key_name).collect();
        let values: Vec<Vec<u8>> = (0..n).map(|_| workload.preload_value(&mut rng)).collect();
        let items: Vec<(&str, &[u8])> = names
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(Vec::as_slice))
            .collect();
        let written = tokio::select! {
            r = workload.backend.mset(&items, ttl) => r,
            _ = shutdown.stopping() => return,
        };
        if let Err(e) = written.result {
            tracing::warn!("preload stopped at key {i}: {e}");
            return;
        }
        i += n;
    }
}

/// Lowers this thread's timer slack so short sleeps end on time (Linux; elsewhere no-op).
fn precise_timers() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Sleeps until `t` with sub-millisecond precision: a coarse sleep, then yielding spins.
fn wait_until(t: Instant, stop: &AtomicBool) {
    loop {
        let now = Instant::now();
        if now >= t || stop.load(Ordering::Relaxed) {
            return;
        }
        let left = t - now;
        if left > Duration::from_millis(5) {
            std::thread::sleep(Duration::from_millis(4));
        } else if left > Duration::from_micros(150) {
            std::thread::sleep(left - Duration::from_micros(100));
        } else {
            std::thread::yield_now();
        }
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
