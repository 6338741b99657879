//! One request's stream between its connection and JS (a `Slot`): the answer coming back from
//! JS, whole or as a head followed by body pieces; the request body going out to JS, when its
//! route streams it; and the credits that bound both in bytes. The connection awaits the slot,
//! the bridge fills it. Request bodies, response bodies and SSE are all this one thing; the
//! record format that carries them is in docs/bridge.md.
//!
//! Flow control, both ways, in bytes:
//! - answer: JS keeps what it sent and Rust has not yet written to the socket under its
//!   high-water mark (js/outgoing.js); the connection credits bytes back as it writes them, so a
//!   client that reads slowly stops JS.
//! - request body: the connection sends JS at most `STREAM_WINDOW` bytes it has not consumed;
//!   JS credits them back as the app reads, and until it does the socket is not read.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

use monoio::time::Instant;

use super::compression::Compressing;
use super::direct::Offer;
use crate::budget::Reservation;
use crate::compress::{Accepted, Coding};
use crate::h1::encode::{BodyFraming, ConnHeader};
use crate::outbox::Outbox;
use crate::router::WsRoute;
use crate::ws::deflate::Negotiated;
use crate::ws::hub::Socket;

/// Bytes of a request body the connection sends JS before the app has read them. A read's
/// worth: 256 KiB moved a 1 GiB upload no faster on this machine and held 80 MB more RSS (the
/// batches JS has not collected yet). js/incoming.js buffers as much in the app's Readable.
pub const STREAM_WINDOW: usize = 64 * 1024;

/// Credit for a streamed answer is sent once this much has been written, or at once when JS
/// said it waits for it: credits JS does not need yet (every SSE event) would each wake the JS
/// thread for nothing. JS then counts up to this much too many bytes in flight, well inside its
/// 256 KiB high-water mark.
pub const CREDIT_BATCH: usize = 64 * 1024;

/// Where a request's answer stands.
pub enum State {
    /// JS has not answered yet.
    Waiting,
    /// The head went out (or is in `out`); body pieces follow, framed this way.
    Streaming(BodyFraming),
    /// Complete: after `out`, the connection closes if `close`.
    Done { close: bool },
}

/// What the connection takes from a slot each time it wakes.
pub struct Piece {
    pub out: Outbox,
    /// Body bytes of a streamed answer in `out`: credited back to JS once written.
    pub credit: usize,
    /// `Some(close)` once the answer is complete.
    pub done: Option<bool>,
}

/// One request waiting on JS. The connection awaits it; `Bridge::deliver` fills it.
pub struct Slot {
    pub(crate) id: u32,
    pub(crate) route_id: u32,
    pub(crate) head: bool,
    pub(crate) http10: bool,
    pub(crate) conn: ConnHeader,
    /// When Rust stops waiting and answers 503 (`handlerTimeout`); `None` waits forever.
    /// Cleared once a streamed answer's head arrives: from then on the stream idle timeout
    /// applies instead.
    pub(crate) deadline: Cell<Option<Instant>>,
    pub(crate) since: Instant,
    /// Waiting longer than `TICK`: its connection should watch for the client leaving.
    pub(crate) long: Cell<bool>,
    /// `long` was just set: the connection's wait returns once to arm its watch.
    pub(crate) nudged: Cell<bool>,
    /// Sent to JS (a single-flight follower may never be).
    pub(crate) in_js: Cell<bool>,
    /// Its connection gave up on it: nothing more is done for it.
    pub(crate) abandoned: Cell<bool>,
    /// Plain JS dispatch: no response cache waits on its answer, so JS may write it (direct.rs).
    pub(crate) offerable: bool,
    /// Offered to JS; kept until the server thread knows what became of it.
    pub(crate) offer: RefCell<Option<Arc<Offer>>>,
    answer: RefCell<Answer>,
    waker: Cell<Option<Waker>>,
    /// When JS last sent part of a streamed answer, or the client last took some, for the
    /// stream idle timeout.
    pub(crate) last_piece: Cell<Instant>,
    /// Its connection is writing a piece: the stream waits on the client, not on JS, and the
    /// write has its own stall timeout.
    pub(crate) writing: Cell<bool>,
    /// Bytes written and not yet credited to JS (`CREDIT_BATCH`).
    pub(crate) uncredited: Cell<usize>,
    /// JS reached its high-water mark and waits for credit.
    pub(crate) js_waiting: Cell<bool>,
    /// The request body is streamed to JS and has not ended: an answer that completes before it
    /// closes the connection (the rest of the body is never read).
    body_open: Cell<bool>,
    /// Bytes of the streamed request body JS will still take.
    body_credit: Cell<usize>,
    credit_waker: Cell<Option<Waker>>,
    /// The body's bytes against `maxInFlightBytes`, held until the request is over (this slot
    /// dropped: answered and written, or abandoned).
    pub(crate) _body: Option<Reservation>,
    /// Set at dispatch when the route compresses: the coding the client accepts and the policy
    /// that decides whether the answer is compressed. Unset, the answer goes out as JS sent it.
    accepted: OnceCell<Accepted>,
    /// A WebSocket upgrade: asked (waiting on JS), then accepted (the connection switches).
    pub(crate) upgrade: RefCell<Option<Upgrade>>,
}

