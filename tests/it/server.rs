//! The embedded server: start, auth, config, process faults, cleanup, TLS, missing binary.

use std::io::ErrorKind;
use std::time::Duration;

use redline::server::{EmbeddedRedis, ServerError, ServerOptions};

use crate::support::{self, connection, redis, redis_with, wait_until};

fn ping(con: &mut redis::Connection) -> redis::RedisResult<String> {
    redis::cmd("PING").query(con)
}

fn config_get(con: &mut redis::Connection, name: &str) -> String {
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query(con)
        .unwrap();
    pair.get(1).cloned().unwrap_or_default()
}

fn process_alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie would still show, so also check state.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn starts_and_answers_ping() {
    let server = redis();
    let mut con = connection(&server);
    assert_eq!(ping(&mut con).unwrap(), "PONG");
    assert!(
        server.version().starts_with(char::is_numeric),
        "{}",
        server.version()
    );
    assert_eq!(server.addr().port(), server.port());
    assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
    assert_eq!(server.url(), server.redacted_url());
    // No persistence by default.
    assert_eq!(config_get(&mut con, "save"), "");
    assert_eq!(config_get(&mut con, "appendonly"), "no");
}

#[test]
fn password_is_required_and_never_in_the_redacted_url() {
    let password = "s3cret with spaces&@:/";
    let server = redis_with(ServerOptions {
        password: Some(password.into()),
        ..ServerOptions::default()
    });
    let unauthenticated = redis::Client::open(format!("redis://127.0.0.1:{}", server.port()))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5));
    let err = match unauthenticated {
        Ok(mut con) => ping(&mut con).unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.code(), Some("NOAUTH"), "{err}");

    let mut con = connection(&server);
    assert_eq!(ping(&mut con).unwrap(), "PONG");
    assert!(!server.redacted_url().contains("s3cret"));
    assert!(server.redacted_url().contains(":***@"));
    assert!(!format!("{server:?}").contains("s3cret"));
    // The password must not be on the command line either (`ps` shows it).
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.pid().unwrap())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("s3cret"));
}

#[test]
fn maxmemory_and_policy_are_applied() {
    let server = redis_with(ServerOptions {
        maxmemory: Some(64 * 1024 * 1024),
        maxmemory_policy: Some("allkeys-lru".into()),
        extra_config: vec![("maxclients".into(), "321".into())],
        ..ServerOptions::default()
    });
    let mut con = connection(&server);
    assert_eq!(
        config_get(&mut con, "maxmemory"),
        (64 * 1024 * 1024).to_string()
    );
    assert_eq!(config_get(&mut con, "maxmemory-policy"), "allkeys-lru");
    assert_eq!(config_get(&mut con, "maxclients"), "321");
}

#[test]
fn kill_then_restart_on_the_same_port() {
    let mut server = redis();
    let port = server.port();
    let old_pid = server.pid().unwrap();
    server.kill().unwrap();
    assert_eq!(server.pid(), None);
    let refused = std::net::TcpStream::connect(server.addr());
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::ConnectionRefused);

    server.restart().unwrap();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), Some(old_pid));
    assert_eq!(ping(&mut connection(&server)).unwrap(), "PONG");

    // Restart while running kills the old process first.
    let running_pid = server.pid().unwrap();
    server.restart().unwrap();
    assert!(!process_alive(running_pid));
    assert_eq!(ping(&mut connection(&server)).unwrap(), "PONG");
}

#[test]
fn graceful_stop_with_persistence_keeps_data_across_restart() {
    let mut server = redis_with(ServerOptions {
        persistence: true,
        ..ServerOptions::default()
    });
    let mut con = connection(&server);
    let _: () = redis::cmd("SET")
        .arg("kept")
        .arg("1")
        .query(&mut con)
        .unwrap();
    drop(con);
    server.stop().unwrap();
    assert_eq!(server.pid(), None);
    server.restart().unwrap();
    let value: Option<String> = redis::cmd("GET")
        .arg("kept")
        .query(&mut connection(&server))
        .unwrap();
    assert_eq!(value.as_deref(), Some("1"));
}

