//! The native response cache (`res.ncache`): complete responses by request target, with a TTL,
//! bounded in bytes and entries with LRU eviction, and single-flight for misses on routes known
//! to cache. Server-thread only.
//!
//! Lookups are by the target exactly as received (one hash lookup on the hot path).
//! Invalidation goes through an ordered index of every key's canonical spelling
//! (`router::canonical_target`), so it reaches `/x/%31` when asked for `/x/1`, and costs what it
//! removes rather than a scan of the whole cache.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use monoio::time::Instant;

use crate::compress::Coding;
use crate::router::canonical_target;
use crate::stats::{bump, Stats};
use crate::stored::Stored;

/// Bookkeeping per entry beyond the bytes of its key and response, so many tiny entries cannot
/// exceed the memory bound unnoticed: the node (~200 bytes: two key pointers, the response's
/// four boxes and shared body handle, two instants, links), its hash-map slot (~32), its
/// ordered-index slot with the B-tree's slack (~48), and the allocator's headers and rounding of
/// the key and the response's parts. Measured: 20,000 entries of a one-byte body cost 555 bytes
/// of RSS each with 8-byte keys, 793 with 200-byte keys, 2,708 with 2,000-byte keys.
const ENTRY_OVERHEAD: usize = 448;
/// With the handler timeout disabled, a leader that has not answered in this long no longer holds
/// back other misses for its key.
const DEFAULT_LEADER_STALE: Duration = Duration::from_secs(30);
const NIL: usize = usize::MAX;

struct Node {
    /// Shared with `map` and (when it is its own canonical form) `index`: stored once.
    key: Rc<str>,
    canonical: Rc<str>,
    stored: Stored,
    stored_at: Instant,
    expires: Instant,
    size: usize,
    prev: usize,
    next: usize,
}

/// A miss that waits for the leader of its key instead of going to JS. The cache keeps waiters
/// without knowing what they are (the bridge's requests), so it depends on nothing above it.
pub trait Follower {
    /// Its request id: it may lead the flight in turn.
    fn id(&self) -> u32;
    /// Its client left: it no longer wants the answer.
    fn is_abandoned(&self) -> bool;
}

struct Flight<W> {
    since: Instant,
    waiters: VecDeque<W>,
}

pub struct Cache<W> {
    map: HashMap<Rc<str>, usize>,
    /// Every entry by its canonical key, in order: invalidation walks only what it removes.
    index: BTreeSet<(Rc<str>, usize)>,
    nodes: Vec<Option<Node>>,
    free: Vec<usize>,
    /// Most recently used.
    head: usize,
    /// Least recently used: evicted first.
    tail: usize,
    bytes: usize,
    max_bytes: usize,
    max_entries: usize,
    cacheable_routes: HashSet<u32>,
    flights: HashMap<Box<str>, Flight<W>>,
    leaders: HashMap<u32, Box<str>>,
    /// Index entries invalidations visited, to show what they cost.
    #[cfg(test)]
    walked: std::cell::Cell<usize>,
    /// A leader silent this long (the handler timeout) no longer holds back misses for its key:
    /// its waiters go to JS themselves (`abandon_stale_flights`) and the next miss leads anew.
    leader_stale: Duration,
    stats: Arc<Stats>,
}

/// Posted by JS (`app.cache.invalidate/clear`) through the bridge mailbox.
#[derive(Clone)]
pub enum CacheOp {
    Invalidate(String),
    Clear,
}

/// An answer another server of the same group stored (`bridge/cache_group.rs`), to be stored
/// here too while its epoch is current.
pub struct Replica {
    pub key: Box<str>,
    pub stored: Stored,
    pub ttl: Duration,
    /// The route it answered, which caches (single-flight for its misses here too).
    pub route: Option<u32>,
    pub epoch: u64,
}

pub enum Miss {
    /// Go to JS; the answer will release any followers.
    Lead,
    /// Another request for this key is in JS: wait for it.
    Follow,
}

