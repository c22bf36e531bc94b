//! A lean RESP2 connection for the raw target's pipelined batches (closed model with
//! `pipeline_depth > 1`, GET/SET/DEL only), the way `redis-benchmark -P` works: a client
//! writes its whole batch in one buffer and one syscall, then parses the replies in place.
//!
//! The redis crate's multiplexed connection costs a channel message, a oneshot, a timer and
//! a parsed `Value` per command; at depth 16 that was 3.5x the CPU per operation of
//! `redis-benchmark` on the same server. The ceiling target is meant to measure Redis, not
//! a client's bookkeeping, so its batches take this path. Each reply is timestamped when
//! the read that completed it returns, so a command's latency is the time to its own reply.
//!
//! Only plain TCP to one server: a TLS, Unix-socket, Sentinel or Cluster URL keeps the
//! redis crate path ([`plain_tcp`]).

use crate::cache::{OpError, RedisConfig};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A status, error or length line longer than this is not Redis talking.
const MAX_LINE: usize = 64 * 1024;
/// Redis's own `proto-max-bulk-len` default: no value can be longer.
const MAX_BULK: usize = 512 * 1024 * 1024;
/// The read buffer's resting size; it grows for large values and shrinks back after.
const READ_BUFFER: usize = 64 * 1024;

/// Whether `config` reaches Redis over plain TCP, the only transport this path speaks.
pub fn plain_tcp(config: &RedisConfig) -> bool {
    // Behind Sentinel the address changes on failover: the store's connector follows it.
    // A cluster spreads keys over nodes by hash slot: only the cluster client routes them.
    !config.uses_tls()
        && !crate::cache::sentinel::is_sentinel_url(&config.url)
        && !config.is_cluster()
        && config
            .connection_info()
            .is_ok_and(|info| matches!(info.addr(), redis::ConnectionAddr::Tcp(..)))
}

