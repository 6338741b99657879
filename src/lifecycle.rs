//! Server-thread lifecycle: the two local signals every connection listens to, and the count of
//! open connections that `close()` waits on. Shutdown comes first (stop accepting, close idle
//! connections, answer in-flight requests with `Connection: close`); abort follows when the
//! grace period is over (drop whatever is left). Single-threaded by design (Rc/Cell): the
//! cross-thread request to shut down arrives through the bridge mailbox.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use monoio::time::Instant;

#[derive(Default)]
pub struct Lifecycle {
    shutting_down: Cell<bool>,
    aborting: Cell<bool>,
    next_key: Cell<u64>,
    /// Wakers of tasks parked until shutdown, by key so re-polling replaces rather than grows.
    waiters: RefCell<HashMap<u64, Waker>>,
    open: Cell<usize>,
    drained: Cell<Option<Waker>>,
    /// Each open connection's write watch, for `check_writes`.
    writes: RefCell<HashMap<u64, Rc<WriteWatch>>>,
}

/// A connection's write in progress, checked by the server tick: a write that makes no progress
/// for too long (a client that stopped reading) is stalled. One per connection, so a write
/// costs no timer of its own.
#[derive(Default)]
pub struct WriteWatch {
    /// When the current write last made progress; `None` while not writing.
    since: Cell<Option<Instant>>,
    stalled: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl WriteWatch {
    pub fn progress(&self, now: Option<Instant>) {
        self.since.set(now);
    }

    /// Completes once the tick found this write stalled.
    pub async fn stalled(&self) {
        poll_fn(|cx| {
            if self.stalled.get() {
                return Poll::Ready(());
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}

impl Lifecycle {
    pub fn shutting_down(&self) -> bool {
        self.shutting_down.get()
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.set(true);
        self.wake_all();
    }

    pub fn abort(&self) {
        self.shutting_down.set(true);
        self.aborting.set(true);
        self.wake_all();
    }

    fn wake_all(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for (_, w) in waiters {
            w.wake();
        }
    }

    /// A key for `until_shutdown`.
    pub fn key(&self) -> u64 {
        let key = self.next_key.get();
        self.next_key.set(key + 1);
        key
    }

    /// A key that also counts an open connection until `release`, and its write watch.
    pub fn register(&self) -> (u64, Rc<WriteWatch>) {
        self.open.set(self.open.get() + 1);
        let key = self.key();
        let watch = Rc::new(WriteWatch::default());
        self.writes.borrow_mut().insert(key, watch.clone());
        (key, watch)
    }

    /// Marks writes that made no progress for `stall` and wakes their connections.
    pub fn check_writes(&self, now: Instant, stall: Duration) {
        for watch in self.writes.borrow().values() {
            let stuck = watch
                .since
                .get()
                .is_some_and(|t| now.saturating_duration_since(t) >= stall);
            if stuck && !watch.stalled.replace(true) {
                if let Some(w) = watch.waker.take() {
                    w.wake();
                }
            }
        }
    }

    pub fn release(&self, key: u64) {
        self.writes.borrow_mut().remove(&key);
        self.waiters.borrow_mut().remove(&key);
        self.open.set(self.open.get() - 1);
        if self.open.get() == 0 {
            if let Some(w) = self.drained.take() {
                w.wake();
            }
        }
    }

    pub async fn until_shutdown(&self, key: u64) {
        self.until(key, &self.shutting_down).await
    }

    pub async fn until_abort(&self, key: u64) {
        self.until(key, &self.aborting).await
    }

    async fn until(&self, key: u64, flag: &Cell<bool>) {
        poll_fn(|cx| {
            if flag.get() {
                return Poll::Ready(());
            }
            self.waiters.borrow_mut().insert(key, cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    pub async fn until_drained(&self) {
        poll_fn(|cx| {
            if self.open.get() == 0 {
                return Poll::Ready(());
            }
            self.drained.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}
