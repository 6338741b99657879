//! From the bytes a socket received to WebSocket events (RFC 6455 §5.4-§5.5, §8.1): messages
//! reassembled from their fragments (control frames may come between them), text checked as
//! UTF-8 across fragments, a message's size held to `max_payload` (after decompression, RFC 7692),
//! and the rules of a close frame's payload. One `Reader` per socket. The common case, a message
//! in one uncompressed frame, is unmasked where it lies and handed out as a range of the caller's
//! buffer: no copy, no allocation. Between messages a Reader holds no allocation (an idle socket's
//! whole cost is budgeted at 4 KiB).

use std::ops::Range;

use super::close_code::{INVALID_DATA, NO_STATUS, PROTOCOL, TOO_BIG};
use super::frame::{self, Opcode, Parsed};
use super::utf8::Utf8Validator;
use super::Decompress;

/// A compressed frame's payload may be a little longer than what it inflates to (deflate's stored
/// blocks cost 5 bytes per 64 KiB, a sync flush 5 more). The limit that counts is on the inflated
/// message (the decompressor enforces it); this bound on one compressed frame only keeps the
/// caller from buffering a frame that could never fit: `remaining + remaining / 64 + 1 KiB`.
const COMPRESSED_SLACK_DIVISOR: usize = 64;
const COMPRESSED_SLACK: usize = 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Payload {
    /// Unmasked in the caller's buffer.
    InPlace(Range<usize>),
    Owned(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Message {
        binary: bool,
        payload: Payload,
    },
    Ping(Range<usize>),
    Pong(Range<usize>),
    Close {
        /// 1005 when the close frame had no payload.
        code: u16,
        /// Valid UTF-8, at most 123 bytes.
        reason: Range<usize>,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The event and the bytes of buf consumed by it (and by any fragments absorbed before it);
    /// its ranges point into buf before draining.
    Event(Event, usize),
    /// Fragments of a message were absorbed into the Reader (it copied what it needs) and what
    /// follows them is an incomplete frame: drain that many bytes, read more, call again. Without
    /// it the caller would keep every fragment until the message ended, and a stream of empty
    /// fragments would grow its buffer without bound.
    Absorbed(usize),
    /// buf holds no complete frame: read more and call again with the same bytes plus the new.
    NeedMore,
    /// Fail the connection with this close code and reason (RFC 6455 §7.1.7). The Reader dropped
    /// whatever it held.
    Fail(u16, &'static str),
}

/// The message being assembled, when one is.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Idle,
    Assembling {
        binary: bool,
        compressed: bool,
    },
}

#[derive(Default)]
pub struct Reader {
    /// The fragmented message so far (inflated when compressed). Taken whole when the message
    /// ends, so between messages it holds no allocation.
    parts: Vec<u8>,
    /// Text across fragments: a character may straddle two of them.
    utf8: Utf8Validator,
    state: State,
}

impl Reader {
    /// `buf` = unparsed bytes (the caller drains `consumed` after using the event). Handles
    /// masking, fragmentation and continuation (interleaved control frames allowed), UTF-8 of
    /// text (1007, also across fragments and in close reasons), close payload rules (length 1 or
    /// an invalid code → 1002), `max_payload` over the whole message (1009), a compressed message
    /// (RSV1 on its first frame) through `inflate` (None while compression is not negotiated:
    /// RSV1 is then 1002). A single unfragmented uncompressed frame is returned InPlace (no copy).
    /// Frames of a fragmented message are consumed as they come (the Reader keeps the assembled
    /// part; see `Step::Absorbed`). A close frame ends the message being assembled, if any.
    ///
    /// The decompressor's own lifetime is separate from the borrow's so that a caller holding an
    /// `Option<Box<dyn Decompress>>` or `Option<&mut dyn Decompress>` passes `as_deref_mut()`
    /// on every call (with one lifetime, `&mut` invariance ties the two together).
    pub fn next<'d>(
        &mut self,
        buf: &mut [u8],
        max_payload: usize,
        mut inflate: Option<&mut (dyn Decompress + 'd)>,
    ) -> Step {
        // Bytes of absorbed fragments at the front of buf.
        let mut at = 0;
        loop {
            let wait = if at == 0 {
                Step::NeedMore
            } else {
                Step::Absorbed(at)
            };
            // No limit here: the one that applies depends on what the frame is to the message.
            let head = match frame::parse_head(&buf[at..], usize::MAX, inflate.is_some()) {
                Parsed::Frame(head) => head,
                Parsed::NeedMore => return wait,
                Parsed::Fail(code, reason) => return self.fail(code, reason),
            };
            // What a data frame is to the message; checked before its payload is waited for.
            let data = match (head.opcode, self.state) {
                (Opcode::Close | Opcode::Ping | Opcode::Pong, _) => None,
                (Opcode::Continuation, State::Idle) => {
                    return self.fail(PROTOCOL, "continuation frame without a message")
                }
                (Opcode::Continuation, State::Assembling { binary, compressed }) => {
                    if head.rsv1 {
                        return self.fail(PROTOCOL, "RSV1 on a continuation frame");
                    }
                    Some((binary, compressed))
                }
                (_, State::Assembling { .. }) => {
                    return self.fail(PROTOCOL, "new message before the last one ended")
                }
                (opcode, State::Idle) => Some((opcode == Opcode::Binary, head.rsv1)),
            };
            if let Some((_, compressed)) = data {
                if head.payload_len > self.frame_limit(compressed, max_payload) {
                    return self.fail(TOO_BIG, "message too big");
                }
            }
            let end = at.saturating_add(head.frame_len());
            if buf.len() < end {
                return wait;
            }
            let payload = at + head.header_len..end;
            frame::unmask(&mut buf[payload.clone()], head.mask, 0);

            let Some((binary, compressed)) = data else {
                let event = match head.opcode {
                    Opcode::Ping => Event::Ping(payload),
                    Opcode::Pong => Event::Pong(payload),
                    _ => match self.close(&buf[payload.clone()], payload) {
                        Ok(event) => event,
                        Err(step) => return step,
                    },
                };
                return Step::Event(event, end);
            };

            if head.fin && !compressed && self.state == State::Idle {
                if !binary && std::str::from_utf8(&buf[payload.clone()]).is_err() {
                    return self.fail(INVALID_DATA, "invalid UTF-8");
                }
                let payload = Payload::InPlace(payload);
                return Step::Event(Event::Message { binary, payload }, end);
            }

            self.state = State::Assembling { binary, compressed };
            if let Err(step) = self.absorb(&buf[payload], head.fin, max_payload, &mut inflate) {
                return step;
            }
            if head.fin {
                self.state = State::Idle;
                let payload = Payload::Owned(std::mem::take(&mut self.parts));
                return Step::Event(Event::Message { binary, payload }, end);
            }
            at = end;
        }
    }

    /// Bytes the Reader holds (an assembling message), for accounting: its allocation, so 0
    /// between messages.
    pub fn held(&self) -> usize {
        self.parts.capacity()
    }

    /// Largest payload a data frame may have now: what the message has left of `max_payload`
    /// (the compressed frame's bound is looser, see COMPRESSED_SLACK).
    fn frame_limit(&self, compressed: bool, max_payload: usize) -> usize {
        let remaining = max_payload.saturating_sub(self.parts.len());
        if compressed {
            remaining
                .saturating_add(remaining / COMPRESSED_SLACK_DIVISOR)
                .saturating_add(COMPRESSED_SLACK)
        } else {
            remaining
        }
    }

    /// Adds one fragment's (unmasked) payload to the message, inflated when compressed, and
    /// checks the text so far.
    fn absorb(
        &mut self,
        data: &[u8],
        fin: bool,
        max_payload: usize,
        inflate: &mut Option<&mut (dyn Decompress + '_)>,
    ) -> Result<(), Step> {
        let State::Assembling { binary, compressed } = self.state else {
            return Ok(());
        };
        let start = self.parts.len();
        if compressed {
            // parse_head refused RSV1 without a decompressor, so this is always Some.
            let Some(inflate) = inflate.as_deref_mut() else {
                return Err(self.fail(PROTOCOL, "RSV1 set without compression"));
            };
            if let Err(code) = inflate.decompress(data, fin, &mut self.parts, max_payload) {
                let reason = match code {
                    TOO_BIG => "message too big",
                    INVALID_DATA => "invalid compressed data",
                    _ => "decompression failed",
                };
                return Err(self.fail(code, reason));
            }
            // The decompressor's word is trusted for corruption, not for the limit.
            if self.parts.len() > max_payload {
                return Err(self.fail(TOO_BIG, "message too big"));
            }
        } else {
            // frame_limit already held this fragment to what the message has left.
            self.parts.extend_from_slice(data);
        }
        if !binary {
            let valid = self.utf8.feed(&self.parts[start..]) && (!fin || self.utf8.finish());
            if !valid {
                return Err(self.fail(INVALID_DATA, "invalid UTF-8"));
            }
        }
        Ok(())
    }

    /// A close frame's payload (§5.5.1): empty, or a valid code and a UTF-8 reason.
    fn close(&mut self, body: &[u8], payload: Range<usize>) -> Result<Event, Step> {
        // The connection is closing: a message still being assembled can never end.
        self.reset();
        match *body {
            [] => Ok(Event::Close {
                code: NO_STATUS,
                reason: payload.end..payload.end,
            }),
            [_] => Err(self.fail(PROTOCOL, "close frame of one byte")),
            [hi, lo, ref reason @ ..] => {
                let code = u16::from_be_bytes([hi, lo]);
                if !frame::valid_close_code(code) {
                    return Err(self.fail(PROTOCOL, "invalid close code"));
                }
                if std::str::from_utf8(reason).is_err() {
                    return Err(self.fail(INVALID_DATA, "invalid UTF-8 in close reason"));
                }
                Ok(Event::Close {
                    code,
                    reason: payload.start + 2..payload.end,
                })
            }
        }
    }

    fn fail(&mut self, code: u16, reason: &'static str) -> Step {
        self.reset();
        Step::Fail(code, reason)
    }

    /// Back to idle, the allocation freed.
    fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests;
