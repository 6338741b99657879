//! One connection: its read buffer, the requests parsed from it, the answers it owes in request
//! order, and its timeouts.
//!
//! The loop is: parse every complete request in the buffer (pipelining) and dispatch each to
//! the router and then to Rust or JS; write the answers in order, each as soon as all before it
//! are ready, gathered into as few writes as possible; then read more. A read always appends
//! to what is buffered, so a request split over many reads is reassembled, never overwritten.
//! Between requests the connection holds no buffers: it waits for readiness, then borrows them
//! (`buffers.rs`), so an idle keep-alive connection costs its task and little else.
//!
//! What one client can make the server hold is bounded in bytes: unwritten answers by
//! `MAX_OWED` (parsing stops until they are written, as node and fastify stop reading), request
//! bodies by the server-wide budget (`budget.rs`), decoded chunked framing by dropping it as it
//! is decoded.
//!
//! A client that shuts down its sending side (a FIN after its last request) is still answered:
//! every complete request read before the FIN gets its answer, then the connection closes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::time::Instant;

use std::cell::RefCell;
use std::sync::Arc;

use crate::bridge::{Bridge, Event, Mailbox, Slot, TICK};
use crate::budget::{Budget, Reservation};
use crate::buffers::{self, BufferPool};
use crate::cache::{Cache, Miss, Waiter};
use crate::config::Timeouts;
use crate::direct::{Outcome, RawFd};
use crate::envelope::RequestParts;
use crate::h1::{self, ChunkedDecoder, Framing, Limits, Progress};
use crate::lifecycle::{Lifecycle, Watch};
use crate::outbox::{Outbox, Part};
use crate::response::{self, ConnHeader};
use crate::router::{Router, Target, NO_ROUTE};
use crate::stats::{bump, Stats};
use crate::stored::Stored;

/// Header slots parsed on the stack; a larger `maxHeaders` uses the heap.
const INLINE_HEADERS: usize = 128;
/// The smallest free space a read is given.
const READ_CHUNK: usize = buffers::CHUNK;
/// The largest single read while a body of known length is arriving.
const MAX_READ: usize = 1 << 20;
/// The most one read takes of a chunked body. Its size is unknown in advance, so this much is
/// reserved against the body budget before each read.
const CHUNKED_READ: usize = 64 * 1024;
/// While a connection waits on JS it keeps reading, to notice a client that left (`req.signal`)
/// and to take in pipelined requests, until this much is buffered: beyond it the client waits.
const WATCH_LIMIT: usize = 64 * 1024;
/// Unwritten answers a connection may owe before it stops parsing the requests pipelined
/// behind them: past a write's worth, parsing ahead only holds memory. One answer may be larger
/// (it is written before the next request is parsed); a stored body counts by its length even
/// though it is shared, so one connection never pins more than about this plus one body.
const MAX_OWED: usize = 64 * 1024;
/// Empty lines ignored before a request line (RFC 9112 §2.2 says a server SHOULD ignore at
/// least one; llhttp ignores any number). Bounded, so a client cannot keep a connection open
/// sending nothing else, each line renewing `keepAliveTimeout`.
const MAX_EMPTY_LINES: usize = 8;
/// After an error answer that closes the connection, how long and how much of the client's
/// unread request we read and discard (RFC 9112 §9.6): closing with unread input makes the
/// kernel send a reset, and a reset can destroy the answer before the client reads it.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;
/// How often a half-closed connection waiting on JS checks whether its client reset it (the
/// only sign a client that sent its FIN has really gone, short of a failed write).
const HANGUP_POLL: Duration = TICK;

/// What every connection of one server shares.
pub struct ConnCtx {
    pub router: Router,
    /// `app.static` responses, indexed by `Target::Static`.
    pub statics: Vec<Stored>,
    pub cache: RefCell<Cache>,
    pub mailbox: Arc<Mailbox>,
    pub stats: Arc<Stats>,
    pub bridge: Rc<Bridge>,
    pub life: Rc<Lifecycle>,
    pub limits: Limits,
    pub timeouts: Timeouts,
    pub dispatch_unmatched: bool,
    pub max_pipelined: usize,
    /// Request bodies being read or waiting on JS (`maxInFlightBytes`).
    pub budget: Rc<Budget>,
    /// See `Config::test_panic_path`.
    pub test_panic_path: Option<String>,
    /// Read and output buffers, lent to connections while they have work.
    pub buffers: BufferPool,
}

enum Queued {
    /// Serialized by Rust (errors, 404, cache, static): ready to write.
    Ready(Outbox),
    /// Waiting on a JS handler.
    Js(Rc<Slot>),
}

/// The answers a connection owes, in request order: `out` can be written now; `queue` starts
/// with the first answer still waiting on JS and holds everything behind it.
#[derive(Default)]
struct Owed {
    out: Outbox,
    queue: VecDeque<Queued>,
    /// Bytes of the `Ready` answers in `queue`.
    queued: usize,
}

