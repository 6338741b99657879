//! Writing what a connection owes, in request order: answers Rust made, and answers from JS,
//! each waited for in turn — whole, or streamed piece by piece with credit back to JS as the
//! socket takes them. While it waits it watches the client (gone? half-closed?), takes in
//! pipelined requests, and feeds a streamed request body as JS grants credit.

use std::future::Future;
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::time::Instant;

use crate::bridge::direct::Outcome;
use crate::bridge::stream::{Piece, Slot};
use crate::bridge::TICK;
use crate::buffers;
use crate::ctx::ConnCtx;
use crate::io::{self, Transport};
use crate::outbox::{Outbox, Part};
use crate::write_queue::Queued;

use super::{Conn, MAX_READ, READ_CHUNK};

/// While a connection waits on JS it keeps reading, to notice a client that left (`req.signal`)
/// and to take in pipelined requests, until this much is buffered: beyond it the client waits.
const WATCH_LIMIT: usize = 64 * 1024;
/// How often a half-closed connection waiting on JS checks whether its client reset it (the
/// only sign a client that sent its FIN has really gone, short of a failed write).
const HANGUP_POLL: Duration = TICK;

enum Waited {
    Piece(Piece),
    ClientGone,
    /// Bytes arrived for the body being streamed, or JS granted credit: pump, then wait again.
    Input,
    /// The streamed body stopped arriving for `requestTimeout`.
    BodyTimedOut,
}

impl Conn {
    /// Writes owed answers in request order, each as soon as everything before it is ready.
    /// Gives up when the server aborts (its grace period ran out).
    pub(super) async fn flush<S: Transport>(
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
                    // A streamed answer: out now, then JS may send as much again. While the
                    // client takes its time, the stream is not idle (the write's own stall
                    // timeout applies).
                    slot.writing.set(true);
                    let written = self.write_out(stream).await;
                    slot.writing.set(false);
                    written?;
                    self.ctx.bridge.credit(&slot, piece.credit);
                }
                Some(close) => {
                    self.owed.queue.pop_front();
                    if let Some(socket) = slot.take_switch() {
                        self.switched = Some(socket);
                    }
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
            let held = self.incoming.stream.as_ref().is_some_and(|b| b.held);
            if pumping && held && (slot.body_credit() > 0 || slot.is_abandoned()) {
                // Credit came while this connection was busy: what waits in the buffer goes now.
                return Waited::Input;
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
                // A FIN while an answer streams to it: the client is done with it, as node:http
                // takes it (an EventSource closed, a download cancelled). A FIN before the head
                // went out is a half-close: the answer is still written.
                Ok(0) if slot.is_streaming() => return Waited::ClientGone,
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
    pub(super) async fn write_out<S: Transport>(&mut self, stream: &mut S) -> std::io::Result<()> {
        let watch = self.watch.clone();
        // No read deadline while writing, and a read timeout that led here (408) is spent.
        watch.read_until(None);
        write_outbox(stream, &mut self.owed.out, &watch).await
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

/// Writes everything in `out` (its own bytes, stored bodies by reference, file spans), leaving it
/// empty with its buffer kept for the next answer, unless that buffer grew huge.
async fn write_outbox<S: Transport>(
    stream: &mut S,
    outbox: &mut Outbox,
    watch: &crate::lifecycle::Watch,
) -> std::io::Result<()> {
    let parts = (!outbox.is_contiguous()).then(|| outbox.parts());
    let mut out = outbox.take_bytes();
    match parts {
        None => out = io::write_all(stream, out, watch).await?,
        Some(parts) => {
            for part in parts {
                match part {
                    Part::Own(from, to) => {
                        out = io::write_all(stream, out.slice(from..to), watch)
                            .await?
                            .into_inner();
                    }
                    Part::Shared(body) => {
                        io::write_all(stream, body, watch).await?;
                    }
                    Part::File(span) => super::file::write_file(stream, span, watch).await?,
                }
            }
        }
    }
    out.clear();
    // A busy connection keeps its output buffer between writes, but not a huge one.
    if out.capacity() > buffers::KEEP_CAPACITY {
        out = Vec::new();
    }
    outbox.set_bytes(out);
    Ok(())
}
