//! Connection buffers lent out per read rather than owned per connection. A connection between
//! requests holds none: it waits for readiness, then borrows a read and an output buffer, and
//! gives them back once its requests are answered. Thousands of idle keep-alive clients then cost
//! no buffer memory at all, and a busy server reuses a few warm buffers instead of asking malloc.

use std::cell::RefCell;

/// The smallest buffer lent, and the least free space a read is given.
pub const CHUNK: usize = 4096;
/// Larger buffers go back to the allocator: one huge request must not pin its memory forever.
pub const KEEP_CAPACITY: usize = 16 * 1024;
/// Enough for every connection active in one turn of a busy loop; beyond it, buffers are freed.
const MAX_POOLED: usize = 256;

#[derive(Default)]
pub struct BufferPool {
    free: RefCell<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// An empty buffer with at least `CHUNK` capacity.
    pub fn take(&self) -> Vec<u8> {
        self.free
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK))
    }

    /// Takes `buf` back (its contents are dropped).
    pub fn give(&self, mut buf: Vec<u8>) {
        let mut free = self.free.borrow_mut();
        if (CHUNK..=KEEP_CAPACITY).contains(&buf.capacity()) && free.len() < MAX_POOLED {
            buf.clear();
            free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lends_warm_buffers_and_frees_the_odd_ones() {
        let pool = BufferPool::default();
        let mut a = pool.take();
        assert!(a.capacity() >= CHUNK);
        a.extend_from_slice(b"leftover");
        let ptr = a.as_ptr();
        pool.give(a);
        let b = pool.take();
        assert_eq!(b.as_ptr(), ptr, "the same allocation comes back");
        assert!(b.is_empty(), "contents do not leak to the next borrower");
        pool.give(Vec::with_capacity(KEEP_CAPACITY * 4));
        pool.give(Vec::new());
        assert_eq!(
            pool.free.borrow().len(),
            0,
            "huge and empty buffers are not kept"
        );
        for _ in 0..MAX_POOLED + 10 {
            pool.give(Vec::with_capacity(CHUNK));
        }
        assert_eq!(pool.free.borrow().len(), MAX_POOLED);
    }
}
