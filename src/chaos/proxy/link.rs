//! One proxied connection: the client's socket, the upstream socket, and a [`Pump`] per
//! direction that copies bytes through whatever toxics are installed on that direction.
//!
//! With no toxic on a direction its pump is a read-then-write loop over one reused buffer,
//! polled by hand (`Pump::pass`): no queue, no timer, no copy beyond the socket calls, and
//! the change notification registered once per pass rather than once per chunk. What a
//! forwarded chunk costs is then almost all the kernel's: a read and a loopback write, the
//! write doing the receiver's TCP work and wakeup too (about 90 % of the proxy's CPU in a
//! profile; see `benches/proxy-compare.sh`).
//!
//! With toxics, each chunk read is cut into pieces that carry the time they may be written
//! ([`Piece::due`]), queued in arrival order (bounded: [`MAX_QUEUED_BYTES`]) and written when
//! due. Every await, on either path, is a cancel-safe socket call or timer that also watches
//! the proxy's state, so a toxic added or removed (or the proxy disabled) takes effect at
//! once on connections already open, even when they are idle, busy or stuck on a full
//! socket.

use super::resp::FrameCounter;
use super::toxic::{Stream, Toxic, ToxicKind};
use super::Counters;
use bytes::{Buf, Bytes, BytesMut};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// Bytes asked of each read (the buffer is reused while no toxic is active).
const READ_SIZE: usize = 32 * 1024;
/// Bytes a direction holds while toxics delay them; past this it stops reading, so the
/// sender feels TCP backpressure instead of the proxy's memory growing.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;
/// Pieces a direction holds (a slicer of 1-byte slices makes one per byte).
const MAX_QUEUED_PIECES: usize = 64 * 1024;
/// How long a new connection waits for the upstream to accept it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection of a proxy follows; replaced as a whole on each change.
#[derive(Debug, Clone, Default)]
pub(super) struct Snapshot {
    /// False: connections are closed and new ones refused.
    pub enabled: bool,
    /// The proxy is shutting down: every connection closes.
    pub closing: bool,
    /// The toxics, in the order they were added (the order they apply in).
    pub toxics: Vec<Installed>,
}

/// A toxic with the id that tells a connection it is new (an update gets a new id, so
/// timeouts restart and toxicity is drawn again, as Toxiproxy re-creates a toxic's stub).
#[derive(Debug, Clone)]
pub(super) struct Installed {
    pub id: u64,
    pub toxic: Toxic,
}

/// How a direction (or the whole connection) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The reader reached EOF and everything read was written; the writer was shut down.
    Eof,
    /// Close both sockets (FIN).
    Close,
    /// Reset both sockets (RST).
    Reset,
}

/// Serves one accepted connection until it ends; `counters` counts it as open meanwhile.
pub(super) async fn serve(
    mut client: TcpStream,
    upstream: Arc<str>,
    state: watch::Receiver<Arc<Snapshot>>,
    counters: Arc<Counters>,
) {
    counters.open.fetch_add(1, Ordering::Relaxed);
    let _open = OpenGuard(counters.clone());
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&*upstream));
    let Ok(Ok(mut server)) = connect.await else {
        // As Toxiproxy: an upstream that cannot be reached closes the client's connection.
        tracing::debug!("proxy: cannot connect to the upstream {upstream}");
        return;
    };
    let _ = server.set_nodelay(true);
    let end = {
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let mut up = Pump::new(Stream::Upstream, state.clone(), counters.clone());
        let mut down = Pump::new(Stream::Downstream, state, counters);
        let up = up.run(&mut client_read, &mut server_write);
        let down = down.run(&mut server_read, &mut client_write);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            let end = tokio::select! {
                end = &mut up, if !up_done => { up_done = true; end }
                end = &mut down, if !down_done => { down_done = true; end }
            };
            if end != End::Eof {
                break end;
            }
            if up_done && down_done {
                break End::Close;
            }
        }
    };
    if end == End::Reset {
        // SO_LINGER 0: closing sends RST instead of FIN, and what is unsent is discarded.
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
}

