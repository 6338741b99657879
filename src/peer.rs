//! Who is at the other end of a connection and how it reached us (TLS, HTTP/2, the client's
//! certificate): what each request's envelope tells JS about its connection. One per connection,
//! shared by the streams of an HTTP/2 connection.

use std::net::SocketAddr;

#[derive(Debug, Default)]
pub struct Peer {
    /// The client's address as JS sees it (`req.ip`): IPv4-mapped IPv6 shown as IPv4.
    pub ip: String,
    /// Over TLS (`req.protocol === 'https'`).
    pub secure: bool,
    /// An HTTP/2 stream (`req.httpVersion === '2.0'`).
    pub http2: bool,
    /// The client's verified certificate (DER), when it sent one.
    pub client_cert: Option<Vec<u8>>,
}

impl Peer {
    pub fn plain(addr: SocketAddr) -> Peer {
        Peer {
            ip: addr.ip().to_canonical().to_string(),
            ..Peer::default()
        }
    }
}
