//! One response cache over many servers: the I/O threads of one `listen({ ioThreads })` and the
//! workers of one `serve()`. Each server keeps its own `Cache` (its thread alone touches it, so a
//! hit takes no lock); what one stores is copied to the others' mailboxes (`Post::Replica`, the
//! body shared, not copied), and an invalidation is posted to every member before it returns.
//!
//! The epoch keeps a copy from outliving an invalidation made after its answer: JS's answer is
//! tagged with the epoch when `respond()` posts it, an invalidation raises the epoch before
//! posting itself, and a member takes a copy only while the epoch is still its tag. A member
//! that sees its tag still current reads the epoch before the raise, so the invalidation is
//! posted to it after, and applied after the copy (its mailbox keeps order).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::Mailbox;
use crate::cache::{CacheOp, Replica};
use crate::stored::Stored;

#[derive(Default)]
pub struct CacheGroup {
    epoch: AtomicU64,
    next_member: AtomicU64,
    members: Mutex<Vec<(u64, Weak<Mailbox>)>>,
}

/// A server's place in its group.
pub struct Membership {
    pub group: Arc<CacheGroup>,
    pub id: u64,
}

impl CacheGroup {
    /// The group shared under `name` in this process, or a group of one.
    pub fn named(name: Option<&str>) -> Arc<CacheGroup> {
        crate::shared::shared_default(name)
    }

    pub fn join(self: &Arc<Self>, mailbox: &Arc<Mailbox>) -> Membership {
        let id = self.next_member.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, Arc::downgrade(mailbox)));
        Membership {
            group: self.clone(),
            id,
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// An invalidation or clear, in force on every member for each request it reads after this
    /// returns (each member settles cache operations before its next lookup).
    pub fn apply(&self, op: &CacheOp) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for mailbox in self.live() {
            mailbox.cache_op(op.clone());
        }
    }

    /// Copies a stored answer to every other member.
    pub fn replicate(
        &self,
        from: u64,
        epoch: u64,
        key: &str,
        stored: &Stored,
        ttl: Duration,
        route: Option<u32>,
    ) {
        let others: Vec<_> = self
            .lock()
            .iter()
            .filter(|(id, _)| *id != from)
            .filter_map(|(_, m)| m.upgrade())
            .collect();
        for mailbox in others {
            mailbox.replica(Replica {
                key: key.into(),
                stored: stored.replica(),
                ttl,
                route,
                epoch,
            });
        }
    }

    /// Whether a copy made at `epoch` may still be stored.
    pub fn admits(&self, epoch: u64) -> bool {
        self.epoch() == epoch
    }

    fn live(&self) -> Vec<Arc<Mailbox>> {
        let mut members = self.lock();
        members.retain(|(_, m)| m.strong_count() > 0);
        members.iter().filter_map(|(_, m)| m.upgrade()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Weak<Mailbox>)>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Membership {
    /// Whether anyone else would take a copy: a server alone in its group makes none.
    pub fn has_peers(&self) -> bool {
        self.group.lock().len() > 1
    }

    pub fn leave(&self) {
        self.group.lock().retain(|(id, _)| *id != self.id);
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.leave();
    }
}
