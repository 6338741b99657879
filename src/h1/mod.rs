//! HTTP/1.1 framing: the request head (`parse`) and body (`body`) in, responses out (`encode`).
//! Pure functions over bytes, so every rule here is unit-tested without a socket.

pub mod body;
pub mod encode;
pub mod parse;

pub use body::{ChunkedDecoder, Progress};
pub use parse::{head_end, oversize_status, parse_head, Framing, Limits};
