//! One HTTP/1.1 connection over a transport (`io.rs`): its read buffer, the requests framed
//! from it, the answers it owes in request order (`write_queue.rs`), request bodies streamed
//! to JS, and its timeouts.
//!
//! The loop is: frame every complete request in the buffer (pipelining) and hand each to
//! `dispatch`; write the answers in order, each as soon as all before it are ready, gathered
//! into as few writes as possible; then read more. A read always appends to what is buffered,
//! so a request split over many reads is reassembled, never overwritten. Between requests the
//! connection holds no buffers: it waits for readiness, then borrows them (`buffers.rs`), so an
//! idle keep-alive connection costs its task and little else.
//!
//! Streams: a streamed answer is written piece by piece as JS sends it, each piece credited
//! back once the socket took it; a route that streams its body gets the envelope at once and
//! the body in data records as it arrives, the socket read only while JS has credit left
//! (`bridge/stream.rs`).
//!
//! What one client can make the server hold is bounded in bytes: unwritten answers by
//! `MAX_OWED` (parsing stops until they are written, as node and fastify stop reading), request
//! bodies by the server-wide budget (`budget.rs`) or, streamed, by the stream window, decoded
//! chunked framing by dropping it as it is decoded.
//!
//! A client that shuts down its sending side (a FIN after its last request) is still answered:
//! every complete request read before the FIN gets its answer, then the connection closes.

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::time::Instant;

use crate::bridge::direct::{Outcome, RawFd};
use crate::bridge::stream::{Piece, Slot};
use crate::bridge::{Event, TICK};
use crate::buffers;
use crate::ctx::ConnCtx;
use crate::dispatch::{self, Request};
use crate::h1::encode::{self as response, ConnHeader};
use crate::h1::{self, ChunkedDecoder, Framing, Progress};
use crate::io::{self, Transport};
use crate::lifecycle::Watch;
use crate::outbox::{Outbox, Part};
use crate::stats::bump;
use crate::write_queue::{Owed, Queued};

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
/// Empty lines ignored before a request line (RFC 9112 §2.2 says a server SHOULD ignore at
/// least one; llhttp ignores any number). Bounded, so a client cannot keep a connection open
/// sending nothing else, each line renewing `keepAliveTimeout`.
const MAX_EMPTY_LINES: usize = 8;
/// How often a half-closed connection waiting on JS checks whether its client reset it (the
/// only sign a client that sent its FIN has really gone, short of a failed write).
const HANGUP_POLL: Duration = TICK;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

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
    body: Option<crate::budget::Reservation>,
    expect_continue: bool,
    continue_sent: bool,
    /// Its body is being streamed to JS (its head is already consumed from the buffer).
    stream: Option<BodyStream>,
}

/// A request body going to JS as it arrives.
struct BodyStream {
    slot: Rc<Slot>,
    /// Bytes still to come when the length is known; `None` for chunked (`Incoming::chunked`).
    left: Option<usize>,
    /// The route's body limit, for a chunked body.
    limit: usize,
}

enum Step {
    Done(usize),
    NeedMore,
    Fail(u16),
    /// The head was consumed and the request is in JS; its body follows (`Incoming::stream`).
    Streaming(usize),
    /// Answered natively with its body unread: nothing after it can be framed.
    Refused(usize),
}

