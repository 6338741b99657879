//! Batching between the server thread and the JS thread.
//!
//! Outbound, connections append request envelopes to one batch; a flusher task, woken by the
//! first append, hands the whole batch to JS in one call. Because the flusher runs after every
//! task already woken in this turn of the event loop, a busy server sends many requests per
//! call while a lone request still leaves at once.
//!
//! Inbound, JS pushes response batches into the `Mailbox` (the only cross-thread structure) and
//! wakes the server thread once per batch; `Bridge::deliver` then fills each waiting `Slot`.
//!
//! Streams (stream.rs) travel in the same batches both ways: request body data and answer
//! credits out, answer heads, body data and request-body credits in; no call per chunk.

pub mod cache_group;
pub mod compression;
pub mod direct;
pub mod handoff;
mod mailbox;
pub mod records;
pub mod stream;

pub use mailbox::{Mail, Mailbox, Post};

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use monoio::time::Instant;

use crate::budget::Reservation;
use crate::cache::{Cache, Follower};
use crate::files::conditional::{Conditions, Validators};
use crate::files::path::Dotfiles;
use crate::files::{Answer, FileOptions, FileRequest, Files};
use crate::h1::encode::{self as response, ConnHeader};
use crate::outbox::Outbox;
use crate::stats::{bump, Stats};
use crate::stored::Stored;
use crate::ws::hub::{Hub, Socket};
use crate::ws::{close_code, handshake};
use direct::{Offers, Outcome, RawFd};
use handoff::Handoff;
use records::{Record, RequestParts, ResponseRecord};
use stream::{Slot, Upgrade, CREDIT_BATCH};

/// A request that missed the response cache while another for the same key is in JS: it waits
/// for that answer (`Cache::follow`) instead of running the handler again.
pub struct Waiter {
    pub slot: Rc<Slot>,
    /// Its envelope, ready to join a batch if the leader's answer is not cached.
    pub envelope: Vec<u8>,
}

impl Follower for Waiter {
    fn id(&self) -> u32 {
        self.slot.id()
    }
    fn is_abandoned(&self) -> bool {
        self.slot.is_abandoned()
    }
}

/// The response cache, its single-flight waiters being requests of this bridge.
pub type ResponseCache = Cache<Waiter>;

/// Hands a full batch of envelopes to JS. Set up by the napi layer; must not block.
pub type Deliver = Box<dyn Fn(Vec<u8>)>;

pub struct Bridge {
    batch: RefCell<Vec<u8>>,
    flusher: Cell<Option<Waker>>,
    /// Requests waiting for JS to answer (or to begin answering).
    pending: RefCell<HashMap<u32, Rc<Slot>>>,
    /// Requests whose answer JS is streaming: they no longer count against `maxInFlight`, so
    /// open streams (SSE clients) do not shed the requests behind them.
    streams: RefCell<HashMap<u32, Rc<Slot>>>,
    next_id: Cell<u32>,
    /// `None` once detached at shutdown.
    to_js: RefCell<Option<Deliver>>,
    /// Set at shutdown: every response from then on closes its connection.
    closing: Cell<bool>,
    /// Requests in the batch being gathered.
    batch_len: Cell<u64>,
    max_in_flight: usize,
    handler_timeout: Option<Duration>,
    /// How long a streamed answer may go without JS sending a byte (`streamTimeout`).
    stream_timeout: Option<Duration>,
    stats: Arc<Stats>,
    lone: Lone,
    /// When the last lone request was offered, to tell a client that sends them back to back.
    last_offer: Cell<Option<Instant>>,
    /// Serves `res.sendFile` answers (FLAG_FILE records) like a directory mount's.
    files: Rc<Files>,
    /// Open WebSockets and their topics: JS's sends, closes, subscriptions and publishes.
    pub hub: Rc<Hub>,
    /// The servers this one's cache is shared with (`cache_group.rs`), and the epoch of the batch
    /// being settled, which the copies of what it stores carry.
    cache_group: cache_group::Membership,
    batch_epoch: Cell<u64>,
}

/// What the server thread shares with the JS thread for lone requests.
#[derive(Clone, Default)]
pub struct Lone {
    /// Answers JS may write itself (direct.rs).
    pub offers: Arc<Offers>,
    /// Batches for a JS thread that waits for them (handoff.rs).
    pub handoff: Arc<Handoff>,
    /// `busyPoll`: how long JS waits for the next request of a client that sends them back to
    /// back; zero never waits.
    pub busy_poll: Duration,
}

