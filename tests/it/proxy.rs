//! The fault proxy as a library, between real clients and a real `redis-server`: each toxic
//! asserted by what the client saw (slower, timed out, reset, refused, chunked), byte-exact
//! forwarding of a large pipeline with no toxic, and the counters that drills read.
//!
//! Timings compare within one test by a wide factor, or against a lower bound the proxy
//! cannot beat (a 100 ms latency toxic cannot answer in less than its latency minus jitter).

use crate::support::{connection, info_field, redis, wait_until};
use redline::chaos::proxy::{FaultProxy, Stream, Toxic, ToxicKind};
use redline::server::EmbeddedRedis;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A real server and a proxy in front of it, on a runtime of its own.
pub(crate) struct Proxied {
    pub proxy: FaultProxy,
    _runtime: tokio::runtime::Runtime,
    pub server: EmbeddedRedis,
}

pub(crate) fn proxied() -> Proxied {
    let server = redis();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let proxy = {
        let _guard = runtime.enter();
        FaultProxy::start("127.0.0.1:0".parse().unwrap(), server.addr().to_string())
            .expect("start the proxy")
    };
    Proxied {
        proxy,
        _runtime: runtime,
        server,
    }
}

impl Proxied {
    fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://{}", self.proxy.local_addr())).unwrap()
    }

    /// A client connection through the proxy whose reads give up after `read_timeout`.
    fn connect(&self, read_timeout: Duration) -> redis::Connection {
        let con = self
            .client()
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect through the proxy");
        con.set_read_timeout(Some(read_timeout)).unwrap();
        con
    }

    /// A raw TCP connection through the proxy.
    fn raw(&self, read_timeout: Duration) -> TcpStream {
        let s = TcpStream::connect(self.proxy.local_addr()).expect("raw connect");
        s.set_read_timeout(Some(read_timeout)).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }
}

fn ping(con: &mut redis::Connection) -> redis::RedisResult<String> {
    redis::cmd("PING").query(con)
}

/// Median time of `n` PINGs.
fn median_ping(con: &mut redis::Connection, n: usize) -> Duration {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(ping(con).unwrap(), "PONG");
            t.elapsed()
        })
        .collect();
    times.sort();
    times[n / 2]
}

/// Reads exactly `len` bytes; returns them and how many reads it took.
fn read_exact_counting(s: &mut TcpStream, len: usize) -> (Vec<u8>, usize) {
    let mut out = vec![0u8; len];
    let (mut got, mut reads) = (0, 0);
    while got < len {
        let n = s.read(&mut out[got..]).expect("read a reply");
        assert!(n > 0, "connection closed after {got} of {len} bytes");
        got += n;
        reads += 1;
    }
    (out, reads)
}

/// A value of `len` bytes that differs per `seed`, so a misplaced byte shows.
fn value(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(7)) as u8)
        .collect()
}

#[test]
fn proxy_forwards_a_10000_command_pipeline_of_large_values_byte_exact() {
    let p = proxied();
    // A raw connection: the client sends exactly this pipeline and nothing else, so the
    // reply stream Redis owes it is known byte for byte.
    let mut raw = p.raw(Duration::from_secs(60));
    let mut pipe = redis::pipe();
    let mut expected = Vec::new();
    for i in 0..5000 {
        let v = value(i, 1 + (i * 7919) % 16_384);
        pipe.cmd("SET").arg(format!("k{i}")).arg(&v[..]);
        pipe.cmd("GET").arg(format!("k{i}"));
        expected.extend_from_slice(b"+OK\r\n");
        expected.extend(expected_get(&v));
    }
    let packed = pipe.get_packed_pipeline();
    let up_len = packed.len();
    // Written from another thread while this one reads, so neither side's buffers fill up.
    let mut writer = raw.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&packed));
    let (replies, _) = read_exact_counting(&mut raw, expected.len());
    sending.join().unwrap().expect("send the pipeline");
    if let Some(at) = replies.iter().zip(&expected).position(|(a, b)| a != b) {
        panic!(
            "the reply stream differs from Redis's at byte {at} of {}",
            expected.len()
        );
    }
    // Counted just after each write returns, so the last few may trail the client's read.
    wait_until(Duration::from_secs(5), "the counters to settle", || {
        let c = p.proxy.counters();
        c.commands_up == 10_000
            && c.bytes_up as usize == up_len
            && c.bytes_down as usize == expected.len()
    });
    raw.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        raw.read(&mut [0u8; 16]).is_err(),
        "nothing beyond the replies Redis owed"
    );
}

