//! The byte budget for request bodies (`maxInFlightBytes`): bodies being received, and bodies
//! handed to JS whose answers are not written yet. `maxInFlight` counts requests; this counts
//! bytes, so a thousand 1 MiB uploads cannot pile up while JS is busy.
//!
//! Past the budget the server stops reading bodies and lets TCP hold them back (the client's
//! send blocks), rather than shedding load with 503: the requests are valid and will be served
//! as soon as JS catches up, a 503 would waste the part of the body already sent, and it is
//! what node:http does by construction (a busy event loop reads nothing). A reservation is an
//! RAII value that travels with the request (connection, then its `Slot`) and gives its bytes
//! back when dropped, on every path: answered, abandoned, failed.
//!
//! A body of known length reserves it whole before a byte of it is read. A chunked body grows
//! its reservation read by read, so a slow sender holds only what it sent; when every byte of
//! the budget is held by such partly received bodies, none could finish, so the oldest of them
//! may then grow past the limit, but only while no body waits on JS: the bound is the budget
//! plus one body, and nothing piles up while JS is slow.
//!
//! Server-thread only.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Poll, Waker};

use crate::stats::Stats;

pub struct Budget {
    limit: usize,
    used: Cell<usize>,
    /// Of `used`, the bytes of bodies handed to JS.
    in_js: Cell<usize>,
    /// Reservations of bodies partly received, by age.
    receiving: RefCell<BTreeSet<u64>>,
    next_id: Cell<u64>,
    /// Connections inside a `Wait`.
    waiting: Cell<u64>,
    stats: Arc<Stats>,
    /// Connections waiting for bytes to be given back, by key (re-polling replaces, not grows).
    waiters: RefCell<Vec<(u64, Waker)>>,
}

/// Bytes held against the budget; given back when dropped.
pub struct Reservation {
    budget: Rc<Budget>,
    bytes: usize,
    id: u64,
    place: Place,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Not holding anything yet, or a body already in memory.
    Idle,
    /// A body partly received (in `Budget::receiving`).
    Receiving,
    /// A body handed to JS (counted in `Budget::in_js`).
    InJs,
}

/// A connection waiting for the budget, counted in `server.stats()` while it lives.
pub struct Wait<'b>(&'b Budget);

impl Budget {
    pub fn new(limit: usize, stats: Arc<Stats>) -> Rc<Budget> {
        Rc::new(Budget {
            limit,
            used: Cell::new(0),
            in_js: Cell::new(0),
            receiving: RefCell::new(BTreeSet::new()),
            next_id: Cell::new(0),
            waiting: Cell::new(0),
            stats,
            waiters: RefCell::new(Vec::new()),
        })
    }

    fn set_used(&self, used: usize) {
        self.used.set(used);
        self.stats.body_bytes.store(used as u64, Relaxed);
    }

    /// Counts a connection as waiting until the returned value is dropped.
    pub fn wait(&self) -> Wait<'_> {
        self.waiting.set(self.waiting.get() + 1);
        self.stats.body_waiting.store(self.waiting.get(), Relaxed);
        Wait(self)
    }

    /// Grows `reservation`, for a body about to be read, to `bytes` if the budget allows it. A
    /// reservation that holds all that is used may always grow (one body larger than the whole
    /// budget is still served, alone), and so may the oldest partly received body while none
    /// waits on JS (see the top of this file).
    pub fn grow(&self, reservation: &mut Reservation, bytes: usize) -> bool {
        let extra = bytes.saturating_sub(reservation.bytes);
        if extra == 0 {
            return true;
        }
        let used = self.used.get();
        let oldest = reservation.place == Place::Receiving
            && self.in_js.get() == 0
            && self.receiving.borrow().first() == Some(&reservation.id);
        if used + extra > self.limit && used != reservation.bytes && !oldest {
            return false;
        }
        self.set_used(used + extra);
        reservation.bytes = bytes;
        if reservation.place == Place::Idle {
            reservation.place = Place::Receiving;
            self.receiving.borrow_mut().insert(reservation.id);
        }
        true
    }

    /// A reservation of `bytes` whatever the budget says: for bytes already in memory (a body
    /// that arrived with its head).
    pub fn force(self: &Rc<Self>, bytes: usize) -> Reservation {
        self.set_used(self.used.get() + bytes);
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        Reservation {
            budget: self.clone(),
            bytes,
            id,
            place: Place::Idle,
        }
    }

    /// An empty reservation, to `grow`.
    pub fn empty(self: &Rc<Self>) -> Reservation {
        self.force(0)
    }

    /// Completes once bytes were given back since the call (then try `grow` again).
    pub async fn given_back(&self, key: u64) {
        let mut registered = false;
        poll_fn(|cx| {
            let mut waiters = self.waiters.borrow_mut();
            match waiters.iter_mut().find(|(k, _)| *k == key) {
                Some((_, waker)) => waker.clone_from(cx.waker()),
                // Taken out by `give_back`: woken.
                None if registered => return Poll::Ready(()),
                None => waiters.push((key, cx.waker().clone())),
            }
            registered = true;
            Poll::Pending
        })
        .await
    }

    /// Forgets `key`'s wait (its connection ended while waiting).
    pub fn stop_waiting(&self, key: u64) {
        self.waiters.borrow_mut().retain(|(k, _)| *k != key);
    }

    fn give_back(&self, bytes: usize, place: Place) {
        if place == Place::InJs {
            self.in_js.set(self.in_js.get() - bytes);
        }
        if bytes == 0 {
            return;
        }
        self.set_used(self.used.get() - bytes);
        // Everyone retries: the first to fit takes the bytes, the others wait again.
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for (_, waker) in waiters {
            waker.wake();
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let budget = self.0;
        budget.waiting.set(budget.waiting.get() - 1);
        budget
            .stats
            .body_waiting
            .store(budget.waiting.get(), Relaxed);
    }
}

