//! [`FrameCounter`]: counts whole RESP commands in a byte stream that arrives in arbitrary
//! pieces, so the proxy can say how many commands it forwarded to Redis
//! (`redis_calls_while_open`) without buffering or parsing values.
//!
//! It keeps only a small state between pieces: the type and digits of the header being read,
//! how many bytes of a bulk payload are left to skip, and a stack of element counts for
//! nested aggregates. Bulk payloads are skipped by length, so large values cost nothing per
//! byte. Inline commands (a line not starting with a RESP type byte, as `redis-cli` and
//! telnet send) count one per line. A stream that breaks the protocol (a bad length, nesting
//! deeper than [`MAX_DEPTH`]) stops being counted rather than growing memory: counting is a
//! measurement, never a reason to cut a connection.

/// Deepest aggregate nesting followed; clients send flat arrays, so this is generous.
pub const MAX_DEPTH: usize = 32;
/// Longest header or inline line followed (Redis's own inline limit is 64 KiB).
const MAX_LINE: usize = 64 * 1024;

/// Streaming counter of top-level RESP frames.
#[derive(Debug, Default)]
pub struct FrameCounter {
    state: State,
    /// Elements still to read for each open aggregate, outermost first.
    stack: Vec<u64>,
    /// Set once the stream broke the protocol: nothing more is counted.
    lost: bool,
}

#[derive(Debug, Default, Clone, Copy)]
enum State {
    /// At the start of a frame (or of an element of an aggregate).
    #[default]
    Start,
    /// Reading a header's number after its type byte.
    Header {
        kind: Kind,
        value: u64,
        negative: bool,
        digits: usize,
    },
    /// Reading the rest of a simple line (`+`, `-`, `:`, ...) up to its `\n`.
    Line { len: usize },
    /// Reading an inline command up to its `\n`.
    Inline { len: usize, blank: bool },
    /// Skipping a bulk payload and its `\r\n`.
    Skip { left: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `$`, `=`, `!`: a length, then that many bytes and `\r\n`.
    Bulk,
    /// `*`, `~`, `>`: that many elements.
    Array,
    /// `%`, `|`: that many key-value pairs.
    Map,
}

impl FrameCounter {
    /// A counter at the start of a stream.
    pub fn new() -> FrameCounter {
        FrameCounter::default()
    }

    /// Feeds the next bytes of the stream; returns how many top-level frames they completed.
    pub fn feed(&mut self, mut data: &[u8]) -> u64 {
        let mut done = 0;
        while !data.is_empty() && !self.lost {
            match self.state {
                State::Skip { left } => {
                    let n = (left as usize).min(data.len());
                    data = &data[n..];
                    let left = left - n as u64;
                    if left == 0 {
                        self.state = State::Start;
                        done += self.element_done();
                    } else {
                        self.state = State::Skip { left };
                    }
                }
                State::Start => {
                    let b = data[0];
                    data = &data[1..];
                    self.state = match b {
                        b'$' | b'=' | b'!' => header(Kind::Bulk),
                        b'*' | b'~' | b'>' => header(Kind::Array),
                        b'%' | b'|' => header(Kind::Map),
                        b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => State::Line { len: 0 },
                        // Whitespace between inline commands, as a terminal sends.
                        b'\r' | b'\n' if self.stack.is_empty() => State::Start,
                        _ if self.stack.is_empty() => State::Inline {
                            len: 1,
                            blank: b == b' ' || b == b'\t',
                        },
                        _ => return self.lose(done),
                    };
                }
                State::Header {
                    kind,
                    value,
                    negative,
                    digits,
                } => {
                    let b = data[0];
                    data = &data[1..];
                    match b {
                        b'0'..=b'9' if digits < 19 => {
                            self.state = State::Header {
                                kind,
                                value: value * 10 + u64::from(b - b'0'),
                                negative,
                                digits: digits + 1,
                            };
                        }
                        b'-' if digits == 0 && !negative => {
                            self.state = State::Header {
                                kind,
                                value,
                                negative: true,
                                digits,
                            };
                        }
                        b'\r' => {}
                        b'\n' if digits > 0 => done += self.header_done(kind, value, negative),
                        _ => return self.lose(done),
                    }
                }
                State::Line { len } => match memchr_newline(data) {
                    Some(i) => {
                        data = &data[i + 1..];
                        self.state = State::Start;
                        done += self.element_done();
                    }
                    None if len + data.len() > MAX_LINE => return self.lose(done),
                    None => {
                        self.state = State::Line {
                            len: len + data.len(),
                        };
                        data = &[];
                    }
                },
                State::Inline { len, blank } => {
                    let (line, rest, ended) = match memchr_newline(data) {
                        Some(i) => (&data[..i], &data[i + 1..], true),
                        None => (data, &[][..], false),
                    };
                    let blank = blank && line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'));
                    data = rest;
                    if ended {
                        self.state = State::Start;
                        // Redis ignores a line of only spaces.
                        done += u64::from(!blank);
                    } else if len + line.len() > MAX_LINE {
                        return self.lose(done);
                    } else {
                        self.state = State::Inline {
                            len: len + line.len(),
                            blank,
                        };
                    }
                }
            }
        }
        done
    }

