//! A connection after its 101: one WebSocket over the transport. The loop is: turn what the
//! client sent into messages for JS (as far as JS's credit allows) and answers of our own (pong,
//! the close echo, a protocol error's close); act on what JS asked (a close, a termination);
//! write every frame the socket owes (JS's sends, publishes, our answers) with the stall watch;
//! then wait for the client, for JS, for the clock (pings, idle, the close handshake's end) or
//! for the server closing.
//!
//! What one client can make the server hold is bounded: the message being assembled by
//! `maxPayload`, messages JS has not taken by `WS_WINDOW` (the socket is not read past it, so
//! TCP pushes back), frames owed to a slow reader by `maxBackpressure` (`ws/hub.rs`). An idle
//! socket holds no buffer: its input buffer goes back to the pool whenever it is empty.

use std::rc::Rc;
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::time::Instant;

use crate::conn::Switch;
use crate::ctx::ConnCtx;
use crate::io::{self, Transport};
use crate::lifecycle::Watch;
use crate::outbox::{Outbox, Part};
use crate::stats::bump;
use crate::ws::close_code;
use crate::ws::deflate::Inflater;
use crate::ws::frame::Opcode;
use crate::ws::hub::{EndRequest, Socket};
use crate::ws::message::{Event, Payload, Reader, Step};
use crate::ws::Decompress;

/// Message bytes JS may hold that its handlers have not taken: past it the socket is not read
/// until JS credits some back (one message may take it past, whatever its size up to
/// `maxPayload`). The same window as a streamed request body's, for the same reason.
const WS_WINDOW: usize = crate::bridge::stream::STREAM_WINDOW;
/// How long we wait for the client's close frame after sending ours (RFC 6455 §7.1.1 leaves it
/// to us; the `ws` package waits 30 s, browsers answer at once): a client that never answers
/// costs its socket this long at most.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The smallest free space a read is given.
const READ_CHUNK: usize = crate::buffers::CHUNK;
/// The most one read takes.
const MAX_READ: usize = 256 * 1024;

/// How the connection ended, for JS's `close` handler.
struct Ending {
    code: u16,
    reason: Vec<u8>,
    /// Half-close and read out what the client still sends, so our close frame is not lost to a
    /// reset (a protocol error, where the client may be mid-message).
    linger: bool,
}

struct Session {
    socket: Rc<Socket>,
    buf: Vec<u8>,
    reader: Reader,
    /// The client's compressed messages, when permessage-deflate was negotiated; made on first
    /// use.
    inflater: Option<Box<Inflater>>,
    /// When the client last sent anything.
    last_rx: Instant,
    /// A ping went out for the idle timeout and nothing came since.
    pinged: bool,
    /// Room the next read gets.
    read_size: usize,
    /// The close frame we sent (code, reason): from then on we only wait for the client's.
    sent_close: Option<(u16, Vec<u8>)>,
    /// When we stop waiting for the client's close frame.
    close_deadline: Option<Instant>,
    /// The client's close frame (code, reason).
    got_close: Option<(u16, Vec<u8>)>,
    /// The connection failed (a protocol error): our close frame is queued, then we hang up.
    failed: bool,
    /// Shutdown was seen (close 1001 is on its way).
    shutdown: bool,
}

/// Speaks WebSocket for `socket` over `stream` until either side ends it, then tells JS how it
/// ended. `buf` holds what the client sent after its upgrade request.
pub async fn serve<S: Transport>(switch: Switch<S>) {
    let Switch {
        mut stream,
        socket,
        buf,
        open,
    } = switch;
    let (ctx, key, watch) = (&*open.ctx, open.key, &*open.watch);
    let stream = &mut stream;
    let mut session = Session {
        socket,
        buf,
        reader: Reader::default(),
        inflater: None,
        last_rx: Instant::now(),
        pinged: false,
        read_size: READ_CHUNK,
        sent_close: None,
        close_deadline: None,
        got_close: None,
        failed: false,
        shutdown: false,
    };
    let ending = session.run(stream, ctx, key, watch).await;
    watch.read_until(None);
    ctx.bridge
        .ws_ended(&session.socket, ending.code, &ending.reason);
    ctx.buffers.give(std::mem::take(&mut session.buf));
    if ending.linger {
        io::linger(stream, watch, ctx.life.until_abort(key)).await;
    }
}