impl Reservation {
    /// The body is complete and goes to JS with exactly `bytes`: what is held beyond is given
    /// back, and the rest now counts as waiting on JS.
    pub fn into_js(mut self, bytes: usize) -> Reservation {
        let budget = self.budget.clone();
        self.leave_receiving();
        if bytes < self.bytes {
            budget.give_back(self.bytes - bytes, Place::Idle);
            self.bytes = bytes;
        }
        self.place = Place::InJs;
        budget.in_js.set(budget.in_js.get() + self.bytes);
        self
    }

    fn leave_receiving(&mut self) {
        if self.place == Place::Receiving {
            self.budget.receiving.borrow_mut().remove(&self.id);
            self.place = Place::Idle;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let place = self.place;
        self.leave_receiving();
        self.budget.give_back(self.bytes, place);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_but_a_lone_holder_may_exceed_it() {
        let stats = Arc::new(Stats::default());
        let budget = Budget::new(100, stats.clone());
        let mut a = budget.empty();
        assert!(budget.grow(&mut a, 60));
        let mut b = budget.empty();
        assert!(!budget.grow(&mut b, 50), "60 + 50 is over 100");
        assert!(budget.grow(&mut b, 40));
        assert_eq!(budget.used.get(), 100);
        assert_eq!(stats.body_bytes.load(Relaxed), 100);
        drop(a);
        assert_eq!(budget.used.get(), 40);
        // b alone holds everything used: it may grow past the limit.
        assert!(budget.grow(&mut b, 500));
        let b = b.into_js(10);
        assert_eq!(budget.used.get(), 10);
        assert_eq!(budget.in_js.get(), 10);
        let forced = budget.force(1000);
        assert_eq!(budget.used.get(), 1010);
        let wait = budget.wait();
        assert_eq!(stats.body_waiting.load(Relaxed), 1);
        drop((b, forced, wait));
        assert_eq!(budget.used.get(), 0);
        assert_eq!(budget.in_js.get(), 0);
        assert_eq!(stats.body_bytes.load(Relaxed), 0);
        assert_eq!(stats.body_waiting.load(Relaxed), 0);
    }

    /// Partly received bodies that hold the whole budget would wait for each other forever: the
    /// oldest goes on, unless a body waits on JS (then JS answering makes room, and letting
    /// bodies through would pile them up while JS is slow).
    #[test]
    fn the_oldest_partial_body_goes_on_only_while_none_waits_on_js() {
        let budget = Budget::new(100, Arc::new(Stats::default()));
        let mut old = budget.empty();
        let mut young = budget.empty();
        assert!(budget.grow(&mut old, 50) && budget.grow(&mut young, 50));
        assert!(!budget.grow(&mut young, 80), "the younger one waits");
        assert!(
            budget.grow(&mut old, 80),
            "the oldest goes on past the limit"
        );
        let in_js = old.into_js(70);
        assert!(
            !budget.grow(&mut young, 80),
            "a body waits on JS: no exception"
        );
        drop(in_js);
        assert!(budget.grow(&mut young, 80), "room again");
        let mut newcomer = budget.empty();
        assert!(
            !budget.grow(&mut newcomer, 30),
            "a new body is admitted only when it fits"
        );
        drop(young);
        assert!(budget.receiving.borrow().is_empty());
        assert!(budget.grow(&mut newcomer, 30));
        assert_eq!(budget.receiving.borrow().len(), 1);
    }

    #[test]
    fn waiters_are_woken_when_bytes_come_back() {
        use std::future::Future;
        use std::pin::pin;
        use std::task::{Context, Wake};

        struct Flag(std::sync::atomic::AtomicBool);
        impl Wake for Flag {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let flag = std::sync::Arc::new(Flag(false.into()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);

        let budget = Budget::new(10, Arc::new(Stats::default()));
        let held = budget.force(10);
        let mut wait = pin!(budget.given_back(7));
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(
            wait.as_mut().poll(&mut cx).is_pending(),
            "re-polling does not complete it"
        );
        assert_eq!(
            budget.waiters.borrow().len(),
            1,
            "re-polling does not add a waiter"
        );
        drop(held);
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert!(wait.as_mut().poll(&mut cx).is_ready());
    }
}