impl Owed {
    /// Appends a Rust-made answer: straight to `out` when nothing is owed before it (no
    /// allocation), else behind the JS answers it must follow.
    fn native<R>(&mut self, write: impl FnOnce(&mut Outbox) -> R) -> R {
        if self.queue.is_empty() {
            write(&mut self.out)
        } else {
            let mut answer = Outbox::default();
            let r = write(&mut answer);
            self.queued += answer.len();
            self.queue.push_back(Queued::Ready(answer));
            r
        }
    }

    /// Bytes owed that are already serialized.
    fn len(&self) -> usize {
        self.out.len() + self.queued
    }
}

/// Progress on the request at the front of the buffer.
#[derive(Default)]
struct Incoming {
    /// When the server began waiting for the rest of its head, for `headersTimeout`.
    started: Option<Instant>,
    /// Empty lines skipped before its request line.
    empty_lines: usize,
    /// Where its head ends, once known.
    head_len: Option<usize>,
    /// When the wait for its body began, for `requestTimeout`.
    head_done: Option<Instant>,
    /// How far the search for the end of the head got.
    scanned: usize,
    chunked: Option<ChunkedDecoder>,
    /// Body bytes still missing, when the length is known: sizes the next read.
    body_missing: usize,
    /// Bytes its body must have reserved against the budget before the next read.
    body_wants: usize,
    /// What its body holds against the budget; moves with it to JS.
    body: Option<Reservation>,
    expect_continue: bool,
    continue_sent: bool,
}

enum Step {
    Done(usize),
    NeedMore,
    Fail(u16),
}

enum ReadOutcome {
    Data,
    Closed,
    /// `head`: the partial request is a HEAD request (its 408 has no body). Decided before the
    /// read, which takes the buffer with it when it is cancelled.
    TimedOut {
        partial: bool,
        head: bool,
    },
}

struct Conn {
    ctx: Rc<ConnCtx>,
    key: u64,
    /// Read deadlines and write stalls, kept by the server tick.
    watch: Rc<Watch>,
    buf: Vec<u8>,
    owed: Owed,
    incoming: Incoming,
    ip: String,
    close: bool,
    /// We answered an error and close while the client may still be sending.
    linger: bool,
    /// The client shut down its sending side: answer what it sent, then close.
    eof: bool,
    /// The buffer holds bytes not yet parsed (read while waiting on JS, or left by the
    /// pipelining bounds): parse before reading again.
    unparsed: bool,
    /// The socket, for JS to write a lone answer to (direct.rs).
    fd: RawFd,
    /// The request last offered to JS: taken back when the connection ends, before the socket
    /// closes, wherever its slot then is.
    lone: Option<Rc<Slot>>,
}

enum Waited {
    Answer((Outbox, bool)),
    ClientGone,
}

/// `conn` is declared after `stream`, so it is dropped first, however the task ends: its `Drop`
/// takes back what JS was offered before the socket closes.
pub async fn serve(mut stream: TcpStream, peer: SocketAddr, ctx: Rc<ConnCtx>) {
    let mut conn = Conn::new(ctx, peer, raw_fd(&stream));
    conn.run(&mut stream).await;
    if conn.linger {
        linger(&mut stream, &conn.ctx, conn.key, &conn.watch).await;
    }
}

/// Runs when the connection ends however it ends, a contained panic included: requests still
/// owed an answer are abandoned (JS is told, so `req.signal` aborts; a response-cache flight one
/// of them led passes to a waiter) and the connection is no longer counted.
impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(slot) = self.lone.take() {
            self.ctx.bridge.take_back(&slot);
        }
        for item in std::mem::take(&mut self.owed.queue) {
            if let Queued::Js(slot) = item {
                self.ctx.bridge.abandon(&slot, Event::ClientGone);
                let next = match self.ctx.cache.try_borrow_mut() {
                    Ok(mut cache) => cache.leader_gone(slot.id(), Instant::now()),
                    Err(_) => None,
                };
                if let Some(next) = next {
                    self.ctx.bridge.release(&next.slot, &next.envelope);
                }
            }
        }
        self.ctx.budget.stop_waiting(self.key);
        self.ctx.buffers.give(std::mem::take(&mut self.buf));
        self.ctx.buffers.give(self.owed.out.take_bytes());
        self.ctx
            .stats
            .connections_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.ctx.life.release(self.key);
    }
}

impl Conn {
    fn new(ctx: Rc<ConnCtx>, peer: SocketAddr, fd: RawFd) -> Conn {
        let (key, watch) = ctx.life.register();
        bump(&ctx.stats.connections_total);
        bump(&ctx.stats.connections_open);
        Conn {
            ctx,
            key,
            watch,
            buf: Vec::new(),
            owed: Owed::default(),
            incoming: Incoming::default(),
            ip: peer.ip().to_canonical().to_string(),
            close: false,
            linger: false,
            eof: false,
            unparsed: false,
            fd,
            lone: None,
        }
    }

