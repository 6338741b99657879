//! A map from string keys to values that expire: sharded, each shard behind its own mutex, and
//! bounded in entries AND bytes, so a flood of distinct keys (client IPs, session ids) costs at
//! most what the bounds say. Shared by `Arc` between threads: the rate limiters' counters (every
//! server of an app counts in one map), the native session store, and later issue 17's worker
//! threads.
//!
//! When a shard is over a bound, the entry that expires first goes: expired entries first, then
//! the oldest fixed window or the session least recently touched (sessions share a TTL, so the
//! soonest expiry is the least recent use). An ordered index by expiry makes that, and dropping
//! expired entries, cost what it removes rather than a scan.
//!
//! Keys are chosen by clients, so shards and buckets are picked with `RandomState` (SipHash with
//! per-map random keys): no one can aim many keys at one shard or one bucket.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Shards, so threads counting different keys rarely wait on the same lock. Sixteen: more than
/// the cores a server here runs on, few enough that a shard's share of a small bound is not tiny.
pub const SHARDS: usize = 16;

/// Bookkeeping per entry beyond its key and value bytes, so many tiny entries cannot exceed the
/// byte bound unnoticed: the hash-map slot and the entry (~64), the expiry index's node with the
/// B-tree's slack (~64), the key's two `Arc` headers and the allocator's rounding (~64).
pub const ENTRY_OVERHEAD: usize = 192;

/// What a value weighs against the byte bound, beyond `ENTRY_OVERHEAD`.
pub trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for Arc<str> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weigh for String {
    fn weight(&self) -> usize {
        self.capacity()
    }
}

impl Weigh for u32 {
    fn weight(&self) -> usize {
        0
    }
}

struct Entry<V> {
    value: V,
    expires: Instant,
    /// Tells apart entries that expire at the same instant in the index.
    seq: u64,
    weight: usize,
}

struct Shard<V> {
    map: HashMap<Arc<str>, Entry<V>, RandomState>,
    by_expiry: BTreeMap<(Instant, u64), Arc<str>>,
    bytes: usize,
    next_seq: u64,
}

impl<V: Weigh> Shard<V> {
    fn new() -> Self {
        Shard {
            map: HashMap::default(),
            by_expiry: BTreeMap::new(),
            bytes: 0,
            next_seq: 0,
        }
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn remove(&mut self, key: &str) -> Option<Entry<V>> {
        let entry = self.map.remove(key)?;
        self.by_expiry.remove(&(entry.expires, entry.seq));
        self.bytes -= entry.weight;
        Some(entry)
    }

    /// Drops every entry expired at `now`: the front of the index.
    fn purge(&mut self, now: Instant) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            if let Some(e) = self.map.remove(&key) {
                self.bytes -= e.weight;
            }
        }
    }

    /// Evicts the soonest to expire until one more entry of `incoming` bytes fits.
    fn make_room(&mut self, incoming: usize, max_entries: usize, max_bytes: usize) {
        while !self.map.is_empty()
            && (self.map.len() + 1 > max_entries || self.bytes + incoming > max_bytes)
        {
            let Some(((_, _), key)) = self.by_expiry.pop_first() else {
                break;
            };
            if let Some(e) = self.map.remove(&key) {
                self.bytes -= e.weight;
            }
        }
    }

    /// A new entry (none is under `key`), after expired ones go and room is made.
    fn put(
        &mut self,
        key: &str,
        value: V,
        weight: usize,
        now: Instant,
        ttl: Duration,
        map: &TtlMap<V>,
    ) {
        self.purge(now);
        self.make_room(weight, map.shard_entries, map.shard_bytes);
        let key: Arc<str> = Arc::from(key);
        let expires = now + ttl;
        let seq = self.seq();
        self.by_expiry.insert((expires, seq), key.clone());
        self.bytes += weight;
        self.map.insert(
            key,
            Entry {
                value,
                expires,
                seq,
                weight,
            },
        );
    }

    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry<V>> {
        if self.map.get(key).is_some_and(|e| e.expires <= now) {
            self.remove(key);
            return None;
        }
        self.map.get_mut(key)
    }
}

/// Per-map bounds; each shard holds its share (rounded up).
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_entries: usize,
    pub max_bytes: usize,
}

pub struct TtlMap<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    pick: RandomState,
    shard_entries: usize,
    shard_bytes: usize,
}

