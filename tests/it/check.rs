//! `redline check` end to end: the binary against real servers, wrong passwords, closed
//! ports, things that are not Redis, bad URLs; plus the library entry point.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redline::check::{inspect, CheckOptions};
use redline::server::{free_port, ServerOptions};

use crate::support::{self, connection, redis, redis_with, redline_bin};

/// Runs `redline check ARGS` with extra environment; fails the test if it takes longer
/// than `deadline` (the command must never hang).
fn check(args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Output {
    let mut cmd = redline_bin();
    cmd.arg("check")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn redline");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("poll redline").is_some() {
            break;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("redline check {args:?} still running after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status: child.wait().unwrap(),
        stdout,
        stderr,
    }
}

const QUICK: Duration = Duration::from_secs(20);

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn dbsize(con: &mut redis::Connection) -> i64 {
    redis::cmd("DBSIZE").query(con).unwrap()
}

fn assert_exit(output: &Output, code: i32) {
    let (out, err) = text(output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{out}\nstderr:\n{err}"
    );
}

#[test]
fn good_server_passes_all_eight_and_leaves_no_keys() {
    let server = redis();
    let mut con = connection(&server);
    for i in 0..3 {
        let _: () = redis::cmd("SET")
            .arg(format!("app:{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let before = dbsize(&mut con);
    let output = check(&["--redis", &server.url()], &[], QUICK);
    assert_exit(&output, 0);
    let (out, _) = text(&output);
    assert!(out.contains("Redis Production Setup Test"), "{out}");
    assert!(out.contains("Test 8: INFO"), "{out}");
    assert!(
        out.contains("Total Tests: 8\n✅ Passed: 8\nFailed: 0"),
        "{out}"
    );
    assert_eq!(dbsize(&mut con), before, "check left keys behind");
}

#[test]
fn no_url_uses_an_embedded_server() {
    let output = check(&[], &[], QUICK);
    assert_exit(&output, 0);
    let (out, _) = text(&output);
    assert!(out.contains("embedded redis-server"), "{out}");
}

#[test]
fn password_in_url_passes_and_audit_sees_auth_required() {
    let password = "right-horse-battery";
    let server = redis_with(ServerOptions {
        password: Some(password.into()),
        ..ServerOptions::default()
    });
    let output = check(&["--redis", &server.url()], &[], QUICK);
    assert_exit(&output, 0);
    let (out, err) = text(&output);
    assert!(out.contains("✅ PASS  authentication"), "{out}");
    assert!(
        !out.contains(password) && !err.contains(password),
        "{out}{err}"
    );
}

#[test]
fn password_from_redis_password_env() {
    let password = "env-only-password";
    let server = redis_with(ServerOptions {
        password: Some(password.into()),
        ..ServerOptions::default()
    });
    let url = format!("redis://127.0.0.1:{}", server.port());
    let output = check(&["--redis", &url], &[("REDIS_PASSWORD", password)], QUICK);
    assert_exit(&output, 0);
    let (out, err) = text(&output);
    assert!(!out.contains(password) && !err.contains(password));
}

#[test]
fn wrong_password_fails_with_one_clear_line_and_no_secret() {
    let password = "the-real-password";
    let wrong = "not-the-password-42";
    let server = redis_with(ServerOptions {
        password: Some(password.into()),
        ..ServerOptions::default()
    });
    let url = format!("redis://:{wrong}@127.0.0.1:{}", server.port());
    let output = check(&["--redis", &url], &[], QUICK);
    assert_exit(&output, 2);
    let (out, err) = text(&output);
    let both = format!("{out}{err}");
    assert!(!both.contains(wrong) && !both.contains(password), "{both}");
    let errors: Vec<&str> = both.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{both}");
    assert!(errors[0].contains("authentication"), "{}", errors[0]);
    assert!(errors[0].contains(":***@"), "{}", errors[0]);
}

#[test]
fn missing_password_is_reported_as_authentication_required() {
    let server = redis_with(ServerOptions {
        password: Some("some-password".into()),
        ..ServerOptions::default()
    });
    let url = format!("redis://127.0.0.1:{}", server.port());
    let output = check(&["--redis", &url], &[], QUICK);
    assert_exit(&output, 2);
    let (out, _) = text(&output);
    assert!(
        out.contains("error: cannot connect to") && out.contains("authentication"),
        "{out}"
    );
}

#[test]
fn nothing_listening_fails_fast() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let output = check(&["--redis", &url], &[], QUICK);
    assert_exit(&output, 2);
    let (out, _) = text(&output);
    assert!(
        out.contains(&format!(
            "error: cannot connect to {url}: connection refused"
        )),
        "{out}"
    );
    assert!(out.contains("❌ skipped: not connected"), "{out}");
}

/// A TCP server on a free port that is not Redis, serving until dropped.
struct FakeServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// `reply`: bytes written to each client before closing; `None`: accept and stay silent.
    fn start(reply: Option<&'static [u8]>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => match reply {
                        Some(bytes) => {
                            let _ = stream.write_all(bytes);
                        }
                        None => held.push(stream),
                    },
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn http_server_is_reported_as_not_redis() {
    let fake = FakeServer::start(Some(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
    let url = format!("redis://127.0.0.1:{}", fake.port);
    let started = Instant::now();
    let output = check(&["--redis", &url], &[], QUICK);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_exit(&output, 2);
    let (out, _) = text(&output);
    let error = out
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        error.contains(&url) && error.contains("Redis protocol"),
        "{out}"
    );
}

#[test]
fn silent_server_times_out_within_the_response_timeout() {
    let fake = FakeServer::start(None);
    let url = format!("redis://127.0.0.1:{}", fake.port);
    let started = Instant::now();
    let output = check(&["--redis", &url], &[], QUICK);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_exit(&output, 2);
    let (out, _) = text(&output);
    let error = out
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(error.contains("no reply"), "{out}");
}

#[test]
fn malformed_url_and_unknown_scheme_exit_2_without_the_password() {
    let output = check(
        &["--redis", "redis://:bad-url-secret@host:notaport"],
        &[],
        QUICK,
    );
    assert_exit(&output, 2);
    let (out, err) = text(&output);
    // The same message `redline run` gives for the same URL.
    assert!(err.contains("malformed Redis URL"), "{err}");
    assert!(
        !err.contains("bad-url-secret") && !out.contains("bad-url-secret"),
        "{err}"
    );

    let output = check(&["--redis", "http://:http-secret@127.0.0.1:80"], &[], QUICK);
    assert_exit(&output, 2);
    let (out, err) = text(&output);
    assert!(err.contains("unsupported scheme \"http\""), "{err}");
    assert!(
        !err.contains("http-secret") && !out.contains("http-secret"),
        "{err}"
    );
}

#[test]
fn json_output_is_one_parsable_object() {
    let server = redis_with(ServerOptions {
        password: Some("json-secret-pw".into()),
        ..ServerOptions::default()
    });
    let output = check(&["--redis", &server.url(), "--json"], &[], QUICK);
    assert_exit(&output, 0);
    let (out, _) = text(&output);
    assert!(!out.contains("json-secret-pw"));
    let json: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON object");
    assert_eq!(json["summary"]["total"], 8);
    assert_eq!(json["summary"]["passed"], 8);
    assert_eq!(json["summary"]["failed"], 0);
    assert_eq!(json["checks"].as_array().unwrap().len(), 8);
    assert_eq!(json["checks"][0]["name"], "Connection");
    assert_eq!(json["checks"][0]["passed"], true);
    assert_eq!(json["target"]["url"], server.redacted_url());
    assert_eq!(json["target"]["version"], server.version());
    for item in json["audit"].as_array().unwrap() {
        assert!(
            matches!(item["status"].as_str(), Some("pass" | "warn")),
            "{item}"
        );
    }

    let url = format!("redis://127.0.0.1:{}", free_port());
    let output = check(&["--redis", &url, "--json"], &[], QUICK);
    assert_exit(&output, 2);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["summary"]["failed"], 8);
    assert!(json["error"]
        .as_str()
        .unwrap()
        .contains("connection refused"));
}

#[test]
fn hardened_server_passes_every_audit_item() {
    let rename = |cmd: &str| ("rename-command".to_string(), format!("{cmd} \"\""));
    let server = redis_with(ServerOptions {
        password: Some("hardened-pw".into()),
        maxmemory: Some(32 << 20),
        maxmemory_policy: Some("allkeys-lru".into()),
        persistence: true,
        extra_config: ["FLUSHDB", "FLUSHALL", "KEYS", "CONFIG"]
            .map(rename)
            .to_vec(),
        ..ServerOptions::default()
    });
    let output = check(&["--redis", &server.url(), "--json"], &[], QUICK);
    assert_exit(&output, 0);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let audit = json["audit"].as_array().unwrap();
    assert_eq!(audit.len(), 5);
    for item in audit {
        assert_eq!(item["status"], "pass", "{item}");
    }
}

#[test]
fn config_disabled_makes_config_based_audits_unknown() {
    let server = redis_with(ServerOptions {
        extra_config: vec![("rename-command".into(), "CONFIG \"\"".into())],
        ..ServerOptions::default()
    });
    let output = check(&["--redis", &server.url()], &[], QUICK);
    assert_exit(&output, 0);
    let (out, _) = text(&output);
    assert!(
        out.contains("⚠️  WARN  persistence: unknown: CONFIG disabled"),
        "{out}"
    );
    assert!(
        out.contains("still enabled: FLUSHDB, FLUSHALL, KEYS ("),
        "{out}"
    );
}

#[test]
fn tls_server_with_the_ca_trusted_passes() {
    let certs = tempfile::tempdir().unwrap();
    let tls = support::tls_material(certs.path());
    let server = redis_with(ServerOptions {
        password: Some("tls-check-pw".into()),
        tls: Some(tls.clone()),
        ..ServerOptions::default()
    });
    // rustls-native-certs reads the trust store from SSL_CERT_FILE when it is set.
    let ca = tls.ca_file.to_str().unwrap();
    let output = check(&["--redis", &server.url()], &[("SSL_CERT_FILE", ca)], QUICK);
    assert_exit(&output, 0);
    let (out, _) = text(&output);
    assert!(out.contains("✅ PASS  tls: TLS in use"), "{out}");

    // REDIS_TLS_ENABLED=true upgrades a redis:// URL.
    let plain_url = format!("redis://:tls-check-pw@127.0.0.1:{}", server.port());
    let env = [("SSL_CERT_FILE", ca), ("REDIS_TLS_ENABLED", "true")];
    assert_exit(&check(&["--redis", &plain_url], &env, QUICK), 0);
}

#[tokio::test]
async fn library_entry_point_takes_the_environment_as_a_function() {
    let server = redis_with(ServerOptions {
        password: Some("lib-secret".into()),
        ..ServerOptions::default()
    });
    let opts = CheckOptions {
        url: None,
        json: false,
        ..CheckOptions::default()
    };
    let url = format!("redis://127.0.0.1:{}", server.port());
    let env = move |name: &str| match name {
        "REDIS_URL" => Some(url.clone()),
        "REDIS_PASSWORD" => Some("lib-secret".to_string()),
        _ => None,
    };
    let report = inspect(&opts, &env).await.unwrap();
    assert!(report.all_passed(), "{report:?}");
    assert_eq!(report.target.provider, "url");
    assert!(!format!("{report:?}").contains("lib-secret"));
}
