//! Batching between the server thread and the JS thread.
//!
//! Outbound, connections append request envelopes to one batch; a flusher task, woken by the
//! first append, hands the whole batch to JS in one call. Because the flusher runs after every
//! task already woken in this turn of the event loop, a busy server sends many requests per
//! call while a lone request still leaves at once.
//!
//! Inbound, JS pushes response batches into the `Mailbox` (the only cross-thread structure) and
//! wakes the server thread once per batch; `Bridge::deliver` then fills each waiting `Slot`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use monoio::time::Instant;

use crate::budget::Reservation;
use crate::cache::{Cache, CacheOp};
use crate::direct::{Answered, Offer, Offers, Outcome, RawFd};
use crate::envelope::{self, RequestParts, ResponseRecord};
use crate::handoff::Handoff;
use crate::outbox::Outbox;
use crate::response::{self, ConnHeader};
use crate::stats::{bump, Stats};
use crate::stored::Stored;

/// What the JS thread sends to the server thread.
#[derive(Default)]
pub struct Mailbox {
    state: Mutex<MailboxState>,
    /// Set while a cache operation waits, so a connection can settle the mail before its next
    /// cache lookup: an invalidation is then in force for every request read after it was made.
    cache_ops_waiting: AtomicBool,
    /// Whether the server thread still accepts connections; `close()` waits for `false`.
    accepting: Mutex<bool>,
    accepting_changed: Condvar,
}

/// Responses and cache operations, in the order JS posted them: a response stored after an
/// invalidation must not come back to life, nor one stored before it survive it.
pub enum Post {
    Responses(Vec<u8>),
    Cache(CacheOp),
    /// The unsent rest of an answer JS began writing itself (direct.rs).
    Tail(u32, Vec<u8>),
}

#[derive(Default)]
struct MailboxState {
    posts: Vec<Post>,
    shutdown: Option<Duration>,
    waker: Option<Waker>,
}

pub struct Mail {
    pub posts: Vec<Post>,
    pub shutdown: Option<Duration>,
}

impl Mailbox {
    /// Posts what JS did not write itself; with nothing left, the server thread is not woken.
    pub fn push_answered(&self, answered: Answered<'_>) {
        if answered.rest.is_empty() && answered.tails.is_empty() {
            return;
        }
        self.with_state(|s| {
            if !answered.rest.is_empty() {
                s.posts.push(Post::Responses(answered.rest.into_owned()));
            }
            for tail in answered.tails {
                s.posts.push(Post::Tail(tail.request_id, tail.bytes));
            }
        });
    }

    pub fn cache_op(&self, op: CacheOp) {
        let waiting = &self.cache_ops_waiting;
        self.with_state(|s| {
            s.posts.push(Post::Cache(op));
            waiting.store(true, Ordering::Release);
        });
    }

    /// Everything posted so far if a cache operation is among it, else nothing: one atomic
    /// load in the common case. The flag changes only under the lock, together with the list.
    pub fn take_if_cache_ops(&self) -> Vec<Post> {
        if !self.cache_ops_waiting.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.take_posts_locked(&mut state)
    }

    fn take_posts_locked(&self, state: &mut MailboxState) -> Vec<Post> {
        self.cache_ops_waiting.store(false, Ordering::Relaxed);
        std::mem::take(&mut state.posts)
    }

    /// Called by the server thread as it starts and stops accepting connections.
    pub fn set_accepting(&self, accepting: bool) {
        *self.accepting.lock().unwrap_or_else(|e| e.into_inner()) = accepting;
        self.accepting_changed.notify_all();
    }

    /// Blocks (the JS thread, briefly) until the server thread stopped accepting, so that
    /// `close()` refuses every connection attempted after it returns. Bounded by `limit` in case
    /// that thread is gone.
    pub fn wait_until_not_accepting(&self, limit: Duration) {
        let guard = self.accepting.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .accepting_changed
            .wait_timeout_while(guard, limit, |accepting| *accepting);
    }

    pub fn request_shutdown(&self, timeout: Duration) {
        self.with_state(|s| {
            s.shutdown.get_or_insert(timeout);
        });
    }

