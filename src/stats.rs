//! Server counters. Written by the server thread (and, for answers JS writes itself, direct.rs,
//! by the JS thread) and read by `server.stats()` on the JS thread, so relaxed atomics suffice: each number is exact, a snapshot of several may be a
//! few requests apart.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Stats {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub requests_total: AtomicU64,
    pub requests_native: AtomicU64,
    pub requests_js: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub cache_not_modified: AtomicU64,
    pub cache_entries: AtomicU64,
    pub cache_bytes: AtomicU64,
    pub cache_evictions: AtomicU64,
    pub bridge_calls: AtomicU64,
    pub bridge_requests: AtomicU64,
    /// Answers the JS thread wrote to the socket itself (direct.rs).
    pub bridge_direct: AtomicU64,
    /// Batches taken by a JS thread waiting for them, not sent through the threadsafe function
    /// (handoff.rs).
    pub bridge_polled: AtomicU64,
    /// Waits for such a batch (`respond()` calls that spun): `polled / waited` is how often a
    /// wait caught the next request.
    pub bridge_waited: AtomicU64,
    /// Bytes of request bodies held against `maxInFlightBytes` now (budget.rs).
    pub body_bytes: AtomicU64,
    /// Connections waiting for that budget before reading a body, now.
    pub body_waiting: AtomicU64,
    /// WebSockets open now and since the start.
    pub ws_open: AtomicU64,
    pub ws_total: AtomicU64,
    /// Messages received from clients and frames of messages queued for them (a publish counts
    /// once per subscriber it reached).
    pub ws_messages_in: AtomicU64,
    pub ws_messages_out: AtomicU64,
    /// Bytes read from and written to WebSocket connections, frames included.
    pub ws_bytes_in: AtomicU64,
    pub ws_bytes_out: AtomicU64,
    /// Publishes, and messages a subscriber missed for being over `maxBackpressure`.
    pub ws_published: AtomicU64,
    pub ws_dropped: AtomicU64,
    /// TLS handshakes completed, and connections that failed before one did (not TLS, a bad or
    /// too slow handshake).
    pub tls_handshakes: AtomicU64,
    pub tls_failures: AtomicU64,
    /// HTTP/2 connections and streams since the start.
    pub h2_connections: AtomicU64,
    pub h2_streams: AtomicU64,
    /// Responses by status class: index 0 for 1xx … 4 for 5xx.
    pub responses: [AtomicU64; 5],
}

pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Relaxed)
}

impl Stats {
    /// A request answered by Rust alone.
    pub fn native(&self, status: u16) {
        bump(&self.requests_total);
        bump(&self.requests_native);
        self.response(status);
    }

    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        bump(&self.responses[class]);
    }
}