impl Session {
    async fn run<S: Transport>(
        &mut self,
        stream: &mut S,
        ctx: &ConnCtx,
        key: u64,
        watch: &Watch,
    ) -> Ending {
        let socket = self.socket.clone();
        socket.attach(stream.raw_fd());
        loop {
            self.take_input(ctx);
            if let Some(end) = self.act_on_js(&socket) {
                return end;
            }
            if socket.owed() > 0 {
                watch.read_until(None);
                let (mut out, js_bytes) = socket.take_out();
                let len = out.len();
                socket.set_writing(true);
                let written = write_frames(stream, &mut out, watch).await;
                socket.set_writing(false);
                if written.is_err() {
                    return ended(close_code::ABNORMAL, b"", false);
                }
                ctx.stats
                    .ws_bytes_out
                    .fetch_add(len as u64, std::sync::atomic::Ordering::Relaxed);
                ctx.buffers.give(out.take_bytes());
                ctx.bridge.ws_credit(&socket, js_bytes);
                // Sending may have taken a while: look at what came meanwhile first.
                continue;
            }
            if let Some(end) = self.finished() {
                return end;
            }
            if self.buf.is_empty() && self.buf.capacity() > 0 {
                ctx.buffers.give(std::mem::take(&mut self.buf));
            }
            let may_read = self.got_close.is_none() && socket.in_js() < WS_WINDOW;
            watch.read_until(self.deadline());
            monoio::select! {
                ready = stream.readable(), if may_read => {
                    if ready.is_err() || !self.read(stream, ctx).await {
                        return self.gone();
                    }
                }
                _ = socket.changed() => {}
                _ = watch.fired() => {
                    if let Some(end) = self.timed_out(Instant::now()) {
                        return end;
                    }
                }
                _ = ctx.life.until_shutdown(key), if !self.shutdown => {
                    self.shutdown = true;
                    socket.request_end(close_code::GOING_AWAY, b"server shutting down");
                }
                _ = ctx.life.until_abort(key) => {
                    return self.gone();
                }
            }
        }
    }

