//! `SessionStore`, the napi class behind `MemorySessionStore` (js/session-stores.js): sessions as
//! JSON strings by id in a `TtlMap`, bounded in sessions and bytes, each expiring after its TTL
//! unless touched. Held in native memory, outside V8's heap, so many sessions do not slow the
//! garbage collector; shared by `Arc`, so later worker threads can serve from the same map.

use std::sync::Arc;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::ttl_map::{Bounds, TtlMap};

/// Sessions kept when the app sets no bound: express-session's MemoryStore has none (and warns
/// it leaks); ten thousand live sessions is a busy single server, and past it the sessions that
/// expire first give way rather than memory growing without end.
const DEFAULT_MAX_SESSIONS: u32 = 10_000;
/// Bytes kept when the app sets no bound: 64 MiB is 10,000 sessions of ~6 KiB of JSON, well over
/// the few hundred bytes a typical session holds.
const DEFAULT_MAX_BYTES: f64 = 64.0 * 1024.0 * 1024.0;
/// A TTL is capped at 400 days: the longest a browser keeps a cookie (RFC 6265bis §5.5), so a
/// session cannot usefully outlive it; also keeps `Instant + ttl` from overflowing.
const MAX_TTL_MS: f64 = 400.0 * 24.0 * 3600.0 * 1000.0;

#[napi(object)]
pub struct SessionStoreOptions {
    pub max_sessions: Option<u32>,
    pub max_bytes: Option<f64>,
    /// A name under which every store of this process made with it is one (the same store
    /// loaded by each worker of `serve()`); the first one's bounds hold.
    pub shared: Option<String>,
}

#[napi]
pub struct SessionStore {
    map: Arc<TtlMap<Arc<str>>>,
}

fn ttl(ms: f64) -> Result<Duration> {
    if !ms.is_finite() || ms <= 0.0 {
        return Err(Error::new(
            Status::InvalidArg,
            format!("SessionStore: ttlMs must be a positive number of milliseconds, got {ms}"),
        ));
    }
    Ok(Duration::from_millis(ms.min(MAX_TTL_MS) as u64))
}

#[napi]
impl SessionStore {
    #[napi(constructor)]
    pub fn new(options: Option<SessionStoreOptions>) -> Result<Self> {
        let (max_sessions, max_bytes, shared) = match options {
            Some(o) => (o.max_sessions, o.max_bytes, o.shared),
            None => (None, None, None),
        };
        let max_sessions = max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS);
        let max_bytes = max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        if max_sessions == 0 || !max_bytes.is_finite() || max_bytes < 1.0 {
            return Err(Error::new(
                Status::InvalidArg,
                "SessionStore: maxSessions and maxBytes must be positive".to_string(),
            ));
        }
        let make = || {
            Ok::<_, Error>(Arc::new(TtlMap::new(Bounds {
                max_entries: max_sessions as usize,
                max_bytes: max_bytes as usize,
            })))
        };
        let map = crate::shared::shared(shared.as_deref(), make)?;
        Ok(SessionStore { map })
    }

    /// The session's JSON, or null when there is none (or it expired).
    #[napi]
    pub fn get(&self, id: String) -> Option<String> {
        self.map.get(&id, Instant::now(), |v| v.to_string())
    }

    /// Stores the session for `ttlMs`. False when it alone is over the store's byte bound (per
    /// shard: maxBytes / 16), so it was not kept.
    #[napi]
    pub fn set(&self, id: String, json: String, ttl_ms: f64) -> Result<bool> {
        let ttl = ttl(ttl_ms)?;
        Ok(self.map.insert(&id, Arc::from(json), ttl, Instant::now()))
    }

    /// Gives a live session `ttlMs` more from now. False when there is none.
    #[napi]
    pub fn touch(&self, id: String, ttl_ms: f64) -> Result<bool> {
        let ttl = ttl(ttl_ms)?;
        Ok(self.map.touch(&id, ttl, Instant::now()))
    }

    /// False when there was no live session.
    #[napi]
    pub fn destroy(&self, id: String) -> bool {
        self.map.remove(&id, Instant::now())
    }

    /// Live sessions.
    #[napi(getter)]
    pub fn length(&self) -> u32 {
        self.map.len(Instant::now()) as u32
    }

    #[napi]
    pub fn clear(&self) {
        self.map.clear();
    }
}
