//! The stale-read checker and the herd behind the fallback, end to end against real
//! redis-server processes: an outage while writes happen (the test's own server killed and
//! restarted on its port, its AOF fsynced on every write so nothing acknowledged is lost)
//! leaves no stale read with the cache layer's invalidation replay on, and the checker
//! catches the stale reads and lost invalidations with it off; `cache.single_flight` makes a
//! hot key's misses share one origin load.

use crate::engine::{options, scenario};
use crate::support::{open_target, redis_with};
use redline::cache::BreakerState;
use redline::engine;
use redline::report::aggregate::LiveLine;
use redline::report::summary::RunSummary;
use redline::report::ThresholdStatus;
use redline::scenario::Scenario;
use redline::server::{EmbeddedRedis, ServerOptions};
use std::sync::mpsc;
use std::time::Duration;

/// A server whose data survives SIGKILL: AOF on, fsynced before every reply.
fn durable_redis() -> EmbeddedRedis {
    redis_with(ServerOptions {
        persistence: true,
        extra_config: vec![("appendfsync".into(), "always".into())],
        ..ServerOptions::default()
    })
}

/// Cache-aside reads with 20 % invalidations over a preloaded keyspace, failing over fast.
fn outage_drill(replay: bool) -> Scenario {
    scenario(&format!(
        r#"
name = "stale-drill"
thresholds = ["stale_reads == 0", "lost_invalidations == 0"]

[target]
response_timeout = "100ms"
connect_timeout = "200ms"

[target.breaker]
failure_threshold = 3
reset_timeout = "250ms"
success_threshold = 1

[cache]
replay_invalidations = {replay}

[keyspace]
keys = 200
value_size = "256B"

[[ops]]
kind = "get_or_set"
weight = 8

[[ops]]
kind = "invalidate"
weight = 2

[origin]
latency = "1ms"
concurrency = 50

[load]
model = "closed"
clients = 8
preload = true
duration = "4s"
"#
    ))
}

/// Runs `scenario` against `server`, killing the server at the first live tick (1 s in) and
/// restarting it on the same port `down` later.
async fn run_through_a_restart(
    scenario: &Scenario,
    mut server: EmbeddedRedis,
    down: Duration,
) -> RunSummary {
    let opts = options(&server, 7, false);
    let target = open_target(scenario, opts.url.as_deref()).await;
    let (tick_tx, tick_rx) = mpsc::channel::<()>();
    let fault = std::thread::spawn(move || {
        tick_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the run never ticked");
        server.kill().expect("SIGKILL");
        // The outage's length, not a wait for something to happen.
        std::thread::sleep(down);
        server.restart().expect("restart on the same port");
        server
    });
    let mut on_tick = move |_: &LiveLine| {
        let _ = tick_tx.send(());
    };
    let summary = engine::run(
        scenario,
        &target,
        &opts.run,
        redline::shutdown::Shutdown::never(),
        &mut on_tick,
    )
    .await
    .unwrap_or_else(|e| panic!("engine::run failed: {e}"));
    drop(fault.join().expect("fault thread"));
    summary
}

