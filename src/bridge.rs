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
use std::sync::Mutex;
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::envelope::{self, RequestParts};
use crate::response::{self, ConnHeader};

const BATCH_CAPACITY: usize = 16 * 1024;

/// What the JS thread sends to the server thread.
#[derive(Default)]
pub struct Mailbox {
    state: Mutex<MailboxState>,
}

#[derive(Default)]
struct MailboxState {
    responses: Vec<Vec<u8>>,
    shutdown: Option<Duration>,
    waker: Option<Waker>,
}

pub struct Mail {
    pub responses: Vec<Vec<u8>>,
    pub shutdown: Option<Duration>,
}

impl Mailbox {
    pub fn push_responses(&self, batch: Vec<u8>) {
        self.with_state(|s| s.responses.push(batch));
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
            if state.responses.is_empty() && state.shutdown.is_none() {
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(Mail {
                responses: std::mem::take(&mut state.responses),
                shutdown: state.shutdown.take(),
            })
        })
        .await
    }
}

/// One request waiting on JS. The connection awaits it; `Bridge::deliver` fills it.
pub struct Slot {
    id: u32,
    head: bool,
    conn: ConnHeader,
    ready: RefCell<Option<(Vec<u8>, bool)>>,
    waker: Cell<Option<Waker>>,
}

impl Slot {
    pub fn is_ready(&self) -> bool {
        self.ready.borrow().is_some()
    }

    /// The serialized response and whether the connection must close after it.
    pub async fn response(&self) -> (Vec<u8>, bool) {
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
}

impl Bridge {
    pub fn new(to_js: Deliver) -> Self {
        Bridge {
            batch: RefCell::new(Vec::with_capacity(BATCH_CAPACITY)),
            flusher: Cell::new(None),
            pending: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            to_js: RefCell::new(Some(to_js)),
            closing: Cell::new(false),
        }
    }

    /// Queues a request for JS. `Err` carries the status to answer instead (see envelope).
    pub fn dispatch<'p>(
        &self,
        route_id: u32,
        parts: &RequestParts<'_, '_>,
        params: impl Iterator<Item = &'p str>,
        conn: ConnHeader,
    ) -> Result<Rc<Slot>, u16> {
        let id = self.fresh_id();
        let mut batch = self.batch.borrow_mut();
        let was_empty = batch.is_empty();
        envelope::encode_request(&mut batch, id, route_id, parts, params)?;
        let slot = Rc::new(Slot {
            id,
            head: parts.method_code == 2,
            conn,
            ready: RefCell::new(None),
            waker: Cell::new(None),
        });
        self.pending.borrow_mut().insert(id, slot.clone());
        if was_empty {
            if let Some(w) = self.flusher.take() {
                w.wake();
            }
        }
        Ok(slot)
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

    /// The connection went away: its late response will be dropped.
    pub fn forget(&self, slot: &Slot) {
        self.pending.borrow_mut().remove(&slot.id);
    }

    /// Drops the JS callback (batches after this are discarded) and every pending slot: a slot
    /// holds its connection's waker, so leaving it would keep that connection alive forever.
    pub fn detach(&self) {
        self.to_js.borrow_mut().take();
        self.pending.borrow_mut().clear();
    }

    pub fn set_closing(&self) {
        self.closing.set(true);
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
            let batch = self.batch.replace(Vec::with_capacity(BATCH_CAPACITY));
            if let Some(to_js) = &*self.to_js.borrow() {
                to_js(batch);
            }
        }
    }

    /// Serializes each response of a JS batch into its slot and wakes its connection.
    pub fn deliver(&self, batch: &[u8]) {
        for record in envelope::decode_responses(batch) {
            let Ok(record) = record else {
                eprintln!("http-native: dropped a malformed response batch from JS");
                return;
            };
            let Some(slot) = self.pending.borrow_mut().remove(&record.request_id) else {
                continue;
            };
            let conn = if self.closing.get() {
                ConnHeader::Close
            } else {
                slot.conn
            };
            let mut out = Vec::with_capacity(160 + record.body.len());
            let close = response::from_js(
                &mut out,
                record.status,
                record.headers(),
                record.body,
                slot.head,
                conn,
            );
            *slot.ready.borrow_mut() = Some((out, close));
            if let Some(w) = slot.waker.take() {
                w.wake();
            }
        }
    }
}
