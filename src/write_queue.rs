//! What one connection owes, in request order, and the bound on it in bytes. Answers Rust
//! made (errors, 404, cache, static) are bytes ready to write; an answer from JS is a slot to
//! wait on (`bridge/stream.rs`), whole or streamed. Whatever produced it, a connection never
//! parses ahead while more than `MAX_OWED` is unwritten.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::bridge::stream::Slot;
use crate::outbox::Outbox;

/// Unwritten answers a connection may owe before it stops parsing the requests pipelined
/// behind them: past a write's worth, parsing ahead only holds memory. One answer may be larger
/// (it is written before the next request is parsed); a stored body counts by its length even
/// though it is shared, so one connection never pins more than about this plus one body.
pub const MAX_OWED: usize = 64 * 1024;

pub enum Queued {
    /// Serialized by Rust (errors, 404, cache, static): ready to write.
    Ready(Outbox),
    /// Waiting on a JS handler.
    Js(Rc<Slot>),
}

/// The answers a connection owes, in request order: `out` can be written now; `queue` starts
/// with the first answer still waiting on JS and holds everything behind it.
#[derive(Default)]
pub struct Owed {
    pub out: Outbox,
    pub queue: VecDeque<Queued>,
    /// Bytes of the `Ready` answers in `queue`.
    pub queued: usize,
}

impl Owed {
    /// Appends a Rust-made answer: straight to `out` when nothing is owed before it (no
    /// allocation), else behind the JS answers it must follow.
    pub fn native<R>(&mut self, write: impl FnOnce(&mut Outbox) -> R) -> R {
        if self.queue.is_empty() {
            write(&mut self.out)
        } else {
            let mut answer = Outbox::default();
            let r = write(&mut answer);
            self.queued += answer.len();
            self.queue.push_back(Queued::Ready(answer));
            r
        }
    }

    /// Bytes owed that are already serialized.
    pub fn len(&self) -> usize {
        self.out.len() + self.queued
    }

    /// Whether parsing must wait for writes: too many answers or too many bytes owed.
    pub fn is_full(&self, max_pipelined: usize) -> bool {
        self.queue.len() >= max_pipelined || self.len() >= MAX_OWED
    }
}