    /// Whether the stream broke the protocol, so later frames are no longer counted.
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    fn lose(&mut self, done: u64) -> u64 {
        self.lost = true;
        self.stack.clear();
        done
    }

    /// A header line ended: start its payload or elements; returns frames completed.
    fn header_done(&mut self, kind: Kind, value: u64, negative: bool) -> u64 {
        self.state = State::Start;
        if negative {
            // `$-1` / `*-1`: a null, complete in itself.
            return if value == 1 {
                self.element_done()
            } else {
                self.lose(0)
            };
        }
        match kind {
            Kind::Bulk => {
                self.state = State::Skip { left: value + 2 };
                0
            }
            Kind::Array | Kind::Map if value == 0 => self.element_done(),
            Kind::Array | Kind::Map if self.stack.len() >= MAX_DEPTH => self.lose(0),
            Kind::Array => {
                self.stack.push(value);
                0
            }
            Kind::Map => {
                self.stack.push(value.saturating_mul(2));
                0
            }
        }
    }

    /// One element ended: close every aggregate it completed; 1 if a top-level frame ended.
    fn element_done(&mut self) -> u64 {
        while let Some(left) = self.stack.last_mut() {
            *left -= 1;
            if *left > 0 {
                return 0;
            }
            self.stack.pop();
        }
        1
    }
}

fn header(kind: Kind) -> State {
    State::Header {
        kind,
        value: 0,
        negative: false,
        digits: 0,
    }
}

fn memchr_newline(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn pipeline() -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(command(&[b"SET", b"k", &[b'\n'; 300]]));
        bytes.extend(command(&[b"GET", b"k"]));
        bytes.extend(b"PING\r\n");
        bytes.extend(command(&[b"MGET", b"a", b"*3\r\n", b""]));
        bytes.extend(b"*0\r\n");
        bytes
    }

    #[test]
    fn counts_a_pipeline_fed_whole() {
        assert_eq!(FrameCounter::new().feed(&pipeline()), 5);
    }

    #[test]
    fn counts_the_same_fed_in_every_split_and_byte_by_byte() {
        let bytes = pipeline();
        for cut in 0..bytes.len() {
            let mut c = FrameCounter::new();
            let n = c.feed(&bytes[..cut]) + c.feed(&bytes[cut..]);
            assert_eq!(n, 5, "split at {cut}");
        }
        let mut c = FrameCounter::new();
        let n: u64 = bytes.iter().map(|b| c.feed(std::slice::from_ref(b))).sum();
        assert_eq!(n, 5);
    }

    #[test]
    fn a_frame_counts_only_when_its_last_byte_arrives() {
        let bytes = command(&[b"SET", b"key", b"value"]);
        let mut c = FrameCounter::new();
        assert_eq!(c.feed(&bytes[..bytes.len() - 1]), 0);
        assert_eq!(c.feed(&bytes[bytes.len() - 1..]), 1);
    }

    #[test]
    fn nested_aggregates_and_nulls_are_one_frame_each() {
        let mut c = FrameCounter::new();
        assert_eq!(c.feed(b"*2\r\n*2\r\n:1\r\n$-1\r\n%1\r\n+a\r\n_\r\n"), 1);
        assert_eq!(c.feed(b"$-1\r\n*-1\r\n"), 2);
    }

    #[test]
    fn broken_streams_stop_counting_instead_of_growing() {
        let mut c = FrameCounter::new();
        assert_eq!(c.feed(b"*1\r\n$x\r\n"), 0);
        assert!(c.is_lost());
        assert_eq!(c.feed(&command(&[b"GET", b"k"])), 0);

        let mut deep = FrameCounter::new();
        deep.feed(&b"*1\r\n".repeat(MAX_DEPTH + 1));
        assert!(deep.is_lost());
        assert!(deep.stack.capacity() <= MAX_DEPTH + 1);

        let mut long = FrameCounter::new();
        long.feed(&vec![b'a'; MAX_LINE + 10]);
        assert!(long.is_lost());
    }

    #[test]
    fn blank_inline_lines_are_not_commands() {
        assert_eq!(FrameCounter::new().feed(b"  \r\nPING\r\n\r\n"), 1);
    }
}