    fn with_state(&self, f: impl FnOnce(&mut MailboxState)) {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut state);
            state.waker.take()
        };
        // Woken outside the lock: waking a monoio task from another thread takes the runtime's
        // own locks.
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Waits for mail. The waker is stored under the same lock that guards the queue, so a push
    /// can never fall between the check and the registration.
    pub async fn receive(&self) -> Mail {
        poll_fn(|cx| {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.posts.is_empty() && state.shutdown.is_none() {
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(Mail {
                posts: self.take_posts_locked(&mut state),
                shutdown: state.shutdown.take(),
            })
        })
        .await
    }
}

/// One request waiting on JS. The connection awaits it; `Bridge::deliver` fills it.
pub struct Slot {
    id: u32,
    route_id: u32,
    head: bool,
    conn: ConnHeader,
    /// When Rust stops waiting and answers 503 (`handlerTimeout`); `None` waits forever.
    deadline: Option<Instant>,
    since: Instant,
    /// Waiting longer than `LONG_WAIT`: its connection should watch for the client leaving.
    long: Cell<bool>,
    /// `long` was just set: the connection's wait returns once to arm its watch.
    nudged: Cell<bool>,
    /// Sent to JS (a single-flight follower may never be).
    in_js: Cell<bool>,
    /// Its connection gave up on it: nothing more is done for it.
    abandoned: Cell<bool>,
    /// Plain JS dispatch: no response cache waits on its answer, so JS may write it (direct.rs).
    offerable: bool,
    /// Offered to JS; kept until the server thread knows what became of it.
    offer: RefCell<Option<Arc<Offer>>>,
    ready: RefCell<Option<(Outbox, bool)>>,
    waker: Cell<Option<Waker>>,
    /// The body's bytes against `maxInFlightBytes`, held until the request is over (this slot
    /// dropped: answered and written, or abandoned).
    _body: Option<Reservation>,
}

impl Slot {
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Its connection gave up on it: its answer is no longer wanted.
    pub fn is_abandoned(&self) -> bool {
        self.abandoned.get()
    }

    /// Waiting long enough that the client leaving matters (see `Bridge::tick`).
    pub fn is_long(&self) -> bool {
        self.long.get()
    }

    fn fill(&self, answer: Outbox, close: bool) {
        *self.ready.borrow_mut() = Some((answer, close));
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.borrow().is_some()
    }

    /// Offered to JS, and the server thread does not yet know JS's answer is all written.
    pub fn is_offered(&self) -> bool {
        self.offer.borrow().is_some()
    }

    fn offer_written(&self) -> bool {
        self.offer.borrow().as_ref().is_some_and(|o| o.is_written())
    }

