//! A bound on how much one reply from a peer can make us buffer.
//!
//! The redis crate (1.8) has no maximum reply or bulk size: its decoder keeps reading into
//! one growing buffer until a value is complete, so a peer that announces `$4294967296` and
//! streams bytes drives the process's memory up without limit. [`CappedStream`] sits between
//! the socket (or TLS session) and the crate's decoder and follows the RESP framing as the
//! bytes go by — it never copies or buffers them — counting the bytes of the reply being
//! received. A reply that announces, or reaches, more than the cap ends the connection with
//! an I/O error, and the reason is kept in a [`Violation`] so the store reports it as a
//! protocol error (the peer is not behaving as Redis does) rather than as a lost connection.
//!
//! Why a stream wrapper: the crate offers no size setting and no hook into its parser, but
//! it builds a multiplexed connection over any `AsyncRead + AsyncWrite` stream
//! (`MultiplexedConnection::new_with_config`), so the store opens the socket itself and hands
//! the crate this wrapper.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Redis's own limit on one bulk string (`proto-max-bulk-len`), and the largest cap allowed.
pub const REDIS_MAX_BULK: u64 = 512 * 1024 * 1024;

/// Deepest nesting of aggregates accepted (the redis crate's parser stops at 100).
const MAX_DEPTH: usize = 128;

/// Digits of a length header beyond which it cannot be a length Redis sends.
const MAX_HEADER_DIGITS: u32 = 19;

/// Why a connection was cut, shared between the stream (which sets it once) and the store
/// (which reads it to classify the failure).
pub type Violation = Arc<OnceLock<String>>;

/// Follows RESP framing byte by byte and counts the current reply's size.
#[derive(Debug)]
pub struct Skimmer {
    cap: u64,
    /// Bytes of the top-level reply received so far.
    reply_bytes: u64,
    state: State,
    /// Children still expected by each open aggregate, innermost last.
    open: Vec<u64>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Expecting a type byte.
    Type,
    /// Inside a header or simple line of type `kind`, up to its `\n`.
    Line {
        kind: u8,
        value: u64,
        digits: u32,
        negative: bool,
    },
    /// Inside a bulk payload: bytes left, its `\r\n` included.
    Bulk { left: u64 },
}

impl Skimmer {
    /// A skimmer allowing replies of up to `cap` bytes (framing included).
    pub fn new(cap: u64) -> Self {
        Skimmer {
            cap,
            reply_bytes: 0,
            state: State::Type,
            open: Vec::new(),
        }
    }

    /// Follows `bytes`; `Err` says why the peer's reply is refused.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            if let State::Bulk { left } = self.state {
                let take = left.min(bytes.len() as u64);
                self.count(take)?;
                bytes = &bytes[take as usize..];
                if take == left {
                    self.value_done();
                } else {
                    self.state = State::Bulk { left: left - take };
                }
                continue;
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            self.count(1)?;
            self.state = match self.state {
                State::Type => State::Line {
                    kind: b,
                    value: 0,
                    digits: 0,
                    negative: false,
                },
                State::Line {
                    kind,
                    value,
                    digits,
                    negative,
                } => match b {
                    b'\n' => {
                        self.header_done(kind, if negative { None } else { Some(value) })?;
                        continue;
                    }
                    b'0'..=b'9' if has_length(kind) => {
                        if digits >= MAX_HEADER_DIGITS {
                            return Err(format!(
                                "a length header of more than {MAX_HEADER_DIGITS} digits"
                            ));
                        }
                        State::Line {
                            kind,
                            value: value * 10 + u64::from(b - b'0'),
                            digits: digits + 1,
                            negative,
                        }
                    }
                    b'-' if has_length(kind) && digits == 0 => State::Line {
                        kind,
                        value,
                        digits,
                        negative: true,
                    },
                    _ => State::Line {
                        kind,
                        value,
                        digits,
                        negative,
                    },
                },
                State::Bulk { .. } => unreachable!("handled above"),
            };
        }
        Ok(())
    }

    fn count(&mut self, n: u64) -> Result<(), String> {
        self.reply_bytes += n;
        if self.reply_bytes > self.cap {
            return Err(format!(
                "a reply grew past {} bytes, the cap on one reply",
                self.cap
            ));
        }
        Ok(())
    }

    /// A header line ended. `len` is its number (`None` for a negative one: a RESP2 null).
    fn header_done(&mut self, kind: u8, len: Option<u64>) -> Result<(), String> {
        let room = self.cap.saturating_sub(self.reply_bytes);
        match (kind, len) {
            (b'$' | b'!' | b'=', Some(n)) => {
                if n.saturating_add(2) > room {
                    return Err(format!(
                        "a reply announced a {n}-byte string, more than the cap of {} bytes on one reply",
                        self.cap
                    ));
                }
                self.state = State::Bulk { left: n + 2 };
                return Ok(());
            }
            (b'*' | b'~' | b'>' | b'%' | b'|', Some(n)) if n > 0 => {
                let children = match kind {
                    b'%' => n.saturating_mul(2),
                    // Attributes precede the value they describe, at the same level.
                    b'|' => n.saturating_mul(2).saturating_add(1),
                    _ => n,
                };
                // Every element takes at least 3 bytes (`_\r\n`).
                if children.saturating_mul(3) > room {
                    return Err(format!(
                        "a reply announced {n} elements, more than fit in the cap of {} bytes on one reply",
                        self.cap
                    ));
                }
                if self.open.len() >= MAX_DEPTH {
                    return Err(format!("a reply nested deeper than {MAX_DEPTH} levels"));
                }
                self.open.push(children);
                self.state = State::Type;
                return Ok(());
            }
            _ => {}
        }
        self.value_done();
        Ok(())
    }

    /// One complete value: close every aggregate it completes; at the top level, the reply.
    fn value_done(&mut self) {
        self.state = State::Type;
        while let Some(left) = self.open.last_mut() {
            *left -= 1;
            if *left > 0 {
                return;
            }
            self.open.pop();
        }
        self.reply_bytes = 0;
    }
}