fn assert_went_through_an_outage(s: &RunSummary) {
    assert!(
        s.breaker
            .transitions
            .iter()
            .any(|t| t.to == BreakerState::Open),
        "the breaker never opened: the outage did not happen during the run: {:?}",
        s.breaker
    );
    assert_eq!(
        s.breaker.final_state,
        Some(BreakerState::Closed),
        "Redis never served again after the restart: {:?}",
        s.breaker
    );
    assert!(s.totals.fallback_ops > 0, "{:?}", s.totals);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_invalidations_leave_no_stale_read_and_without_replay_the_checker_catches_them() {
    let down = Duration::from_millis(1200);
    let (replay_on, replay_off) = (outage_drill(true), outage_drill(false));
    let (with_replay, without_replay) = tokio::join!(
        run_through_a_restart(&replay_on, durable_redis(), down),
        run_through_a_restart(&replay_off, durable_redis(), down),
    );

    for s in [&with_replay, &without_replay] {
        assert_went_through_an_outage(s);
    }
    let on = with_replay.consistency.as_ref().expect("checker report");
    let off = without_replay.consistency.as_ref().expect("checker report");
    eprintln!("replay on: {}\nreplay off: {}", on.line(), off.line());
    assert!(on.checked_reads > 500, "{on:?}");
    assert!(on.replay_invalidations);
    assert_eq!(
        (on.stale_reads, on.lost_invalidations),
        (0, 0),
        "the replay deletes in Redis what the outage invalidated: {on:?}"
    );
    assert!(
        with_replay
            .thresholds
            .iter()
            .all(|t| t.status == ThresholdStatus::Pass),
        "{:?}",
        with_replay.thresholds
    );

    assert!(!off.replay_invalidations);
    assert!(
        off.stale_reads > 0 && off.lost_invalidations > 0,
        "without the replay Redis serves what the outage invalidated: {off:?}"
    );
    assert!(off.stale_reads >= off.lost_invalidations, "{off:?}");
    let failed: Vec<_> = (without_replay.thresholds.iter())
        .filter(|t| t.status == ThresholdStatus::Fail)
        .map(|t| t.expr.as_str())
        .collect();
    assert_eq!(failed, ["stale_reads == 0", "lost_invalidations == 0"]);
    let stale_seconds: u64 = without_replay
        .timeseries
        .iter()
        .map(|p| p.stale_reads)
        .sum();
    assert!(
        stale_seconds > 0,
        "the time series shows when stale reads happened"
    );

    // The herd behind the fallback: origin load while the breaker was open.
    let herd = &with_replay.origin.windows;
    assert!(
        herd.iter()
            .any(|w| w.name == "breaker open #1" && w.calls > 0),
        "origin load during the outage: {herd:?}"
    );
}

/// A hot key invalidated often, read by many clients through a slow origin.
fn hot_key(single_flight: bool) -> Scenario {
    scenario(&format!(
        r#"
name = "hot-key"
thresholds = []

[cache]
single_flight = {single_flight}

[keyspace]
keys = 1
value_size = "256B"

[[ops]]
kind = "get_or_set"
weight = 19

[[ops]]
kind = "invalidate"
weight = 1

[origin]
latency = "50ms"
concurrency = 100

[load]
model = "closed"
clients = 40
duration = "2s"
"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_shares_a_hot_key_s_loads_side_by_side() {
    let (a, b) = (
        redis_with(ServerOptions::default()),
        redis_with(ServerOptions::default()),
    );
    let run = |s: Scenario, server: &EmbeddedRedis| {
        let opts = options(server, 11, false);
        async move {
            let target = open_target(&s, opts.url.as_deref()).await;
            engine::run(
                &s,
                &target,
                &opts.run,
                redline::shutdown::Shutdown::never(),
                &mut |_| {},
            )
            .await
            .unwrap_or_else(|e| panic!("engine::run failed: {e}"))
        }
    };
    let (herd, shared) = tokio::join!(run(hot_key(false), &a), run(hot_key(true), &b));
    let (herd_calls, shared_calls) = (herd.totals.origin_calls, shared.totals.origin_calls);
    eprintln!(
        "origin calls without single flight {herd_calls} (peak {}), with {shared_calls} (peak {})",
        herd.origin.peak_concurrency, shared.origin.peak_concurrency
    );
    assert!(shared_calls > 0, "{:?}", shared.totals);
    assert!(
        herd_calls >= 5 * shared_calls,
        "single flight should cut a hot key's origin calls by a wide factor: \
         {herd_calls} without, {shared_calls} with"
    );
    assert!(
        herd.origin.peak_concurrency > shared.origin.peak_concurrency,
        "the herd without single flight holds more origin connections at once: {} vs {}",
        herd.origin.peak_concurrency,
        shared.origin.peak_concurrency
    );
    for s in [&herd, &shared] {
        assert_eq!(s.totals.errors_total, 0, "{:?}", s.totals.errors);
        let c = s.consistency.as_ref().expect("checker report");
        assert_eq!(c.stale_reads, 0, "{c:?}");
    }
}

/// A manager over `server` with single flight on.
async fn single_flight_manager(server: &EmbeddedRedis) -> redline::cache::CacheManager {
    use redline::cache::{CacheManager, ManagerConfig, RedisConfig, RedisStore};
    let mut config = RedisConfig::new(server.url());
    config.key_prefix = "sf:".into();
    let store = RedisStore::connect(config).await.expect("connect");
    CacheManager::new(
        Some(store),
        ManagerConfig {
            single_flight: true,
            ..ManagerConfig::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_shared_load_reaches_every_waiter_and_a_cancelled_one_strands_none() {
    use redline::cache::OpError;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    let server = redis_with(ServerOptions::default());
    let cache = single_flight_manager(&server).await;
    let calls = Arc::new(AtomicU32::new(0));
    let callers = |n: usize, key: &'static str, fail: bool, took: Duration| {
        (0..n)
            .map(|_| {
                let (cache, calls) = (cache.clone(), calls.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_set_bytes(key, None, || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(took).await;
                            if fail {
                                Err("db down")
                            } else {
                                Ok(b"row".to_vec())
                            }
                        })
                        .await
                })
            })
            .collect::<Vec<_>>()
    };

    for caller in callers(10, "failing", true, Duration::from_millis(200)) {
        match caller.await.expect("caller") {
            Err(OpError::Loader(why)) => assert_eq!(why, "db down"),
            other => panic!("every waiter must get the load's error, got {other:?}"),
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "ten misses, one load");

    // The leader is cancelled mid-load: a waiter takes over and nobody hangs.
    calls.store(0, Ordering::SeqCst);
    let leader = callers(1, "cancelled", false, Duration::from_secs(3600));
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let waiting = callers(9, "cancelled", false, Duration::from_millis(300));
    // Give the waiters time to join the leader's load (a late one would only load itself).
    tokio::time::sleep(Duration::from_millis(100)).await;
    leader.into_iter().for_each(|l| l.abort());
    for caller in waiting {
        let (served, _) = tokio::time::timeout(Duration::from_secs(10), caller)
            .await
            .expect("a waiter hung after the load it waited for was cancelled")
            .expect("caller")
            .expect("a waiter's own load took over");
        assert_eq!(served.value, b"row");
    }
    assert!(
        calls.load(Ordering::SeqCst) == 2,
        "the cancelled load and one that took over for all nine waiters: {}",
        calls.load(Ordering::SeqCst)
    );
}

/// Two hot keys read through a slow origin with a 10-connection pool while Redis is paused:
/// the breaker opens, the fallback starts empty, and every miss goes to the origin.
fn herd_drill(single_flight: bool) -> Scenario {
    scenario(&format!(
        r#"
name = "herd"
thresholds = []

[target]
response_timeout = "100ms"
connect_timeout = "500ms"

[target.breaker]
failure_threshold = 3
reset_timeout = "1s"
half_open_max_calls = 1

[cache]
single_flight = {single_flight}

[keyspace]
keys = 2
value_size = "256B"

[[ops]]
kind = "get_or_set"
weight = 9

[[ops]]
kind = "invalidate"
weight = 1

[origin]
latency = "100ms"
concurrency = 10

[load]
model = "closed"
clients = 40
duration = "3500ms"

[[faults]]
kind = "pause"
at = "1s"
for = "1500ms"
"#
    ))
}

/// Opens `s`'s target as `redline run` does with no URL anywhere: an embedded server, which
/// process faults need.
async fn embedded(s: &Scenario) -> redline::target::Target {
    let binary = redline::server::redis_server_binary().expect("redis-server for the test");
    let path = binary.display().to_string();
    let env = move |name: &str| (name == "REDLINE_REDIS_SERVER").then(|| path.clone());
    let request = redline::target::TargetRequest {
        flag_url: None,
        spec: &s.target,
    };
    redline::target::Target::open(&request, &env)
        .await
        .expect("open the embedded target")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_drill_reports_the_herd_behind_the_fallback_per_fault_window_side_by_side() {
    let (herd, shared) = (herd_drill(false), herd_drill(true));
    let (herd_target, shared_target) = (embedded(&herd).await, embedded(&shared).await);
    let opts = redline::engine::RunOptions {
        run_id: Some("herd0001".into()),
        keep_keys: false,
        seed: Some(3),
        ..Default::default()
    };
    let never = redline::shutdown::Shutdown::never;
    let (mut tick_a, mut tick_b) = (|_: &LiveLine| {}, |_: &LiveLine| {});
    let (a, b) = tokio::join!(
        engine::run(&herd, &herd_target, &opts, never(), &mut tick_a),
        engine::run(&shared, &shared_target, &opts, never(), &mut tick_b),
    );
    let (a, b) = (a.expect("run"), b.expect("run"));
    let window = |s: &RunSummary| {
        s.origin
            .windows
            .iter()
            .find(|w| w.name == "pause")
            .cloned()
            .unwrap_or_else(|| panic!("no origin window for the pause: {:?}", s.origin.windows))
    };
    let (without, with) = (window(&a), window(&b));
    eprintln!("pause window without single flight: {without:?}\nwith: {with:?}");
    assert!(without.calls > 0 && with.calls > 0, "{without:?} {with:?}");
    assert!(
        without.calls >= 3 * with.calls,
        "single flight should cut the herd's origin calls during the pause: {} vs {}",
        without.calls,
        with.calls
    );
    assert!(
        without.peak_concurrency > with.peak_concurrency,
        "{without:?} {with:?}"
    );
    // Without single flight the herd queues for the pool (the issue's probe: p50 6.8 s).
    assert!(
        without.queue_wait_max_us > 10 * with.queue_wait_max_us + 10_000,
        "{without:?} {with:?}"
    );
    for s in [&a, &b] {
        assert!(
            s.totals.fallback_ops > 0,
            "the fallback served during the pause"
        );
    }
}