    async fn run(&mut self, stream: &mut TcpStream) {
        let ctx = self.ctx.clone();
        let (ctx, key) = (&*ctx, self.key);
        loop {
            self.process(ctx);
            if self.flush(stream, ctx, key).await.is_err() || self.close {
                return;
            }
            if self.unparsed {
                continue;
            }
            if self.eof {
                // Everything the client sent before its FIN is answered.
                return;
            }
            if self.incoming.body_wants > 0 && !self.reserve_body(ctx, key).await {
                return;
            }
            if self.incoming.expect_continue && !self.incoming.continue_sent {
                // The client waits for this before sending the body (RFC 9110 §10.1.1).
                self.incoming.continue_sent = true;
                self.owed
                    .out
                    .bytes()
                    .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                if self.write_out(stream).await.is_err() {
                    return;
                }
            }
            match self.read_more(stream, ctx, key).await {
                ReadOutcome::Data => {}
                ReadOutcome::Closed => return,
                ReadOutcome::TimedOut { partial, head } => {
                    if partial {
                        ctx.stats.native(408);
                        response::simple(self.owed.out.bytes(), 408, ConnHeader::Close, head);
                        self.linger = self.write_out(stream).await.is_ok();
                    }
                    return;
                }
            }
        }
    }

    /// Parses and dispatches every complete request in the buffer, up to `maxPipelined` owed
    /// answers and `MAX_OWED` bytes of them: beyond that the client waits, its requests still in
    /// our buffer or its socket.
    fn process(&mut self, ctx: &ConnCtx) {
        let mut pos = 0;
        self.unparsed = false;
        if self.owed.out.capacity() == 0 && !self.buf.is_empty() {
            self.owed.out.set_bytes(ctx.buffers.take());
        }
        while !self.close && pos < self.buf.len() {
            if self.owed.queue.len() >= ctx.max_pipelined || self.owed.len() >= MAX_OWED {
                self.unparsed = true;
                break;
            }
            if self.incoming.head_len.is_none() {
                let (lines, partial) = leading_empty_lines(&self.buf[pos..]);
                pos += 2 * lines;
                self.incoming.empty_lines += lines;
                if self.incoming.empty_lines > MAX_EMPTY_LINES {
                    self.fail(ctx, 400, false);
                    break;
                }
                if partial || pos == self.buf.len() {
                    break;
                }
            }
            let step = next_request(
                ctx,
                &self.buf[pos..],
                &mut self.incoming,
                &self.ip,
                &mut self.owed,
                &mut self.close,
            );
            match step {
                Step::Done(consumed) => {
                    pos += consumed;
                    self.incoming = Incoming::default();
                }
                Step::NeedMore => break,
                Step::Fail(status) => {
                    let head = is_head(&self.buf[pos..]);
                    self.fail(ctx, status, head);
                }
            }
        }
        // A chunked body's framing and data are decoded as they come: drop them from the buffer,
        // which then holds only what was not decoded yet.
        if let (Some(head_len), Some(decoder)) =
            (self.incoming.head_len, self.incoming.chunked.as_mut())
        {
            let start = pos + head_len;
            self.buf.drain(start..start + decoder.used());
            decoder.forget_used();
        }
        self.buf.drain(..pos);
        // A large body has moved to JS: its room in the read buffer must not stay with a
        // connection that now only waits for the answer.
        if self.buf.capacity() > buffers::KEEP_CAPACITY && self.buf.len() < READ_CHUNK {
            self.buf.shrink_to(READ_CHUNK);
        }
        self.offer_lone(ctx);
    }

    /// Answers a request that cannot be read (bad framing, limits) and closes: after a framing
    /// error nothing more can be read reliably.
    fn fail(&mut self, ctx: &ConnCtx, status: u16, head: bool) {
        ctx.stats.native(status);
        self.owed
            .native(|out| response::simple(out.bytes(), status, ConnHeader::Close, head));
        self.close = true;
        self.linger = true;
    }

    /// A request that is the only answer this connection owes, with nothing unread behind it,
    /// may be answered by the JS thread itself (`Bridge::offer` adds: if nothing else is in
    /// flight). Anything the client sends next makes `wait_for` take the offer back first.
    fn offer_lone(&mut self, ctx: &ConnCtx) {
        if self.close || self.unparsed || !self.buf.is_empty() || !self.owed.out.is_empty() {
            return;
        }
        if let [Queued::Js(slot)] = self.owed.queue.as_slices().0 {
            ctx.bridge.offer(slot, self.fd);
            if slot.is_offered() {
                self.lone = Some(slot.clone());
            }
        }
    }

    /// Waits until the body of the request being read may hold `body_wants` bytes against the
    /// budget. False when the server shuts down meanwhile.
    async fn reserve_body(&mut self, ctx: &ConnCtx, key: u64) -> bool {
        let wants = std::mem::take(&mut self.incoming.body_wants);
        let reservation = self.incoming.body.get_or_insert_with(|| ctx.budget.empty());
        if ctx.budget.grow(reservation, wants) {
            return true;
        }
        let _waiting = ctx.budget.wait();
        loop {
            monoio::select! {
                _ = ctx.budget.given_back(key) => {},
                _ = ctx.life.until_shutdown(key) => {
                    ctx.budget.stop_waiting(key);
                    return false;
                }
            }
            if ctx.budget.grow(reservation, wants) {
                // The wait was the server's doing: the client's time for its body starts now.
                self.incoming.head_done = None;
                return true;
            }
        }
    }