/// Control events for JS (docs/bridge.md, "Control record").
#[derive(Clone, Copy)]
pub enum Event {
    ClientGone = 1,
    HandlerTimedOut = 2,
    ServerError = 3,
    /// A streamed answer sent nothing for `streamTimeout`: Rust ended it.
    StreamTimedOut = 4,
    /// A streamed request body stopped arriving for `requestTimeout` (Rust answered 408).
    BodyTimedOut = 5,
    /// A streamed request body was malformed or past the route's limit (Rust answered 400/413).
    BodyInvalid = 6,
    /// A streamed answer ran past the `content-length` JS set: Rust cut it there and closes.
    LengthExceeded = 7,
}

/// How often `tick` runs, and how long a request waits on JS before its connection starts
/// watching for the client leaving. Fast answers, the common case, pay for neither a timer nor
/// a socket poll.
pub const TICK: Duration = Duration::from_millis(100);

/// The most room a new batch starts with: what an idle server keeps allocated for its next
/// batch is at most this.
const BATCH_HINT: usize = 1 << 20;

impl Bridge {
    pub fn new(
        to_js: Deliver,
        max_in_flight: usize,
        timeouts: &crate::config::Timeouts,
        stats: Arc<Stats>,
        lone: Lone,
        files: Rc<Files>,
        cache_group: cache_group::Membership,
    ) -> Self {
        let (handler_timeout, stream_timeout) = (timeouts.handler, timeouts.stream);
        Bridge {
            batch: RefCell::new(Vec::new()),
            flusher: Cell::new(None),
            pending: RefCell::new(HashMap::new()),
            streams: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            to_js: RefCell::new(Some(to_js)),
            closing: Cell::new(false),
            batch_len: Cell::new(0),
            max_in_flight,
            handler_timeout,
            stream_timeout,
            hub: Rc::new(Hub::new(stats.clone())),
            stats,
            lone,
            last_offer: Cell::new(None),
            files,
            cache_group,
            batch_epoch: Cell::new(0),
        }
    }