    /// Reads what the client sent; false when it is gone (EOF, an error).
    async fn read<S: Transport>(&mut self, stream: &mut S, ctx: &ConnCtx) -> bool {
        if self.buf.capacity() == 0 {
            self.buf = ctx.buffers.take();
        }
        self.buf.reserve(self.read_size);
        let buf = std::mem::take(&mut self.buf);
        let len = buf.len();
        let end = buf.capacity().min(len + MAX_READ);
        let (res, slice) = stream.read(buf.slice_mut(len..end)).await;
        self.buf = slice.into_inner();
        match res {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                // A read that filled its room: the client sends more than it holds (large
                // messages, many in flight), so the next gets twice as much, up to `MAX_READ`.
                // One that did not: back to the small room an idle socket borrows.
                self.read_size = if len + n == end {
                    (self.read_size * 2).min(MAX_READ)
                } else {
                    READ_CHUNK
                };
                ctx.stats
                    .ws_bytes_in
                    .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                self.last_rx = Instant::now();
                self.pinged = false;
                true
            }
        }
    }

    /// Turns buffered input into events, as far as JS's credit allows.
    fn take_input(&mut self, ctx: &ConnCtx) {
        let socket = self.socket.clone();
        let max_payload = socket.route.max_payload;
        let mut pos = 0;
        while pos < self.buf.len()
            && self.got_close.is_none()
            && !self.failed
            && socket.in_js() < WS_WINDOW
        {
            let inflate: Option<&mut dyn Decompress> = match &socket.deflate {
                Some(n) => Some(
                    &mut **self
                        .inflater
                        .get_or_insert_with(|| Box::new(Inflater::new(n))),
                ),
                None => None,
            };
            let step = self.reader.next(&mut self.buf[pos..], max_payload, inflate);
            let (event, consumed) = match step {
                Step::NeedMore => break,
                Step::Absorbed(consumed) => {
                    pos += consumed;
                    break;
                }
                Step::Fail(code, reason) => {
                    self.fail(code, reason.as_bytes());
                    break;
                }
                Step::Event(event, consumed) => (event, consumed),
            };
            let at = |r: std::ops::Range<usize>| pos + r.start..pos + r.end;
            match event {
                // Past our close, the client's messages are read and dropped (RFC 6455 §1.4).
                Event::Message { .. } if self.sent_close.is_some() => {}
                Event::Message { binary, payload } => {
                    bump(&ctx.stats.ws_messages_in);
                    match payload {
                        Payload::InPlace(r) => {
                            ctx.bridge.ws_message(&socket, binary, &self.buf[at(r)])
                        }
                        Payload::Owned(bytes) => ctx.bridge.ws_message(&socket, binary, &bytes),
                    }
                }
                Event::Ping(r) => {
                    if self.sent_close.is_none() {
                        socket.push_control(Opcode::Pong, &self.buf[at(r)]);
                    }
                }
                Event::Pong(_) => {}
                Event::Close { code, reason } => {
                    let reason = self.buf[at(reason)].to_vec();
                    if self.sent_close.is_none() {
                        // Echo the code (RFC 6455 §5.5.1); none when the client sent none.
                        let echo = if code == close_code::NO_STATUS {
                            Vec::new()
                        } else {
                            code.to_be_bytes().to_vec()
                        };
                        socket.push_control(Opcode::Close, &echo);
                        self.sent_close = Some((code, reason.clone()));
                    }
                    self.got_close = Some((code, reason));
                }
            }
            pos += consumed;
        }
        self.buf.drain(..pos);
        if self.inflater.is_some()
            && socket
                .deflate
                .as_ref()
                .is_some_and(|n| n.client_no_context_takeover)
            && self.reader.held() == 0
        {
            // No window to keep between messages: the inflater's memory goes back.
            self.inflater = None;
        }
    }

    /// A protocol error: our close with its code goes out, then the connection ends.
    fn fail(&mut self, code: u16, reason: &[u8]) {
        self.failed = true;
        if self.sent_close.is_none() {
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend_from_slice(reason);
            self.socket.push_control(Opcode::Close, &payload);
            self.sent_close = Some((code, reason.to_vec()));
        }
    }

    /// What JS asked: a close handshake (our close frame, then the client's awaited) or a
    /// termination.
    fn act_on_js(&mut self, socket: &Socket) -> Option<Ending> {
        let (end, reason) = socket.take_end()?;
        match end {
            EndRequest::Terminate => Some(ended(close_code::ABNORMAL, b"", false)),
            // A close is already under way (the client's, or a protocol error's).
            EndRequest::Close(_) if self.sent_close.is_some() => None,
            EndRequest::Close(code) => {
                let mut payload = code.to_be_bytes().to_vec();
                payload.extend_from_slice(&reason);
                socket.push_control(Opcode::Close, &payload);
                self.sent_close = Some((code, reason));
                self.close_deadline = Some(Instant::now() + CLOSE_TIMEOUT);
                None
            }
        }
    }

    /// Whether the connection is over, everything owed written: both closes exchanged, or a
    /// failure's close sent.
    fn finished(&mut self) -> Option<Ending> {
        if self.failed {
            let (code, reason) = self
                .sent_close
                .take()
                .unwrap_or((close_code::PROTOCOL, vec![]));
            return Some(Ending {
                code,
                reason,
                linger: true,
            });
        }
        match (&self.sent_close, &self.got_close) {
            // The client started it: JS hears its code. We started it: JS hears ours.
            (Some(_), Some(_)) if self.close_deadline.is_none() => {
                let (code, reason) = self.got_close.take()?;
                Some(ended(code, &reason, false))
            }
            (Some(_), Some(_)) => {
                let (code, reason) = self.sent_close.take()?;
                Some(ended(code, &reason, false))
            }
            _ => None,
        }
    }

    /// When the clock next matters: the end of the close handshake's wait, else the idle ping
    /// (at half the idle timeout) or the idle timeout itself.
    fn deadline(&self) -> Option<Instant> {
        if let Some(d) = self.close_deadline {
            return Some(d);
        }
        let idle = self.socket.route.idle_timeout?;
        if self.socket.route.send_pings && !self.pinged {
            Some(self.last_rx + idle / 2)
        } else {
            Some(self.last_rx + idle)
        }
    }

    fn timed_out(&mut self, now: Instant) -> Option<Ending> {
        if self.close_deadline.is_some_and(|d| now >= d) {
            // The client never answered our close: the handshake did not complete (as the `ws`
            // package reports it).
            return Some(ended(close_code::ABNORMAL, b"", false));
        }
        let idle = self.socket.route.idle_timeout?;
        if self.socket.route.send_pings && !self.pinged {
            if now >= self.last_rx + idle / 2 {
                self.pinged = true;
                self.socket.push_control(Opcode::Ping, b"");
            }
            return None;
        }
        (now >= self.last_rx + idle).then(|| ended(close_code::ABNORMAL, b"", false))
    }

    /// The client went away (EOF, reset) or the server aborts: abnormal, unless the client's
    /// close frame came first.
    fn gone(&mut self) -> Ending {
        match self.got_close.take() {
            Some((code, reason)) => ended(code, &reason, false),
            None => ended(close_code::ABNORMAL, b"", false),
        }
    }
}

/// Writes what a socket owed: frames in its own buffer and large bodies shared with other
/// sockets (a publish), in order. Not `conn::write_outbox`, which also writes file spans: a
/// socket never owes one, and that path would make every idle socket's task larger.
async fn write_frames<S: Transport>(
    stream: &mut S,
    out: &mut Outbox,
    watch: &Watch,
) -> std::io::Result<()> {
    let parts = out.parts();
    let mut own = out.take_bytes();
    for part in parts {
        match part {
            Part::Own(from, to) => {
                own = io::write_all(stream, own.slice(from..to), watch)
                    .await?
                    .into_inner();
            }
            Part::Shared(body) => {
                io::write_all(stream, body, watch).await?;
            }
            Part::File(_) => unreachable!("a socket never owes a file"),
        }
    }
    out.set_bytes(own);
    Ok(())
}

fn ended(code: u16, reason: &[u8], linger: bool) -> Ending {
    Ending {
        code,
        reason: reason.to_vec(),
        linger,
    }
}
