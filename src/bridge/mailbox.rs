//! The one structure the JS thread writes to: responses and cache operations posted by
//! `respond()` and the cache calls, in order, plus the shutdown request. The server thread takes
//! them in one lock and applies them (`Bridge::settle`).

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use super::direct::Answered;
use crate::cache::{CacheOp, Replica};

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
    /// A batch of records, and the cache group's epoch when JS posted it (`cache_group.rs`).
    Responses(Vec<u8>, u64),
    Cache(CacheOp),
    /// The unsent rest of an answer JS began writing itself (direct.rs).
    Tail(u32, Vec<u8>),
    /// An answer another server of the cache group stored.
    Replica(Replica),
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
    pub fn push_answered(&self, answered: Answered<'_>, epoch: u64) {
        if answered.rest.is_empty() && answered.tails.is_empty() {
            return;
        }
        self.with_state(|s| {
            if !answered.rest.is_empty() {
                s.posts
                    .push(Post::Responses(answered.rest.into_owned(), epoch));
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

    /// Not a cache operation: a copy that arrives after a lookup only costs that lookup a miss.
    pub fn replica(&self, replica: Replica) {
        self.with_state(|s| s.posts.push(Post::Replica(replica)));
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