/// Types whose line carries a length or a count.
fn has_length(kind: u8) -> bool {
    matches!(kind, b'$' | b'!' | b'=' | b'*' | b'~' | b'>' | b'%' | b'|')
}

/// A stream whose reads are followed by a [`Skimmer`]; see the module docs.
pub struct CappedStream<S> {
    inner: S,
    skimmer: Skimmer,
    violation: Violation,
}

impl<S> CappedStream<S> {
    /// Wraps `inner`, allowing replies of up to `cap` bytes; a cut is explained in `violation`.
    pub fn new(inner: S, cap: u64, violation: Violation) -> Self {
        CappedStream {
            inner,
            skimmer: Skimmer::new(cap),
            violation,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CappedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(reason) = this.violation.get() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                reason.clone(),
            )));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Err(reason) = this.skimmer.feed(&buf.filled()[before..]) {
            let _ = this.violation.set(reason.clone());
            // Hand the decoder nothing of the oversized reply.
            buf.set_filled(before);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, reason)));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CappedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(cap: u64, chunks: &[&[u8]]) -> Result<u64, String> {
        let mut s = Skimmer::new(cap);
        for c in chunks {
            s.feed(c)?;
        }
        Ok(s.reply_bytes)
    }

    #[test]
    fn ordinary_replies_pass_and_reset_the_count() {
        let replies: &[&[u8]] = &[
            b"+OK\r\n",
            b"$5\r\nhello\r\n",
            b"$-1\r\n",
            b"*2\r\n$1\r\na\r\n$-1\r\n",
            b"*0\r\n",
            b"*-1\r\n",
            b":42\r\n",
            b"-ERR wrong\r\n",
            b"%1\r\n+k\r\n*2\r\n:1\r\n:2\r\n",
            b"|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n",
            b"_\r\n",
            b"=8\r\ntxt:abcd\r\n",
        ];
        let all: Vec<u8> = replies.concat();
        assert_eq!(feed_all(64, &[&all]), Ok(0), "every reply complete");
        // Byte by byte, the same.
        let bytes: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(feed_all(64, &bytes), Ok(0));
        // Split inside a bulk payload: the count is the partial reply.
        assert_eq!(feed_all(64, &[b"$5\r\nhel"]), Ok(7));
    }

    #[test]
    fn an_announced_huge_bulk_is_refused_at_its_header() {
        let err = feed_all(1 << 20, &[b"$4294967296\r\n"]).unwrap_err();
        assert!(err.contains("4294967296-byte"), "{err}");
    }

    #[test]
    fn huge_counts_long_lines_and_deep_nesting_are_refused() {
        assert!(feed_all(1 << 20, &[b"*4294967296\r\n"]).is_err());
        assert!(feed_all(1 << 20, &[b"%1000000\r\n"]).is_err());
        let line = vec![b'a'; 2000];
        assert!(
            feed_all(1000, &[b"+", &line]).is_err(),
            "a line without end"
        );
        assert!(feed_all(1 << 20, &[&b"*1\r\n".repeat(200)]).is_err());
        assert!(feed_all(1 << 20, &[b"$99999999999999999999\r\n"]).is_err());
    }

    #[test]
    fn the_cap_counts_a_whole_aggregate() {
        let one = b"$10\r\n0123456789\r\n"; // 17 bytes
        let mut reply = b"*10\r\n".to_vec();
        for _ in 0..10 {
            reply.extend_from_slice(one);
        }
        assert_eq!(feed_all(reply.len() as u64, &[&reply]), Ok(0));
        assert!(feed_all(reply.len() as u64 - 1, &[&reply]).is_err());
    }
}