impl<V: Weigh> TtlMap<V> {
    pub fn new(bounds: Bounds) -> Self {
        TtlMap {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            pick: RandomState::new(),
            shard_entries: bounds.max_entries.div_ceil(SHARDS).max(1),
            shard_bytes: bounds.max_bytes.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard<V>> {
        let i = (self.pick.hash_one(key) as usize) % self.shards.len();
        // A panic while a shard was held left it consistent (every change completes under the
        // lock before anything that could panic), so a poisoned lock is still usable.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn weigh(key: &str, value: &V) -> usize {
        ENTRY_OVERHEAD + key.len() + value.weight()
    }

    /// The value under `key` unless it expired, through `f` (the lock is held meanwhile).
    pub fn get<R>(&self, key: &str, now: Instant, f: impl FnOnce(&V) -> R) -> Option<R> {
        let mut shard = self.shard(key);
        shard.live(key, now).map(|e| f(&e.value))
    }

    /// Stores `value` under `key` for `ttl`, replacing what was there. False when the entry alone
    /// is over a shard's byte share: then nothing is stored (and an older value is gone).
    pub fn insert(&self, key: &str, value: V, ttl: Duration, now: Instant) -> bool {
        let weight = Self::weigh(key, &value);
        let mut shard = self.shard(key);
        shard.remove(key);
        if weight > self.shard_bytes {
            return false;
        }
        shard.put(key, value, weight, now, ttl, self);
        true
    }

    /// Runs `f` on the live value under `key`, creating it with `make()` for `ttl` first when
    /// there is none (or it expired): a fixed window's counter. `f` also gets when the entry
    /// expires. None when a new entry cannot fit (over a shard's byte share alone).
    // The rate limiter (src/guard/rate_limit.rs) is its caller; until it lands only the tests are.
    #[allow(dead_code)]
    pub fn upsert<R>(
        &self,
        key: &str,
        ttl: Duration,
        now: Instant,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&mut V, Instant) -> R,
    ) -> Option<R> {
        let mut shard = self.shard(key);
        if shard.live(key, now).is_none() {
            let value = make();
            let weight = Self::weigh(key, &value);
            if weight > self.shard_bytes {
                return None;
            }
            shard.put(key, value, weight, now, ttl, self);
        }
        let entry = shard.map.get_mut(key)?;
        let old = entry.weight;
        let r = f(&mut entry.value, entry.expires);
        // `f` may have grown the value: keep the byte count true (the bound is enforced again on
        // the next insertion into this shard).
        entry.weight = Self::weigh(key, &entry.value);
        let new = entry.weight;
        shard.bytes = shard.bytes - old + new;
        Some(r)
    }

    /// Gives a live entry `ttl` more from `now`. False when there is none.
    pub fn touch(&self, key: &str, ttl: Duration, now: Instant) -> bool {
        let mut guard = self.shard(key);
        let shard = &mut *guard;
        let seq = shard.next_seq + 1;
        let Some(entry) = shard.live(key, now) else {
            return false;
        };
        let old = (entry.expires, entry.seq);
        entry.expires = now + ttl;
        entry.seq = seq;
        let new = (entry.expires, entry.seq);
        shard.next_seq = seq;
        if let Some(k) = shard.by_expiry.remove(&old) {
            shard.by_expiry.insert(new, k);
        }
        true
    }

    /// Removes `key`. False when there was no live entry.
    pub fn remove(&self, key: &str, now: Instant) -> bool {
        self.shard(key).remove(key).is_some_and(|e| e.expires > now)
    }

    /// Live entries (expired ones are dropped on the way).
    pub fn len(&self, now: Instant) -> usize {
        self.each_shard(|s| {
            s.purge(now);
            s.map.len()
        })
    }

    /// Bytes held, as counted against the bound.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.each_shard(|s| s.bytes)
    }

    pub fn clear(&self) {
        self.each_shard(|s| {
            *s = Shard::new();
            0
        });
    }

