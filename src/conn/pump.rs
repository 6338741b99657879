//! A request body streamed to JS as it arrives (`{ body: 'stream' }` routes): as much as JS's
//! credit allows goes out in data records, decoded from its framing, the rest waits in the
//! buffer (and the socket is not read: `write.rs` waits for credit). A body that cannot go on
//! gets the client an error answer if JS has not begun answering.

use crate::bridge::Event;
use crate::ctx::ConnCtx;
use crate::h1::encode::{self as response, ConnHeader};
use crate::h1::Progress;
use crate::outbox::Outbox;

use super::Conn;

/// What pumping a streamed body did with the buffer.
pub(super) enum Pumped {
    /// The body ended after this many bytes.
    Ended(usize),
    /// This many bytes went; more (or credit) is needed.
    Waiting(usize),
    /// Bad framing or past the limit: answer this status and close.
    Fail(u16),
}

impl Conn {
    /// Sends JS as much of the streamed body at `pos` as its credit allows.
    pub(super) fn pump(&mut self, ctx: &ConnCtx, pos: usize) -> Pumped {
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
    pub(super) fn fail_stream(&mut self, ctx: &ConnCtx, status: u16) {
        let Some(body) = self.incoming.stream.take() else {
            return;
        };
        // Nothing after this body can be framed: the connection closes after the answer, and
        // what is buffered is not this request's any more (its head is long consumed).
        self.incoming = Default::default();
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
}
