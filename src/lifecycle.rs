//! Server-thread lifecycle: the two local signals every connection listens to, and the count of
//! open connections that `close()` waits on. Shutdown comes first (stop accepting, close idle
//! connections, answer in-flight requests with `Connection: close`); abort follows when the
//! grace period is over (drop whatever is left). Single-threaded by design (Rc/Cell): the
//! cross-thread request to shut down arrives through the bridge mailbox.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::task::{Poll, Waker};

#[derive(Default)]
pub struct Lifecycle {
    shutting_down: Cell<bool>,
    aborting: Cell<bool>,
    next_key: Cell<u64>,
    /// Wakers of tasks parked until shutdown, by key so re-polling replaces rather than grows.
    waiters: RefCell<HashMap<u64, Waker>>,
    open: Cell<usize>,
    drained: Cell<Option<Waker>>,
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

    /// A key that also counts an open connection until `release`.
    pub fn register(&self) -> u64 {
        self.open.set(self.open.get() + 1);
        self.key()
    }

    pub fn release(&self, key: u64) {
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
