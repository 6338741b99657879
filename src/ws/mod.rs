//! WebSocket (RFC 6455) pieces that know nothing of connections or the bridge: the handshake's
//! checks and answer, frames, the messages they make (UTF-8, fragmentation, limits),
//! permessage-deflate (RFC 7692), a route's options, and the hub of open sockets and topics. The
//! connection that speaks them after a 101 is `wsconn/`; the bridge fills the hub from JS.

pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod hub;
pub mod message;
pub mod utf8;

/// A WebSocket route's options (`app.ws(path, handlers, options)`), as the session applies them.
#[derive(Clone, Copy, Debug)]
pub struct WsRoute {
    /// The largest message, after decompression (close 1009 past it).
    pub max_payload: usize,
    /// Nothing received for this long closes the socket; a ping goes out at half of it.
    pub idle_timeout: Option<std::time::Duration>,
    pub compression: Option<deflate::Mode>,
    /// Bytes a socket may owe its client before messages to it are dropped (0: no bound).
    pub max_backpressure: usize,
    /// Past `max_backpressure`, close (1008) rather than drop.
    pub close_on_limit: bool,
    pub send_pings: bool,
}

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
