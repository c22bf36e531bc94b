//! The cache layer against real redis-server processes: failover to the fallback when the
//! server is killed or paused, reconnection, replay of invalidations, TLS, auth, pattern
//! delete at scale, and bad servers.

use crate::support::{redis, redis_with, tls_material};
use redline::cache::breaker::BreakerState;
use redline::cache::manager::Source;
use redline::cache::redis_store::{Command, ConnectError, Reply};
use redline::cache::{
    BreakerConfig, CacheManager, ManagerConfig, OpError, RedisConfig, RedisStore,
};
use redline::server::{EmbeddedRedis, ServerOptions};
use std::time::{Duration, Instant};

/// Settings for fast failover in tests: short timeouts and a short reset timeout.
fn fast_config(server: &EmbeddedRedis) -> RedisConfig {
    let mut c = RedisConfig::new(server.url());
    c.response_timeout = Duration::from_millis(200);
    c.connect_timeout = Duration::from_millis(500);
    c.max_retries = 1;
    c.key_prefix = "it:".into();
    c
}

fn manager(store: RedisStore, reset: Duration) -> CacheManager {
    CacheManager::new(
        Some(store),
        ManagerConfig {
            breaker: BreakerConfig {
                reset_timeout: reset,
                ..BreakerConfig::default()
            },
            ..ManagerConfig::default()
        },
    )
}