    /// The answer, or `None` once when the wait became long (`is_long`).
    pub async fn answer_or_nudge(&self) -> Option<(Outbox, bool)> {
        poll_fn(|cx| {
            if let Some(r) = self.ready.borrow_mut().take() {
                return Poll::Ready(Some(r));
            }
            if self.nudged.replace(false) {
                return Poll::Ready(None);
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    /// The serialized response and whether the connection must close after it.
    pub async fn response(&self) -> (Outbox, bool) {
        poll_fn(|cx| match self.ready.borrow_mut().take() {
            Some(r) => Poll::Ready(r),
            None => {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// Hands a full batch of envelopes to JS. Set up by the napi layer; must not block.
pub type Deliver = Box<dyn Fn(Vec<u8>)>;

pub struct Bridge {
    batch: RefCell<Vec<u8>>,
    flusher: Cell<Option<Waker>>,
    pending: RefCell<HashMap<u32, Rc<Slot>>>,
    next_id: Cell<u32>,
    /// `None` once detached at shutdown.
    to_js: RefCell<Option<Deliver>>,
    /// Set at shutdown: every response from then on closes its connection.
    closing: Cell<bool>,
    /// Requests in the batch being gathered.
    batch_len: Cell<u64>,
    max_in_flight: usize,
    handler_timeout: Option<Duration>,
    stats: Arc<Stats>,
    lone: Lone,
    /// When the last lone request was offered, to tell a client that sends them back to back.
    last_offer: Cell<Option<Instant>>,
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
}

const CONTROL_RECORD: u8 = 0x81;

/// How often `tick` runs, and how long a request waits on JS before its connection starts
/// watching for the client leaving. Fast answers, the common case, pay for neither a timer nor
/// a socket poll.
pub const TICK: Duration = Duration::from_millis(100);

impl Bridge {
    pub fn new(
        to_js: Deliver,
        max_in_flight: usize,
        handler_timeout: Option<Duration>,
        stats: Arc<Stats>,
        lone: Lone,
    ) -> Self {
        Bridge {
            batch: RefCell::new(Vec::new()),
            flusher: Cell::new(None),
            pending: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            to_js: RefCell::new(Some(to_js)),
            closing: Cell::new(false),
            batch_len: Cell::new(0),
            max_in_flight,
            handler_timeout,
            stats,
            lone,
            last_offer: Cell::new(None),
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
        envelope::encode_request(&mut self.batch.borrow_mut(), id, route_id, parts, params)?;
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
        envelope::encode_request(&mut envelope, id, route_id, parts, params)?;
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
        let slot = Rc::new(Slot {
            id,
            route_id,
            head: parts.method_code == 2,
            conn,
            deadline: self.handler_timeout.map(|t| Instant::now() + t),
            since: Instant::now(),
            long: Cell::new(false),
            nudged: Cell::new(false),
            in_js: Cell::new(false),
            abandoned: Cell::new(false),
            offerable,
            offer: RefCell::new(None),
            ready: RefCell::new(None),
            waker: Cell::new(None),
            _body: body,
        });
        self.pending.borrow_mut().insert(id, slot.clone());
        slot
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
        let offer = self
            .lone
            .offers
            .publish(fd, slot.id, slot.head, slot.conn, back_to_back);
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
                slot.fill(Outbox::default(), false);
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
        if slot.in_js.get() && !slot.is_ready() {
            self.notify(event, slot.id, b"");
        }
    }

    /// Runs every `TICK`: answers 503 for requests past their handler timeout (JS is told, so
    /// `req.signal` aborts, and the late answer is dropped), and marks long waits so their
    /// connections watch for the client leaving.
    pub fn tick(&self, now: Instant) {
        let slots: Vec<Rc<Slot>> = self.pending.borrow().values().cloned().collect();
        for slot in slots {
            // JS wrote it and the client has not sent anything since: the connection learns
            // here that it is idle again.
            if slot.offer_written() && self.answered_by_js(&slot) {
                continue;
            }
            if slot.deadline.is_some_and(|d| d <= now) {
                // Part of the answer may be on the wire: the rest must follow, not a 503.
                if self.answered_by_js(&slot) {
                    continue;
                }
                self.abandon(&slot, Event::HandlerTimedOut);
                let conn = self.conn_for(&slot);
                let mut out = Outbox::default();
                response::simple(out.bytes(), 503, conn, slot.head);
                self.stats.response(503);
                slot.fill(out, conn == ConnHeader::Close);
            } else if !slot.long.get() && now.saturating_duration_since(slot.since) >= TICK {
                slot.long.set(true);
                slot.nudged.set(true);
                if let Some(w) = slot.waker.take() {
                    w.wake();
                }
            }
        }
    }

    /// Reports an internal error (a contained panic) to JS.
    pub fn report_error(&self, message: &str) {
        self.notify(Event::ServerError, 0, message.as_bytes());
    }

    fn notify(&self, event: Event, request_id: u32, message: &[u8]) {
        let mut batch = self.batch.borrow_mut();
        let len = 12 + message.len();
        batch.extend_from_slice(&(len as u32).to_le_bytes());
        batch.extend_from_slice(&[CONTROL_RECORD, event as u8, 0, 0]);
        batch.extend_from_slice(&request_id.to_le_bytes());
        batch.extend_from_slice(message);
        drop(batch);
        self.enqueued(false);
    }

    /// Ids wrap after 2³² requests; one still pending from long ago is skipped, not reused.
    fn fresh_id(&self) -> u32 {
        let pending = self.pending.borrow();
        loop {
            let id = self.next_id.get();
            self.next_id.set(id.wrapping_add(1));
            if !pending.contains_key(&id) {
                return id;
            }
        }
    }

    /// Drops the JS callback (batches after this are discarded) and every pending slot: a slot
    /// holds its connection's waker, so leaving it would keep that connection alive forever.
    pub fn detach(&self) {
        self.to_js.borrow_mut().take();
        self.pending.borrow_mut().clear();
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

    fn hand_over(&self) {
        if self.batch.borrow().is_empty() {
            return;
        }
        // V8 accounts the Buffer by its length, so its capacity must not be larger: memory it
        // cannot see does not make it collect, and unseen batches piled up by the hundred MB.
        let mut batch = self.batch.take();
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
    pub fn settle(&self, posts: Vec<Post>, cache: &mut Cache) {
        for post in posts {
            match post {
                Post::Responses(batch) => self.deliver(&batch, cache),
                Post::Cache(op) => cache.apply(op),
                Post::Tail(id, bytes) => {
                    let slot = self.pending.borrow_mut().remove(&id);
                    if let Some(slot) = slot {
                        slot.offer.take();
                        slot.fill(Outbox::from_bytes(bytes), false);
                    }
                }
            }
        }
    }

    /// Serializes each response of a JS batch into its slot and wakes its connection; stores
    /// `res.ncache` answers and settles the requests that waited on them.
    pub fn deliver(&self, batch: &[u8], cache: &mut Cache) {
        let now = Instant::now();
        for record in envelope::decode_responses(batch) {
            let Ok(record) = record else {
                eprintln!("http-native: dropped a malformed response batch from JS");
                return;
            };
            // A second answer to a request JS already answered itself is dropped.
            let offered = self.pending.borrow().get(&record.request_id).cloned();
            if offered.is_some_and(|slot| slot.is_offered() && self.answered_by_js(&slot)) {
                continue;
            }
            let slot = self.pending.borrow_mut().remove(&record.request_id);
            let cached_key = self.store(&record, slot.as_deref(), cache, now);
            if let Some(slot) = slot {
                let conn = self.conn_for(&slot);
                let mut out = Outbox::default();
                let stored = cached_key.and_then(|key| cache.get(key, now));
                let (status, close) = match stored {
                    Some((stored, _)) => {
                        // The stored copy never keeps `connection`: honour it for this answer.
                        let conn = if response::asks_close(record.headers()) {
                            ConnHeader::Close
                        } else {
                            conn
                        };
                        let status = stored.write(&mut out, slot.head, conn, None, None);
                        (status, conn == ConnHeader::Close)
                    }
                    None => {
                        out.bytes().reserve(160 + record.body.len());
                        let close = response::from_js(
                            out.bytes(),
                            record.status,
                            record.headers(),
                            record.body,
                            slot.head,
                            conn,
                        );
                        (response::valid_status(record.status), close)
                    }
                };
                self.stats.response(status);
                slot.fill(out, close);
            }
            if let Some((key, waiters)) = cache.land(record.request_id) {
                for waiter in waiters {
                    match cache.get(&key, now) {
                        Some((stored, age)) => {
                            self.pending.borrow_mut().remove(&waiter.slot.id);
                            let conn = self.conn_for(&waiter.slot);
                            let mut out = Outbox::default();
                            let status =
                                stored.write(&mut out, waiter.slot.head, conn, Some(age), None);
                            bump(&self.stats.cache_hits);
                            bump(&self.stats.requests_native);
                            self.stats.response(status);
                            waiter.slot.fill(out, conn == ConnHeader::Close);
                        }
                        // Not cached after all: the waiter asks JS itself.
                        None => self.release(&waiter.slot, &waiter.envelope),
                    }
                }
            }
        }
    }

    /// Stores a `res.ncache` answer; returns its key when it was stored.
    fn store<'r>(
        &self,
        record: &ResponseRecord<'r>,
        slot: Option<&Slot>,
        cache: &mut Cache,
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
        let stored = Stored::new(record.status, record.headers(), record.body);
        let ttl = Duration::from_millis(u64::from(record.cache_ttl_ms));
        if !cache.insert(key, stored, ttl, now) {
            return None;
        }
        if let Some(slot) = slot {
            cache.mark_cacheable(slot.route_id);
        }
        Some(key)
    }

    fn conn_for(&self, slot: &Slot) -> ConnHeader {
        if self.closing.get() {
            ConnHeader::Close
        } else {
            slot.conn
        }
    }
}
