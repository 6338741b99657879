//! Response compression: which content-coding a request accepts (`negotiate.rs`), whether an
//! answer is compressed at all and how its headers change (`policy.rs`, `headers.rs`), and the
//! encoders themselves, whole bodies and streams flushed per write (`codec.rs`).
//!
//! Which policy a request is under, and what it accepts, is `scopes.rs`.
//!
//! Pure: no I/O, no connection state. The server calls it on its own thread for JS answers,
//! streamed answers and stored entries; native file serving calls it the same way.

mod codec;
mod headers;
mod negotiate;
mod policy;
mod scopes;
mod types;

pub use codec::{compress, Encoder};
pub use headers::{rewrite_headers, vary_accept_encoding, weaken_etag, Facts};
pub use negotiate::negotiate;
pub use policy::{Levels, Policy, DEFAULT_THRESHOLD};
pub use scopes::{Accepted, Scopes};
pub use types::{compressible, Types};

/// A content-coding we answer with (RFC 9110 §8.4.1). `Identity` is no coding at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    Identity,
    Gzip,
    Brotli,
    Zstd,
}

impl Coding {
    /// The three codings that compress, in the server's default preference: brotli and zstd
    /// compress text better than gzip at a comparable CPU cost, and brotli is the one every
    /// current browser decodes.
    pub const COMPRESSED: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

    /// The token on the wire (`Content-Encoding`, `Accept-Encoding`); empty for `Identity`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// The coding a token names (case-insensitive; `x-gzip` is gzip, RFC 9110 §8.4.1.3).
    pub fn from_token(token: &[u8]) -> Option<Coding> {
        if token.eq_ignore_ascii_case(b"gzip") || token.eq_ignore_ascii_case(b"x-gzip") {
            Some(Coding::Gzip)
        } else if token.eq_ignore_ascii_case(b"br") {
            Some(Coding::Brotli)
        } else if token.eq_ignore_ascii_case(b"zstd") {
            Some(Coding::Zstd)
        } else if token.eq_ignore_ascii_case(b"identity") {
            Some(Coding::Identity)
        } else {
            None
        }
    }

    /// Index into per-coding tables (`[T; 4]`).
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests;
