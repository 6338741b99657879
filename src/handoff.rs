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

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const IDLE: u8 = 0;
const WAITING: u8 = 1;
const HANDING: u8 = 2;
const HANDED: u8 = 3;

#[derive(Default)]
pub struct Handoff {
    state: AtomicU8,
    batch: Mutex<Option<Vec<u8>>>,
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

    /// JS thread: waits up to `limit` for a batch. Spins rather than sleeps: sleeping is the
    /// wake-up this exists to avoid.
    pub fn wait(&self, limit: Duration) -> Option<Vec<u8>> {
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

    #[test]
    fn a_wait_with_nothing_handed_ends_and_refuses_later_batches() {
        let handoff = Handoff::default();
        let started = Instant::now();
        assert_eq!(handoff.wait(Duration::from_micros(200)), None);
        assert!(started.elapsed() >= Duration::from_micros(200));
        assert_eq!(handoff.hand(vec![4]), Err(vec![4]));
    }
}
