//! Framing the request at the front of a connection's buffer: its head, then a whole body (of
//! known length or chunked, within its limit and the body budget) or, on a route that streams
//! its body, just the head (the body is pumped to JS as it arrives: `pump.rs`). A framed
//! request goes to dispatch.

use std::rc::Rc;

use monoio::time::Instant;

use crate::bridge::stream::Slot;
use crate::ctx::ConnCtx;
use crate::dispatch::{self, Request};
use crate::h1::encode::{self as response, ConnHeader};
use crate::h1::{self, ChunkedDecoder, Framing, Progress};
use crate::peer::Peer;
use crate::write_queue::Owed;
use crate::ws::handshake::{self, Refusal};

use super::CONTINUE;

/// Header slots parsed on the stack; a larger `maxHeaders` uses the heap.
const INLINE_HEADERS: usize = 128;
/// The most one read takes of a chunked body. Its size is unknown in advance, so this much is
/// reserved against the body budget before each read.
pub(super) const CHUNKED_READ: usize = 64 * 1024;

/// Progress on the request at the front of the buffer.
#[derive(Default)]
pub(super) struct Incoming {
    /// When the server began waiting for the rest of its head, for `headersTimeout`.
    pub(super) started: Option<Instant>,
    /// Empty lines skipped before its request line.
    pub(super) empty_lines: usize,
    /// Where its head ends, once known.
    pub(super) head_len: Option<usize>,
    /// When the wait for its body began, for `requestTimeout`.
    pub(super) head_done: Option<Instant>,
    /// How far the search for the end of the head got.
    pub(super) scanned: usize,
    pub(super) chunked: Option<ChunkedDecoder>,
    /// Body bytes still missing, when the length is known: sizes the next read.
    pub(super) body_missing: usize,
    /// Bytes its body must have reserved against the budget before the next read.
    pub(super) body_wants: usize,
    /// What its body holds against the budget; moves with it to JS.
    pub(super) body: Option<crate::budget::Reservation>,
    pub(super) expect_continue: bool,
    pub(super) continue_sent: bool,
    /// Its body is being streamed to JS (its head is already consumed from the buffer).
    pub(super) stream: Option<BodyStream>,
}

/// A request body going to JS as it arrives.
pub(super) struct BodyStream {
    pub(super) slot: Rc<Slot>,
    /// Bytes still to come when the length is known; `None` for chunked (`Incoming::chunked`).
    pub(super) left: Option<usize>,
    /// The route's body limit, for a chunked body.
    pub(super) limit: usize,
    /// Bytes of it are buffered that JS's credit did not let through: once credit comes, they
    /// go before anything is read (the client may have sent all it will send).
    pub(super) held: bool,
}

pub(super) enum Step {
    Done(usize),
    NeedMore,
    Fail(u16),
    /// The head was consumed and the request is in JS; its body follows (`Incoming::stream`).
    Streaming(usize),
    /// Answered natively with its body unread: nothing after it can be framed.
    Refused(usize),
}

/// Frames the request at the front of `buf` (head, then a whole body or the start of a
/// streamed one) and hands it to dispatch.
pub(super) fn next_request(
    ctx: &ConnCtx,
    buf: &[u8],
    incoming: &mut Incoming,
    peer: &Peer,
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

    if ctx.router.has_ws() && head.method_code == 1 && handshake::wants_websocket(head.headers) {
        if let Some((found, route)) = ctx.router.lookup_ws(head.path) {
            // Nothing after an upgrade is read as HTTP: frames follow, or the connection closes.
            *close = true;
            let asked = match handshake::check(head.http10, head.headers) {
                Ok(asked) => asked,
                Err(Refusal::Bad(_)) => return Step::Fail(400),
                Err(Refusal::Version) => {
                    ctx.stats.native(426);
                    owed.native(|out| {
                        response::simple_with(
                            out.bytes(),
                            426,
                            ConnHeader::Close,
                            false,
                            b"sec-websocket-version: 13\r\n",
                        )
                    });
                    return Step::Refused(head_len);
                }
            };
            if !matches!(head.framing, Framing::None | Framing::Length(0)) {
                return Step::Fail(400);
            }
            dispatch::upgrade(ctx, &head, peer, found, route, &asked, owed);
            return Step::Done(head_len);
        }
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
        peer,
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
        held: false,
    });
    Step::Streaming(consumed)
}