    fn each_shard(&self, mut f: impl FnMut(&mut Shard<V>) -> usize) -> usize {
        self.shards
            .iter()
            .map(|m| f(&mut m.lock().unwrap_or_else(|e| e.into_inner())))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn map(max_entries: usize, max_bytes: usize) -> TtlMap<Arc<str>> {
        TtlMap::new(Bounds {
            max_entries,
            max_bytes,
        })
    }

    fn get(m: &TtlMap<Arc<str>>, key: &str, now: Instant) -> Option<String> {
        m.get(key, now, |v| v.to_string())
    }

    #[test]
    fn stores_replaces_and_removes() {
        let m = map(100, 1 << 20);
        let now = Instant::now();
        assert!(m.insert("a", "1".into(), SEC, now));
        assert_eq!(get(&m, "a", now).as_deref(), Some("1"));
        assert!(m.insert("a", "22".into(), SEC, now));
        assert_eq!(get(&m, "a", now).as_deref(), Some("22"));
        assert_eq!(m.len(now), 1);
        assert_eq!(m.bytes(), ENTRY_OVERHEAD + 1 + 2);
        assert!(m.remove("a", now));
        assert!(!m.remove("a", now));
        assert_eq!(get(&m, "a", now), None);
        assert_eq!(m.bytes(), 0);
    }

    #[test]
    fn entries_expire_and_touch_extends() {
        let m = map(100, 1 << 20);
        let t0 = Instant::now();
        m.insert("a", "x".into(), SEC, t0);
        m.insert("b", "y".into(), SEC, t0);
        assert!(m.touch("b", 3 * SEC, t0 + SEC / 2));
        assert_eq!(get(&m, "a", t0 + SEC), None, "expired at its TTL");
        assert!(
            !m.touch("a", SEC, t0 + SEC),
            "an expired entry is not revived"
        );
        assert_eq!(get(&m, "b", t0 + 2 * SEC).as_deref(), Some("y"));
        assert_eq!(m.len(t0 + 2 * SEC), 1);
        assert_eq!(m.len(t0 + 4 * SEC), 0);
        assert_eq!(m.bytes(), 0, "expired entries give their bytes back");
    }

    #[test]
    fn bounded_in_entries_evicting_the_soonest_to_expire() {
        // One shard's share is 1 entry: every key beyond the first in a shard evicts.
        let m = map(SHARDS, 1 << 20);
        let t0 = Instant::now();
        for i in 0..1000 {
            m.insert(&format!("k{i}"), "v".into(), SEC * (i + 1), t0);
        }
        assert!(m.len(t0) <= SHARDS);
        // Within each shard the latest (longest-lived) survived.
        assert_eq!(get(&m, "k999", t0).as_deref(), Some("v"));
    }

    #[test]
    fn bounded_in_bytes() {
        let per_shard = ENTRY_OVERHEAD + 100;
        let m = map(1 << 20, per_shard * SHARDS);
        let now = Instant::now();
        let big: Arc<str> = "x".repeat(90).into();
        for i in 0..1000 {
            m.insert(&format!("{i:04}"), big.clone(), SEC, now);
        }
        assert!(m.bytes() <= per_shard * SHARDS);
        assert!(m.len(now) <= SHARDS);
        // An entry over a shard's share alone is refused, and the old value goes.
        m.insert("huge", "small".into(), SEC, now);
        assert!(!m.insert("huge", "y".repeat(200).into(), SEC, now));
        assert_eq!(get(&m, "huge", now), None);
    }

    #[test]
    fn eviction_prefers_expired_then_least_recently_touched() {
        let m = map(2 * SHARDS, 1 << 20);
        let t0 = Instant::now();
        // Fill one shard: find three keys that land in the same shard.
        let same: Vec<String> = {
            let target = m.pick.hash_one("s0") as usize % SHARDS;
            (0..)
                .map(|i| format!("s{i}"))
                .filter(|k| m.pick.hash_one(k.as_str()) as usize % SHARDS == target)
                .take(3)
                .collect()
        };
        m.insert(&same[0], "a".into(), 10 * SEC, t0);
        m.insert(&same[1], "b".into(), 10 * SEC, t0);
        // The first is used again: the second is now the least recently touched.
        m.touch(&same[0], 10 * SEC, t0 + SEC);
        m.insert(&same[2], "c".into(), 10 * SEC, t0 + SEC);
        assert_eq!(get(&m, &same[0], t0 + SEC).as_deref(), Some("a"));
        assert_eq!(get(&m, &same[1], t0 + SEC), None);
        assert_eq!(get(&m, &same[2], t0 + SEC).as_deref(), Some("c"));
    }

    #[test]
    fn upsert_counts_a_fixed_window() {
        let m: TtlMap<u32> = TtlMap::new(Bounds {
            max_entries: 100,
            max_bytes: 1 << 20,
        });
        let t0 = Instant::now();
        let hit = |now| {
            m.upsert(
                "ip",
                10 * SEC,
                now,
                || 0,
                |c, exp| {
                    *c += 1;
                    (*c, exp)
                },
            )
            .unwrap()
        };
        assert_eq!(hit(t0), (1, t0 + 10 * SEC));
        assert_eq!(hit(t0 + SEC), (2, t0 + 10 * SEC), "same window, same reset");
        assert_eq!(hit(t0 + 10 * SEC), (1, t0 + 20 * SEC), "a new window");
    }

    #[test]
    fn cleared_and_shared_between_threads() {
        let m = Arc::new(TtlMap::<u32>::new(Bounds {
            max_entries: 10_000,
            max_bytes: 1 << 24,
        }));
        let now = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        m.upsert(&format!("k{}", i % 10), SEC * 60, now, || 0, |c, _| *c += 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let total: u32 = (0..10)
            .map(|i| m.get(&format!("k{i}"), now, |c| *c).unwrap())
            .sum();
        assert_eq!(total, 4000);
        m.clear();
        assert_eq!(m.len(now), 0);
        assert_eq!(m.bytes(), 0);
    }
}