    /// Writes owed answers in request order, each as soon as everything before it is ready.
    /// Gives up when the server aborts (its grace period ran out).
    async fn flush(
        &mut self,
        stream: &mut TcpStream,
        ctx: &ConnCtx,
        key: u64,
    ) -> std::io::Result<()> {
        monoio::select! {
            done = self.flush_queue(stream) => done,
            _ = ctx.life.until_abort(key) => Err(std::io::ErrorKind::ConnectionAborted.into()),
        }
    }

    async fn flush_queue(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        while let Some(item) = self.owed.queue.pop_front() {
            match item {
                Queued::Ready(answer) => {
                    self.owed.queued -= answer.len();
                    self.owed.out.append(answer);
                }
                Queued::Js(slot) => {
                    if !slot.is_ready() && !self.owed.out.is_empty() {
                        self.write_out(stream).await?;
                    }
                    let (answer, close) = match self.wait_for(&slot, stream).await {
                        Waited::Answer(answer) => answer,
                        Waited::ClientGone => {
                            self.owed.queue.push_front(Queued::Js(slot));
                            return Err(std::io::ErrorKind::ConnectionReset.into());
                        }
                    };
                    // Whatever was offered of it is settled by now.
                    self.lone = None;
                    self.owed.out.append(answer);
                    if close {
                        // Answers after this one are never sent; `serve` forgets their slots.
                        self.close = true;
                        break;
                    }
                }
            }
        }
        if !self.owed.out.is_empty() {
            self.write_out(stream).await?;
        }
        Ok(())
    }

    /// Waits for JS to answer `slot` (a handler timeout answers it too: `Bridge::tick`). Once
    /// the wait is long, it also watches for the client leaving, taking in what the client sends
    /// meanwhile. An offered slot is watched from the start: the client's next request is
    /// usually how this connection learns that JS wrote the answer itself.
    async fn wait_for(&mut self, slot: &Slot, stream: &mut TcpStream) -> Waited {
        loop {
            if self.eof {
                return self.wait_half_closed(slot).await;
            }
            let watch = slot.is_offered() || slot.is_long();
            if !watch || self.buf.len() >= WATCH_LIMIT {
                match slot.answer_or_nudge().await {
                    Some(answer) => return Waited::Answer(answer),
                    None => continue,
                }
            }
            let readable = monoio::select! {
                answer = slot.response() => return Waited::Answer(answer),
                ready = stream.readable(false) => ready.is_ok(),
            };
            // Reading what the client sent next may lead to writing or closing: JS must be done
            // with the socket first.
            let written = self.ctx.bridge.take_back(slot) == Some(Outcome::Written);
            if !readable {
                return Waited::ClientGone;
            }
            // Bytes or EOF are waiting, so this read completes at once. It is never raced
            // against anything: a cancelled read could lose bytes the kernel already gave it.
            if self.buf.is_empty() {
                self.incoming.started = Some(Instant::now());
            }
            self.buf.reserve(READ_CHUNK);
            let buf = std::mem::take(&mut self.buf);
            let len = buf.len();
            let (res, slice) = stream.read(buf.slice_mut(len..)).await;
            self.buf = slice.into_inner();
            match res {
                Ok(0) => self.eof = true,
                Ok(_) => self.unparsed = true,
                Err(_) => return Waited::ClientGone,
            }
            if written {
                return Waited::Answer((Outbox::default(), false));
            }
        }
    }

    /// The wait of a connection whose client sent its FIN: the socket now stays readable for
    /// good, so readiness says nothing about the client. It has really gone when the connection
    /// is reset (checked every `HANGUP_POLL`), or, later, when the answer cannot be written.
    async fn wait_half_closed(&mut self, slot: &Slot) -> Waited {
        loop {
            monoio::select! {
                answer = slot.response() => return Waited::Answer(answer),
                _ = monoio::time::sleep(HANGUP_POLL) => {},
            }
            if peer_reset(self.fd) {
                if self.ctx.bridge.take_back(slot) == Some(Outcome::Written) {
                    return Waited::Answer((Outbox::default(), false));
                }
                return Waited::ClientGone;
            }
        }
    }

