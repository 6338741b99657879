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

mod file;
mod frame;
mod pump;
mod read;
#[cfg(test)]
mod tests;
mod write;

use std::rc::Rc;

use monoio::time::Instant;

use crate::bridge::direct::RawFd;
use crate::bridge::stream::Slot;
use crate::bridge::Event;
use crate::buffers;
use crate::ctx::ConnCtx;
use crate::h1::encode::{self as response, ConnHeader};
use crate::io::{self, Transport};
use crate::lifecycle::Watch;
use crate::peer::Peer;
use crate::stats::bump;
use crate::write_queue::{Owed, Queued};
use crate::ws::close_code;
use crate::ws::hub::Socket;

use frame::{next_request, Incoming, Step};
use pump::Pumped;
use read::ReadOutcome;

/// The smallest free space a read is given.
const READ_CHUNK: usize = buffers::CHUNK;
/// The largest single read while a body of known length is arriving.
const MAX_READ: usize = 1 << 20;
/// Empty lines ignored before a request line (RFC 9112 §2.2 says a server SHOULD ignore at
/// least one; llhttp ignores any number). Bounded, so a client cannot keep a connection open
/// sending nothing else, each line renewing `keepAliveTimeout`.
const MAX_EMPTY_LINES: usize = 8;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

struct Conn {
    ctx: Rc<ConnCtx>,
    key: u64,
    /// Read deadlines and write stalls, kept by the server tick.
    watch: Rc<Watch>,
    buf: Vec<u8>,
    owed: Owed,
    incoming: Incoming,
    peer: Rc<Peer>,
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
    /// JS accepted a WebSocket upgrade: once its 101 is written the connection is that socket's.
    switched: Option<Rc<Socket>>,
    /// Counts the connection as open; moves to the protocol it switches to.
    open: Option<Open>,
}

/// A connection counted as open (stats, the lifecycle that `close()` waits on, its watch)
/// until this drops: it moves with the transport when the connection switches protocol, so a
/// WebSocket's task holds it, not the HTTP connection's.
pub struct Open {
    pub ctx: Rc<ConnCtx>,
    pub key: u64,
    pub watch: Rc<Watch>,
    /// Counted in the connection stats: not an HTTP/2 stream's in-memory connection (its
    /// HTTP/2 connection is counted), which `close()` still waits for.
    counted: bool,
}

impl Open {
    pub fn register(ctx: &Rc<ConnCtx>, counted: bool) -> Open {
        let (key, watch) = ctx.life.register();
        if counted {
            bump(&ctx.stats.connections_total);
            bump(&ctx.stats.connections_open);
        }
        Open {
            ctx: ctx.clone(),
            key,
            watch,
            counted,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if self.counted {
            self.ctx
                .stats
                .connections_open
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.ctx.life.release(self.key);
    }
}

/// A connection JS upgraded: the transport, now the socket's, what the client sent after its
/// upgrade request, and the connection's registration.
pub struct Switch<S> {
    pub stream: S,
    pub socket: Rc<Socket>,
    pub buf: Vec<u8>,
    pub open: Open,
}

/// Serves HTTP/1.1 on `stream` until the connection ends, or until JS accepts a WebSocket
/// upgrade: then hands back the transport for the socket's own task (`wsconn::serve`), so a
/// long-lived socket does not keep this connection's state.
///
/// `conn` is declared after `stream`, so it is dropped first, however the task ends: its `Drop`
/// takes back what JS was offered before the socket closes.
pub async fn serve<S: Transport>(
    mut stream: S,
    peer: Rc<Peer>,
    ctx: Rc<ConnCtx>,
) -> Option<Switch<S>> {
    let mut conn = Conn::new(ctx, peer, stream.raw_fd());
    conn.run(&mut stream).await;
    if let Some(socket) = conn.switched.take() {
        // The HTTP side's buffers are not the socket's.
        conn.ctx.buffers.give(conn.owed.out.take_bytes());
        let buf = std::mem::take(&mut conn.buf);
        let open = conn.open.take()?;
        drop(conn);
        return Some(Switch {
            stream,
            socket,
            buf,
            open,
        });
    }
    if conn.linger {
        let stop = conn.ctx.life.until_abort(conn.key);
        io::linger(&mut stream, &conn.watch, stop).await;
    }
    None
}

/// Runs when the connection ends however it ends, a contained panic included: requests still
/// owed an answer are abandoned (JS is told, so `req.signal` aborts and a streamed body
/// errors; a response-cache flight one of them led passes to a waiter) and the connection is
/// no longer counted.
impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(socket) = self.switched.take() {
            // Its 101 never made it to the client.
            self.ctx.bridge.ws_ended(&socket, close_code::ABNORMAL, b"");
        }
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
        // `open` drops after this: the connection is no longer counted.
    }
}

impl Conn {
    fn new(ctx: Rc<ConnCtx>, peer: Rc<Peer>, fd: Option<RawFd>) -> Conn {
        let open = Open::register(&ctx, !peer.http2);
        Conn {
            ctx,
            key: open.key,
            watch: open.watch.clone(),
            buf: Vec::new(),
            owed: Owed::default(),
            incoming: Incoming::default(),
            peer,
            close: false,
            linger: false,
            eof: false,
            unparsed: false,
            fd,
            lone: None,
            switched: None,
            open: Some(open),
        }
    }

    async fn run<S: Transport>(&mut self, stream: &mut S) {
        let ctx = self.ctx.clone();
        let (ctx, key) = (&*ctx, self.key);
        loop {
            self.process(ctx);
            if self.flush(stream, ctx, key).await.is_err() {
                if let Some(socket) = self.switched.take() {
                    ctx.bridge.ws_ended(&socket, close_code::ABNORMAL, b"");
                }
                return;
            }
            if self.closing() {
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
        // A body being streamed is pumped even when the connection closes after this request
        // (`Connection: close`): its handler is waiting for it.
        while pos < self.buf.len() {
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
            if self.close {
                break;
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
                &self.peer,
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

    /// The connection is done: it closes after what it owes, and no body it streams to JS still
    /// waits for its answer (that body is read on until then, `Connection: close` or not).
    fn closing(&self) -> bool {
        self.close && (self.incoming.stream.is_none() || self.owed.queue.is_empty())
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
