//! HTTP/2 (RFC 9113) over TLS (ALPN `h2`) or plain TCP with prior knowledge (h2c): hyperium's
//! `h2` crate speaks the protocol — frames, HPACK, flow control, stream limits, and its defences
//! against rapid reset and CONTINUATION floods — over our transports (`conn.rs`); each stream is
//! served by the HTTP/1.1 connection code through an in-memory pipe (`stream.rs`,
//! `translate.rs`).

mod conn;
mod stream;
mod translate;

pub use crate::http2_options::Settings;
pub use conn::serve;

/// The client's first bytes on an h2c connection (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Streams the client may reset before it is told to stop (GOAWAY, ENHANCE_YOUR_CALM), counted
/// only while resets are at least half of its streams: a browser cancels a few requests, a
/// rapid-reset attack (CVE-2023-44487) cancels nearly all of them.
pub const RESET_ALLOWANCE: u64 = 100;