/// Counts a connection as open until dropped.
struct OpenGuard(Arc<Counters>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Bytes that may be written from `due` on.
#[derive(Debug)]
struct Piece {
    due: Instant,
    data: Bytes,
}

/// What the installed toxics mean for one direction of one connection.
#[derive(Debug, Default)]
struct Plan {
    /// The proxy was disabled or is shutting down.
    fatal: bool,
    /// A timeout toxic: nothing is written.
    hold: bool,
    /// When a timeout toxic with a non-zero timeout closes the connection.
    close_at: Option<Instant>,
    /// A reset_peer toxic: data arriving resets the connection after this long.
    reset_after: Option<Duration>,
    /// Latency, bandwidth and slicer toxics, in order; indexes into `Pump::states`.
    shapers: Vec<usize>,
}

impl Plan {
    fn passthrough(&self) -> bool {
        !self.fatal && !self.hold && self.reset_after.is_none() && self.shapers.is_empty()
    }
}

/// One connection's own view of one toxic.
#[derive(Debug)]
struct ToxicState {
    id: u64,
    kind: ToxicKind,
    /// Drawn once from the toxic's toxicity.
    active: bool,
    /// When this connection first saw the toxic (timeouts count from here).
    since: Instant,
    /// Bandwidth: when the link is free again.
    next_free: Instant,
}

/// The no-toxic path's reusable buffer: one read's bytes, written from `off` to `len`.
#[derive(Default)]
struct Pass {
    /// Allocated on first use, then kept for the connection's life.
    buf: Option<Box<[u8]>>,
    off: usize,
    len: usize,
}

impl Pass {
    /// Bytes read and not yet written.
    fn unsent(&self) -> bool {
        self.off < self.len
    }
}

/// Copies one direction of a connection through its toxics.
struct Pump {
    stream: Stream,
    state: watch::Receiver<Arc<Snapshot>>,
    counters: Arc<Counters>,
    plan: Plan,
    states: Vec<ToxicState>,
    queue: VecDeque<Piece>,
    queued_bytes: usize,
    /// The toxic path's read buffer (its chunks become queued pieces).
    buf: BytesMut,
    /// The no-toxic path's buffer and the part of it not yet written.
    pass: Pass,
    eof: bool,
    reset_at: Option<Instant>,
    rng: SmallRng,
    /// Upstream only: counts the commands written to Redis.
    frames: Option<FrameCounter>,
}

impl Pump {
    fn new(stream: Stream, state: watch::Receiver<Arc<Snapshot>>, counters: Arc<Counters>) -> Pump {
        let mut pump = Pump {
            stream,
            state,
            counters,
            plan: Plan::default(),
            states: Vec::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            buf: BytesMut::new(),
            pass: Pass::default(),
            eof: false,
            reset_at: None,
            rng: SmallRng::from_rng(&mut rand::rng()),
            frames: (stream == Stream::Upstream).then(FrameCounter::new),
        };
        pump.refresh();
        pump
    }

    /// Rebuilds the plan from the proxy's current state.
    fn refresh(&mut self) {
        let snapshot = self.state.borrow_and_update().clone();
        let now = Instant::now();
        let mut plan = Plan {
            fatal: !snapshot.enabled || snapshot.closing,
            ..Plan::default()
        };
        let mine = snapshot
            .toxics
            .iter()
            .filter(|t| t.toxic.stream == self.stream);
        let mut states = Vec::new();
        for installed in mine {
            let state = match self.states.iter().position(|s| s.id == installed.id) {
                Some(i) => self.states.swap_remove(i),
                None => ToxicState {
                    id: installed.id,
                    kind: installed.toxic.kind,
                    active: self.rng.random::<f32>() < installed.toxic.toxicity,
                    since: now,
                    next_free: now,
                },
            };
            if state.active {
                match state.kind {
                    ToxicKind::Timeout { timeout } => {
                        plan.hold = true;
                        if timeout > 0 {
                            let at = state.since + Duration::from_millis(timeout);
                            plan.close_at = Some(plan.close_at.map_or(at, |c| c.min(at)));
                        }
                    }
                    ToxicKind::ResetPeer { timeout } => {
                        let after = Duration::from_millis(timeout);
                        plan.reset_after = Some(plan.reset_after.map_or(after, |r| r.min(after)));
                    }
                    _ => plan.shapers.push(states.len()),
                }
            }
            states.push(state);
        }
        self.states = states;
        if plan.reset_after.is_none() {
            self.reset_at = None;
        }
        self.plan = plan;
    }

    /// Runs the direction until it ends.
    async fn run<R, W>(&mut self, reader: &mut R, writer: &mut W) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        loop {
            if self.plan.fatal {
                return End::Close;
            }
            let end = if self.pass.unsent() || (self.plan.passthrough() && self.queue.is_empty()) {
                self.pass(reader, writer).await
            } else {
                self.shape(reader, writer).await
            };
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// Copies with no toxic in the way until the direction ends (`Some`) or the proxy's
    /// state changes (`None`: the caller refreshes the plan and picks a path again). Bytes
    /// already read when a toxic arrives still go out here first (`Pass::unsent`), as they
    /// were read before the toxic existed.
    ///
    /// One future for the whole copy, polled by hand: each wakeup reads and writes as long
    /// as the sockets let it, and the change notification is registered once per call
    /// instead of once per chunk, so forwarding a small reply costs its two socket calls and
    /// little else.
    async fn pass<R, W>(&mut self, reader: &mut R, writer: &mut W) -> Option<End>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        if self.eof && !self.pass.unsent() {
            let _ = writer.shutdown().await;
            return Some(End::Eof);
        }
        // Reading goes on only while no toxic applies; otherwise this only flushes.
        let read_more = self.plan.passthrough() && self.queue.is_empty();
        let step = {
            let Pump {
                stream,
                state,
                counters,
                pass,
                eof,
                frames,
                ..
            } = self;
            let buf = pass
                .buf
                .get_or_insert_with(|| vec![0; READ_SIZE].into_boxed_slice());
            let changed = state.changed();
            tokio::pin!(changed);
            std::future::poll_fn(|cx| {
                // A change first, so a disabled proxy stops even a busy connection at once.
                if let Poll::Ready(changed) = changed.as_mut().poll(cx) {
                    return Poll::Ready(if changed.is_ok() {
                        None
                    } else {
                        Some(End::Close)
                    });
                }
                loop {
                    if pass.off < pass.len {
                        match Pin::new(&mut *writer).poll_write(cx, &buf[pass.off..pass.len]) {
                            Poll::Ready(Ok(n)) if n > 0 => {
                                let written = &buf[pass.off..pass.off + n];
                                count(counters, *stream, frames, written);
                                pass.off += n;
                                continue;
                            }
                            Poll::Ready(_) => return Poll::Ready(Some(End::Close)),
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                    if !read_more || *eof {
                        return Poll::Ready(None);
                    }
                    let mut read = ReadBuf::new(&mut buf[..]);
                    match Pin::new(&mut *reader).poll_read(cx, &mut read) {
                        Poll::Ready(Ok(())) => {
                            let n = read.filled().len();
                            (pass.off, pass.len) = (0, n);
                            if n == 0 {
                                *eof = true;
                                return Poll::Ready(None);
                            }
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Some(read_error(&e))),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            })
            .await
        };
        if step.is_none() {
            // A change (or the end of a flush or of the input): follow the state as it is now.
            self.refresh();
        }
        step
    }

    /// One step with toxics in the way (or pieces still queued): read, write a due piece,
    /// or wait for a timer or a change; `Some` when the direction ended.
    async fn shape<R, W>(&mut self, reader: &mut R, writer: &mut W) -> Option<End>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let now = Instant::now();
        if self.reset_at.is_some_and(|at| at <= now) {
            return Some(End::Reset);
        }
        if self.plan.close_at.is_some_and(|at| at <= now) {
            return Some(End::Close);
        }
        let hold = self.plan.hold;
        if self.eof && self.queue.is_empty() && self.reset_at.is_none() {
            if hold {
                // A blackhole never closes: wait for the toxic to go.
            } else {
                let _ = writer.shutdown().await;
                return Some(End::Eof);
            }
        }
        let head_due = self.queue.front().map(|p| p.due);
        let can_write = !hold && head_due.is_some_and(|d| d <= now);
        // A cheap clone (a reference count) so the write borrows nothing of `self`.
        let head = if can_write {
            self.queue
                .front()
                .map(|p| p.data.clone())
                .unwrap_or_default()
        } else {
            Bytes::new()
        };
        let timer = [
            self.reset_at,
            self.plan.close_at,
            head_due.filter(|d| !hold && *d > now),
        ]
        .into_iter()
        .flatten()
        .min();
        let can_read = !self.eof
            && self.reset_at.is_none()
            && self.queued_bytes < MAX_QUEUED_BYTES
            && self.queue.len() < MAX_QUEUED_PIECES;
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        tokio::select! {
            biased;
            changed = self.state.changed() => {
                if changed.is_err() {
                    return Some(End::Close);
                }
                self.refresh();
            }
            () = async {
                match timer {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            }, if timer.is_some() => {}
            written = writer.write(&head), if can_write => match written {
                Ok(n) if n > 0 => {
                    let head = self.queue.front_mut().expect("a due piece");
                    count(&self.counters, self.stream, &mut self.frames, &head.data[..n]);
                    head.data.advance(n);
                    self.queued_bytes -= n;
                    if head.data.is_empty() {
                        self.queue.pop_front();
                    }
                }
                _ => return Some(End::Close),
            },
            read = reader.read_buf(&mut self.buf), if can_read => match read {
                Ok(0) => self.eof = true,
                Ok(_) => {
                    let chunk = self.buf.split().freeze();
                    self.arrived(chunk, Instant::now());
                }
                Err(e) => return Some(read_error(&e)),
            },
        }
        None
    }

    /// Queues a chunk read at `now` as pieces shaped by the active toxics.
    fn arrived(&mut self, chunk: Bytes, now: Instant) {
        if let Some(after) = self.plan.reset_after {
            // As Toxiproxy's reset_peer: the data is not forwarded, the connection is reset.
            self.reset_at.get_or_insert(now + after);
            return;
        }
        let mut pieces = vec![Piece {
            due: now,
            data: chunk,
        }];
        for &i in &self.plan.shapers {
            let state = &mut self.states[i];
            pieces = match state.kind {
                ToxicKind::Latency { latency, jitter } => {
                    let spread = if jitter == 0 {
                        0
                    } else {
                        self.rng.random_range(-(jitter as i64)..=jitter as i64)
                    };
                    let delay = Duration::from_millis((latency as i64 + spread).max(0) as u64);
                    for p in &mut pieces {
                        p.due += delay;
                    }
                    pieces
                }
                ToxicKind::Bandwidth { rate } => {
                    // Pieces of at most 100 ms of transfer, each due when the link has
                    // carried the ones before it.
                    let max = (rate * 100).max(1) as usize;
                    let mut out = Vec::new();
                    for p in pieces {
                        for data in split_every(p.data, max) {
                            let start = state.next_free.max(p.due);
                            let micros = data.len() as u64 * 1000 / rate;
                            state.next_free = start + Duration::from_micros(micros);
                            out.push(Piece {
                                due: state.next_free,
                                data,
                            });
                        }
                    }
                    out
                }
                ToxicKind::Slicer {
                    average_size,
                    size_variation,
                    delay,
                } => {
                    let mut out = Vec::new();
                    let mut at = now;
                    for p in pieces {
                        let mut data = p.data;
                        while !data.is_empty() {
                            let spread = if size_variation == 0 {
                                0
                            } else {
                                self.rng
                                    .random_range(-(size_variation as i64)..=size_variation as i64)
                            };
                            let size =
                                ((average_size as i64 + spread).max(1) as usize).min(data.len());
                            at = at.max(p.due) + Duration::from_micros(delay);
                            out.push(Piece {
                                due: at,
                                data: data.split_to(size),
                            });
                        }
                    }
                    out
                }
                // Timeout and reset_peer are in the plan itself, never shapers.
                ToxicKind::Timeout { .. } | ToxicKind::ResetPeer { .. } => pieces,
            };
        }
        for p in pieces {
            self.queued_bytes += p.data.len();
            self.queue.push_back(p);
        }
    }
}

/// Cuts `data` into pieces of at most `max` bytes.
fn split_every(mut data: Bytes, max: usize) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(data.len() / max + 1);
    while data.len() > max {
        out.push(data.split_to(max));
    }
    out.push(data);
    out
}

/// Counts bytes (and, upstream, commands) once they have been written.
fn count(counters: &Counters, stream: Stream, frames: &mut Option<FrameCounter>, written: &[u8]) {
    match stream {
        Stream::Upstream => {
            counters
                .bytes_up
                .fetch_add(written.len() as u64, Ordering::Relaxed);
            if let Some(frames) = frames {
                let n = frames.feed(written);
                if n > 0 {
                    counters.commands_up.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
        Stream::Downstream => {
            counters
                .bytes_down
                .fetch_add(written.len() as u64, Ordering::Relaxed);
        }
    }
}

/// A peer's reset travels on to the other side as a reset; other errors close.
fn read_error(e: &io::Error) -> End {
    if e.kind() == io::ErrorKind::ConnectionReset {
        End::Reset
    } else {
        End::Close
    }
}