    /// Writes what is owed. A client that takes none of it for `requestTimeout` (it stopped
    /// reading) is dropped: a write that cannot progress must not hold the connection forever
    /// (the server tick finds it, see `Lifecycle::check_deadlines`). On that error the output
    /// buffer is gone with the cancelled write, which is fine: the connection closes.
    async fn write_out(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        let watch = self.watch.clone();
        // No read deadline while writing, and a read timeout that led here (408) is spent.
        watch.read_until(None);
        let parts = (!self.owed.out.is_contiguous()).then(|| self.owed.out.parts());
        let mut out = self.owed.out.take_bytes();
        match parts {
            None => out = write_all(stream, out, &watch).await?,
            Some(parts) => {
                for part in parts {
                    match part {
                        Part::Own(from, to) => {
                            out = write_all(stream, out.slice(from..to), &watch)
                                .await?
                                .into_inner();
                        }
                        Part::Shared(body) => {
                            write_all(stream, body, &watch).await?;
                        }
                    }
                }
            }
        }
        out.clear();
        // A busy connection keeps its output buffer between writes, but not a huge one.
        if out.capacity() > buffers::KEEP_CAPACITY {
            out = Vec::new();
        }
        self.owed.out.set_bytes(out);
        Ok(())
    }

    async fn read_more(&mut self, stream: &mut TcpStream, ctx: &ConnCtx, key: u64) -> ReadOutcome {
        let now = Instant::now();
        let partial = !self.buf.is_empty();
        let head = partial && is_head(&self.buf);
        let t = &ctx.timeouts;
        // Idle between requests: keepAliveTimeout. Mid-head: headersTimeout from the first
        // byte (the slowloris defence). Mid-body: requestTimeout from the end of the head.
        let deadline = if !partial {
            t.keep_alive.map(|d| now + d)
        } else if self.incoming.head_len.is_some() {
            // Taken here, not when the head was parsed: a clock read per request is measurable,
            // and the body's wait starts now anyway.
            let done = *self.incoming.head_done.get_or_insert(now);
            t.request.map(|d| done + d)
        } else {
            let started = *self.incoming.started.get_or_insert(now);
            t.headers.map(|d| started + d)
        };
        if !partial {
            // Between requests the connection waits for readiness holding no buffers; they are
            // borrowed once bytes are there (the read below then completes at once).
            ctx.buffers.give(std::mem::take(&mut self.buf));
            ctx.buffers.give(self.owed.out.take_bytes());
            self.watch.read_until(deadline);
            // Not relaxed: on epoll, readiness monoio remembers from the last read is usually
            // stale, and the read would then wait holding the buffer (io_uring always polls).
            let ready = monoio::select! {
                ready = stream.readable(false) => ready.is_ok(),
                _ = self.watch.fired() => return ReadOutcome::TimedOut { partial, head },
                _ = ctx.life.until_shutdown(key) => return ReadOutcome::Closed,
            };
            if !ready {
                return ReadOutcome::Closed;
            }
            self.buf = ctx.buffers.take();
        }
        self.buf
            .reserve(self.incoming.body_missing.clamp(READ_CHUNK, MAX_READ));
        let buf = std::mem::take(&mut self.buf);
        let len = buf.len();
        // A chunked body reads no more than it reserved (`CHUNKED_READ`).
        let end = match self.incoming.chunked {
            Some(_) => buf.capacity().min(len + CHUNKED_READ),
            None => buf.capacity(),
        };
        self.watch.read_until(deadline);
        // Read into the free space after what is buffered: never over it.
        let read = stream.read(buf.slice_mut(len..end));
        let outcome = monoio::select! {
            (res, slice) = read => {
                self.buf = slice.into_inner();
                match res {
                    // A FIN here leaves at most an incomplete request, which can never be
                    // answered: everything complete was answered before this read.
                    Ok(0) | Err(_) => ReadOutcome::Closed,
                    // `started` (for headersTimeout) is taken by the next read if the head is
                    // still partial: no clock read for the common complete request.
                    Ok(_) => ReadOutcome::Data,
                }
            }
            _ = self.watch.fired() => ReadOutcome::TimedOut { partial, head },
            _ = ctx.life.until_shutdown(key) => ReadOutcome::Closed,
        };
        self.watch.read_until(None);
        outcome
    }
}

/// Writes all of `buf`, giving it back; fails when the socket does, or when the client takes
/// nothing for `requestTimeout` (`watch` fires).
async fn write_all<T: IoBuf>(
    stream: &mut TcpStream,
    mut buf: T,
    watch: &Watch,
) -> std::io::Result<T> {
    let len = buf.bytes_init();
    let mut written = 0;
    while written < len {
        watch.progress(Some(Instant::now()));
        let (res, slice) = monoio::select! {
            done = stream.write(buf.slice(written..)) => done,
            _ = watch.fired() => return Err(std::io::ErrorKind::TimedOut.into()),
        };
        watch.progress(None);
        buf = slice.into_inner();
        match res {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) => return Err(e),
        }
    }
    Ok(buf)
}

#[cfg(unix)]
fn raw_fd(stream: &TcpStream) -> RawFd {
    use std::os::fd::AsRawFd;
    stream.as_raw_fd()
}

#[cfg(not(unix))]
fn raw_fd(_stream: &TcpStream) -> RawFd {
    -1
}

/// Whether the peer reset the connection (or it failed otherwise): a zero-timeout poll, where
/// POLLERR and POLLHUP are reported whatever was asked for.
#[cfg(unix)]
fn peer_reset(fd: RawFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    match poll(&mut fds, 0) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        Err(_) => false,
    }
}

