//! Each fault kind applied to a real redis-server (through the fault proxy for network
//! kinds), asserting what a plain client then sees — refused, reset, timed out, an OOM
//! reply — and that undoing it (or dropping its guard) gives the server back as it was.

use super::{blocking, client, fault, get, read_timeout_client, set};
use crate::support::{connection, redis};
use redline::cache::{RedisConfig, RedisStore};
use redline::chaos::proxy::FaultProxy;
use redline::chaos::{command, network, process};
use redline::scenario::faults::{PauseMode, Stream};
use redline::scenario::FaultKind;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn admin(url: &str) -> RedisStore {
    RedisStore::connect(RedisConfig::new(url))
        .await
        .expect("admin connection")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_refuses_connections_until_the_server_is_back_on_its_port() {
    let server = Arc::new(Mutex::new(redis()));
    let (url, port) = {
        let s = process::lock(&server);
        (s.url(), s.port())
    };
    let (guard, detail) = process::inject(&server, FaultKind::Kill)
        .await
        .expect("kill");
    assert!(detail.starts_with("SIGKILL pid"), "{detail}");
    let seen = blocking({
        let url = url.clone();
        move || client(&url).map(drop)
    })
    .await;
    let err = seen.expect_err("a killed server accepts nothing");
    assert!(err.is_connection_refusal(), "{err}");
    let undone = guard.undo().await.expect("restart");
    assert!(undone.contains(&format!("port {port}")), "{undone}");
    let reply = blocking(move || get(&url, "k")).await;
    assert_eq!(reply.expect("the server answers again"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_stops_gracefully_and_keeps_persisted_data() {
    let server = Arc::new(Mutex::new(crate::support::redis_with(
        redline::server::ServerOptions {
            persistence: true,
            ..Default::default()
        },
    )));
    let url = process::lock(&server).url();
    blocking({
        let url = url.clone();
        move || set(&url, "kept", "1")
    })
    .await
    .expect("SET");
    let (guard, detail) = process::inject(&server, FaultKind::Restart)
        .await
        .expect("stop");
    assert!(detail.contains("graceful shutdown"), "{detail}");
    let err = blocking({
        let url = url.clone();
        move || client(&url).map(drop)
    })
    .await
    .expect_err("a stopped server accepts nothing");
    assert!(err.is_connection_refusal(), "{err}");
    guard.undo().await.expect("start");
    let reply = blocking(move || get(&url, "kept")).await.expect("GET");
    assert_eq!(
        reply.as_deref(),
        Some("1"),
        "a graceful stop saves the data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_makes_replies_time_out_and_dropping_the_guard_resumes() {
    let server = Arc::new(Mutex::new(redis()));
    let url = process::lock(&server).url();
    // Connected before the pause: the connection stays open, the replies stop.
    let mut con = read_timeout_client(&url, Duration::from_millis(300));
    let (guard, _) = process::inject(&server, FaultKind::Pause)
        .await
        .expect("pause");
    let (err, con) = blocking(move || {
        let r: redis::RedisResult<Option<String>> = redis::cmd("GET").arg("k").query(&mut con);
        (r.expect_err("a paused server answers nothing"), con)
    })
    .await;
    assert!(err.is_timeout(), "{err}");
    drop(con);
    // A run that fails mid-fault drops its guards: the server must not stay stopped.
    drop(guard);
    let reply = blocking(move || get(&url, "k")).await;
    assert_eq!(reply.expect("resumed"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_gives_writes_the_oom_reply_and_restores_maxmemory() {
    let server = redis();
    let url = server.url();
    let mut con = connection(&server);
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "100mb"][..])
        .query(&mut con)
        .unwrap();
    let admin = admin(&url).await;
    let (guard, detail) = command::inject(&admin, FaultKind::Oom, Duration::from_secs(5))
        .await
        .expect("oom");
    assert!(detail.contains("maxmemory 104857600 -> 1"), "{detail}");
    let (write, read) = blocking({
        let url = url.clone();
        move || (set(&url, "k", "v"), get(&url, "k"))
    })
    .await;
    let err = write.expect_err("writes are refused");
    assert_eq!(err.code(), Some("OOM"), "{err}");
    assert_eq!(read.expect("reads go on"), None);
    // Dropped without undo (a failed run): restored all the same.
    drop(guard);
    let maxmemory: Vec<String> = redis::cmd("CONFIG")
        .arg(&["GET", "maxmemory"][..])
        .query(&mut con)
        .unwrap();
    assert_eq!(maxmemory[1], "104857600");
    let policy: Vec<String> = redis::cmd("CONFIG")
        .arg(&["GET", "maxmemory-policy"][..])
        .query(&mut con)
        .unwrap();
    assert_eq!(policy[1], "noeviction");
    blocking(move || set(&url, "k", "v"))
        .await
        .expect("writes work again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pause_write_holds_writes_not_reads_until_unpaused() {
    let server = redis();
    let url = server.url();
    let admin = admin(&url).await;
    let kind = FaultKind::ClientPause {
        mode: PauseMode::Write,
    };
    let (guard, detail) = command::inject(&admin, kind, Duration::from_secs(20))
        .await
        .expect("pause");
    assert_eq!(detail, "CLIENT PAUSE 20000 WRITE");
    let (write, read) = blocking({
        let url = url.clone();
        move || {
            let mut con = read_timeout_client(&url, Duration::from_millis(300));
            let write: redis::RedisResult<()> = redis::cmd("SET").arg("k").arg("v").query(&mut con);
            (write, get(&url, "k"))
        }
    })
    .await;
    assert!(write.expect_err("writes wait").is_timeout());
    assert_eq!(read.expect("reads go on"), None);
    let started = Instant::now();
    let never = std::future::pending();
    assert_eq!(guard.undo(never).await.expect("unpause"), "CLIENT UNPAUSE");
    blocking(move || set(&url, "k2", "v"))
        .await
        .expect("writes work again");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "unpaused early"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pause_all_holds_every_command_until_its_own_timeout() {
    let server = redis();
    let url = server.url();
    let admin = admin(&url).await;
    let kind = FaultKind::ClientPause {
        mode: PauseMode::All,
    };
    let (guard, _) = command::inject(&admin, kind, Duration::from_millis(1500))
        .await
        .expect("pause");
    let read = blocking({
        let url = url.clone();
        move || {
            let mut con = read_timeout_client(&url, Duration::from_millis(300));
            redis::cmd("GET").arg("k").query::<Option<String>>(&mut con)
        }
    })
    .await;
    assert!(read.expect_err("reads wait too").is_timeout());
    guard
        .undo(std::future::pending())
        .await
        .expect("the pause ends");
    assert_eq!(blocking(move || get(&url, "k")).await.expect("GET"), None);
}

/// A proxy in front of a fresh server, and the URL through it.
fn proxied() -> (redline::server::EmbeddedRedis, Arc<FaultProxy>, String) {
    let server = redis();
    let proxy = FaultProxy::start(
        "127.0.0.1:0".parse().unwrap(),
        format!("127.0.0.1:{}", server.port()),
    )
    .expect("proxy");
    let url = format!("redis://{}", proxy.local_addr());
    (server, Arc::new(proxy), url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_faults_through_the_proxy_are_what_the_client_sees() {
    let (_server, proxy, url) = proxied();
    let stream = Stream::Downstream;

    // latency: every reply at least that much later.
    let (guard, _) = network::inject(
        &proxy,
        &fault(
            "slow",
            FaultKind::Latency {
                latency: Duration::from_millis(300),
                jitter: Duration::ZERO,
                stream,
            },
        ),
    )
    .expect("latency");
    let took = blocking({
        let url = url.clone();
        move || {
            let mut con = client(&url).expect("connect");
            let started = Instant::now();
            let _: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
            started.elapsed()
        }
    })
    .await;
    assert!(took >= Duration::from_millis(300), "{took:?}");
    guard.undo().expect("removed");
    assert!(proxy.toxics().is_empty());

    // blackhole: connected (before the fault: the client's handshake would hang too),
    // nothing comes back.
    let connect = |timeout| {
        let url = url.clone();
        blocking(move || read_timeout_client(&url, timeout))
    };
    let mut con = connect(Duration::from_millis(300)).await;
    let (guard, _) = network::inject(&proxy, &fault("hole", FaultKind::Blackhole { stream }))
        .expect("blackhole");
    let err = blocking(move || redis::cmd("GET").arg("k").query::<Option<String>>(&mut con))
        .await
        .expect_err("nothing answers");
    assert!(err.is_timeout(), "{err}");
    drop(guard);
    assert!(
        proxy.toxics().is_empty(),
        "a dropped guard removes its toxic"
    );

    // reset: the connection is reset.
    let mut con = connect(Duration::from_secs(5)).await;
    let (guard, _) =
        network::inject(&proxy, &fault("rst", FaultKind::Reset { stream })).expect("reset");
    let err = blocking(move || redis::cmd("GET").arg("k").query::<Option<String>>(&mut con))
        .await
        .expect_err("reset");
    assert!(
        err.is_connection_dropped() || err.to_string().contains("reset"),
        "{err}"
    );
    guard.undo().expect("removed");

    // refuse: new connections are refused.
    let (guard, _) = network::inject(&proxy, &fault("no", FaultKind::Refuse)).expect("refuse");
    let err = blocking({
        let url = url.clone();
        move || client(&url).map(drop)
    })
    .await
    .expect_err("refused");
    assert!(err.is_connection_refusal(), "{err}");
    guard.undo().expect("enabled");

    // bandwidth and slice shape the replies but deliver them whole.
    let value = "x".repeat(20_000);
    blocking({
        let url = url.clone();
        let value = value.clone();
        move || set(&url, "big", &value)
    })
    .await
    .expect("SET");
    for f in [
        fault(
            "narrow",
            FaultKind::Bandwidth {
                rate: 100_000,
                stream,
            },
        ),
        fault(
            "sliced",
            FaultKind::Slice {
                average_size: 100,
                size_variation: 50,
                delay: Duration::from_micros(100),
                stream,
            },
        ),
    ] {
        let (guard, _) = network::inject(&proxy, &f).expect("toxic");
        let got = blocking({
            let url = url.clone();
            move || get(&url, "big")
        })
        .await
        .expect("GET");
        assert_eq!(got.as_deref(), Some(value.as_str()), "{}", f.name);
        guard.undo().expect("removed");
    }
    assert!(proxy.toxics().is_empty() && proxy.is_enabled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_through_the_proxy_count_as_calls_while_open_only_while_open() {
    use redline::cache::BreakerState;
    use redline::chaos::open_calls::{probe_of, OpenCallsWatch};
    use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
    let (_server, proxy, url) = proxied();
    // 0 closed, 1 open: the breaker as the test sets it.
    let state = Arc::new(AtomicU8::new(0));
    let seen = state.clone();
    // Samples that saw the breaker open: the test waits on them, not on the clock.
    let open_samples = Arc::new(AtomicU64::new(0));
    let sampled = open_samples.clone();
    let probe = probe_of(move || {
        let open = seen.load(Ordering::SeqCst) == 1;
        sampled.fetch_add(u64::from(open), Ordering::SeqCst);
        Some(match u8::from(open) {
            0 => (BreakerState::Closed, 0),
            _ => (BreakerState::Open, 1),
        })
    });
    let watch = OpenCallsWatch::start(proxy.clone(), probe, Instant::now(), Duration::ZERO);
    let pings = |n: usize| {
        let url = url.clone();
        blocking(move || {
            let mut con = client(&url).expect("connect");
            for _ in 0..n {
                let _: String = redis::cmd("PING").query(&mut con).unwrap();
            }
        })
    };
    let counted = |p: &FaultProxy| p.counters().commands_up;
    let samples_after = |n: u64| {
        let from = open_samples.load(Ordering::SeqCst);
        let open_samples = open_samples.clone();
        blocking(move || {
            crate::support::wait_until(Duration::from_secs(5), "the watch to sample", || {
                open_samples.load(Ordering::SeqCst) >= from + n
            })
        })
    };
    pings(3).await;
    let closed_total = counted(&proxy);
    state.store(1, Ordering::SeqCst);
    // The watch has seen the open breaker before the commands go...
    samples_after(1).await;
    pings(5).await;
    let open_total = counted(&proxy);
    // ...and samples again after they went.
    samples_after(2).await;
    let seen: u64 = watch.finish().await.iter().map(|c| c.commands).sum();
    // The five PINGs and the new connection's handshake, none of the closed ones.
    assert_eq!(seen, open_total - closed_total, "counted {seen}");
    assert!(seen >= 5, "{seen}");
}