/// Polls an async condition until it holds or the deadline passes.
async fn eventually<F, Fut>(deadline: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    while !f().await {
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_fails_over_to_memory_and_recovers_after_restart() {
    let mut server = redis();
    let store = RedisStore::connect(fast_config(&server)).await.unwrap();
    let cache = manager(store, Duration::from_millis(300));
    cache.set("user", &"ada", None).await.unwrap();
    assert_eq!(
        cache.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );

    server.kill().unwrap();
    for i in 0..5 {
        let s = cache.set_bytes(&format!("k{i}"), b"v", None).await.unwrap();
        assert_eq!(s.source, Source::Fallback);
        assert!(s.cause.is_some());
    }
    assert_eq!(cache.breaker().state(), BreakerState::Open);
    // While open, calls are refused fast and served by the fallback.
    let started = Instant::now();
    let s = cache.get_bytes("k1").await.unwrap();
    assert_eq!(s.source, Source::Fallback);
    assert_eq!(s.value.as_deref(), Some(&b"v"[..]));
    assert!(matches!(s.cause, Some(OpError::BreakerOpen)));
    assert!(started.elapsed() < Duration::from_millis(50));

    server.restart().unwrap();
    eventually(
        Duration::from_secs(10),
        "breaker to close after restart",
        || async {
            let _ = cache.get_bytes("probe").await;
            cache.breaker().state() == BreakerState::Closed
        },
    )
    .await;
    let s = cache.get_bytes("k1").await.unwrap();
    assert_eq!(s.source, Source::Redis, "reads go to Redis again");
    let states: Vec<_> = cache.breaker().transitions().iter().map(|t| t.to).collect();
    assert!(
        states.starts_with(&[BreakerState::Open, BreakerState::HalfOpen]),
        "{states:?}"
    );
    let health = cache.health().to_health_json();
    assert_eq!(health["cache"]["status"], "connected");
    assert!(health["cache"]["fallback_operations"].as_u64().unwrap() >= 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_server_fails_over_within_the_response_timeout() {
    let server = redis();
    let store = RedisStore::connect(fast_config(&server)).await.unwrap();
    let cache = manager(store, Duration::from_secs(60));
    cache.set_bytes("a", b"1", None).await.unwrap();
    let _paused = server.pause().unwrap();
    let started = Instant::now();
    let s = cache.get_bytes("a").await.unwrap();
    let took = started.elapsed();
    assert_eq!(s.source, Source::Fallback);
    assert!(
        matches!(s.cause, Some(OpError::Timeout(_))),
        "{:?}",
        s.cause
    );
    assert!(took < Duration::from_millis(1000), "took {took:?}");
    for _ in 0..4 {
        cache.get_bytes("a").await.unwrap();
    }
    assert_eq!(cache.breaker().state(), BreakerState::Open);
    // The store dropped its stuck connection (3 consecutive timeouts) to rebuild it.
    assert!(cache.redis().unwrap().reconnects() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_reconnects_after_a_pause_ends() {
    let server = redis();
    let store = RedisStore::connect(fast_config(&server)).await.unwrap();
    {
        let _paused = server.pause().unwrap();
        for _ in 0..4 {
            assert!(matches!(store.get("x").await, Err(OpError::Timeout(_))));
        }
    }
    eventually(
        Duration::from_secs(10),
        "PING to succeed after resume",
        || async { store.ping().await.is_ok() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidations_during_an_outage_are_replayed_on_recovery() {
    let server = redis();
    let store = RedisStore::connect(fast_config(&server)).await.unwrap();
    let cache = manager(store, Duration::from_millis(200));
    cache.set_bytes("deleted", b"old", None).await.unwrap();
    cache.set_bytes("rewritten", b"old", None).await.unwrap();
    cache.set_bytes("ws:1:a", b"old", None).await.unwrap();
    cache.set_bytes("untouched", b"kept", None).await.unwrap();
    {
        let _paused = server.pause().unwrap();
        assert_eq!(cache.del("deleted").await.unwrap().source, Source::Fallback);
        assert_eq!(
            cache
                .set_bytes("rewritten", b"new", None)
                .await
                .unwrap()
                .source,
            Source::Fallback
        );
        assert_eq!(
            cache.del_pattern("ws:1:*").await.unwrap().source,
            Source::Fallback
        );
        assert_eq!(cache.pending_invalidations(), 3);
    }
    eventually(Duration::from_secs(10), "breaker to close", || async {
        let _ = cache.get_bytes("probe").await;
        cache.breaker().state() == BreakerState::Closed
    })
    .await;
    assert_eq!(cache.pending_invalidations(), 0);
    for key in ["deleted", "rewritten", "ws:1:a"] {
        let s = cache.get_bytes(key).await.unwrap();
        assert_eq!(s.source, Source::Redis);
        assert_eq!(s.value, None, "{key} was served stale after recovery");
    }
    assert_eq!(
        cache.get_bytes("untouched").await.unwrap().value.as_deref(),
        Some(&b"kept"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_password_works_and_a_wrong_password_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let tls = tls_material(dir.path());
    let server = redis_with(ServerOptions {
        password: Some("tls-s3cret".into()),
        tls: Some(tls.clone()),
        ..ServerOptions::default()
    });
    assert!(server.url().starts_with("rediss://"));
    let mut config = fast_config(&server);
    config.tls_root_cert = Some(std::fs::read(&tls.ca_file).unwrap());
    let store = RedisStore::connect(config.clone()).await.unwrap();
    store
        .set("k", b"v", Some(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(store.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));

    config.url = server.url().replace("tls-s3cret", "wrong-pw");
    let err = RedisStore::connect(config).await.unwrap_err();
    assert!(matches!(err, ConnectError::Auth { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("authentication"), "{msg}");
    assert!(
        !msg.contains("wrong-pw") && !msg.contains("tls-s3cret"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_from_redis_password_setting_is_used() {
    let server = redis_with(ServerOptions {
        password: Some("pw-only".into()),
        ..ServerOptions::default()
    });
    let mut config = RedisConfig::new(format!("redis://127.0.0.1:{}", server.port()));
    config.password = Some("pw-only".into());
    let store = RedisStore::connect(config.clone()).await.unwrap();
    store.ping().await.unwrap();
    config.password = None;
    let err = RedisStore::connect(config).await.unwrap_err();
    assert!(matches!(err, ConnectError::Auth { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn del_pattern_removes_ten_thousand_keys_and_nothing_else() {
    let server = redis();
    let store = RedisStore::connect(fast_config(&server)).await.unwrap();
    let cache = manager(store.clone(), Duration::from_secs(60));
    let keys: Vec<String> = (0..10_000)
        .map(|i| format!("contacts:workspace:w1:{i}"))
        .collect();
    for chunk in keys.chunks(500) {
        let items: Vec<(&str, &[u8])> = chunk.iter().map(|k| (k.as_str(), &b"x"[..])).collect();
        cache.mset_bytes(&items, None).await.unwrap();
    }
    cache
        .set_bytes("contacts:workspace:w2:1", b"keep", None)
        .await
        .unwrap();
    let mut plain = crate::support::connection(&server);
    let _: () = redis::cmd("SET")
        .arg("canary")
        .arg("1")
        .query(&mut plain)
        .unwrap();

    let removed = cache.del_pattern("contacts:workspace:w1:*").await.unwrap();
    assert_eq!(removed.value, 10_000);
    assert_eq!(removed.source, Source::Redis);
    let left: u64 = redis::cmd("DBSIZE").query(&mut plain).unwrap();
    assert_eq!(
        left, 2,
        "only the other workspace's key and the canary remain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_answers_each_command_in_one_round_trip() {
    let server = redis();
    let store = RedisStore::connect(fast_config(&server)).await.unwrap();
    let cache = manager(store, Duration::from_secs(60));
    let cmds = vec![
        Command::Set("p1".into(), b"one".to_vec(), Some(Duration::from_secs(60))),
        Command::Get("p1".into()),
        Command::Get("missing".into()),
        Command::Del("p1".into()),
    ];
    let replies = cache.pipeline(&cmds).await;
    let values: Vec<Reply> = replies.into_iter().map(|(r, _)| r.unwrap().value).collect();
    assert_eq!(
        values,
        [
            Reply::Stored,
            Reply::Value(Some(b"one".to_vec())),
            Reply::Value(None),
            Reply::Deleted(1)
        ]
    );
    let h = cache.health();
    assert_eq!((h.hits, h.misses), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_mistakes_do_not_open_the_breaker() {
    let server = redis();
    let store = RedisStore::connect(fast_config(&server)).await.unwrap();
    let mut plain = crate::support::connection(&server);
    let _: () = redis::cmd("LPUSH")
        .arg("it:list")
        .arg("x")
        .query(&mut plain)
        .unwrap();
    let cache = manager(store, Duration::from_secs(60));
    for _ in 0..10 {
        let err = cache.get_bytes("list").await.unwrap_err();
        assert!(
            matches!(&err, OpError::Server { code, .. } if code == "WRONGTYPE"),
            "{err}"
        );
    }
    assert_eq!(cache.breaker().state(), BreakerState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_or_set_loads_once_then_hits() {
    let server = redis();
    let store = RedisStore::connect(fast_config(&server)).await.unwrap();
    let cache = manager(store, Duration::from_secs(60));
    let calls = std::sync::atomic::AtomicU32::new(0);
    for _ in 0..3 {
        let v: Vec<u32> = cache
            .get_or_set("contact:1", Some(Duration::from_secs(300)), || async {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, String>(vec![1, 2, 3])
            })
            .await
            .unwrap();
        assert_eq!(v, [1, 2, 3]);
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let err = cache
        .get_or_set::<u32, _, _, _>("contact:2", None, || async { Err("db down") })
        .await
        .unwrap_err();
    assert!(matches!(err, OpError::Loader(_)));
}

#[tokio::test]
async fn memory_only_manager_refuses_values_over_its_bound() {
    let cache = CacheManager::new(
        None,
        ManagerConfig {
            fallback_max_bytes: 4096,
            ..ManagerConfig::default()
        },
    );
    let s = cache.set_bytes("small", b"ok", None).await.unwrap();
    assert_eq!(s.source, Source::Memory);
    let err = cache
        .set_bytes("big", &[0u8; 8192], None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("larger than the fallback's bound"),
        "{err}"
    );
    assert_eq!(
        cache.health().to_health_json()["cache"]["provider"],
        "memory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_redis_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        for s in listener.incoming().take(4).flatten() {
            let mut s = s;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    let mut c = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
    c.max_retries = 1;
    c.connect_timeout = Duration::from_secs(2);
    let started = Instant::now();
    let err = RedisStore::connect(c).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectError::NotRedis { .. } | ConnectError::Unreachable { .. }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_unreachable_after_retries() {
    let port = redline::server::free_port();
    let mut c = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
    c.max_retries = 2;
    let err = RedisStore::connect(c).await.unwrap_err();
    match err {
        ConnectError::Unreachable { attempts, .. } => assert_eq!(attempts, 3),
        other => panic!("expected Unreachable, got {other}"),
    }
}