#[cfg(not(unix))]
fn peer_reset(_fd: RawFd) -> bool {
    false
}

/// How many empty lines (CRLF) `buf` starts with, and whether it ends inside one more.
fn leading_empty_lines(buf: &[u8]) -> (usize, bool) {
    let mut lines = 0;
    while buf[2 * lines..].starts_with(b"\r\n") {
        lines += 1;
    }
    (lines, buf[2 * lines..] == *b"\r")
}

/// Whether the request at the front of `buf` is a HEAD request, whose answers never carry a
/// body, errors included (read from the raw bytes: the head may not have parsed).
fn is_head(buf: &[u8]) -> bool {
    let mut start = 0;
    while buf[start..].starts_with(b"\r\n") {
        start += 2;
    }
    buf[start..].starts_with(b"HEAD ")
}

/// Half-closes, then reads and discards until the client closes too, or the bounds run out.
async fn linger(stream: &mut TcpStream, ctx: &ConnCtx, key: u64, watch: &Watch) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let discard = async {
        let mut buf = Vec::with_capacity(READ_CHUNK);
        let mut total = 0;
        while total < LINGER_BYTES {
            let (res, b) = stream.read(buf).await;
            buf = b;
            match res {
                Ok(n) if n > 0 => total += n,
                _ => return,
            }
        }
    };
    watch.read_until(Some(Instant::now() + LINGER_TIME));
    monoio::select! {
        _ = discard => {},
        _ = watch.fired() => {},
        _ = ctx.life.until_abort(key) => {},
    }
}