impl<W: Follower> Cache<W> {
    pub fn new(
        max_bytes: usize,
        max_entries: usize,
        handler_timeout: Option<Duration>,
        stats: Arc<Stats>,
    ) -> Self {
        Cache {
            map: HashMap::new(),
            index: BTreeSet::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            bytes: 0,
            max_bytes,
            max_entries,
            cacheable_routes: HashSet::new(),
            flights: HashMap::new(),
            leaders: HashMap::new(),
            leader_stale: handler_timeout.unwrap_or(DEFAULT_LEADER_STALE),
            stats,
            #[cfg(test)]
            walked: std::cell::Cell::new(0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The fresh entry for `key` and its age in seconds; an expired one is dropped.
    pub fn get(&mut self, key: &str, now: Instant) -> Option<(&Stored, u64)> {
        self.get_encoded(key, now, |_| Coding::Identity)
            .map(|(stored, age, _)| (stored, age))
    }

    /// `get`, in the content-coding `choose` picks for the entry (`Stored::coding_for`). A
    /// variant made for it now counts against the memory bound like the entry itself, evicting
    /// the least recently used others; one that would not fit even alone is not kept, and the
    /// entry goes out unencoded.
    pub fn get_encoded(
        &mut self,
        key: &str,
        now: Instant,
        choose: impl FnOnce(&Stored) -> Coding,
    ) -> Option<(&Stored, u64, Coding)> {
        let &i = self.map.get(key)?;
        let node = self.nodes[i].as_ref()?;
        if node.expires <= now {
            self.remove(i);
            return None;
        }
        let mut coding = choose(&node.stored);
        self.unlink(i);
        self.push_front(i);
        if coding != Coding::Identity {
            let max_bytes = self.max_bytes;
            let node = self.node_mut(i);
            let added = node.stored.prepare(coding);
            if added > 0 {
                if node.size + added > max_bytes {
                    node.stored.discard(coding);
                    coding = Coding::Identity;
                } else {
                    node.size += added;
                    self.bytes += added;
                    while self.bytes > self.max_bytes && self.tail != i && self.tail != NIL {
                        self.remove(self.tail);
                        bump(&self.stats.cache_evictions);
                    }
                    self.publish();
                }
            }
        }
        let node = self.nodes[i].as_ref()?;
        Some((
            &node.stored,
            now.saturating_duration_since(node.stored_at).as_secs(),
            coding,
        ))
    }

    /// Stores a response, evicting least recently used entries to stay within the bounds. A
    /// response larger than the whole cache is not stored.
    pub fn insert(&mut self, key: &str, stored: Stored, ttl: Duration, now: Instant) -> bool {
        let canonical = canonical_target(key);
        let own_canonical = canonical != key;
        let size = key.len()
            + if own_canonical { canonical.len() } else { 0 }
            + stored.size()
            + ENTRY_OVERHEAD;
        if size > self.max_bytes || self.max_entries == 0 {
            return false;
        }
        if let Some(&old) = self.map.get(key) {
            self.remove(old);
        }
        while self.tail != NIL
            && (self.bytes + size > self.max_bytes || self.map.len() >= self.max_entries)
        {
            self.remove(self.tail);
            bump(&self.stats.cache_evictions);
        }
        let key: Rc<str> = key.into();
        let canonical: Rc<str> = if own_canonical {
            canonical.into()
        } else {
            key.clone()
        };
        let node = Node {
            key: key.clone(),
            canonical: canonical.clone(),
            stored,
            stored_at: now,
            expires: now + ttl,
            size,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i] = Some(node);
                i
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        };
        self.map.insert(key, i);
        self.index.insert((canonical, i));
        self.push_front(i);
        self.bytes += size;
        self.publish();
        true
    }

    /// Drops entries whose path (the key before `?`) is `pattern`, or, for `prefix*`, whose key
    /// starts with `prefix`, however either is spelled (see `router::canonical_target`).
    pub fn invalidate(&mut self, pattern: &str) {
        let mut doomed = Vec::new();
        match pattern.strip_suffix('*') {
            Some(prefix) => self.starting_with(&canonical_target(prefix), &mut doomed),
            None => {
                // `/users/1` and `/users/1?…`, not `/users/10`.
                let path = canonical_target(pattern);
                let exact: Rc<str> = Rc::from(&*path);
                doomed.extend(
                    self.index
                        .range((exact.clone(), 0)..=(exact, usize::MAX))
                        .inspect(|_| self.walk())
                        .map(|&(_, i)| i),
                );
                self.starting_with(&format!("{path}?"), &mut doomed);
            }
        }
        for i in doomed {
            self.remove(i);
        }
    }

    /// Entries whose canonical key starts with `prefix`: a walk of the index from there.
    fn starting_with(&self, prefix: &str, found: &mut Vec<usize>) {
        let from = (Rc::<str>::from(prefix), 0);
        found.extend(
            self.index
                .range((Bound::Included(from), Bound::Unbounded))
                .inspect(|_| self.walk())
                .take_while(|(key, _)| key.starts_with(prefix))
                .map(|&(_, i)| i),
        );
    }

    /// Counts an index entry visited by an invalidation (for the tests; nothing otherwise).
    fn walk(&self) {
        #[cfg(test)]
        self.walked.set(self.walked.get() + 1);
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.index.clear();
        self.nodes.clear();
        self.free.clear();
        self.head = NIL;
        self.tail = NIL;
        self.bytes = 0;
        self.publish();
    }

    pub fn mark_cacheable(&mut self, route_id: u32) {
        self.cacheable_routes.insert(route_id);
    }

    pub fn is_cacheable(&self, route_id: u32) -> bool {
        !self.cacheable_routes.is_empty() && self.cacheable_routes.contains(&route_id)
    }

    pub fn apply(&mut self, op: CacheOp) {
        match op {
            CacheOp::Invalidate(pattern) => self.invalidate(&pattern),
            CacheOp::Clear => self.clear(),
        }
    }

    /// A miss on a cacheable route: follow the flight under way for the key, or lead one (then
    /// call `lead` with the request id).
    pub fn miss(&self, key: &str, now: Instant) -> Miss {
        bump(&self.stats.cache_misses);
        match self.flights.get(key) {
            Some(flight) if now.saturating_duration_since(flight.since) < self.leader_stale => {
                Miss::Follow
            }
            _ => Miss::Lead,
        }
    }

    /// Records `request_id` as the request whose answer settles `key`. A stuck leader's flight is
    /// taken over, waiters included.
    pub fn lead(&mut self, key: &str, request_id: u32, now: Instant) {
        match self.flights.get_mut(key) {
            Some(flight) => flight.since = now,
            None => {
                self.flights.insert(
                    key.into(),
                    Flight {
                        since: now,
                        waiters: VecDeque::new(),
                    },
                );
            }
        }
        self.leaders.insert(request_id, key.into());
    }

    pub fn follow(&mut self, key: &str, waiter: W) {
        if let Some(flight) = self.flights.get_mut(key) {
            flight.waiters.push_back(waiter);
        }
    }

    /// The leader `request_id` was abandoned (its client left) and will not settle its flight:
    /// the first waiter still waiting leads it instead, and is returned to be sent to JS; the
    /// others go on waiting for it. Without this, a handler that honours `req.signal` would
    /// leave its key's waiters waiting out `leader_stale`.
    pub fn leader_gone(&mut self, request_id: u32, now: Instant) -> Option<W> {
        let key = self.leaders.remove(&request_id)?;
        let flight = self.flights.get_mut(&key)?;
        while let Some(waiter) = flight.waiters.pop_front() {
            if waiter.is_abandoned() {
                continue;
            }
            flight.since = now;
            self.leaders.insert(waiter.id(), key);
            return Some(waiter);
        }
        self.flights.remove(&key);
        None
    }

    /// Ends the flights whose leader has not answered within `leader_stale` and returns their
    /// waiters, which must now be sent to JS.
    pub fn abandon_stale_flights(&mut self, now: Instant) -> Vec<W> {
        let stale: Vec<Box<str>> = self
            .flights
            .iter()
            .filter(|(_, f)| now.saturating_duration_since(f.since) >= self.leader_stale)
            .map(|(k, _)| k.clone())
            .collect();
        let mut waiters = Vec::new();
        for key in stale {
            if let Some(flight) = self.flights.remove(&key) {
                waiters.extend(flight.waiters);
            }
            self.leaders.retain(|_, k| *k != key);
        }
        waiters
    }

    /// The answer to `request_id` arrived: if it led a flight, returns the key and its waiters.
    pub fn land(&mut self, request_id: u32) -> Option<(Box<str>, VecDeque<W>)> {
        let key = self.leaders.remove(&request_id)?;
        let flight = self.flights.remove(&key)?;
        Some((key, flight.waiters))
    }

    fn remove(&mut self, i: usize) {
        self.unlink(i);
        if let Some(node) = self.nodes[i].take() {
            self.map.remove(&node.key);
            self.index.remove(&(node.canonical, i));
            self.bytes -= node.size;
            self.free.push(i);
        }
        self.publish();
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = match &self.nodes[i] {
            Some(n) => (n.prev, n.next),
            None => return,
        };
        match prev {
            NIL => self.head = next,
            p => self.node_mut(p).next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.node_mut(n).prev = prev,
        }
        let node = self.node_mut(i);
        node.prev = NIL;
        node.next = NIL;
    }

    fn push_front(&mut self, i: usize) {
        let old = self.head;
        {
            let node = self.node_mut(i);
            node.prev = NIL;
            node.next = old;
        }
        if old != NIL {
            self.node_mut(old).prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    fn node_mut(&mut self, i: usize) -> &mut Node {
        self.nodes[i].as_mut().expect("linked nodes are live")
    }

    fn publish(&self) {
        self.stats
            .cache_entries
            .store(self.map.len() as u64, Relaxed);
        self.stats.cache_bytes.store(self.bytes as u64, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: &[u8]) -> Stored {
        Stored::new(200, std::iter::empty(), body)
    }

    /// A waiter the cache tests follow flights with.
    struct TestWaiter(u32);

    impl Follower for TestWaiter {
        fn id(&self) -> u32 {
            self.0
        }
        fn is_abandoned(&self) -> bool {
            false
        }
    }

    fn cache(max_bytes: usize, max_entries: usize) -> Cache<TestWaiter> {
        Cache::new(
            max_bytes,
            max_entries,
            Some(LEADER_STALE),
            Arc::new(Stats::default()),
        )
    }

    const LEADER_STALE: Duration = Duration::from_secs(30);

    #[test]
    fn hit_expiry_and_age() {
        let mut c = cache(1 << 20, 100);
        let t0 = Instant::now();
        assert!(c.insert("/a?x=1", stored(b"A"), Duration::from_secs(10), t0));
        assert!(c.get("/a", t0).is_none());
        let (_, age) = c.get("/a?x=1", t0 + Duration::from_secs(3)).unwrap();
        assert_eq!(age, 3);
        assert!(c.get("/a?x=1", t0 + Duration::from_secs(10)).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn evicts_least_recently_used_within_bytes_and_entries() {
        let body = [b'x'; 1000];
        let one = "/k0".len() + stored(&body).size() + ENTRY_OVERHEAD;
        let mut c = cache(one * 2, 100);
        let t = Instant::now();
        let ttl = Duration::from_secs(60);
        c.insert("/k0", stored(&body), ttl, t);
        c.insert("/k1", stored(&body), ttl, t);
        assert!(c.get("/k0", t).is_some()); // k1 is now the least recently used
        c.insert("/k2", stored(&body), ttl, t);
        assert!(c.get("/k1", t).is_none());
        assert!(c.get("/k0", t).is_some() && c.get("/k2", t).is_some());
        assert_eq!(c.stats.cache_evictions.load(Relaxed), 1);
        assert_eq!(c.stats.cache_entries.load(Relaxed), 2);

        let mut c = cache(1 << 20, 2);
        for k in ["/a", "/b", "/c"] {
            c.insert(k, stored(b"v"), ttl, t);
        }
        assert!(c.get("/a", t).is_none() && c.get("/c", t).is_some());
        assert!(!c.insert("/big", stored(&[0; 2 << 20]), ttl, t));
    }

    #[test]
    fn encoded_variants_count_against_the_bound() {
        use crate::compress::Policy;
        let policy = std::sync::Arc::new(Policy::default());
        let body = b"{\"k\":\"some json value\"},".repeat(100);
        let make = || {
            let h: [(&[u8], &[u8]); 1] = [(b"content-type", b"application/json")];
            Stored::with_policy(200, h.into_iter(), &body, Some(&policy))
        };
        let one = "/a".len() + make().size() + ENTRY_OVERHEAD;
        let variant = make().prepare(Coding::Brotli);
        assert!(variant > 0);
        let br = |s: &Stored| s.coding_for(false, Some(b"br"));
        let now = Instant::now();
        // Room for both entries and the variant: nothing is evicted; one byte less: the least
        // recently used entry is.
        for (room, kept) in [(2 * one + variant, true), (2 * one + variant - 1, false)] {
            let mut c = cache(room, 10);
            assert!(c.insert("/a", make(), Duration::from_secs(60), now));
            assert!(c.insert("/b", make(), Duration::from_secs(60), now));
            let (_, _, coding) = c.get_encoded("/b", now, br).unwrap();
            assert_eq!(coding, Coding::Brotli);
            let entries = if kept { 2 } else { 1 };
            assert_eq!(c.bytes, entries * one + variant);
            assert_eq!(c.stats.cache_bytes.load(Relaxed) as usize, c.bytes);
            assert_eq!(c.get("/a", now).is_some(), kept);
            // Made once: a second hit adds nothing.
            c.get_encoded("/b", now, br).unwrap();
            assert_eq!(c.bytes, entries * one + variant);
        }
        // A variant that cannot fit even alone is not kept: the entry goes out unencoded.
        let mut tiny = cache(one + 10, 10);
        assert!(tiny.insert("/a", make(), Duration::from_secs(60), now));
        let (_, _, coding) = tiny.get_encoded("/a", now, |_| Coding::Gzip).unwrap();
        assert_eq!(coding, Coding::Identity);
        assert_eq!(tiny.bytes, one);
    }

    #[test]
    fn invalidation_and_clear() {
        let mut c = cache(1 << 20, 100);
        let t = Instant::now();
        let ttl = Duration::from_secs(60);
        for k in ["/users/1", "/users/1?full", "/users/10", "/posts/1"] {
            c.insert(k, stored(b"v"), ttl, t);
        }
        c.invalidate("/users/1");
        assert!(c.get("/users/1", t).is_none() && c.get("/users/1?full", t).is_none());
        assert!(c.get("/users/10", t).is_some());
        c.invalidate("/users/*");
        assert!(c.get("/users/10", t).is_none() && c.get("/posts/1", t).is_some());
        c.clear();
        assert!(c.is_empty());
        assert_eq!(c.stats.cache_bytes.load(Relaxed), 0);
    }

    #[test]
    fn keys_are_stored_once_and_counted_as_stored() {
        let mut c = cache(1 << 20, 100);
        let t = Instant::now();
        let ttl = Duration::from_secs(60);
        let body = stored(b"body");
        let size = body.size();
        c.insert("/plain?q=1", body, ttl, t);
        assert_eq!(c.bytes, "/plain?q=1".len() + size + ENTRY_OVERHEAD);
        let (key, &i) = c.map.iter().next().unwrap();
        let node = c.nodes[i].as_ref().unwrap();
        assert!(Rc::ptr_eq(key, &node.key) && Rc::ptr_eq(key, &node.canonical));
        assert!(c.index.iter().all(|(k, _)| Rc::ptr_eq(k, key)));
        // A key spelled with escapes has a canonical form of its own: both are counted.
        c.clear();
        c.insert("/p/%31", stored(b"body"), ttl, t);
        assert_eq!(
            c.bytes,
            "/p/%31".len() + "/p/1".len() + size + ENTRY_OVERHEAD
        );
        c.clear();
        assert_eq!(c.bytes, 0);
    }

    /// Invalidation walks the entries it removes (and no other), however many are cached.
    #[test]
    fn invalidation_costs_what_it_removes() {
        let mut c = cache(1 << 30, 1 << 20);
        let t = Instant::now();
        let ttl = Duration::from_secs(60);
        for i in 0..20_000 {
            c.insert(&format!("/items/{i}"), stored(b"v"), ttl, t);
            c.insert(&format!("/items/{i}?page=2"), stored(b"v"), ttl, t);
        }
        let walked = |c: &Cache<TestWaiter>| c.walked.replace(0);
        // The path itself, then `/items/7?…` up to the first key past it: not /items/70…7999.
        c.invalidate("/items/7");
        assert_eq!(walked(&c), 1 + 2);
        assert!(c.get("/items/7", t).is_none() && c.get("/items/7?page=2", t).is_none());
        assert!(c.get("/items/70", t).is_some());
        c.invalidate("/items/123*");
        assert_eq!(walked(&c), 2 * (1 + 10 + 100) + 1);
        assert!(c.get("/items/1234?page=2", t).is_none() && c.get("/items/12", t).is_some());
        c.invalidate("/nothing/here");
        assert!(walked(&c) <= 1);
    }

    #[test]
    fn invalidation_reaches_every_spelling_of_a_path() {
        let mut c = cache(1 << 20, 100);
        let t = Instant::now();
        let ttl = Duration::from_secs(60);
        for k in [
            "/x/1",
            "/x/%31",
            "/x/%31?a=1",
            "/x/%2F",
            "/x/%2f?b",
            "/p/%C3%A9",
            "/y/1",
        ] {
            c.insert(k, stored(b"v"), ttl, t);
        }
        c.invalidate("/x/1");
        for gone in ["/x/1", "/x/%31", "/x/%31?a=1"] {
            assert!(c.get(gone, t).is_none(), "{gone}");
        }
        assert!(
            c.get("/x/%2F", t).is_some(),
            "an escaped slash is another path"
        );
        c.invalidate("/x/%2f");
        assert!(c.get("/x/%2F", t).is_none() && c.get("/x/%2f?b", t).is_none());
        c.invalidate("/p/é");
        assert!(c.get("/p/%C3%A9", t).is_none());
        c.invalidate("/%79/*");
        assert!(c.is_empty());
    }

    #[test]
    fn single_flight_bookkeeping() {
        let mut c = cache(1 << 20, 100);
        let t = Instant::now();
        assert!(matches!(c.miss("/k", t), Miss::Lead));
        c.lead("/k", 1, t);
        assert!(matches!(c.miss("/k", t), Miss::Follow));
        assert!(c.land(2).is_none());
        let (key, waiters) = c.land(1).unwrap();
        assert_eq!((&*key, waiters.len()), ("/k", 0));
        assert!(matches!(c.miss("/k", t), Miss::Lead));
        c.lead("/k", 3, t);
        // A stuck leader gives way.
        assert!(matches!(c.miss("/k", t + LEADER_STALE), Miss::Lead));
        assert_eq!(c.stats.cache_misses.load(Relaxed), 4);
    }

    #[test]
    fn stale_flights_release_their_waiters() {
        let mut c = cache(1 << 20, 100);
        let t = Instant::now();
        c.lead("/slow", 1, t);
        c.follow("/slow", TestWaiter(7));
        assert!(c
            .abandon_stale_flights(t + Duration::from_secs(1))
            .is_empty());
        let released = c.abandon_stale_flights(t + LEADER_STALE);
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].0, 7);
        // The late leader's answer finds no flight, and the next miss leads.
        assert!(c.land(1).is_none());
        assert!(matches!(c.miss("/slow", t + LEADER_STALE), Miss::Lead));
    }
}