#[test]
fn pause_blocks_ping_and_resume_lets_it_through() {
    let server = redis();
    let mut con = connection(&server);
    con.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    {
        let _guard = server.pause().unwrap();
        let err = ping(&mut con).unwrap_err();
        assert!(
            err.is_timeout(),
            "expected a timeout while paused, got {err}"
        );
    }
    // The PING sent while paused is answered late; a fresh connection avoids reading it.
    let mut con = connection(&server);
    con.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(ping(&mut con).unwrap(), "PONG");

    server.pause_detached().unwrap();
    let mut paused = connection_or_timeout(&server);
    if let Some(con) = paused.as_mut() {
        con.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(ping(con).unwrap_err().is_timeout());
    }
    server.resume().unwrap();
    let mut con = connection(&server);
    assert_eq!(ping(&mut con).unwrap(), "PONG");
}

/// A connection to a paused server: TCP connects (the kernel accepts), the handshake may
/// time out, which is fine for the caller.
fn connection_or_timeout(server: &EmbeddedRedis) -> Option<redis::Connection> {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection_with_timeout(Duration::from_millis(300))
        .ok()
}

#[test]
fn drop_ends_the_process_and_removes_the_temp_dir() {
    let server = redis();
    let pid = server.pid().unwrap();
    let dir = server.dir().to_path_buf();
    assert!(dir.join("redis.log").exists());
    // The config (which may hold the password) is gone once the server has read it.
    assert!(!dir.join("redis.conf").exists());
    server.pause_detached().unwrap();
    drop(server);
    assert!(
        !process_alive(pid),
        "redis-server {pid} still running after drop"
    );
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
}

#[test]
fn tls_server_accepts_a_client_trusting_the_generated_ca() {
    let certs = tempfile::tempdir().unwrap();
    let tls = support::tls_material(certs.path());
    let server = redis_with(ServerOptions {
        password: Some("tls-pass".into()),
        tls: Some(tls.clone()),
        ..ServerOptions::default()
    });
    assert!(server.url().starts_with("rediss://"));
    let mut con = support::tls_connection(&server, &tls).unwrap();
    assert_eq!(ping(&mut con).unwrap(), "PONG");

    // The port speaks TLS only: a plaintext client gets no PONG.
    let plain = redis::Client::open(format!("redis://:tls-pass@127.0.0.1:{}", server.port()))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(2));
    if let Ok(mut con) = plain {
        con.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        assert!(ping(&mut con).is_err());
    }
}

#[test]
fn missing_binary_reports_not_installed_with_the_install_hint() {
    let err =
        EmbeddedRedis::start_with_binary("/nonexistent/redis-server", ServerOptions::default())
            .unwrap_err();
    assert!(matches!(err, ServerError::NotInstalled { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("apt-get install redis-server"),
        "{message}"
    );
    assert!(message.contains("REDLINE_REDIS_SERVER"), "{message}");
    assert!(message.contains("/nonexistent/redis-server"), "{message}");
}

#[test]
fn bad_config_fails_fast_with_the_log_tail() {
    let err = EmbeddedRedis::start(ServerOptions {
        extra_config: vec![("no-such-directive".into(), "1".into())],
        ..ServerOptions::default()
    })
    .unwrap_err();
    assert!(matches!(err, ServerError::Exited { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-directive"), "{err}");
}

#[test]
fn restart_waits_for_a_briefly_held_port() {
    let mut server = redis();
    server.kill().unwrap();
    let holder = std::net::TcpListener::bind(server.addr()).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(holder);
    });
    server.restart().unwrap();
    release.join().unwrap();
    assert_eq!(ping(&mut connection(&server)).unwrap(), "PONG");
}

#[test]
fn parallel_starts_get_distinct_ports() {
    // Many servers at once race for ports; all must come up.
    let servers: Vec<EmbeddedRedis> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(redis)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ports: Vec<u16> = servers.iter().map(EmbeddedRedis::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), servers.len());
    for server in &servers {
        wait_until(Duration::from_secs(5), "PONG from every server", || {
            ping(&mut connection(server)).is_ok()
        });
    }
}

#[cfg(feature = "docker")]
#[tokio::test]
async fn docker_redis_requires_its_password_and_answers_ping() {
    use redline::server::docker::{engine_available, DockerRedis};
    if !engine_available() {
        println!("skipped: no Docker engine");
        return;
    }
    let server = DockerRedis::start(Some("docker-secret".into()))
        .await
        .unwrap();
    assert!(!server.redacted_url().contains("docker-secret"));
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
}
