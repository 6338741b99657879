//! Handing a batch to a JS thread that is waiting for it, instead of waking it.
//!
//! Waking the JS thread is most of what a lone request costs: libuv's wake-up is a write to an
//! eventfd, and on a VM a vCPU that went idle takes ~20 µs to run again, longer than the request
//! takes to serve. So after JS wrote a lone answer itself (direct.rs) to a client that has been
//! sending requests back to back, `respond()` waits up to `busyPoll` microseconds for the next
//! request instead of returning to the event loop to sleep, and the server thread hands that
//! request's batch straight to it.
//!
//! ```text
//! IDLE ──JS waits──▶ WAITING ──server thread hands a batch──▶ HANDING ──▶ HANDED ──JS takes it──▶ IDLE
//!                       └──the wait is over──▶ IDLE (batches go through the threadsafe function)
//! ```
//!
//! The wait catches the next request only when the client's whole turnaround fits in it: JS's
//! answer reaching the client, the client waking and sending again, the server thread waking
//! and reading. Where wake-ups are slow (some hosts, a client sharing the JS thread's vCPU, a
//! busy machine), it expires every time, each time having spun for nothing. So after
//! `MISSES_BEFORE_REST` waits in a row caught nothing, JS rests: it skips the next
//! `REST_ANSWERS` chances to wait, then tries again (docs/performance.md, "One connection").

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const IDLE: u8 = 0;
const WAITING: u8 = 1;
const HANDING: u8 = 2;
const HANDED: u8 = 3;

/// Waits in a row that caught nothing before JS stops waiting for a while: a few, so a client
/// whose turnaround the wait never catches costs little spinning, while one that it usually
/// catches is not put off by an occasional miss.
const MISSES_BEFORE_REST: u32 = 8;
/// Chances to wait skipped while resting; then a wait is tried again, so a client (or machine)
/// that became fast enough is caught again within this many requests.
const REST_ANSWERS: u32 = 64;

#[derive(Default)]
pub struct Handoff {
    state: AtomicU8,
    batch: Mutex<Option<Vec<u8>>>,
    /// JS thread only: waits in a row that expired.
    misses: AtomicU32,
    /// JS thread only: chances to wait still to skip.
    resting: AtomicU32,
}

impl Handoff {
    /// Server thread: gives `batch` to the JS thread if it is waiting for one; otherwise hands
    /// it back, for the threadsafe function.
    pub fn hand(&self, batch: Vec<u8>) -> Result<(), Vec<u8>> {
        if self
            .state
            .compare_exchange(WAITING, HANDING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(batch);
        }
        *self.batch.lock().unwrap_or_else(|e| e.into_inner()) = Some(batch);
        self.state.store(HANDED, Ordering::Release);
        Ok(())
    }

    /// JS thread: whether to wait now, or rest (see the top of this file).
    pub fn should_wait(&self) -> bool {
        let resting = self.resting.load(Ordering::Relaxed);
        if resting > 0 {
            self.resting.store(resting - 1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// JS thread: waits up to `limit` for a batch, and counts what the wait caught.
    pub fn wait(&self, limit: Duration) -> Option<Vec<u8>> {
        let caught = self.spin(limit);
        if caught.is_some() {
            self.misses.store(0, Ordering::Relaxed);
        } else {
            let misses = self.misses.load(Ordering::Relaxed) + 1;
            if misses >= MISSES_BEFORE_REST {
                self.misses.store(0, Ordering::Relaxed);
                self.resting.store(REST_ANSWERS, Ordering::Relaxed);
            } else {
                self.misses.store(misses, Ordering::Relaxed);
            }
        }
        caught
    }

    /// Spins rather than sleeps: sleeping is the wake-up this exists to avoid.
    fn spin(&self, limit: Duration) -> Option<Vec<u8>> {
        self.state.store(WAITING, Ordering::Release);
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            match self.state.load(Ordering::Acquire) {
                HANDED => {
                    let batch = self.batch.lock().unwrap_or_else(|e| e.into_inner()).take();
                    self.state.store(IDLE, Ordering::Release);
                    return batch;
                }
                // Being handed over: a few instructions away.
                HANDING => {}
                _ => {
                    spins = spins.wrapping_add(1);
                    // The clock is read now and then: it costs more than a spin.
                    if spins.is_multiple_of(64)
                        && start.elapsed() >= limit
                        && self
                            .state
                            .compare_exchange(WAITING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    {
                        return None;
                    }
                }
            }
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_batch_goes_to_a_waiting_thread_and_only_to_one() {
        let handoff = Arc::new(Handoff::default());
        assert_eq!(handoff.hand(vec![1]), Err(vec![1]), "nobody waits yet");

        let waiter = {
            let handoff = handoff.clone();
            std::thread::spawn(move || handoff.wait(Duration::from_secs(10)))
        };
        let mut batch = vec![2];
        // Retried until the waiter is waiting; each refusal hands the batch back intact.
        while let Err(back) = handoff.hand(batch) {
            batch = back;
            std::thread::yield_now();
        }
        assert_eq!(waiter.join().unwrap(), Some(vec![2]));
        assert_eq!(handoff.hand(vec![3]), Err(vec![3]), "the waiter is gone");
    }

    /// A client the wait never catches costs MISSES_BEFORE_REST spins, then none for
    /// REST_ANSWERS chances; one catch resets the count.
    #[test]
    fn waits_that_keep_missing_rest_then_try_again() {
        let handoff = Handoff::default();
        let tiny = Duration::from_micros(1);
        for _ in 0..MISSES_BEFORE_REST {
            assert!(handoff.should_wait());
            assert_eq!(handoff.wait(tiny), None);
        }
        for i in 0..REST_ANSWERS {
            assert!(!handoff.should_wait(), "chance {i} is skipped");
        }
        assert!(handoff.should_wait(), "then a wait is tried again");

        // Misses that are not in a row do not add up.
        let handoff = Arc::new(Handoff::default());
        for _ in 0..3 {
            for _ in 0..MISSES_BEFORE_REST - 1 {
                assert!(handoff.should_wait());
                assert_eq!(handoff.wait(tiny), None);
            }
            let waiter = {
                let handoff = handoff.clone();
                std::thread::spawn(move || handoff.wait(Duration::from_secs(10)))
            };
            let mut batch = vec![5];
            while let Err(back) = handoff.hand(batch) {
                batch = back;
                std::thread::yield_now();
            }
            assert_eq!(waiter.join().unwrap(), Some(vec![5]));
        }
        assert!(handoff.should_wait());
    }

    #[test]
    fn a_wait_with_nothing_handed_ends_and_refuses_later_batches() {
        let handoff = Handoff::default();
        let started = Instant::now();
        assert_eq!(handoff.wait(Duration::from_micros(200)), None);
        assert!(started.elapsed() >= Duration::from_micros(200));
        assert_eq!(handoff.hand(vec![4]), Err(vec![4]));
    }
}
