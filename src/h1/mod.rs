//! HTTP/1.1 request framing: the head (`parse`) and the body (`body`). Pure functions over
//! bytes, so every rule here is unit-tested without a socket.

pub mod body;
pub mod parse;

pub use body::{ChunkedDecoder, Progress};
pub use parse::{head_end, oversize_status, parse_head, Framing, Limits};
