//! `redline proxy` as a process: its HTTP API driven with plain HTTP requests the way a
//! Toxiproxy client sends them (and the effect seen by a Redis client), its bad input, and
//! SIGTERM stopping it with nothing left behind.

use crate::support::{finished_within, redis, redline_bin, wait_until};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `redline proxy` and the addresses it printed.
struct ProxyProcess {
    child: Child,
    listen: SocketAddr,
    api: SocketAddr,
    stderr: std::thread::JoinHandle<String>,
}

impl ProxyProcess {
    fn start(upstream: SocketAddr) -> ProxyProcess {
        let mut child = redline_bin()
            .args(["proxy", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0"])
            .args(["--upstream", &upstream.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn redline proxy");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = || {
            rx.recv_timeout(Duration::from_secs(30))
                .expect("redline proxy printed its addresses")
        };
        let listen = first_addr(&line());
        let api = first_addr(&line());
        ProxyProcess {
            child,
            listen,
            api,
            stderr,
        }
    }

    fn http(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        http(self.api, method, path, body)
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first `host:port` on a line (`... on 127.0.0.1:4000, ...`, `api: http://...`).
fn first_addr(line: &str) -> SocketAddr {
    line.split([' ', ','])
        .map(|w| w.trim_start_matches("http://"))
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no address in `{line}`"))
}

/// One HTTP/1.1 request as any client sends it; the status and the JSON body (Null when
/// empty).
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read the response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
    };
    (status, json)
}

fn ping_time(con: &mut redis::Connection) -> Duration {
    let t = Instant::now();
    let pong: String = redis::cmd("PING").query(con).expect("PING");
    assert_eq!(pong, "PONG");
    t.elapsed()
}

fn connect(addr: SocketAddr) -> redis::RedisResult<redis::Connection> {
    let con = redis::Client::open(format!("redis://{addr}"))?
        .get_connection_with_timeout(Duration::from_secs(5))?;
    con.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(con)
}

#[test]
fn proxy_api_drives_toxics_and_the_switch_like_a_toxiproxy_client() {
    let server = redis();
    let p = ProxyProcess::start(server.addr());
    let (status, version) = p.http("GET", "/version", "");
    assert_eq!(status, 200);
    assert!(version["version"].is_string(), "{version}");

    let (status, proxies) = p.http("GET", "/proxies", "");
    assert_eq!(status, 200);
    let proxy = &proxies["redis"];
    assert_eq!(proxy["listen"], p.listen.to_string());
    assert_eq!(proxy["upstream"], server.addr().to_string());
    assert_eq!(proxy["enabled"], true);
    assert_eq!(proxy["toxics"], serde_json::json!([]));

    let mut con = connect(p.listen).unwrap();
    let baseline = (0..5).map(|_| ping_time(&mut con)).min().unwrap();
    let (status, toxic) = p.http(
        "POST",
        "/proxies/redis/toxics",
        r#"{"name":"lag","type":"latency","stream":"downstream","toxicity":1.0,
            "attributes":{"latency":300,"jitter":0}}"#,
    );
    assert_eq!(status, 200, "{toxic}");
    assert_eq!(toxic["attributes"]["latency"], 300);
    let slow = ping_time(&mut con);
    assert!(slow >= Duration::from_millis(300), "{slow:?}");
    assert!(slow > baseline * 10, "{slow:?} vs {baseline:?}");

    let (status, list) = p.http("GET", "/proxies/redis/toxics", "");
    assert_eq!((status, list[0]["name"].as_str()), (200, Some("lag")));
    let (status, updated) = p.http(
        "POST",
        "/proxies/redis/toxics/lag",
        r#"{"attributes":{"jitter":5}}"#,
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["attributes"],
        serde_json::json!({"latency": 300, "jitter": 5})
    );
    let (status, _) = p.http("DELETE", "/proxies/redis/toxics/lag", "");
    assert_eq!(status, 204);
    let (status, _) = p.http("GET", "/proxies/redis/toxics/lag", "");
    assert_eq!(status, 404);
    let fast = ping_time(&mut con);
    assert!(
        fast * 5 < slow,
        "after DELETE {fast:?}, with the toxic {slow:?}"
    );

    let (status, proxy) = p.http("POST", "/proxies/redis", r#"{"enabled":false}"#);
    assert_eq!(
        (status, &proxy["enabled"]),
        (200, &serde_json::json!(false))
    );
    let err = connect(p.listen).map(|_| ()).expect_err("refused");
    assert!(err.is_connection_refusal(), "{err}");
    let err = redis::cmd("PING")
        .query::<String>(&mut con)
        .expect_err("the open connection was closed");
    assert!(err.is_connection_dropped(), "{err}");

    // A Toxiproxy client saves the whole proxy back, listen and upstream included.
    let body = serde_json::json!({"name": "redis", "listen": p.listen.to_string(),
        "upstream": server.addr().to_string(), "enabled": true, "toxics": []});
    let (status, proxy) = p.http("POST", "/proxies/redis", &body.to_string());
    assert_eq!((status, &proxy["enabled"]), (200, &serde_json::json!(true)));
    let mut con = connect(p.listen).expect("listening again");
    ping_time(&mut con);

    let (status, _) = p.http("POST", "/proxies/redis/toxics", r#"{"type":"timeout"}"#);
    assert_eq!(status, 200);
    let (status, _) = p.http("POST", "/reset", "");
    assert_eq!(status, 204);
    let (_, list) = p.http("GET", "/proxies/redis/toxics", "");
    assert_eq!(list, serde_json::json!([]));
    ping_time(&mut con);
}

#[test]
fn proxy_api_answers_bad_requests_with_toxiproxys_errors() {
    let server = redis();
    let p = ProxyProcess::start(server.addr());
    let cases = [
        (
            "POST",
            "/proxies/redis/toxics",
            r#"{"type":"lagg"}"#,
            400,
            "unknown toxic type `lagg`",
        ),
        (
            "POST",
            "/proxies/redis/toxics",
            r#"{"type":"latency","attributes":{"latency":"1s"}}"#,
            400,
            "bad latency attributes",
        ),
        (
            "POST",
            "/proxies/redis/toxics",
            r#"{"type":"latency","attributes":{"delay":5}}"#,
            400,
            "no attribute `delay`",
        ),
        (
            "POST",
            "/proxies/redis/toxics",
            r#"{"type":"bandwidth","attributes":{"rate":0}}"#,
            400,
            "rate must be",
        ),
        (
            "POST",
            "/proxies/redis/toxics",
            "{not json",
            400,
            "bad request body",
        ),
        (
            "POST",
            "/proxies/nope/toxics",
            r#"{"type":"timeout"}"#,
            404,
            "proxy not found",
        ),
        (
            "GET",
            "/proxies/redis/toxics/nope",
            "",
            404,
            "no toxic named `nope`",
        ),
        (
            "DELETE",
            "/proxies/redis/toxics/nope",
            "",
            404,
            "no toxic named `nope`",
        ),
        (
            "POST",
            "/proxies/redis",
            r#"{"upstream":"10.0.0.1:6379"}"#,
            400,
            "upstream cannot change",
        ),
    ];
    for (method, path, body, want_status, want) in cases {
        let (status, json) = p.http(method, path, body);
        assert_eq!(status, want_status, "{method} {path} {body}: {json}");
        let error = json["error"].as_str().unwrap_or_default();
        assert!(error.contains(want), "{method} {path} {body}: {json}");
        assert_eq!(json["status"], want_status);
    }
    let (status, _) = p.http("POST", "/proxies/redis/toxics", r#"{"type":"timeout"}"#);
    assert_eq!(status, 200);
    let (status, json) = p.http("POST", "/proxies/redis/toxics", r#"{"type":"timeout"}"#);
    assert_eq!(status, 409, "{json}");
    // None of it reached the proxy's state beyond the one good toxic.
    let (_, list) = p.http("GET", "/proxies/redis/toxics", "");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

#[test]
fn redline_proxy_stops_on_sigterm_and_leaves_nothing_behind() {
    let server = redis();
    let mut p = ProxyProcess::start(server.addr());
    let mut con = connect(p.listen).unwrap();
    ping_time(&mut con);
    let rc = unsafe { libc::kill(p.child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < end,
            "redline proxy still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let stderr = std::mem::replace(&mut p.stderr, std::thread::spawn(String::new))
        .join()
        .unwrap();
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    for addr in [p.listen, p.api] {
        let e = TcpStream::connect(addr).expect_err("nothing listens any more");
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{addr}");
    }
    let err = redis::cmd("PING")
        .query::<String>(&mut con)
        .expect_err("the proxied connection is gone");
    assert!(err.is_connection_dropped(), "{err}");
    // Redis itself no longer sees the proxy's upstream connection (only this one).
    let mut direct = crate::support::connection(&server);
    wait_until(
        Duration::from_secs(5),
        "the upstream connection to close",
        || {
            let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut direct).unwrap();
            list.lines().count() == 1
        },
    );
}

#[test]
fn redline_proxy_rejects_bad_addresses_with_exit_2() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--listen", "nowhere", "--upstream", "127.0.0.1:6379"],
            "--listen",
        ),
        (
            &["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1"],
            "--upstream",
        ),
        (
            &["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:0"],
            "no valid port",
        ),
        (
            &["--listen", &busy, "--upstream", "127.0.0.1:6379"],
            "cannot listen on",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                "127.0.0.1:6379",
                "--api",
                &busy,
            ],
            "cannot listen on",
        ),
    ];
    for (args, want) in cases {
        let mut cmd = redline_bin();
        cmd.arg("proxy").args(args);
        let done = finished_within(cmd, Duration::from_secs(30));
        assert_eq!(done.code(), Some(2), "{args:?}: {}", done.describe());
        assert!(done.stderr.contains(want), "{args:?}: {}", done.describe());
    }
}