/// One parsed reply, borrowing from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `$-1`: the key does not exist.
    Nil,
    /// A bulk string: the value.
    Bulk(&'a [u8]),
    /// `+OK` and other status lines.
    Status,
    /// `:n`.
    Int(i64),
    /// `-CODE detail`.
    Error(&'a [u8]),
}

/// One connection; commands are queued with [`WireConn::push`] and sent together by
/// [`WireConn::round_trip`].
pub struct WireConn {
    stream: TcpStream,
    out: Vec<u8>,
    queued: usize,
    buf: Vec<u8>,
    /// Start of the unparsed bytes in `buf`.
    pos: usize,
}

impl WireConn {
    /// Connects like the store does (same address, password, database). Callers check
    /// [`plain_tcp`] first; any other address is a connection error here.
    pub async fn connect(config: &RedisConfig) -> Result<WireConn, OpError> {
        let info = config
            .connection_info()
            .map_err(|e| OpError::Connection(e.to_string()))?;
        let redis::ConnectionAddr::Tcp(host, port) = info.addr() else {
            return Err(OpError::Connection("not a plain TCP URL".into()));
        };
        let connect = TcpStream::connect((host.as_str(), *port));
        let stream = tokio::time::timeout(config.connect_timeout, connect)
            .await
            .map_err(|_| OpError::Timeout(config.connect_timeout))?
            .map_err(|e| OpError::Connection(e.to_string()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| OpError::Connection(e.to_string()))?;
        let mut conn = WireConn {
            stream,
            out: Vec::with_capacity(16 * 1024),
            queued: 0,
            buf: Vec::with_capacity(READ_BUFFER),
            pos: 0,
        };
        let settings = info.redis_settings();
        if let Some(password) = settings.password() {
            match settings.username() {
                Some(user) => conn.push(&[b"AUTH", user.as_bytes(), password.as_bytes()]),
                None => conn.push(&[b"AUTH", password.as_bytes()]),
            }
        }
        if settings.db() != 0 {
            conn.push(&[b"SELECT", settings.db().to_string().as_bytes()]);
        }
        if conn.queued > 0 {
            let mut refused = None;
            let timeout = config.response_timeout;
            tokio::time::timeout(
                timeout,
                conn.round_trip(|reply, _| {
                    if let Reply::Error(e) = reply {
                        refused.get_or_insert_with(|| server_error(e));
                    }
                }),
            )
            .await
            .map_err(|_| OpError::Timeout(timeout))??;
            if let Some(e) = refused {
                return Err(e);
            }
        }
        Ok(conn)
    }

    /// Queues one command (RESP array of bulk strings).
    pub fn push(&mut self, args: &[&[u8]]) {
        let out = &mut self.out;
        out.push(b'*');
        out.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        for a in args {
            out.push(b'$');
            out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.queued += 1;
    }

    /// Sends every queued command in one write and hands each reply, in order, to
    /// `on_reply(reply, arrived)`. On an error the connection is unusable (replies
    /// may be half read): drop it.
    pub async fn round_trip(
        &mut self,
        mut on_reply: impl FnMut(Reply<'_>, Instant),
    ) -> Result<(), OpError> {
        let expected = std::mem::take(&mut self.queued);
        let written = self.stream.write_all(&self.out).await;
        self.out.clear();
        written.map_err(|e| OpError::Connection(e.to_string()))?;
        let mut done = 0;
        while done < expected {
            if self.pos == self.buf.len() {
                self.buf.clear();
                self.pos = 0;
                if self.buf.capacity() > 16 * READ_BUFFER {
                    self.buf.shrink_to(READ_BUFFER);
                }
            } else if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.drain(..self.pos);
                self.pos = 0;
                self.buf.reserve(READ_BUFFER);
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| OpError::Connection(e.to_string()))?;
            if n == 0 {
                return Err(OpError::Connection("server closed the connection".into()));
            }
            let arrived = Instant::now();
            while done < expected {
                match parse(&self.buf[self.pos..])? {
                    Some((reply, used)) => {
                        on_reply(reply, arrived);
                        self.pos += used;
                        done += 1;
                    }
                    None => break,
                }
            }
        }
        Ok(())
    }
}

/// One closed-model client's wire connection: opened lazily, dropped after an error, and
/// reopened with the guide's backoff so a server that is down is not hammered with connects
/// (the store's ConnectionManager backs off the same way).
#[derive(Default)]
pub struct WireClient {
    conn: Option<WireConn>,
    /// Consecutive failed batches or connects; 0 once a batch succeeds.
    failures: u32,
    /// The first connect error is logged; later ones only counted.
    warned: bool,
}

impl WireClient {
    /// After failures, waits `retry_delay(failures)` before the next attempt: no operation
    /// is in flight meanwhile, so the wait is not part of any latency.
    pub async fn back_off(&self) {
        if self.conn.is_none() && self.failures > 0 {
            tokio::time::sleep(crate::cache::config::retry_delay(self.failures)).await;
        }
    }

    /// The open connection, connecting first if needed (bounded by the connect timeout,
    /// then the response timeout for AUTH/SELECT).
    pub async fn connection(&mut self, config: &RedisConfig) -> Result<&mut WireConn, OpError> {
        if self.conn.is_none() {
            match WireConn::connect(config).await {
                Ok(conn) => self.conn = Some(conn),
                Err(e) => {
                    self.failed();
                    if !std::mem::replace(&mut self.warned, true) {
                        tracing::warn!("pipelined client could not connect: {e}");
                    }
                    return Err(e);
                }
            }
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// A batch failed: the connection may hold half-read replies, so it goes.
    pub fn failed(&mut self) {
        self.conn = None;
        self.failures = self.failures.saturating_add(1);
    }

    /// A batch went through.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }
}

/// An `-ERR ...` line as the store reports it.
fn server_error(line: &[u8]) -> OpError {
    let line = String::from_utf8_lossy(line);
    let (code, detail) = line.split_once(' ').unwrap_or((&line, ""));
    OpError::Server {
        code: code.to_string(),
        detail: detail.to_string(),
    }
}

/// Parses one reply at the start of `buf`: the reply and the bytes it used, or `None`
/// when `buf` does not hold all of it yet. Anything but a status, error, integer or bulk
/// string of sane length, properly terminated, is a protocol error: the stream would
/// otherwise silently lose its alignment with the commands.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>, OpError> {
    let scan = &buf[..buf.len().min(MAX_LINE)];
    let Some(eol) = scan.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() >= MAX_LINE {
            return Err(OpError::Protocol(format!(
                "no line end within {MAX_LINE} bytes: {}",
                excerpt(buf)
            )));
        }
        return Ok(None);
    };
    if eol == 0 {
        return Err(OpError::Protocol("empty reply line".into()));
    }
    let line = &buf[1..eol];
    let after = eol + 2;
    let int = |line: &[u8]| -> Result<i64, OpError> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| OpError::Protocol(format!("bad length or integer {}", excerpt(line))))
    };
    let reply = match buf[0] {
        b'+' => (Reply::Status, after),
        b'-' => (Reply::Error(line), after),
        b':' => (Reply::Int(int(line)?), after),
        b'$' => {
            let len = int(line)?;
            if len == -1 {
                return Ok(Some((Reply::Nil, after)));
            }
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= MAX_BULK)
                .ok_or_else(|| OpError::Protocol(format!("bad bulk length {len}")))?;
            let end = after + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(OpError::Protocol(format!(
                    "bulk of {len} bytes not followed by CRLF"
                )));
            }
            (Reply::Bulk(&buf[after..end]), end + 2)
        }
        _ => {
            return Err(OpError::Protocol(format!(
                "unexpected reply {}",
                excerpt(buf)
            )))
        }
    };
    Ok(Some(reply))
}

