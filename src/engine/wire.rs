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
//! Only plain TCP: a TLS URL keeps the redis crate path (see `WireConn::connect`).

use crate::cache::{OpError, RedisConfig};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    /// Connects like the store does (same address, password, database), or `None` when the
    /// URL needs TLS or a Unix socket, which this path does not speak.
    pub async fn connect(config: &RedisConfig) -> Result<Option<WireConn>, OpError> {
        if config.uses_tls() {
            return Ok(None);
        }
        let info = config
            .connection_info()
            .map_err(|e| OpError::Connection(e.to_string()))?;
        let redis::ConnectionAddr::Tcp(host, port) = info.addr() else {
            return Ok(None);
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
            buf: Vec::with_capacity(64 * 1024),
            pos: 0,
        };
        let settings = info.redis_settings();
        let db = settings.db().to_string();
        let mut hello = 0;
        if let Some(password) = settings.password() {
            match settings.username() {
                Some(user) => conn.push(&[b"AUTH", user.as_bytes(), password.as_bytes()]),
                None => conn.push(&[b"AUTH", password.as_bytes()]),
            }
            hello += 1;
        }
        if settings.db() != 0 {
            conn.push(&[b"SELECT", db.as_bytes()]);
            hello += 1;
        }
        if hello > 0 {
            let mut refused = None;
            let timeout = config.response_timeout;
            tokio::time::timeout(
                timeout,
                conn.round_trip(|_, reply, _| {
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
        Ok(Some(conn))
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
    /// `on_reply(index, reply, arrived)`. On an error the connection is unusable (replies
    /// may be half read): drop it.
    pub async fn round_trip(
        &mut self,
        mut on_reply: impl FnMut(usize, Reply<'_>, Instant),
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
            } else if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.drain(..self.pos);
                self.pos = 0;
                self.buf.reserve(64 * 1024);
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
                        on_reply(done, reply, arrived);
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

/// An `-ERR ...` line as the store reports it.
pub fn server_error(line: &[u8]) -> OpError {
    let line = String::from_utf8_lossy(line);
    let (code, detail) = line.split_once(' ').unwrap_or((&line, ""));
    OpError::Server {
        code: code.to_string(),
        detail: detail.to_string(),
    }
}

/// Parses one reply at the start of `buf`: the reply and the bytes it used, or `None`
/// when `buf` does not hold all of it yet.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>, OpError> {
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
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
            .ok_or_else(|| OpError::Protocol(format!("bad length or integer {line:?}")))
    };
    let reply = match buf[0] {
        b'+' => (Reply::Status, after),
        b'-' => (Reply::Error(line), after),
        b':' => (Reply::Int(int(line)?), after),
        b'$' => {
            let Ok(len) = usize::try_from(int(line)?) else {
                return Ok(Some((Reply::Nil, after)));
            };
            if buf.len() < after + len + 2 {
                return Ok(None);
            }
            (Reply::Bulk(&buf[after..after + len]), after + len + 2)
        }
        other => {
            return Err(OpError::Protocol(format!(
                "unexpected reply type {:?} to GET/SET/DEL",
                other as char
            )))
        }
    };
    Ok(Some(reply))
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
