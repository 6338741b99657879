//! Reading more of a connection's input when it owes nothing it could write: the wait between
//! requests (holding no buffers), the rest of a head or a body, with `keepAliveTimeout`,
//! `headersTimeout` and `requestTimeout`, and the wait for room in the body budget.

use monoio::buf::IoBufMut;
use monoio::time::Instant;

use crate::ctx::ConnCtx;
use crate::io::Transport;

use super::frame::CHUNKED_READ;
use super::{is_head, Conn, MAX_READ, READ_CHUNK};

pub(super) enum ReadOutcome {
    Data,
    Closed,
    /// `head`: the partial request is a HEAD request (its 408 has no body). Decided before the
    /// read, which takes the buffer with it when it is cancelled.
    TimedOut {
        partial: bool,
        head: bool,
    },
}

impl Conn {
    /// Waits until the body of the request being read may hold `body_wants` bytes against the
    /// budget. False when the server shuts down meanwhile.
    pub(super) async fn reserve_body(&mut self, ctx: &ConnCtx, key: u64) -> bool {
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

    pub(super) async fn read_more<S: Transport>(
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