fn header<'b>(headers: &[httparse::Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// Frames, routes and dispatches the request at the front of `buf`.
fn next_request(
    ctx: &ConnCtx,
    buf: &[u8],
    incoming: &mut Incoming,
    ip: &str,
    owed: &mut Owed,
    close: &mut bool,
) -> Step {
    let limits = &ctx.limits;
    let head_len = match incoming.head_len {
        Some(n) => n,
        None => match h1::head_end(buf, incoming.scanned) {
            Some(n) if n > limits.max_header_size => {
                return Step::Fail(h1::oversize_status(buf, limits))
            }
            Some(n) => {
                incoming.head_len = Some(n);
                n
            }
            None if buf.len() > limits.max_header_size => {
                return Step::Fail(h1::oversize_status(buf, limits))
            }
            None => {
                incoming.scanned = buf.len().saturating_sub(3);
                return Step::NeedMore;
            }
        },
    };

    // Not initialized: httparse fills what it parses (h1::parse_head).
    let mut inline = [std::mem::MaybeUninit::uninit(); INLINE_HEADERS];
    let mut heap;
    let slots: &mut [std::mem::MaybeUninit<httparse::Header<'_>>] =
        if limits.max_headers <= INLINE_HEADERS {
            &mut inline[..limits.max_headers]
        } else {
            heap = vec![std::mem::MaybeUninit::uninit(); limits.max_headers];
            &mut heap
        };
    let head = match h1::parse_head(&buf[..head_len], slots, limits) {
        Ok(head) => head,
        Err(status) => return Step::Fail(status),
    };

    if ctx.test_panic_path.as_deref() == Some(head.path) {
        panic!("test panic requested for {}", head.path);
    }

    // A route may have its own body limit, known before a byte of the body is read.
    let body_limit = match head.framing {
        Framing::None => limits.body_limit,
        _ => ctx
            .router
            .lookup(head.method_code, head.path)
            .and_then(|found| ctx.router.body_limit(&found.target))
            .unwrap_or(limits.body_limit),
    };
    let arrived = &buf[head_len..];
    let decoded;
    let (body, consumed) = match head.framing {
        Framing::None => (&[][..], head_len),
        Framing::Length(n) if n > body_limit => return Step::Fail(413),
        Framing::Length(n) if arrived.len() >= n => (&arrived[..n], head_len + n),
        Framing::Length(n) => {
            incoming.body_missing = n - arrived.len();
            incoming.body_wants = n;
            incoming.expect_continue = head.expect_continue;
            return Step::NeedMore;
        }
        Framing::Chunked => {
            let decoder = incoming.chunked.get_or_insert_with(ChunkedDecoder::new);
            match decoder.feed(arrived, body_limit, limits.max_header_size) {
                Ok(Progress::Done { consumed }) => {
                    decoded = decoder.take_body();
                    (&decoded[..], head_len + consumed)
                }
                Ok(Progress::NeedMore) => {
                    incoming.body_wants = decoder.body_len() + CHUNKED_READ;
                    incoming.expect_continue = head.expect_continue;
                    return Step::NeedMore;
                }
                Err(status) => return Step::Fail(status),
            }
        }
    };
    // What the body holds against the budget from now on is its own length: bytes read under a
    // reservation, or, for a body that came with its head, bytes already in memory.
    let reservation = match incoming.body.take() {
        Some(held) => Some(held.into_js(body.len())),
        None if !body.is_empty() => Some(ctx.budget.force(body.len()).into_js(body.len())),
        None => None,
    };

    if !head.keep_alive || ctx.life.shutting_down() {
        *close = true;
    }
    let conn = if *close {
        ConnHeader::Close
    } else if head.http10 {
        ConnHeader::KeepAlive
    } else {
        ConnHeader::None
    };
    let is_head = head.method_code == 2;
    let is_get = head.method_code == 1 || is_head;
    let stats = &ctx.stats;
    if is_get {
        let mut cache = ctx.cache.borrow_mut();
        let posts = ctx.mailbox.take_if_cache_ops();
        if !posts.is_empty() {
            ctx.bridge.settle(posts, &mut cache);
        }
        // The hot path: a fresh entry for the exact target is written with no allocation (once
        // the output has grown) and no JS.
        if !cache.is_empty() {
            if let Some((stored, age)) = cache.get(head.target, Instant::now()) {
                let inm = header(head.headers, "if-none-match");
                let status = owed.native(|out| stored.write(out, is_head, conn, Some(age), inm));
                bump(&stats.cache_hits);
                if status == 304 {
                    bump(&stats.cache_not_modified);
                }
                stats.native(status);
                return Step::Done(consumed);
            }
        }
    }
    let parts = RequestParts {
        method: head.method,
        method_code: head.method_code,
        http10: head.http10,
        path: head.path,
        query: head.query,
        ip,
        headers: head.headers,
        body,
    };
    let found = ctx.router.lookup(head.method_code, head.path);
    let dispatched = match found {
        Some(found) => {
            let params = found.params.iter().flat_map(|p| p.iter().map(|(_, v)| v));
            match found.target {
                Target::Static(i) => {
                    let inm = header(head.headers, "if-none-match");
                    let status =
                        owed.native(|out| ctx.statics[i].write(out, is_head, conn, None, inm));
                    stats.native(status);
                    return Step::Done(consumed);
                }
                Target::Js(id) if is_get && ctx.cache.borrow().is_cacheable(id) => {
                    single_flight(ctx, id, head.target, &parts, params, conn)
                }
                Target::Js(id) => ctx
                    .bridge
                    .dispatch(id, &parts, params, conn, true, reservation),
            }
        }
        None if ctx.dispatch_unmatched => ctx.bridge.dispatch(
            NO_ROUTE,
            &parts,
            std::iter::empty(),
            conn,
            true,
            reservation,
        ),
        None => Err(404),
    };
    match dispatched {
        Ok(slot) => {
            // Whether it reached JS or was answered natively is counted where that happens.
            bump(&stats.requests_total);
            owed.queue.push_back(Queued::Js(slot));
        }
        Err(status) => {
            stats.native(status);
            // 503 here is load shedding (maxInFlight): say when to come back.
            let extra: &[u8] = if status == 503 {
                b"retry-after: 1\r\n"
            } else {
                b""
            };
            owed.native(|out| response::simple_with(out.bytes(), status, conn, is_head, extra));
        }
    }
    Step::Done(consumed)
}

/// A miss on a route that caches: the first request for a key goes to JS, the others wait for
/// its answer (bridge.rs settles them) instead of running the handler again. GET and HEAD only,
/// so there is no body to hold against the budget.
fn single_flight<'p>(
    ctx: &ConnCtx,
    route_id: u32,
    key: &str,
    parts: &RequestParts<'_, '_>,
    params: impl Iterator<Item = &'p str>,
    conn: ConnHeader,
) -> Result<Rc<Slot>, u16> {
    let now = Instant::now();
    let mut cache = ctx.cache.borrow_mut();
    match cache.miss(key, now) {
        Miss::Lead => {
            let slot = ctx
                .bridge
                .dispatch(route_id, parts, params, conn, false, None)?;
            cache.lead(key, slot.id(), now);
            Ok(slot)
        }
        Miss::Follow => {
            let (slot, envelope) = ctx.bridge.hold(route_id, parts, params, conn)?;
            cache.follow(
                key,
                Waiter {
                    slot: slot.clone(),
                    envelope,
                },
            );
            Ok(slot)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Options};
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts this thread's heap allocations, to prove the cached path makes none.
    struct Counting;

    thread_local! {
        static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    }

    // SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
    // GlobalAlloc contract; the only addition is a thread-local counter that never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.with(|c| c.set(c.get() + 1));
            // SAFETY: same layout contract as our caller's.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from `System.alloc` above with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCATIONS.with(|c| c.set(c.get() + 1));
            // SAFETY: `ptr` came from this allocator with `layout`, as the caller guarantees.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    fn allocations() -> u64 {
        ALLOCATIONS.with(Cell::get)
    }

    fn ctx() -> ConnCtx {
        ctx_with(Default::default())
    }

    fn ctx_with(offers: Arc<crate::direct::Offers>) -> ConnCtx {
        let config = Config::from_options(Options::default(), None).unwrap();
        let stats = Arc::new(Stats::default());
        ConnCtx {
            router: Router::new([(1, "GET", "/hot")], ["/static"]).unwrap(),
            statics: vec![Stored::new(200, std::iter::empty(), b"static body")],
            cache: RefCell::new(Cache::new(1 << 20, 100, None, stats.clone())),
            mailbox: Arc::new(Mailbox::default()),
            bridge: Rc::new(Bridge::new(
                Box::new(|_| {}),
                100,
                None,
                stats.clone(),
                crate::bridge::Lone {
                    offers,
                    ..Default::default()
                },
            )),
            budget: Budget::new(1 << 20, stats.clone()),
            stats,
            life: Rc::new(Lifecycle::default()),
            limits: config.limits,
            timeouts: config.timeouts,
            dispatch_unmatched: false,
            max_pipelined: 64,
            test_panic_path: None,
            buffers: Default::default(),
        }
    }

    /// Runs every request in `input` through `next_request` `rounds` times, clearing the output
    /// before each round as a connection does after each write; returns allocations made.
    /// `owed` keeps the last round's responses.
    fn serve_rounds(ctx: &ConnCtx, input: &[u8], rounds: usize, owed: &mut Owed) -> u64 {
        let before = allocations();
        for _ in 0..rounds {
            owed.out.clear();
            let mut pos = 0;
            while pos < input.len() {
                let mut incoming = Incoming::default();
                let mut close = false;
                match next_request(
                    ctx,
                    &input[pos..],
                    &mut incoming,
                    "127.0.0.1",
                    owed,
                    &mut close,
                ) {
                    Step::Done(n) => pos += n,
                    _ => panic!("request did not complete"),
                }
            }
            assert!(
                owed.queue.is_empty(),
                "answered natively, not queued for JS"
            );
        }
        allocations() - before
    }

    #[test]
    fn cached_and_static_responses_allocate_nothing_per_request() {
        let ctx = ctx();
        let headers: [(&[u8], &[u8]); 1] = [(b"content-type", b"application/json")];
        let stored = Stored::new(200, headers.into_iter(), br#"{"hot":true}"#);
        ctx.cache
            .borrow_mut()
            .insert("/hot?x=1", stored, Duration::from_secs(60), Instant::now());
        let etag = {
            let mut owed = Owed::default();
            serve_rounds(
                &ctx,
                b"GET /hot?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
                1,
                &mut owed,
            );
            let text = String::from_utf8(owed.out.take_bytes()).unwrap();
            let line = text
                .lines()
                .find(|l| l.starts_with("etag: "))
                .unwrap()
                .to_string();
            line["etag: ".len()..].to_string()
        };
        // A pipelined burst of 16 mixed cached/static/conditional/HEAD requests.
        let mut burst = Vec::new();
        for i in 0..16 {
            let req = match i % 4 {
                0 => "GET /hot?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: bench\r\n\r\n".to_string(),
                1 => "HEAD /hot?x=1 HTTP/1.1\r\nHost: h\r\n\r\n".to_string(),
                2 => format!("GET /hot?x=1 HTTP/1.1\r\nHost: h\r\nIf-None-Match: {etag}\r\n\r\n"),
                _ => "GET /static HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n".to_string(),
            };
            burst.extend_from_slice(req.as_bytes());
        }
        let mut owed = Owed::default();
        serve_rounds(&ctx, &burst, 2, &mut owed); // warm-up: `out` grows, the Date is formatted
        assert_eq!(serve_rounds(&ctx, &burst, 1000, &mut owed), 0);
        assert_eq!(crate::stats::get(&ctx.stats.requests_js), 0);
        assert_eq!(crate::stats::get(&ctx.stats.cache_not_modified), 4 * 1002);
    }

    /// However a connection ends (an abort drops it while its wait holds the slot, outside the
    /// queue), JS must no longer write to its socket once it is gone: the descriptor may be
    /// another connection's by then.
    #[cfg(unix)]
    #[test]
    fn a_connection_that_ends_takes_back_what_js_was_offered() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        use std::os::unix::net::UnixStream;

        let offers = Arc::new(crate::direct::Offers::default());
        let ctx = Rc::new(ctx_with(offers.clone()));
        let (ours, mut client) = UnixStream::pair().unwrap();
        let peer = "127.0.0.1:1".parse().unwrap();
        let mut conn = Conn::new(ctx.clone(), peer, ours.as_raw_fd());
        conn.buf = ctx.buffers.take();
        conn.buf
            .extend_from_slice(b"GET /hot HTTP/1.1\r\nHost: h\r\n\r\n");
        conn.process(&ctx);
        let Some(Queued::Js(slot)) = conn.owed.queue.pop_front() else {
            panic!("the request went to JS");
        };
        assert!(slot.is_offered(), "a lone request is offered to JS");
        let mut answer = Vec::new();
        crate::envelope::encode_response(&mut answer, slot.id(), 200, &[], 0, b"", b"late");
        drop(conn);

        let stats = Stats::default();
        assert_eq!(&*offers.answer(&answer, &stats).rest, &answer[..]);
        drop(ours);
        let mut wire = Vec::new();
        client.read_to_end(&mut wire).unwrap();
        assert!(wire.is_empty(), "nothing was written to the socket");
    }
}
