//! Turning an accepted TCP connection into a TLS session: a client speaking plain HTTP to the
//! TLS port is told so (nginx's answer, a 400) instead of getting a TLS alert it cannot show;
//! the handshake runs under `handshakeTimeout`; what the session agreed (ALPN, the client's
//! certificate) comes out with it.

use std::time::Duration;

use monoio::net::TcpStream;
use rustls::ServerConnection;

use super::config::Settings;
use super::stream::TlsStream;

/// Every TLS connection starts with a handshake record (RFC 8446 §5.1, content type 22).
const HANDSHAKE_RECORD: u8 = 0x16;
const PLAIN_HTTP_BODY: &str = "This port speaks HTTPS: use an https:// URL.\n";

/// What a handshake agreed that the layers above need.
pub struct Agreed {
    /// ALPN chose HTTP/2.
    pub h2: bool,
    /// The client's certificate (DER), verified against `tls.ca`, when it sent one.
    pub client_cert: Option<Vec<u8>>,
}

/// The session, or `None`: not TLS (answered when it was plain HTTP), a failed handshake, or
/// too slow a one.
pub async fn accept(tcp: TcpStream, settings: &Settings) -> Option<(TlsStream, Agreed)> {
    let handshake = async move {
        let mut first = [0u8; 1];
        match crate::io::peek(&tcp, &mut first).await.map(|_| first[0]) {
            Some(HANDSHAKE_RECORD) => {}
            Some(b) if b.is_ascii_uppercase() => {
                answer_plain_http(tcp).await;
                return Err(());
            }
            _ => return Err(()),
        }
        let session = ServerConnection::new(settings.current()).map_err(|_| ())?;
        let mut stream = TlsStream::new(tcp, session);
        stream.handshake().await.map_err(|_| ())?;
        let session = stream.session();
        let agreed = Agreed {
            h2: session.alpn_protocol() == Some(b"h2"),
            client_cert: session
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|cert| cert.to_vec()),
        };
        Ok((stream, agreed))
    };
    let outcome = match settings.handshake_timeout {
        Some(limit) => monoio::select! {
            done = handshake => done,
            _ = monoio::time::sleep(limit) => Err(()),
        },
        None => handshake.await,
    };
    outcome.ok()
}

/// Time for the client to take the 400 before the socket closes.
const PLAIN_HTTP_LINGER: Duration = Duration::from_millis(500);

async fn answer_plain_http(mut tcp: TcpStream) {
    use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{PLAIN_HTTP_BODY}",
        PLAIN_HTTP_BODY.len()
    );
    if tcp.write_all(answer.into_bytes()).await.0.is_err() {
        return;
    }
    // Half-close, then read what the client still sends: closing with its request unread would
    // reset the connection and could destroy the answer before the client reads it.
    let _ = tcp.shutdown().await;
    let drain = async {
        let mut buf = vec![0u8; 4096];
        loop {
            let (res, b) = tcp.read(buf).await;
            buf = b;
            if !matches!(res, Ok(n) if n > 0) {
                return;
            }
        }
    };
    monoio::select! {
        _ = drain => {},
        _ = monoio::time::sleep(PLAIN_HTTP_LINGER) => {},
    }
}
