//! WebSocket (RFC 6455) pieces that know nothing of connections or the bridge: the handshake's
//! checks and answer, frames, the messages they make (UTF-8, fragmentation, limits), and
//! permessage-deflate (RFC 7692). The connection that speaks them after a 101 is `wsconn/`.

// Filled in piece by piece while the feature lands; used by wsconn/ and the bridge.
#![allow(dead_code)]

pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod hub;
pub mod message;
pub mod utf8;

/// Close codes Rust uses (RFC 6455 §7.4.1).
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const NO_STATUS: u16 = 1005;
    pub const ABNORMAL: u16 = 1006;
    pub const INVALID_DATA: u16 = 1007;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
}

/// Decompresses one compressed message (RFC 7692 §7.2.2), frame by frame.
pub trait Decompress {
    /// Appends the decompression of `input` (one frame's payload) to `out`; `last` on the
    /// message's final frame (the implementation appends the 00 00 ff ff tail itself, and resets
    /// its window when the client has no context takeover). `Err(TOO_BIG)` when `out` would grow
    /// past `limit` bytes; `Err(INVALID_DATA)` for corrupt data.
    fn decompress(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), u16>;
}