/// What pumping a streamed body did with the buffer.
enum Pumped {
    /// The body ended after this many bytes.
    Ended(usize),
    /// This many bytes went; more (or credit) is needed.
    Waiting(usize),
    /// Bad framing or past the limit: answer this status and close.
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

enum Waited {
    Piece(Piece),
    ClientGone,
    /// Bytes arrived for the body being streamed, or JS granted credit: pump, then wait again.
    Input,
    /// The streamed body stopped arriving for `requestTimeout`.
    BodyTimedOut,
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
    /// The socket, for JS to write a lone answer to (bridge/direct.rs); `None` when the
    /// transport is not a plain socket.
    fd: Option<RawFd>,
    /// The request last offered to JS: taken back when the connection ends, before the socket
    /// closes, wherever its slot then is.
    lone: Option<Rc<Slot>>,
}

/// `conn` is declared after `stream`, so it is dropped first, however the task ends: its `Drop`
/// takes back what JS was offered before the socket closes.
pub async fn serve<S: Transport>(mut stream: S, peer: SocketAddr, ctx: Rc<ConnCtx>) {
    let mut conn = Conn::new(ctx, peer, stream.raw_fd());
    conn.run(&mut stream).await;
    if conn.linger {
        let stop = conn.ctx.life.until_abort(conn.key);
        io::linger(&mut stream, &conn.watch, stop).await;
    }
}

/// Runs when the connection ends however it ends, a contained panic included: requests still
/// owed an answer are abandoned (JS is told, so `req.signal` aborts and a streamed body
/// errors; a response-cache flight one of them led passes to a waiter) and the connection is
/// no longer counted.
impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(slot) = self.lone.take() {
            self.ctx.bridge.take_back(&slot);
        }
        if let Some(body) = self.incoming.stream.take() {
            self.ctx.bridge.abandon(&body.slot, Event::ClientGone);
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
    fn new(ctx: Rc<ConnCtx>, peer: SocketAddr, fd: Option<RawFd>) -> Conn {
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

    async fn run<S: Transport>(&mut self, stream: &mut S) {
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
                self.owed.out.bytes().extend_from_slice(CONTINUE);
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
    /// our buffer or its socket. A body being streamed to JS goes first, as far as JS's credit
    /// allows.
    fn process(&mut self, ctx: &ConnCtx) {
        let mut pos = 0;
        self.unparsed = false;
        if self.owed.out.capacity() == 0 && !self.buf.is_empty() {
            self.owed.out.set_bytes(ctx.buffers.take());
        }
        while !self.close && pos < self.buf.len() {
            if self.incoming.stream.is_some() {
                match self.pump(ctx, pos) {
                    Pumped::Ended(n) => {
                        pos += n;
                        self.incoming = Incoming::default();
                        continue;
                    }
                    Pumped::Waiting(n) => {
                        pos += n;
                        break;
                    }
                    Pumped::Fail(status) => {
                        self.fail_stream(ctx, status);
                        break;
                    }
                }
            }
            if self.owed.is_full(ctx.max_pipelined) {
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
                Step::Streaming(consumed) => pos += consumed,
                Step::Refused(consumed) => {
                    pos += consumed;
                    self.close = true;
                    self.linger = true;
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
        if let (Some(head_len), Some(decoder), None) = (
            self.incoming.head_len,
            self.incoming.chunked.as_mut(),
            &self.incoming.stream,
        ) {
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

    /// Sends JS as much of the streamed body at `pos` as its credit allows.
    fn pump(&mut self, ctx: &ConnCtx, pos: usize) -> Pumped {
        let Some(body) = self.incoming.stream.as_mut() else {
            return Pumped::Waiting(0);
        };
        let slot = &body.slot;
        // JS no longer wants it (it answered, or gave up): read on and drop it.
        let credit = if slot.is_abandoned() {
            usize::MAX
        } else {
            slot.body_credit()
        };
        let avail = &self.buf[pos..];
        let take = avail.len().min(credit);
        match body.left {
            Some(left) => {
                let n = take.min(left);
                let ended = n == left;
                ctx.bridge.body_data(slot, &avail[..n], ended);
                body.left = Some(left - n);
                if ended {
                    Pumped::Ended(n)
                } else {
                    Pumped::Waiting(n)
                }
            }
            None => {
                let Some(decoder) = self.incoming.chunked.as_mut() else {
                    return Pumped::Fail(400);
                };
                let progress = decoder.feed(&avail[..take], body.limit, ctx.limits.max_header_size);
                let used = decoder.used();
                decoder.forget_used();
                match progress {
                    Ok(Progress::Done { .. }) => {
                        decoder.drain_decoded(|data| ctx.bridge.body_data(slot, data, true));
                        Pumped::Ended(used)
                    }
                    Ok(Progress::NeedMore) => {
                        decoder.drain_decoded(|data| {
                            if !data.is_empty() {
                                ctx.bridge.body_data(slot, data, false);
                            }
                        });
                        Pumped::Waiting(used)
                    }
                    Err(status) => Pumped::Fail(status),
                }
            }
        }
    }

    /// A streamed body that cannot go on (bad framing, past its limit, too slow): JS is told
    /// (its body stream errors), the client gets `status` if JS has not begun answering, and
    /// the connection closes after that answer.
    fn fail_stream(&mut self, ctx: &ConnCtx, status: u16) {
        let Some(body) = self.incoming.stream.take() else {
            return;
        };
        let slot = body.slot;
        let event = if status == 408 {
            Event::BodyTimedOut
        } else {
            Event::BodyInvalid
        };
        let waiting = slot.is_waiting();
        ctx.bridge.abandon(&slot, event);
        let mut out = Outbox::default();
        if waiting {
            ctx.stats.native(status);
            response::simple(out.bytes(), status, ConnHeader::Close, slot.head);
        }
        slot.finish(out, true);
        self.linger = true;
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
        if self.close
            || self.unparsed
            || !self.buf.is_empty()
            || !self.owed.out.is_empty()
            || self.incoming.stream.is_some()
        {
            return;
        }
        let Some(fd) = self.fd else { return };
        if let [Queued::Js(slot)] = self.owed.queue.as_slices().0 {
            ctx.bridge.offer(slot, fd);
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
    async fn flush<S: Transport>(
        &mut self,
        stream: &mut S,
        ctx: &ConnCtx,
        key: u64,
    ) -> std::io::Result<()> {
        monoio::select! {
            done = self.flush_queue(stream) => done,
            _ = ctx.life.until_abort(key) => Err(std::io::ErrorKind::ConnectionAborted.into()),
        }
    }

    async fn flush_queue<S: Transport>(&mut self, stream: &mut S) -> std::io::Result<()> {
        while let Some(item) = self.owed.queue.pop_front() {
            let slot = match item {
                Queued::Ready(answer) => {
                    self.owed.queued -= answer.len();
                    self.owed.out.append(answer);
                    continue;
                }
                Queued::Js(slot) => slot,
            };
            if !slot.is_ready() && !self.owed.out.is_empty() {
                self.write_out(stream).await?;
            }
            // Back at the front while it is waited on and written: however the connection
            // ends meanwhile, `Drop` finds it and tells JS.
            self.owed.queue.push_front(Queued::Js(slot.clone()));
            let piece = match self.wait_for(&slot, stream).await {
                Waited::Piece(piece) => piece,
                Waited::ClientGone => return Err(std::io::ErrorKind::ConnectionReset.into()),
                Waited::Input => {
                    self.unparsed = true;
                    break;
                }
                Waited::BodyTimedOut => {
                    self.fail_stream(&self.ctx.clone(), 408);
                    continue;
                }
            };
            // Whatever was offered of it is settled by now.
            self.lone = None;
            self.owed.out.append(piece.out);
            match piece.done {
                None => {
                    // A streamed answer: out now, then JS may send as much again.
                    self.write_out(stream).await?;
                    self.ctx.bridge.credit(&slot, piece.credit);
                }
                Some(close) => {
                    self.owed.queue.pop_front();
                    if close {
                        // Answers after this one are never sent; `Drop` forgets their slots.
                        self.close = true;
                        // A body still arriving is read and dropped while the answer is read.
                        self.linger |= slot.body_open();
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

    /// Whether the body being streamed to JS is `slot`'s.
    fn pumping(&self, slot: &Slot) -> bool {
        self.incoming
            .stream
            .as_ref()
            .is_some_and(|body| std::ptr::eq(&*body.slot, slot))
    }

    /// Waits for JS's next piece of `slot`'s answer (a handler timeout answers it too:
    /// `Bridge::tick`). While its body is streamed to JS, it reads the socket when JS has
    /// credit, and returns to pump what came. Once the wait is long, it also watches for the
    /// client leaving, taking in what the client sends meanwhile. An offered slot is watched
    /// from the start: the client's next request is usually how this connection learns that JS
    /// wrote the answer itself.
    async fn wait_for<S: Transport>(&mut self, slot: &Slot, stream: &mut S) -> Waited {
        loop {
            let pumping = self.pumping(slot);
            if self.eof && !pumping {
                return self.wait_half_closed(slot).await;
            }
            if pumping && slot.body_credit() == 0 && !slot.is_abandoned() {
                // JS has not read what it was sent: the socket waits (backpressure).
                monoio::select! {
                    piece = slot.next_piece() => return Waited::Piece(piece),
                    _ = slot.body_credit_granted() => return Waited::Input,
                }
            }
            let watch = pumping || slot.is_offered() || slot.is_long();
            if !watch || (!pumping && self.buf.len() >= WATCH_LIMIT) {
                match slot.piece_or_nudge().await {
                    Some(piece) => return Waited::Piece(piece),
                    None => continue,
                }
            }
            // The client's time for the rest of a streamed body: `requestTimeout` without a
            // byte (an idle timeout, so a long upload is never cut while it moves).
            let body_deadline = self
                .ctx
                .timeouts
                .request
                .filter(|_| pumping)
                .map(|t| Instant::now() + t);
            self.watch.read_until(body_deadline);
            let body_idle = until_if(body_deadline.is_some(), self.watch.fired());
            let readable = monoio::select! {
                piece = slot.next_piece() => {
                    self.watch.read_until(None);
                    return Waited::Piece(piece);
                }
                ready = stream.readable() => ready.is_ok(),
                _ = body_idle => return Waited::BodyTimedOut,
            };
            self.watch.read_until(None);
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
            let room = if pumping {
                slot.body_credit().clamp(READ_CHUNK, MAX_READ)
            } else {
                READ_CHUNK
            };
            self.buf.reserve(room);
            let buf = std::mem::take(&mut self.buf);
            let len = buf.len();
            let (res, slice) = stream.read(buf.slice_mut(len..)).await;
            self.buf = slice.into_inner();
            match res {
                // A FIN in the middle of a body: that request can never be complete.
                Ok(0) if pumping => return Waited::ClientGone,
                Ok(0) => self.eof = true,
                Ok(_) => self.unparsed = true,
                Err(_) => return Waited::ClientGone,
            }
            if written {
                return Waited::Piece(Piece {
                    out: Outbox::default(),
                    credit: 0,
                    done: Some(false),
                });
            }
            if pumping {
                return Waited::Input;
            }
        }
    }

    /// The wait of a connection whose client sent its FIN: the socket now stays readable for
    /// good, so readiness says nothing about the client. It has really gone when the connection
    /// is reset (checked every `HANGUP_POLL`), or, later, when the answer cannot be written.
    async fn wait_half_closed(&mut self, slot: &Slot) -> Waited {
        loop {
            monoio::select! {
                piece = slot.next_piece() => return Waited::Piece(piece),
                _ = monoio::time::sleep(HANGUP_POLL) => {},
            }
            if io::peer_reset(self.fd) {
                if self.ctx.bridge.take_back(slot) == Some(Outcome::Written) {
                    return Waited::Piece(Piece {
                        out: Outbox::default(),
                        credit: 0,
                        done: Some(false),
                    });
                }
                return Waited::ClientGone;
            }
        }
    }

    /// Writes what is owed. A client that takes none of it for `requestTimeout` (it stopped
    /// reading) is dropped: a write that cannot progress must not hold the connection forever
    /// (the server tick finds it, see `Lifecycle::check_deadlines`). On that error the output
    /// buffer is gone with the cancelled write, which is fine: the connection closes.
    async fn write_out<S: Transport>(&mut self, stream: &mut S) -> std::io::Result<()> {
        let watch = self.watch.clone();
        // No read deadline while writing, and a read timeout that led here (408) is spent.
        watch.read_until(None);
        let parts = (!self.owed.out.is_contiguous()).then(|| self.owed.out.parts());
        let mut out = self.owed.out.take_bytes();
        match parts {
            None => out = io::write_all(stream, out, &watch).await?,
            Some(parts) => {
                for part in parts {
                    match part {
                        Part::Own(from, to) => {
                            out = io::write_all(stream, out.slice(from..to), &watch)
                                .await?
                                .into_inner();
                        }
                        Part::Shared(body) => {
                            io::write_all(stream, body, &watch).await?;
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

    async fn read_more<S: Transport>(
        &mut self,
        stream: &mut S,
        ctx: &ConnCtx,
        key: u64,
    ) -> ReadOutcome {
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
            let ready = monoio::select! {
                ready = stream.readable() => ready.is_ok(),
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

/// `fut` when `armed`, else a future that never completes (a select branch switched off).
async fn until_if(armed: bool, fut: impl Future<Output = ()>) {
    if armed {
        fut.await
    } else {
        std::future::pending().await
    }
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

/// Frames the request at the front of `buf` (head, then a whole body or the start of a
/// streamed one) and hands it to dispatch.
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

    // A route may take its body its own way (a limit, or streamed), known before a byte of the
    // body is read.
    let route_body = match head.framing {
        Framing::None | Framing::Length(0) => None,
        _ => ctx
            .router
            .lookup(head.method_code, head.path)
            .and_then(|found| ctx.router.body(&found.target)),
    };
    let streams = route_body.is_some_and(|b| b.stream);
    // A streamed body is never held whole, so it has no limit unless the route sets one.
    let body_limit = match route_body.and_then(|b| b.limit) {
        Some(limit) => limit,
        None if streams => usize::MAX,
        None => limits.body_limit,
    };
    let arrived = &buf[head_len..];
    let decoded;
    let (body, consumed) = match head.framing {
        Framing::None => (&[][..], head_len),
        Framing::Length(n) if n > body_limit => return Step::Fail(413),
        _ if streams => (&[][..], head_len),
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
    if streams && head.expect_continue {
        // The client waits for this before sending the body (RFC 9110 §10.1.1); it goes out
        // in order, before the answer.
        owed.native(|out| out.bytes().extend_from_slice(CONTINUE));
    }
    let request = Request {
        head: &head,
        ip,
        body,
        body_stream: streams,
        reservation,
        conn,
    };
    let slot = dispatch::dispatch(ctx, request, owed);
    if !streams {
        return Step::Done(consumed);
    }
    let Some(slot) = slot else {
        return Step::Refused(consumed);
    };
    let left = match head.framing {
        Framing::Length(n) => Some(n),
        _ => {
            incoming.chunked = Some(ChunkedDecoder::new());
            None
        }
    };
    incoming.stream = Some(BodyStream {
        slot,
        left,
        limit: body_limit,
    });
    Step::Streaming(consumed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::{Bridge, Mailbox};
    use crate::budget::Budget;
    use crate::cache::Cache;
    use crate::config::{Config, Options};
    use crate::lifecycle::Lifecycle;
    use crate::router::Router;
    use crate::stats::Stats;
    use crate::stored::Stored;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::cell::RefCell;
    use std::sync::Arc;

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

    fn ctx_with(offers: Arc<crate::bridge::direct::Offers>) -> ConnCtx {
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

        let offers = Arc::new(crate::bridge::direct::Offers::default());
        let ctx = Rc::new(ctx_with(offers.clone()));
        let (ours, mut client) = UnixStream::pair().unwrap();
        let peer = "127.0.0.1:1".parse().unwrap();
        let mut conn = Conn::new(ctx.clone(), peer, Some(ours.as_raw_fd()));
        conn.buf = ctx.buffers.take();
        conn.buf
            .extend_from_slice(b"GET /hot HTTP/1.1\r\nHost: h\r\n\r\n");
        conn.process(&ctx);
        let Some(Queued::Js(slot)) = conn.owed.queue.pop_front() else {
            panic!("the request went to JS");
        };
        assert!(slot.is_offered(), "a lone request is offered to JS");
        let mut answer = Vec::new();
        crate::bridge::records::encode_response(&mut answer, slot.id(), 200, &[], 0, b"", b"late");
        drop(conn);

        let stats = Stats::default();
        assert_eq!(&*offers.answer(&answer, &stats).rest, &answer[..]);
        drop(ours);
        let mut wire = Vec::new();
        client.read_to_end(&mut wire).unwrap();
        assert!(wire.is_empty(), "nothing was written to the socket");
    }
}