/// A regression guard for the no-toxic fast path: it must notice a toxic added while it is
/// busy copying (not only between reads of an idle connection), and the switch between the
/// fast path and the toxic path must neither lose nor repeat a byte.
#[test]
fn a_toxic_added_mid_stream_stops_a_busy_connection_and_its_removal_loses_no_byte() {
    let p = proxied();
    let mut raw = p.raw(Duration::from_secs(60));
    let mut pipe = redis::pipe();
    let mut expected = Vec::new();
    for i in 0..5000 {
        let v = value(i, 1 + (i * 7919) % 16_384);
        pipe.cmd("SET").arg(format!("m{i}")).arg(&v[..]);
        pipe.cmd("GET").arg(format!("m{i}"));
        expected.extend_from_slice(b"+OK\r\n");
        expected.extend(expected_get(&v));
    }
    let packed = pipe.get_packed_pipeline();
    let mut writer = raw.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&packed));
    // A tenth of the ~40 MB of replies, then a blackhole on the replies mid-stream.
    let (mut replies, _) = read_exact_counting(&mut raw, expected.len() / 10);
    p.proxy
        .add_toxic(Toxic::new(
            Stream::Downstream,
            ToxicKind::Timeout { timeout: 0 },
        ))
        .unwrap();
    // What was already on its way still arrives (socket buffers, the chunk being written),
    // then the stream stops well short of the end.
    raw.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match raw.read(&mut buf) {
            Ok(0) => panic!("the proxy closed the connection"),
            Ok(n) => replies.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("read: {e}"),
        }
        assert!(
            replies.len() < expected.len(),
            "every reply came through a blackhole added mid-stream"
        );
    }
    p.proxy.remove_toxic("timeout_downstream").unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let (rest, _) = read_exact_counting(&mut raw, expected.len() - replies.len());
    replies.extend(rest);
    sending.join().unwrap().expect("send the pipeline");
    if let Some(at) = replies.iter().zip(&expected).position(|(a, b)| a != b) {
        panic!(
            "the reply stream differs from Redis's at byte {at} of {}",
            expected.len()
        );
    }
    wait_until(Duration::from_secs(5), "the counters to settle", || {
        p.proxy.counters().commands_up == 10_000
    });
}

#[test]
fn commands_up_counts_what_redis_counts_for_a_known_pipeline() {
    let p = proxied();
    let mut direct = connection(&p.server);
    let processed = |c: &mut redis::Connection| {
        let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
        info_field(&info, "total_commands_processed")
    };
    let mut raw = p.raw(Duration::from_secs(10));
    let mut bytes = b"PING\r\n".to_vec();
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.cmd("SET").arg(format!("c{i}")).arg(value(i, 1000));
    }
    bytes.extend(pipe.get_packed_pipeline());
    let server_before = processed(&mut direct);
    // Written in awkward pieces, so frames straddle the proxy's reads.
    for piece in bytes.chunks(37) {
        raw.write_all(piece).unwrap();
    }
    let (replies, _) = read_exact_counting(&mut raw, "+PONG\r\n".len() + 100 * "+OK\r\n".len());
    assert!(replies.starts_with(b"+PONG\r\n+OK\r\n"));
    let server_after = processed(&mut direct);
    assert_eq!(p.proxy.counters().commands_up, 101);
    // The server's own count, less the INFO that read it.
    assert_eq!(server_after - server_before - 1, 101);
}

#[test]
fn latency_toxic_slows_replies_by_its_latency_and_stops_when_removed() {
    let p = proxied();
    let mut con = p.connect(Duration::from_secs(10));
    let baseline = median_ping(&mut con, 21);
    p.proxy
        .add_toxic(
            Toxic::new(
                Stream::Downstream,
                ToxicKind::Latency {
                    latency: 100,
                    jitter: 10,
                },
            )
            .named("lag"),
        )
        .unwrap();
    let slow = median_ping(&mut con, 5);
    let mut fresh = p.connect(Duration::from_secs(10));
    let fresh_slow = median_ping(&mut fresh, 3);
    p.proxy.remove_toxic("lag").unwrap();
    let after = median_ping(&mut con, 21);
    assert!(
        slow >= Duration::from_millis(90),
        "latency 100±10 ms gave {slow:?}"
    );
    assert!(
        fresh_slow >= Duration::from_millis(90),
        "a new connection: {fresh_slow:?}"
    );
    assert!(
        slow > baseline * 10,
        "with latency {slow:?}, baseline {baseline:?}"
    );
    assert!(after * 5 < slow, "after removal {after:?}, with {slow:?}");
}

