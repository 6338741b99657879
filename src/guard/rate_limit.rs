//! Fixed-window rate limiting: a `Counter` per `rateLimit()` (requests per key in windows of
//! `windowMs`, each key's window starting at its first request), shared by `Arc` between every
//! server of the app and the JS path (`RateLimitCounter.hit`, for keys JS computes); and the
//! native limiter that counts by the peer's IP in dispatch and answers 429 itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Answer;
use crate::ttl_map::{Bounds, TtlMap};

/// The envelope word (docs/bridge.md, offset 36) carries the count in its low bits and the
/// seconds to the window's end above them. So a native limiter allows at most this many requests
/// per window (js/rate-limit.js counts larger limits itself)…
pub const MAX_NATIVE_LIMIT: u32 = (1 << COUNT_BITS) - 1;
/// …and its window is at most this many seconds (4095 s, over an hour).
pub const MAX_NATIVE_WINDOW_SECS: u32 = (1 << (32 - COUNT_BITS)) - 1;
const COUNT_BITS: u32 = 20;

pub struct Counter {
    map: TtlMap<u32>,
    window: Duration,
}

/// One counted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Requests in the key's window, this one included (saturating).
    pub count: u32,
    /// Until the window ends.
    pub reset: Duration,
}

impl Counter {
    pub fn new(window: Duration, bounds: Bounds) -> Self {
        Counter {
            map: TtlMap::new(bounds),
            window,
        }
    }

    pub fn hit(&self, key: &str, now: Instant) -> Hit {
        let counted = self.map.upsert(
            key,
            self.window,
            now,
            || 0,
            |count, expires| {
                *count = count.saturating_add(1);
                (*count, expires)
            },
        );
        match counted {
            Some((count, expires)) => Hit {
                count,
                reset: expires.saturating_duration_since(now),
            },
            // A key too long to be kept (over a shard's byte share) counts as the window's first:
            // bounded memory wins over counting it.
            None => Hit {
                count: 1,
                reset: self.window,
            },
        }
    }

    /// Takes one request back (express-rate-limit's `decrement`, for skipped outcomes).
    pub fn decrement(&self, key: &str, now: Instant) {
        self.map
            .get_mut(key, now, |count| *count = count.saturating_sub(1));
    }

    pub fn reset_key(&self, key: &str, now: Instant) {
        self.map.remove(key, now);
    }

    pub fn clear(&self) {
        self.map.clear();
    }
}

/// A limiter Rust applies in dispatch, keyed by the peer's IP.
pub struct Native {
    pub counter: Arc<Counter>,
    pub limit: u32,
    pub window_secs: u32,
    pub status: u16,
    /// `Content-Type` of the 429's body.
    pub content_type: Box<str>,
    pub body: Box<[u8]>,
    /// The RateLimit and Retry-After headers.
    pub headers: bool,
}

impl Native {
    /// The request's word for the envelope when it is allowed, else the answer.
    pub fn check(&self, ip: &str, now: Instant) -> Result<u32, Answer> {
        let hit = self.counter.hit(ip, now);
        let reset = secs(hit.reset);
        if hit.count <= self.limit {
            return Ok(word(hit.count, reset));
        }
        let mut head = Vec::with_capacity(160);
        if self.headers {
            head.extend_from_slice(
                format!(
                    "RateLimit-Policy: {};w={}\r\nRateLimit: limit={}, remaining=0, reset={reset}\r\nRetry-After: {reset}\r\n",
                    self.limit, self.window_secs, self.limit
                )
                .as_bytes(),
            );
        }
        head.extend_from_slice(b"content-type: ");
        head.extend_from_slice(self.content_type.as_bytes());
        head.extend_from_slice(b"\r\n");
        Err(Answer {
            status: self.status,
            head,
            body: self.body.clone(),
        })
    }
}

/// Whole seconds until `d` is over, rounded up (a client told 0 would retry too early), capped to
/// what the word holds.
fn secs(d: Duration) -> u32 {
    let s = d.as_millis().div_ceil(1000);
    s.min(u128::from(MAX_NATIVE_WINDOW_SECS)) as u32
}

/// The envelope word of an allowed request: never 0 (0 says "not counted natively").
pub fn word(count: u32, reset_secs: u32) -> u32 {
    (reset_secs.min(MAX_NATIVE_WINDOW_SECS) << COUNT_BITS) | count.clamp(1, MAX_NATIVE_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        max_entries: 1000,
        max_bytes: 1 << 20,
    };

    fn limiter(limit: u32) -> Native {
        Native {
            counter: Arc::new(Counter::new(Duration::from_secs(60), BOUNDS)),
            limit,
            window_secs: 60,
            status: 429,
            content_type: "application/json; charset=utf-8".into(),
            body: (*b"{\"error\":\"Too Many Requests\"}").into(),
            headers: true,
        }
    }

    #[test]
    fn counts_per_key_in_fixed_windows() {
        let c = Counter::new(Duration::from_secs(10), BOUNDS);
        let t0 = Instant::now();
        assert_eq!(c.hit("a", t0).count, 1);
        assert_eq!(c.hit("a", t0 + Duration::from_secs(3)).count, 2);
        assert_eq!(c.hit("b", t0).count, 1);
        let h = c.hit("a", t0 + Duration::from_secs(4));
        assert_eq!(
            h.reset,
            Duration::from_secs(6),
            "the window began at the first hit"
        );
        assert_eq!(
            c.hit("a", t0 + Duration::from_secs(10)).count,
            1,
            "a new window"
        );
        c.decrement("a", t0 + Duration::from_secs(10));
        assert_eq!(c.hit("a", t0 + Duration::from_secs(10)).count, 1);
        c.reset_key("b", t0);
        assert_eq!(c.hit("b", t0).count, 1);
    }

    #[test]
    fn allows_the_limit_then_answers() {
        let l = limiter(2);
        let now = Instant::now();
        assert_eq!(l.check("1.2.3.4", now).unwrap(), word(1, 60));
        assert_eq!(l.check("1.2.3.4", now).unwrap(), word(2, 60));
        let answer = l.check("1.2.3.4", now).unwrap_err();
        assert_eq!(answer.status, 429);
        assert_eq!(
            String::from_utf8(answer.head).unwrap(),
            "RateLimit-Policy: 2;w=60\r\nRateLimit: limit=2, remaining=0, reset=60\r\n\
             Retry-After: 60\r\ncontent-type: application/json; charset=utf-8\r\n"
        );
        assert_eq!(&*answer.body, b"{\"error\":\"Too Many Requests\"}");
        assert!(
            l.check("5.6.7.8", now).is_ok(),
            "another key has its own window"
        );
    }

    #[test]
    fn the_word_packs_count_and_reset() {
        let w = word(7, 42);
        assert_eq!(w & MAX_NATIVE_LIMIT, 7);
        assert_eq!(w >> COUNT_BITS, 42);
        assert_ne!(word(0, 0), 0);
        assert_eq!(secs(Duration::from_millis(1)), 1, "rounded up");
        assert_eq!(secs(Duration::from_secs(100_000)), MAX_NATIVE_WINDOW_SECS);
    }
}