    /// Queues a request for JS. `Err` carries the status to answer instead: 503 past
    /// `maxInFlight`, or what the envelope could not carry. `offerable`: nothing but its
    /// connection waits on the answer (no response-cache flight), so JS may write it (`offer`).
    /// `body` holds the body's bytes against the budget until the request is over.
    pub fn dispatch<'p>(
        &self,
        route_id: u32,
        parts: &RequestParts<'_, '_>,
        params: impl Iterator<Item = &'p str>,
        conn: ConnHeader,
        offerable: bool,
        body: Option<Reservation>,
    ) -> Result<Rc<Slot>, u16> {
        self.admit()?;
        let id = self.fresh_id();
        records::encode_request(&mut self.batch.borrow_mut(), id, route_id, parts, params)?;
        self.enqueued(true);
        let slot = self.new_slot(id, route_id, parts, conn, offerable, body);
        slot.in_js.set(true);
        Ok(slot)
    }

    /// Like `dispatch`, but the envelope is handed back instead of joining the batch: the
    /// request waits on another one for the same key (`release` sends it if it must go to JS).
    pub fn hold<'p>(
        &self,
        route_id: u32,
        parts: &RequestParts<'_, '_>,
        params: impl Iterator<Item = &'p str>,
        conn: ConnHeader,
    ) -> Result<(Rc<Slot>, Vec<u8>), u16> {
        self.admit()?;
        let id = self.fresh_id();
        let mut envelope = Vec::new();
        records::encode_request(&mut envelope, id, route_id, parts, params)?;
        Ok((
            self.new_slot(id, route_id, parts, conn, false, None),
            envelope,
        ))
    }

    /// Sends a held envelope to JS after all, unless its connection gave up on it.
    pub fn release(&self, slot: &Slot, envelope: &[u8]) {
        if slot.abandoned.get() {
            return;
        }
        self.batch.borrow_mut().extend_from_slice(envelope);
        self.enqueued(true);
        slot.in_js.set(true);
    }

    /// Load shedding: past `maxInFlight` requests waiting on JS, new ones are refused.
    fn admit(&self) -> Result<(), u16> {
        if self.pending.borrow().len() >= self.max_in_flight {
            return Err(503);
        }
        Ok(())
    }

    fn enqueued(&self, request: bool) {
        if request {
            self.batch_len.set(self.batch_len.get() + 1);
            bump(&self.stats.requests_js);
        }
        if let Some(w) = self.flusher.take() {
            w.wake();
        }
    }

    fn new_slot(
        &self,
        id: u32,
        route_id: u32,
        parts: &RequestParts<'_, '_>,
        conn: ConnHeader,
        offerable: bool,
        body: Option<Reservation>,
    ) -> Rc<Slot> {
        let slot = Rc::new(Slot::new(
            id,
            route_id,
            parts.method_code == 2,
            parts.http10,
            conn,
            // A streamed body's handler may wait for all of it: its time starts at the end.
            self.handler_timeout
                .filter(|_| !parts.body_stream)
                .map(|t| Instant::now() + t),
            offerable && !parts.body_stream,
            body,
            parts.body_stream,
        ));
        self.pending.borrow_mut().insert(id, slot.clone());
        slot
    }

    /// Sends JS `bytes` of `slot`'s streamed request body (the last when `end`), spending its
    /// credit. Nothing is sent for a request JS no longer has.
    pub fn body_data(&self, slot: &Slot, bytes: &[u8], end: bool) {
        if end {
            slot.body_ended();
            // The handler's time starts when it has the whole body it may be waiting for.
            if slot.is_waiting() {
                slot.deadline
                    .set(self.handler_timeout.map(|t| Instant::now() + t));
            }
        }
        if slot.abandoned.get() {
            return;
        }
        slot.spend_body_credit(bytes.len());
        records::encode_data(&mut self.batch.borrow_mut(), slot.id, bytes, end);
        self.enqueued(false);
    }

    /// Tells JS that `bytes` more of `slot`'s streamed answer reached the socket, so it may send
    /// that much more (`res.write()` returning true again, `'drain'`).
    /// Sent in `CREDIT_BATCH`es, or at once when JS waits for it.
    pub fn credit(&self, slot: &Slot, bytes: usize) {
        if bytes == 0 || slot.abandoned.get() || !slot.is_streaming() {
            return;
        }
        // The stream moves: a handler held back by a slow client (waiting for this credit) is
        // not idle.
        slot.last_piece.set(Instant::now());
        let owed = slot.uncredited.get() + bytes;
        if owed < CREDIT_BATCH && !slot.js_waiting.get() {
            slot.uncredited.set(owed);
            return;
        }
        slot.uncredited.set(0);
        slot.js_waiting.set(false);
        records::encode_credit(&mut self.batch.borrow_mut(), slot.id, owed);
        self.enqueued(false);
    }

    /// Lets JS write `slot`'s answer to the socket `fd` itself (direct.rs), when it is the only
    /// request in flight on the whole server: a lone request, where the wake-up saved is most
    /// of the latency. Under load answers keep going out in batches from this thread. The
    /// caller vouches that its connection owes nothing before this answer and has nothing
    /// unread after it.
    pub fn offer(&self, slot: &Slot, fd: RawFd) {
        if !cfg!(unix)
            || !slot.offerable
            || !slot.in_js.get()
            || slot.abandoned.get()
            || slot.is_ready()
            || slot.is_offered()
            || self.closing.get()
            || slot.conn == ConnHeader::Close
            || self.pending.borrow().len() != 1
        {
            return;
        }
        // Back to back: this request came soon enough after the last that, had JS waited
        // `busyPoll` after answering that one, it would likely have caught this one.
        let now = Instant::now();
        let back_to_back = self
            .last_offer
            .replace(Some(now))
            .is_some_and(|last| now.saturating_duration_since(last) <= self.lone.busy_poll * 2);
        let offer = self.lone.offers.publish(
            fd,
            slot.id,
            slot.head,
            slot.conn,
            back_to_back,
            slot.accepted().cloned(),
        );
        *slot.offer.borrow_mut() = Some(offer);
        // Nothing else is in flight to batch it with: JS is woken now rather than after this
        // connection has set up its wait, which is on the lone request's path.
        self.hand_over();
    }

    /// Takes `slot`'s offer back from JS (before its connection reads, writes or closes) and
    /// says what JS did with it; `None` if it was not offered. When JS wrote the whole answer,
    /// the request is over: nothing more is done for it.
    pub fn take_back(&self, slot: &Slot) -> Option<Outcome> {
        let outcome = self.lone.offers.take_back(slot.offer.borrow().as_deref()?);
        match outcome {
            Outcome::Written => {
                slot.offer.take();
                slot.abandoned.set(true);
                self.pending.borrow_mut().remove(&slot.id);
            }
            Outcome::Revoked => {
                slot.offer.take();
            }
            // Kept until the tail arrives (`settle`).
            Outcome::Handed => {}
        }
        Some(outcome)
    }

    /// Takes `slot`'s offer back; true when JS answered it itself. All written: its connection is
    /// woken with nothing left to write. Partly written: the rest is on its way (`Post::Tail`),
    /// and nothing else may be sent in its place.
    fn answered_by_js(&self, slot: &Slot) -> bool {
        match self.take_back(slot) {
            Some(Outcome::Written) => {
                slot.finish(Outbox::default(), false);
                true
            }
            Some(Outcome::Handed) => true,
            Some(Outcome::Revoked) | None => false,
        }
    }

    /// The connection no longer waits for this request (it left, or the handler timed out): a
    /// late answer will be dropped, and JS is told so it can abort `req.signal`.
    pub fn abandon(&self, slot: &Slot, event: Event) {
        // JS must be done with the socket before the connection closes it.
        if self.take_back(slot) == Some(Outcome::Written) {
            return;
        }
        if slot.abandoned.replace(true) {
            return;
        }
        self.pending.borrow_mut().remove(&slot.id);
        self.streams.borrow_mut().remove(&slot.id);
        if slot.in_js.get() && (slot.is_waiting() || slot.is_streaming() || slot.body_open()) {
            self.notify(event, slot.id, b"");
        }
    }

    /// Runs every `TICK`: answers 503 for requests past their handler timeout (JS is told, so
    /// `req.signal` aborts, and the late answer is dropped), and marks long waits so their
    /// connections watch for the client leaving.
    pub fn tick(&self, now: Instant) {
        let mut slots: Vec<Rc<Slot>> = self.pending.borrow().values().cloned().collect();
        slots.extend(self.streams.borrow().values().cloned());
        for slot in slots {
            // JS wrote it and the client has not sent anything since: the connection learns
            // here that it is idle again.
            if slot.offer_written() && self.answered_by_js(&slot) {
                continue;
            }
            if slot.deadline.get().is_some_and(|d| d <= now) {
                // Part of the answer may be on the wire: the rest must follow, not a 503.
                if self.answered_by_js(&slot) {
                    continue;
                }
                self.abandon(&slot, Event::HandlerTimedOut);
                let conn = self.conn_for(&slot);
                let mut out = Outbox::default();
                response::simple(out.bytes(), 503, conn, slot.head);
                self.stats.response(503);
                slot.finish(out, conn == ConnHeader::Close);
            } else if slot.is_streaming()
                && !slot.writing.get()
                && self
                    .stream_timeout
                    .is_some_and(|t| now.saturating_duration_since(slot.last_piece.get()) >= t)
            {
                // The head is on the wire: the only honest end is a cut-off body.
                self.abandon(&slot, Event::StreamTimedOut);
                slot.finish(Outbox::default(), true);
            } else if !slot.long.get() && now.saturating_duration_since(slot.since) >= TICK {
                slot.long.set(true);
                slot.nudge();
            }
        }
    }

    /// Reports an internal error (a contained panic) to JS.
    pub fn report_error(&self, message: &str) {
        self.notify(Event::ServerError, 0, message.as_bytes());
    }

    fn notify(&self, event: Event, request_id: u32, message: &[u8]) {
        records::encode_control(
            &mut self.batch.borrow_mut(),
            event as u8,
            request_id,
            message,
        );
        self.enqueued(false);
    }

    /// Ids wrap after 2³² requests; one still pending from long ago is skipped, not reused.
    fn fresh_id(&self) -> u32 {
        let pending = self.pending.borrow();
        let streams = self.streams.borrow();
        loop {
            let id = self.next_id.get();
            self.next_id.set(id.wrapping_add(1));
            if !pending.contains_key(&id) && !streams.contains_key(&id) && !self.hub.contains(id) {
                return id;
            }
        }
    }

    /// Drops the JS callback (batches after this are discarded) and every pending slot: a slot
    /// holds its connection's waker, so leaving it would keep that connection alive forever.
    pub fn detach(&self) {
        self.to_js.borrow_mut().take();
        self.pending.borrow_mut().clear();
        self.streams.borrow_mut().clear();
    }

    /// From now on every response closes its connection; JS, which cannot add that header,
    /// gives back what it was offered.
    pub fn set_closing(&self) {
        self.closing.set(true);
        let slots: Vec<Rc<Slot>> = self.pending.borrow().values().cloned().collect();
        for slot in slots {
            self.answered_by_js(&slot);
        }
    }

    /// Runs for the server's lifetime: hands each batch to JS as soon as it has one.
    pub async fn run_flusher(&self) {
        loop {
            poll_fn(|cx| {
                if self.batch.borrow().is_empty() {
                    self.flusher.set(Some(cx.waker().clone()));
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            self.hand_over();
        }
    }

    /// Hands whatever is batched to JS now (at the end of the server's life).
    pub fn flush_now(&self) {
        self.hand_over();
    }

    fn hand_over(&self) {
        if self.batch.borrow().is_empty() {
            return;
        }
        // V8 accounts the Buffer by its length, so its capacity must not be larger: memory it
        // cannot see does not make it collect, and unseen batches piled up by the hundred MB.
        // The next batch starts with the room this one took (up to `BATCH_HINT`): under load
        // batches are alike, and growing one from nothing copies it several times over.
        let hint = self.batch.borrow().len().min(BATCH_HINT);
        let mut batch = self.batch.replace(Vec::with_capacity(hint));
        batch.shrink_to_fit();
        bump(&self.stats.bridge_calls);
        self.stats.bridge_requests.fetch_add(
            self.batch_len.replace(0),
            std::sync::atomic::Ordering::Relaxed,
        );
        let batch = match self.lone.handoff.hand(batch) {
            Ok(()) => {
                bump(&self.stats.bridge_polled);
                return;
            }
            Err(batch) => batch,
        };
        if let Some(to_js) = &*self.to_js.borrow() {
            to_js(batch);
        }
    }

    /// Applies posts in the order JS made them.
    pub fn settle(&self, posts: Vec<Post>, cache: &mut ResponseCache) {
        for post in posts {
            match post {
                Post::Responses(batch, epoch) => {
                    self.batch_epoch.set(epoch);
                    self.deliver(&Bytes::from(batch), cache);
                }
                Post::Cache(op) => cache.apply(op),
                Post::Replica(copy) => {
                    if self.cache_group.group.admits(copy.epoch) {
                        let stored = cache.insert(&copy.key, copy.stored, copy.ttl, Instant::now());
                        if let (true, Some(route)) = (stored, copy.route) {
                            cache.mark_cacheable(route);
                        }
                    }
                }
                Post::Tail(id, bytes) => {
                    let slot = self.pending.borrow_mut().remove(&id);
                    if let Some(slot) = slot {
                        slot.offer.take();
                        slot.finish(Outbox::from_bytes(bytes), false);
                    }
                }
            }
        }
    }

    /// Applies each record of a JS batch: answers (whole, or a streamed answer's head) and
    /// body pieces go into their slots, waking their connections; credits let a request body
    /// flow on. `res.ncache` answers are stored and settle the requests that waited on them.
    pub fn deliver(&self, batch: &Bytes, cache: &mut ResponseCache) {
        self.apply(batch, cache);
        for (socket, bytes) in self.hub.flush() {
            self.ws_credit(&socket, bytes);
        }
    }

    fn apply(&self, batch: &Bytes, cache: &mut ResponseCache) {
        let now = Instant::now();
        for record in records::decode_responses(batch) {
            let Ok(record) = record else {
                eprintln!("http-native: dropped a malformed response batch from JS");
                return;
            };
            match record {
                Record::Response(record) => self.answer(&record, cache, now),
                Record::Data {
                    request_id,
                    abort: true,
                    ..
                } => self.cut(request_id),
                Record::Data {
                    request_id,
                    end,
                    waiting,
                    bytes,
                    ..
                } => self.answer_piece(request_id, batch.slice_ref(bytes), end, waiting),
                Record::Credit { request_id, bytes } if self.hub.contains(request_id) => {
                    if let Some(socket) = self.hub.get(request_id) {
                        socket.credit_from_js(bytes as usize);
                    }
                }
                Record::WsSend {
                    id,
                    binary,
                    compress,
                    waiting,
                    payload,
                } => self
                    .hub
                    .send(id, batch.slice_ref(payload), binary, compress, waiting),
                Record::WsEnd {
                    id,
                    code,
                    reason,
                    terminate,
                } => {
                    if let Some(socket) = self.hub.get(id) {
                        if terminate {
                            socket.request_terminate();
                        } else {
                            socket.request_end(code, reason);
                        }
                    }
                }
                Record::WsSubscribe { id, topic, on } => self.hub.subscribe(id, topic, on),
                Record::WsPublish {
                    from,
                    binary,
                    compress,
                    topic,
                    payload,
                } => self.hub.publish(from, topic, payload, binary, compress),
                Record::Credit { request_id, bytes } => {
                    let slot = self.pending.borrow().get(&request_id).cloned();
                    let slot = slot.or_else(|| self.streams.borrow().get(&request_id).cloned());
                    if let Some(slot) = slot {
                        slot.grant_body_credit(bytes as usize);
                    }
                }
            }
        }
    }

    fn answer(&self, record: &ResponseRecord<'_>, cache: &mut ResponseCache, now: Instant) {
        // A second answer to a request JS already answered itself is dropped.
        let offered = self.pending.borrow().get(&record.request_id).cloned();
        if offered.is_some_and(|slot| slot.is_offered() && self.answered_by_js(&slot)) {
            return;
        }
        let slot = self.pending.borrow_mut().remove(&record.request_id);
        if record.upgrade && slot.is_none() {
            // The client left before its 101: the socket JS just opened is already gone.
            self.ws_closed(record.request_id, close_code::ABNORMAL, b"");
        }
        // A streamed answer is never cached (JS refuses it first).
        let cached_key = if record.end {
            self.store(record, slot.as_deref(), cache, now)
        } else {
            None
        };
        if let Some(slot) = slot {
            let conn = self.conn_for(&slot);
            let mut out = Outbox::default();
            let stored = cached_key.and_then(|key| cache.get_encoded(key, now, |_| slot.coding()));
            let status = response::valid_status(record.status);
            match stored {
                Some((stored, _, coding)) => {
                    // The stored copy never keeps `connection`: honour it for this answer.
                    let conn = if response::asks_close(record.headers()) {
                        ConnHeader::Close
                    } else {
                        conn
                    };
                    let status =
                        stored.write_encoded(&mut out, slot.head, conn, None, None, coding);
                    self.stats.response(status);
                    slot.finish(out, conn == ConnHeader::Close);
                }
                None if record.upgrade && slot.upgrade.borrow().is_some() => {
                    self.accept_upgrade(record, &slot, out);
                }
                None if record.file => {
                    let answer = self.file_answer(record, &slot);
                    let status = answer.write(&mut out, slot.head, conn);
                    self.stats.response(status);
                    slot.finish(out, conn == ConnHeader::Close);
                }
                None if record.end => {
                    out.bytes().reserve(160 + record.body.len());
                    let close =
                        compression::whole(out.bytes(), record, slot.head, conn, slot.accepted());
                    self.stats.response(status);
                    slot.finish(out, close);
                }
                None => {
                    let (mut framing, close, mut compressing) = compression::stream_head(
                        out.bytes(),
                        record,
                        slot.head,
                        slot.http10,
                        conn,
                        slot.accepted(),
                    );
                    let fits = match &mut compressing {
                        Some(c) => {
                            c.piece(out.bytes(), &mut framing, record.body, false);
                            true
                        }
                        None => response::body_piece(out.bytes(), &mut framing, record.body),
                    };
                    self.stats.response(status);
                    if !fits {
                        slot.finish(out, true);
                        self.too_long(&slot);
                    } else {
                        slot.js_waiting.set(record.waiting);
                        slot.begin(out, framing, record.body.len(), close, compressing);
                        self.streams.borrow_mut().insert(slot.id, slot);
                    }
                }
            }
        }
        if let Some((key, waiters)) = cache.land(record.request_id) {
            for waiter in waiters {
                match cache.get_encoded(&key, now, |_| waiter.slot.coding()) {
                    Some((stored, age, coding)) => {
                        self.pending.borrow_mut().remove(&waiter.slot.id);
                        let conn = self.conn_for(&waiter.slot);
                        let mut out = Outbox::default();
                        let status = stored.write_encoded(
                            &mut out,
                            waiter.slot.head,
                            conn,
                            Some(age),
                            None,
                            coding,
                        );
                        bump(&self.stats.cache_hits);
                        bump(&self.stats.requests_native);
                        self.stats.response(status);
                        waiter.slot.finish(out, conn == ConnHeader::Close);
                    }
                    // Not cached after all: the waiter asks JS itself.
                    None => self.release(&waiter.slot, &waiter.envelope),
                }
            }
        }
    }

    /// JS accepted a WebSocket upgrade: the 101 (with the extensions negotiated under the
    /// route's compression), then the socket, open from now on for JS's sends; the connection
    /// switches to it once the 101 is written. A 101 for anything but a checked upgrade is a
    /// bug in JS, answered 500.
    fn accept_upgrade(&self, record: &ResponseRecord<'_>, slot: &Rc<Slot>, mut out: Outbox) {
        let asked = match slot.upgrade.borrow_mut().take() {
            Some(Upgrade::Asked(asked)) if record.status == 101 => asked,
            _ => {
                response::simple(out.bytes(), 500, ConnHeader::Close, slot.head);
                self.stats.response(500);
                slot.finish(out, true);
                return;
            }
        };
        let negotiated = asked.deflate;
        let mut extra = Vec::new();
        for (name, value) in record.headers() {
            const OURS: [&[u8]; 3] = [
                b"upgrade",
                b"sec-websocket-accept",
                b"sec-websocket-extensions",
            ];
            if !response::keeps_app_header(name, value, &OURS) {
                continue;
            }
            extra.extend_from_slice(name);
            extra.extend_from_slice(b": ");
            extra.extend_from_slice(value);
            extra.extend_from_slice(b"\r\n");
        }
        let extensions = negotiated.as_ref().map(|(_, value)| value.as_bytes());
        handshake::write_101(out.bytes(), &asked.accept, extensions, &extra);
        let socket = Rc::new(Socket::new(
            slot.id,
            asked.route,
            negotiated.map(|(n, _)| n),
        ));
        self.hub.open(socket.clone());
        *slot.upgrade.borrow_mut() = Some(Upgrade::Accepted(socket));
        self.stats.response(101);
        slot.finish(out, false);
    }

    /// A whole message from socket `socket`'s client, for JS.
    pub fn ws_message(&self, socket: &Socket, binary: bool, payload: &[u8]) {
        socket.sent_to_js(payload.len());
        records::encode_ws_message(&mut self.batch.borrow_mut(), socket.id, binary, payload);
        self.enqueued(false);
    }

    /// Socket `socket`'s connection is over: it leaves the hub and JS learns how it ended.
    pub fn ws_ended(&self, socket: &Socket, code: u16, reason: &[u8]) {
        if socket.is_closed() {
            return;
        }
        self.hub.close(socket);
        self.ws_closed(socket.id, code, reason);
    }

    fn ws_closed(&self, id: u32, code: u16, reason: &[u8]) {
        records::encode_ws_closed(&mut self.batch.borrow_mut(), id, code, reason);
        self.enqueued(false);
    }

    /// `bytes` of JS's own messages to `socket` were written: credited in `CREDIT_BATCH`es, or
    /// at once when JS waits for it (`drain`).
    pub fn ws_credit(&self, socket: &Socket, bytes: usize) {
        let owed = socket.uncredited.get() + bytes;
        if owed == 0 || (owed < CREDIT_BATCH && !socket.js_waiting.get()) {
            socket.uncredited.set(owed);
            return;
        }
        socket.uncredited.set(0);
        socket.js_waiting.set(false);
        records::encode_credit(&mut self.batch.borrow_mut(), socket.id, owed);
        self.enqueued(false);
    }

    /// `res.sendFile`'s answer: the record's body is the path, its pseudo headers the options
    /// and the request's conditional headers, its other headers the app's.
    fn file_answer(&self, record: &ResponseRecord<'_>, slot: &Slot) -> Answer {
        let mut opts = FileOptions {
            // `res.status(404).sendFile(page)`: that status, for the whole file.
            status: (record.status != 200).then(|| response::valid_status(record.status)),
            ..FileOptions::default()
        };
        let mut cond = Conditions::default();
        let mut root = None;
        for (name, value) in record.headers() {
            if !name.starts_with(b":") {
                if !response::keeps_app_header(name, value, &[]) {
                    continue;
                }
                // The app's validators replace ours, as Express keeps them.
                if name.eq_ignore_ascii_case(b"etag") {
                    opts.etag_value = Some(value.to_vec());
                    continue;
                }
                if name.eq_ignore_ascii_case(b"last-modified") {
                    if let Some(date) = Validators::parse_date(value) {
                        opts.last_modified_value = Some(date);
                        continue;
                    }
                    // Not a date we can compare: sent as it is, with no If-Modified-Since.
                    opts.last_modified = false;
                }
                if name.eq_ignore_ascii_case(b"content-type") {
                    opts.content_type = std::str::from_utf8(value).ok().map(str::to_string);
                    continue;
                }
                opts.extra.extend_from_slice(name);
                opts.extra.extend_from_slice(b": ");
                opts.extra.extend_from_slice(value);
                opts.extra.extend_from_slice(b"\r\n");
                continue;
            }
            if cond.take(b":", name, value) {
                continue;
            }
            let text = std::str::from_utf8(value).ok();
            match &name[1..] {
                b"root" => root = text,
                b"dotfiles" => {
                    if let Some(d) = text.and_then(Dotfiles::parse) {
                        opts.dotfiles = d;
                    }
                }
                b"etag" => opts.etag = value != b"0",
                b"last-modified" => opts.last_modified = value != b"0",
                b"accept-ranges" => opts.accept_ranges = value != b"0",
                b"download" => opts.download = text.map(str::to_string),
                _ => {}
            }
        }
        match std::str::from_utf8(record.body) {
            Ok(path) => {
                let req = FileRequest {
                    cond,
                    head: slot.head,
                    http10: slot.http10,
                    policy: slot.accepted().map(|a| &*a.policy),
                };
                self.files.serve_path(path, root, &opts, &req)
            }
            Err(_) => Answer::status(400),
        }
    }

    /// JS gave up on an answer (`res.destroy()`, a failed source): whatever was written of it
    /// stays, nothing else follows, and the connection closes, so the client sees it cut off.
    fn cut(&self, request_id: u32) {
        let slot = self.pending.borrow_mut().remove(&request_id);
        let slot = slot.or_else(|| self.streams.borrow_mut().remove(&request_id));
        if let Some(slot) = slot {
            if slot.is_offered() && self.answered_by_js(&slot) {
                return;
            }
            slot.finish(Outbox::default(), true);
        }
    }

    /// A body piece of a streamed answer (the last when `end`). Bytes past the length JS
    /// announced are cut off and close the connection.
    fn answer_piece(&self, request_id: u32, bytes: Bytes, end: bool, waiting: bool) {
        let Some(slot) = self.streams.borrow().get(&request_id).cloned() else {
            return;
        };
        if waiting {
            slot.js_waiting.set(true);
        }
        let mut over = false;
        slot.piece(bytes.len(), |out, framing, compressing| {
            if let Some(c) = compressing {
                return c.piece(out.bytes(), framing, &bytes, end);
            }
            if !response::body_piece_shared(out, framing, bytes) {
                over = true;
                return Some(true);
            }
            end.then(|| response::body_end(out.bytes(), *framing))
        });
        if over {
            self.too_long(&slot);
        }
        if end || over {
            self.streams.borrow_mut().remove(&request_id);
        }
    }

    /// A streamed answer went past its `content-length`: what fit is written and the connection
    /// closes; JS is told, so the producer stops (`res` 'close', writes become no-ops).
    fn too_long(&self, slot: &Slot) {
        slot.abandoned.set(true);
        self.pending.borrow_mut().remove(&slot.id);
        self.streams.borrow_mut().remove(&slot.id);
        self.notify(Event::LengthExceeded, slot.id, b"");
    }

    /// Stores a `res.ncache` answer; returns its key when it was stored.
    fn store<'r>(
        &self,
        record: &ResponseRecord<'r>,
        slot: Option<&Slot>,
        cache: &mut ResponseCache,
        now: Instant,
    ) -> Option<&'r str> {
        if record.cache_ttl_ms == 0 {
            return None;
        }
        let key = std::str::from_utf8(record.cache_key)
            .ok()
            .filter(|k| !k.is_empty())?;
        // JS refuses this before it gets here; a cookie must never be replayed to someone else.
        if record
            .headers()
            .any(|(name, _)| name.eq_ignore_ascii_case(b"set-cookie"))
        {
            return None;
        }
        // The route's compression policy comes with the request; an answer whose client left
        // is stored without one (served unencoded, so without `Vary`, until it expires).
        let policy = slot.and_then(|s| s.accepted()).map(|a| &a.policy);
        let stored = Stored::with_policy(record.status, record.headers(), record.body, policy);
        let ttl = Duration::from_millis(u64::from(record.cache_ttl_ms));
        let copy = self.cache_group.has_peers().then(|| stored.replica());
        if !cache.insert(key, stored, ttl, now) {
            return None;
        }
        if let Some(copy) = copy {
            self.cache_group.group.replicate(
                self.cache_group.id,
                self.batch_epoch.get(),
                key,
                &copy,
                ttl,
                slot.map(|s| s.route_id),
            );
        }
        if let Some(slot) = slot {
            cache.mark_cacheable(slot.route_id);
        }
        Some(key)
    }

    /// The connection header an answer gets: close at shutdown, and when the request's body is
    /// still arriving (it will not be read: the connection cannot be reused).
    fn conn_for(&self, slot: &Slot) -> ConnHeader {
        if self.closing.get() || slot.body_open() {
            ConnHeader::Close
        } else {
            slot.conn
        }
    }
}