#[test]
fn timeout_0_is_a_blackhole_that_holds_the_bytes_until_removed() {
    let p = proxied();
    let mut con = p.connect(Duration::from_millis(300));
    assert_eq!(ping(&mut con).unwrap(), "PONG");
    p.proxy
        .add_toxic(Toxic::new(
            Stream::Downstream,
            ToxicKind::Timeout { timeout: 0 },
        ))
        .unwrap();
    let err = ping(&mut con).expect_err("a blackholed PING");
    assert!(err.is_timeout(), "the client should time out, got {err}");

    // New connections are accepted, and then nothing comes back, not even a close.
    let mut raw = p.raw(Duration::from_millis(500));
    raw.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 64];
    let e = raw.read(&mut buf).expect_err("nothing through a blackhole");
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e}"
    );
    // Held, not dropped: removing the toxic delivers the reply the command was owed.
    p.proxy.remove_toxic("timeout_downstream").unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (reply, _) = read_exact_counting(&mut raw, 7);
    assert_eq!(reply, b"+PONG\r\n");
}

#[test]
fn timeout_toxic_closes_the_connection_after_its_timeout() {
    let p = proxied();
    let mut raw = p.raw(Duration::from_secs(10));
    raw.write_all(b"PING\r\n").unwrap();
    assert_eq!(read_exact_counting(&mut raw, 7).0, b"+PONG\r\n");
    let added = Instant::now();
    p.proxy
        .add_toxic(Toxic::new(
            Stream::Upstream,
            ToxicKind::Timeout { timeout: 200 },
        ))
        .unwrap();
    let mut buf = [0u8; 16];
    let n = raw.read(&mut buf).expect("a close, not a read timeout");
    assert_eq!(n, 0, "EOF");
    assert!(added.elapsed() >= Duration::from_millis(190));
}

#[test]
fn reset_peer_resets_open_and_new_connections_before_redis_sees_the_command() {
    let p = proxied();
    let mut con = p.connect(Duration::from_secs(10));
    assert_eq!(ping(&mut con).unwrap(), "PONG");
    let commands = p.proxy.counters().commands_up;
    p.proxy
        .add_toxic(Toxic::new(
            Stream::Upstream,
            ToxicKind::ResetPeer { timeout: 0 },
        ))
        .unwrap();
    let err = ping(&mut con).expect_err("a PING on a reset connection");
    assert!(err.is_connection_dropped(), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("reset"),
        "the client should see a reset, got {err}"
    );

    let mut raw = p.raw(Duration::from_secs(10));
    raw.write_all(b"PING\r\n").unwrap();
    let e = raw.read(&mut [0u8; 16]).expect_err("a reset");
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    assert_eq!(
        p.proxy.counters().commands_up,
        commands,
        "nothing reached Redis"
    );

    p.proxy.remove_toxic("reset_peer_upstream").unwrap();
    let mut fresh = p.connect(Duration::from_secs(10));
    assert_eq!(ping(&mut fresh).unwrap(), "PONG");
}

#[test]
fn disabled_proxy_refuses_connections_and_closes_open_ones() {
    let p = proxied();
    let mut con = p.connect(Duration::from_secs(10));
    assert_eq!(ping(&mut con).unwrap(), "PONG");
    p.proxy.set_enabled(false).unwrap();
    let err = ping(&mut con).expect_err("a PING on a closed connection");
    assert!(err.is_connection_dropped(), "{err}");
    let err = p
        .client()
        .get_connection_with_timeout(Duration::from_secs(5))
        .map(|_| ())
        .expect_err("a refused connection");
    assert!(err.is_connection_refusal(), "{err}");
    let e = TcpStream::connect(p.proxy.local_addr()).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);

    p.proxy.set_enabled(true).unwrap();
    let mut fresh = p.connect(Duration::from_secs(10));
    assert_eq!(ping(&mut fresh).unwrap(), "PONG");
    wait_until(
        Duration::from_secs(5),
        "the closed connection to be let go",
        || p.proxy.counters().open_connections == 1,
    );
}

/// GET `key` over a raw connection; returns the reply bytes and how many reads they took.
fn raw_get(s: &mut TcpStream, key: &str, len: usize) -> (Vec<u8>, usize, Duration) {
    let started = Instant::now();
    s.write_all(&redis::cmd("GET").arg(key).get_packed_command())
        .unwrap();
    let header = format!("${len}\r\n");
    let (reply, reads) = read_exact_counting(s, header.len() + len + 2);
    (reply, reads, started.elapsed())
}

fn expected_get(v: &[u8]) -> Vec<u8> {
    let mut e = format!("${}\r\n", v.len()).into_bytes();
    e.extend_from_slice(v);
    e.extend_from_slice(b"\r\n");
    e
}