/// The start of `bytes`, printable, for an error message.
fn excerpt(bytes: &[u8]) -> String {
    format!(
        "{:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_reply_type_and_waits_for_partial_ones() {
        assert_eq!(parse(b"+OK\r\n").unwrap(), Some((Reply::Status, 5)));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Some((Reply::Nil, 5)));
        assert_eq!(parse(b":12\r\n").unwrap(), Some((Reply::Int(12), 5)));
        assert_eq!(
            parse(b"$3\r\nabc\r\n+OK").unwrap(),
            Some((Reply::Bulk(b"abc"), 9))
        );
        assert_eq!(
            parse(b"-WRONGTYPE no\r\n").unwrap(),
            Some((Reply::Error(b"WRONGTYPE no"), 15))
        );
        assert_eq!(parse(b"$3\r\nab").unwrap(), None);
        assert_eq!(parse(b"$3").unwrap(), None);
        assert_eq!(parse(b"").unwrap(), None);
        assert!(parse(b"*2\r\n").is_err());
        assert!(parse(b"$x\r\n").is_err());
        assert!(parse(b"\r\n").is_err());
        assert!(parse(b"$-2\r\n").is_err(), "only -1 means nil");
        assert!(
            parse(b"$9000000000000\r\n").is_err(),
            "over proto-max-bulk-len"
        );
        assert!(
            parse(b"$3\r\nabcd\r\n").is_err(),
            "length disagrees with the data"
        );
        assert!(parse(&[b'x'; MAX_LINE]).is_err(), "no line end at all");
        assert_eq!(parse(&[b'+'; 100]).unwrap(), None, "a line still arriving");
    }

    #[test]
    fn server_errors_split_code_and_detail() {
        match server_error(b"WRONGPASS invalid username-password pair") {
            OpError::Server { code, detail } => {
                assert_eq!(code, "WRONGPASS");
                assert_eq!(detail, "invalid username-password pair");
            }
            other => panic!("{other:?}"),
        }
    }
}