/// Where a WebSocket upgrade stands.
pub enum Upgrade {
    /// The handshake, checked, waiting for JS to accept or refuse it.
    Asked(Box<Asked>),
    /// JS accepted: once the 101 is written the connection speaks WebSocket for this socket.
    Accepted(Rc<Socket>),
}

pub struct Asked {
    /// `Sec-WebSocket-Accept`'s value.
    pub accept: [u8; 28],
    /// permessage-deflate as agreed from the client's offers under the route's compression, and
    /// the header value that says so.
    pub deflate: Option<(Negotiated, String)>,
    pub route: WsRoute,
}

struct Answer {
    out: Outbox,
    state: State,
    credit: usize,
    /// The connection closes once the streamed answer ends.
    close: bool,
    /// A streamed answer being compressed.
    compressing: Option<Box<Compressing>>,
}

impl Slot {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: u32,
        route_id: u32,
        head: bool,
        http10: bool,
        conn: ConnHeader,
        deadline: Option<Instant>,
        offerable: bool,
        body: Option<Reservation>,
        streams_body: bool,
    ) -> Slot {
        let now = Instant::now();
        Slot {
            id,
            route_id,
            head,
            http10,
            conn,
            deadline: Cell::new(deadline),
            since: now,
            long: Cell::new(false),
            nudged: Cell::new(false),
            in_js: Cell::new(false),
            abandoned: Cell::new(false),
            offerable,
            offer: RefCell::new(None),
            answer: RefCell::new(Answer {
                out: Outbox::default(),
                state: State::Waiting,
                credit: 0,
                close: false,
                compressing: None,
            }),
            waker: Cell::new(None),
            last_piece: Cell::new(now),
            writing: Cell::new(false),
            uncredited: Cell::new(0),
            js_waiting: Cell::new(false),
            body_open: Cell::new(streams_body),
            body_credit: Cell::new(if streams_body { STREAM_WINDOW } else { 0 }),
            credit_waker: Cell::new(None),
            _body: body,
            accepted: OnceCell::new(),
            upgrade: RefCell::new(None),
        }
    }

    /// Records what the client accepts under its route's compression policy (at dispatch).
    pub fn accept(&self, accepted: Accepted) {
        let _ = self.accepted.set(accepted);
    }

    /// What the client accepts, when its route compresses.
    pub fn accepted(&self) -> Option<&Accepted> {
        self.accepted.get()
    }

    /// The coding a stored answer goes out in for this request: identity for a HEAD or a route
    /// that does not compress (`Stored::write_encoded` also falls back to identity for an
    /// answer its policy leaves alone).
    pub fn coding(&self) -> Coding {
        match self.accepted.get() {
            Some(a) if !self.head => a.coding,
            _ => Coding::Identity,
        }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// The socket JS accepted this upgrade as, for its connection to switch to.
    pub fn take_switch(&self) -> Option<Rc<Socket>> {
        let mut upgrade = self.upgrade.borrow_mut();
        match upgrade.take() {
            Some(Upgrade::Accepted(socket)) => Some(socket),
            other => {
                *upgrade = other;
                None
            }
        }
    }

    /// Its connection gave up on it: its answer is no longer wanted.
    pub fn is_abandoned(&self) -> bool {
        self.abandoned.get()
    }

    /// Waiting long enough that the client leaving matters (see `Bridge::tick`).
    pub fn is_long(&self) -> bool {
        self.long.get()
    }

    /// Something for the connection to write (or the answer is complete).
    pub fn is_ready(&self) -> bool {
        let answer = self.answer.borrow();
        !answer.out.is_empty() || answer.credit > 0 || matches!(answer.state, State::Done { .. })
    }

    /// JS has not begun answering.
    pub fn is_waiting(&self) -> bool {
        matches!(self.answer.borrow().state, State::Waiting)
    }

    /// A streamed answer is under way.
    pub fn is_streaming(&self) -> bool {
        matches!(self.answer.borrow().state, State::Streaming(_))
    }

    /// Offered to JS, and the server thread does not yet know JS's answer is all written.
    pub fn is_offered(&self) -> bool {
        self.offer.borrow().is_some()
    }

    pub(crate) fn offer_written(&self) -> bool {
        self.offer.borrow().as_ref().is_some_and(|o| o.is_written())
    }

    /// The whole answer (or its last bytes): the connection writes `out`, then closes if `close`.
    pub(crate) fn finish(&self, out: Outbox, close: bool) {
        {
            let mut answer = self.answer.borrow_mut();
            answer.out.append(out);
            answer.state = State::Done { close };
        }
        self.wake();
    }

    /// The head of a streamed answer (and any body bytes JS sent with it), already framed.
    /// `close`: the connection closes once it ends. `compressing`: its pieces are compressed.
    pub(crate) fn begin(
        &self,
        out: Outbox,
        framing: BodyFraming,
        body_len: usize,
        close: bool,
        compressing: Option<Box<Compressing>>,
    ) {
        self.deadline.set(None);
        self.last_piece.set(Instant::now());
        {
            let mut answer = self.answer.borrow_mut();
            answer.out.append(out);
            answer.state = State::Streaming(framing);
            answer.credit += body_len;
            answer.close = close;
            answer.compressing = compressing;
        }
        self.wake();
    }

    /// Appends a body piece of a streamed answer through `frame`, which writes it to the output
    /// in the answer's framing (through the answer's compression, if any) and says whether the
    /// answer is now complete (and whether the connection must close). Ignored unless a stream
    /// is under way.
    pub(crate) fn piece(
        &self,
        len: usize,
        frame: impl FnOnce(&mut Outbox, &mut BodyFraming, Option<&mut Compressing>) -> Option<bool>,
    ) {
        {
            let mut answer = self.answer.borrow_mut();
            let answer = &mut *answer;
            let State::Streaming(framing) = &mut answer.state else {
                return;
            };
            let done = frame(&mut answer.out, framing, answer.compressing.as_deref_mut());
            answer.credit += len;
            if let Some(close) = done {
                answer.state = State::Done {
                    close: close || answer.close,
                };
            }
        }
        self.last_piece.set(Instant::now());
        self.wake();
    }

    fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Wakes the connection once so it notices the wait became long (`Bridge::tick`).
    pub(crate) fn nudge(&self) {
        self.nudged.set(true);
        self.wake();
    }

    fn take_piece(&self) -> Option<Piece> {
        let mut answer = self.answer.borrow_mut();
        let done = match answer.state {
            State::Done { close } => Some(close),
            // A piece with no bytes still carries credit (a HEAD answer's body is dropped).
            _ if answer.out.is_empty() && answer.credit == 0 => return None,
            _ => None,
        };
        Some(Piece {
            out: std::mem::take(&mut answer.out),
            credit: std::mem::take(&mut answer.credit),
            done,
        })
    }

    /// The next piece to write, or `None` once when the wait became long (`is_long`).
    pub async fn piece_or_nudge(&self) -> Option<Piece> {
        poll_fn(|cx| {
            if let Some(piece) = self.take_piece() {
                return Poll::Ready(Some(piece));
            }
            if self.nudged.replace(false) {
                return Poll::Ready(None);
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    /// The next piece to write.
    pub async fn next_piece(&self) -> Piece {
        poll_fn(|cx| match self.take_piece() {
            Some(piece) => Poll::Ready(piece),
            None => {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }

    /// The request body is still being streamed to JS.
    pub fn body_open(&self) -> bool {
        self.body_open.get()
    }

    pub(crate) fn body_ended(&self) {
        self.body_open.set(false);
    }

    /// Bytes of the request body JS will take now.
    pub fn body_credit(&self) -> usize {
        self.body_credit.get()
    }

    pub(crate) fn spend_body_credit(&self, n: usize) {
        self.body_credit
            .set(self.body_credit.get().saturating_sub(n));
    }

    /// JS consumed `n` bytes of the request body: that much more may be sent.
    pub(crate) fn grant_body_credit(&self, n: usize) {
        self.body_credit
            .set(self.body_credit.get().saturating_add(n).min(STREAM_WINDOW));
        if let Some(w) = self.credit_waker.take() {
            w.wake();
        }
    }

    /// Completes once JS granted request-body credit.
    pub async fn body_credit_granted(&self) {
        poll_fn(|cx| {
            if self.body_credit.get() > 0 {
                return Poll::Ready(());
            }
            self.credit_waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}