#[test]
fn bandwidth_toxic_slows_a_large_reply_to_its_rate_and_keeps_it_intact() {
    let p = proxied();
    let v = value(3, 200_000);
    crate::support::set_key(&mut connection(&p.server), "big", &v[..]);
    let mut raw = p.raw(Duration::from_secs(30));
    let (reply, _, baseline) = raw_get(&mut raw, "big", v.len());
    assert_eq!(reply, expected_get(&v));
    p.proxy
        .add_toxic(Toxic::new(
            Stream::Downstream,
            ToxicKind::Bandwidth { rate: 1000 },
        ))
        .unwrap();
    let (reply, _, slow) = raw_get(&mut raw, "big", v.len());
    assert_eq!(reply, expected_get(&v), "byte-correct through the toxic");
    // 200 000 bytes at 1000 KB/s take 200 ms at least.
    assert!(slow >= Duration::from_millis(190), "{slow:?}");
    assert!(slow > baseline * 4, "{slow:?} vs baseline {baseline:?}");
}

#[test]
fn slicer_toxic_delivers_a_reply_in_many_small_delayed_pieces() {
    let p = proxied();
    let v = value(5, 20_000);
    crate::support::set_key(&mut connection(&p.server), "sliced", &v[..]);
    let mut raw = p.raw(Duration::from_secs(30));
    let (reply, whole_reads, _) = raw_get(&mut raw, "sliced", v.len());
    assert_eq!(reply, expected_get(&v));
    p.proxy
        .add_toxic(Toxic::new(
            Stream::Downstream,
            ToxicKind::Slicer {
                average_size: 100,
                size_variation: 20,
                delay: 500,
            },
        ))
        .unwrap();
    let (reply, sliced_reads, took) = raw_get(&mut raw, "sliced", v.len());
    assert_eq!(reply, expected_get(&v), "byte-correct through the toxic");
    // About 200 slices of 80-120 bytes, 0.5 ms apart: at least 166 × 0.5 ms.
    assert!(took >= Duration::from_millis(80), "{took:?}");
    assert!(
        sliced_reads >= 20 && sliced_reads > 4 * whole_reads,
        "{sliced_reads} reads sliced, {whole_reads} whole"
    );
}

#[test]
fn toxicity_zero_affects_no_connection() {
    let p = proxied();
    let mut con = p.connect(Duration::from_secs(10));
    let mut toxic = Toxic::new(Stream::Upstream, ToxicKind::Timeout { timeout: 0 });
    toxic.toxicity = 0.0;
    p.proxy.add_toxic(toxic).unwrap();
    assert_eq!(ping(&mut con).unwrap(), "PONG");
    let mut fresh = p.connect(Duration::from_secs(10));
    assert_eq!(ping(&mut fresh).unwrap(), "PONG");
}

#[test]
fn proxy_counts_connections_and_lets_closed_ones_go() {
    let p = proxied();
    {
        let mut a = p.connect(Duration::from_secs(10));
        let mut b = p.connect(Duration::from_secs(10));
        assert_eq!(ping(&mut a).unwrap(), "PONG");
        assert_eq!(ping(&mut b).unwrap(), "PONG");
        assert_eq!(p.proxy.counters().open_connections, 2);
    }
    wait_until(Duration::from_secs(5), "both connections to close", || {
        p.proxy.counters().open_connections == 0
    });
    assert_eq!(p.proxy.counters().connections, 2);
}

#[test]
fn dropping_the_proxy_closes_its_connections_and_its_port() {
    let p = proxied();
    let mut raw = p.raw(Duration::from_secs(10));
    raw.write_all(b"PING\r\n").unwrap();
    assert_eq!(read_exact_counting(&mut raw, 7).0, b"+PONG\r\n");
    let addr = p.proxy.local_addr();
    let Proxied {
        proxy,
        _runtime,
        server,
    } = p;
    proxy.shutdown();
    assert_eq!(raw.read(&mut [0u8; 8]).expect("a close"), 0);
    assert_eq!(
        TcpStream::connect(addr).expect_err("refused").kind(),
        ErrorKind::ConnectionRefused
    );
    drop((_runtime, server));
}

#[test]
fn a_blackhole_holds_a_bounded_amount_and_pushes_back_on_the_sender() {
    let p = proxied();
    p.proxy
        .add_toxic(Toxic::new(
            Stream::Upstream,
            ToxicKind::Timeout { timeout: 0 },
        ))
        .unwrap();
    let mut raw = p.raw(Duration::from_secs(10));
    raw.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // A client that never stops sending: the proxy holds at most 1 MiB of it, the rest waits
    // in the kernel's socket buffers until the sender blocks.
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0usize;
    let limit = 256usize << 20;
    while sent < limit {
        match raw.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    assert!(
        sent < 64 << 20,
        "the sender got {} MiB into a blackhole without being pushed back",
        sent >> 20
    );
    assert_eq!(p.proxy.counters().bytes_up, 0, "nothing reached Redis");
}
