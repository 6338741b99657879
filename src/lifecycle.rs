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
    /// Each open connection's watch, for `check_deadlines`.
    watches: RefCell<HashMap<u64, Rc<Watch>>>,
}

/// A connection's clock, kept by the server tick (`check_deadlines`) rather than by a monoio
/// timer per read or write: a timer costs a wheel entry per request and ~640 bytes inline in
/// every connection's future. The price is the tick's resolution (100 ms) on every timeout.
#[derive(Default)]
pub struct Watch {
    /// When the current write last made progress; `None` while not writing. A write that makes
    /// none for too long (a client that stopped reading) is stalled.
    write_since: Cell<Option<Instant>>,
    /// When the current read gives up; `None`: it waits as long as it takes.
    read_deadline: Cell<Option<Instant>>,
    /// The tick found the read past its deadline or the write stalled.
    fired: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Watch {
    pub fn progress(&self, now: Option<Instant>) {
        self.write_since.set(now);
    }

    /// Sets the deadline of the read about to start (and forgets an earlier firing).
    pub fn read_until(&self, deadline: Option<Instant>) {
        self.read_deadline.set(deadline);
        self.fired.set(false);
    }

    /// Completes once the tick found the deadline passed or the write stalled.
    pub async fn fired(&self) {
        poll_fn(|cx| {
            if self.fired.get() {
                return Poll::Ready(());
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    fn check(&self, now: Instant, stall: Option<Duration>) {
        let stalled = stall.is_some_and(|stall| {
            self.write_since
                .get()
                .is_some_and(|t| now.saturating_duration_since(t) >= stall)
        });
        let late = self.read_deadline.get().is_some_and(|d| now >= d);
        if (stalled || late) && !self.fired.replace(true) {
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
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

    /// A key that also counts an open connection until `release`, and its watch.
    pub fn register(&self) -> (u64, Rc<Watch>) {
        self.open.set(self.open.get() + 1);
        let key = self.key();
        let watch = Rc::new(Watch::default());
        self.watches.borrow_mut().insert(key, watch.clone());
        (key, watch)
    }

    /// Fires the watches whose read is past its deadline, or whose write made no progress for
    /// `stall`, and wakes their connections.
    pub fn check_deadlines(&self, now: Instant, stall: Option<Duration>) {
        for watch in self.watches.borrow().values() {
            watch.check(now, stall);
        }
    }

    pub fn release(&self, key: u64) {
        self.watches.borrow_mut().remove(&key);
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
