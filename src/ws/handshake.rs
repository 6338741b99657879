//! The WebSocket opening handshake (RFC 6455 §4.2): whether a request asks for one, whether it
//! is one the server may accept (§4.2.1), and the 101 answer with its accept key (§4.2.2). Knows
//! nothing of routes or hooks: the caller has the method, the path and the app's say.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use httparse::Header;
use sha1::{Digest, Sha1};

/// Appended to the client's key before hashing (RFC 6455 §1.3): proves the server read the key.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version RFC 6455 defines.
const VERSION: &[u8] = b"13";

/// Bytes a Sec-WebSocket-Key decodes to (§4.2.1 item 5), and the 24 characters that encode them.
const KEY_BYTES: usize = 16;
const KEY_CHARS: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400 Bad Request, with the reason (for logs and the body).
    Bad(&'static str),
    /// 426 Upgrade Required + `Sec-WebSocket-Version: 13` (§4.4).
    Version,
}

#[derive(Debug)]
pub struct Upgrade<'a> {
    /// Sec-WebSocket-Key, trimmed: what accept_key hashes.
    pub key: &'a [u8],
    /// The first Sec-WebSocket-Protocol value (the comma-separated subprotocols offered).
    pub protocols: Option<&'a [u8]>,
    /// Every Sec-WebSocket-Extensions value, trimmed (no allocation when there are none).
    pub extensions: Vec<&'a [u8]>,
    pub origin: Option<&'a [u8]>,
}

/// A GET whose Upgrade header lists the `websocket` token (case-insensitive): the request asks
/// for a WebSocket. The caller checks the method.
pub fn wants_websocket(headers: &[Header<'_>]) -> bool {
    lists(headers, "upgrade", b"websocket")
}

/// The rest of RFC 6455 §4.2.1: HTTP/1.1, Connection lists `upgrade`, Sec-WebSocket-Version 13
/// (else Version), one Sec-WebSocket-Key that is base64 of 16 bytes (else Bad). `extensions` =
/// every Sec-WebSocket-Extensions value. Checked in that order, so a request with several faults
/// gets the answer for the first.
pub fn check<'a>(http10: bool, headers: &[Header<'a>]) -> Result<Upgrade<'a>, Refusal> {
    if http10 {
        return Err(Refusal::Bad("WebSocket needs HTTP/1.1"));
    }
    if !wants_websocket(headers) {
        return Err(Refusal::Bad("Upgrade must be websocket"));
    }
    if !lists(headers, "connection", b"upgrade") {
        return Err(Refusal::Bad("Connection must list upgrade"));
    }
    let mut version_seen = false;
    let mut key = None;
    let mut keys = 0;
    let mut upgrade = Upgrade {
        key: &[],
        protocols: None,
        extensions: Vec::new(),
        origin: None,
    };
    for h in headers {
        let value = trim(h.value);
        let name = h.name;
        if name.eq_ignore_ascii_case("sec-websocket-version") {
            if value != VERSION {
                return Err(Refusal::Version);
            }
            version_seen = true;
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            keys += 1;
            key = Some(value);
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            upgrade.protocols = upgrade.protocols.or(Some(value));
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            if !value.is_empty() {
                upgrade.extensions.push(value);
            }
        } else if name.eq_ignore_ascii_case("origin") {
            upgrade.origin = upgrade.origin.or(Some(value));
        }
    }
    if !version_seen {
        return Err(Refusal::Version);
    }
    upgrade.key = match (key, keys) {
        (None, _) => return Err(Refusal::Bad("missing Sec-WebSocket-Key")),
        (Some(_), 2..) => return Err(Refusal::Bad("more than one Sec-WebSocket-Key")),
        (Some(key), _) if valid_key(key) => key,
        _ => return Err(Refusal::Bad("Sec-WebSocket-Key is not 16 bytes in base64")),
    };
    Ok(upgrade)
}

/// base64(SHA-1(key ++ "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): always 28 bytes.
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    let digest = sha.finalize();
    let mut out = [0u8; 28];
    // 20 bytes encode to exactly 28 characters (with one '='), so the slice always fits.
    let written = BASE64.encode_slice(digest, &mut out).unwrap_or(0);
    debug_assert_eq!(written, out.len());
    out
}

/// Appends "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n
/// sec-websocket-accept: …\r\n" + `sec-websocket-extensions` when Some + `extra` (raw header
/// lines, each ending CRLF, already checked) + "\r\n".
pub fn write_101(out: &mut Vec<u8>, accept: &[u8; 28], extensions: Option<&[u8]>, extra: &[u8]) {
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
          sec-websocket-accept: ",
    );
    out.extend_from_slice(accept);
    out.extend_from_slice(b"\r\n");
    if let Some(ext) = extensions {
        out.extend_from_slice(b"sec-websocket-extensions: ");
        out.extend_from_slice(ext);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(extra);
    out.extend_from_slice(b"\r\n");
}

/// Canonical base64 of exactly 16 bytes (padding and unused bits as the encoder writes them).
fn valid_key(key: &[u8]) -> bool {
    // The decoder wants room for its estimate (3 bytes per 4 characters) before it knows the
    // padding.
    let mut decoded = [0u8; KEY_CHARS / 4 * 3];
    key.len() == KEY_CHARS && BASE64.decode_slice(key, &mut decoded) == Ok(KEY_BYTES)
}

/// Whether any `name` header's comma-separated list holds `token` (case-insensitive; a field may
/// be repeated, RFC 9110 §5.3).
fn lists(headers: &[Header<'_>], name: &str, token: &[u8]) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// Without the optional whitespace around a field value or list element (RFC 9110 §5.6.3).
fn trim(v: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = v.iter().position(|b| !is_ows(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §1.3's example key.
    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn h<'a>(name: &'a str, value: &'a str) -> Header<'a> {
        Header {
            name,
            value: value.as_bytes(),
        }
    }

    fn good() -> Vec<Header<'static>> {
        vec![
            h("Host", "server.example.com"),
            h("Upgrade", "websocket"),
            h("Connection", "Upgrade"),
            h("Sec-WebSocket-Key", KEY),
            h("Origin", "http://example.com"),
            h("Sec-WebSocket-Protocol", "chat, superchat"),
            h("Sec-WebSocket-Version", "13"),
        ]
    }

    fn bad(http10: bool, headers: &[Header<'_>]) -> &'static str {
        match check(http10, headers) {
            Err(Refusal::Bad(reason)) => reason,
            Err(Refusal::Version) => panic!("426 instead of 400"),
            Ok(_) => panic!("accepted"),
        }
    }

    fn version(headers: &[Header<'_>]) {
        assert!(matches!(check(false, headers), Err(Refusal::Version)));
    }

    /// `good()` with the header `name` replaced by `value` (removed when None).
    fn with(name: &str, value: Option<&'static str>) -> Vec<Header<'static>> {
        let mut hs: Vec<_> = good()
            .into_iter()
            .filter(|x| !x.name.eq_ignore_ascii_case(name))
            .collect();
        if let Some(v) = value {
            hs.push(Header {
                name: Box::leak(name.to_string().into_boxed_str()),
                value: v.as_bytes(),
            });
        }
        hs
    }

    #[test]
    fn rfc_accept_key() {
        // RFC 6455 §1.3.
        assert_eq!(&accept_key(KEY.as_bytes()), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn rfc_request_is_accepted() {
        let headers = good();
        let Ok(up) = check(false, &headers) else {
            panic!("refused")
        };
        assert_eq!(up.key, KEY.as_bytes());
        assert_eq!(up.protocols, Some(&b"chat, superchat"[..]));
        assert_eq!(up.origin, Some(&b"http://example.com"[..]));
        assert!(up.extensions.is_empty());
        assert!(wants_websocket(&headers));
    }

    #[test]
    fn lists_tokens_and_case() {
        let mut hs = with("Upgrade", Some(" WebSocket "));
        hs.retain(|x| !x.name.eq_ignore_ascii_case("connection"));
        hs.push(h("connection", "keep-alive, UPGRADE"));
        hs.push(h(
            "SEC-WEBSOCKET-EXTENSIONS",
            " permessage-deflate; client_max_window_bits ",
        ));
        hs.push(h("Sec-WebSocket-Extensions", "x-other"));
        hs.push(h("Sec-WebSocket-Extensions", "  "));
        let Ok(up) = check(false, &hs) else {
            panic!("refused")
        };
        assert_eq!(
            up.extensions,
            [
                &b"permessage-deflate; client_max_window_bits"[..],
                b"x-other"
            ]
        );
        // Upgrade listing other protocols too; repeated Upgrade headers.
        assert!(wants_websocket(&[h("upgrade", "h2c, websocket")]));
        assert!(wants_websocket(&[
            h("upgrade", "h2c"),
            h("Upgrade", "websocket")
        ]));
        assert!(!wants_websocket(&[h("upgrade", "websockets")]));
        assert!(!wants_websocket(&[h("upgrade", "h2c")]));
        assert!(!wants_websocket(&[h("x-upgrade", "websocket")]));
        assert!(!wants_websocket(&[]));
    }

    #[test]
    fn every_refusal() {
        assert_eq!(bad(true, &good()), "WebSocket needs HTTP/1.1");
        assert_eq!(
            bad(false, &with("upgrade", None)),
            "Upgrade must be websocket"
        );
        assert_eq!(
            bad(false, &with("upgrade", Some("h2c"))),
            "Upgrade must be websocket"
        );
        assert_eq!(
            bad(false, &with("connection", None)),
            "Connection must list upgrade"
        );
        assert_eq!(
            bad(false, &with("connection", Some("keep-alive"))),
            "Connection must list upgrade"
        );
        // Version: missing, wrong, or one of several wrong.
        version(&with("sec-websocket-version", None));
        version(&with("sec-websocket-version", Some("8")));
        version(&with("sec-websocket-version", Some("13, 8")));
        let mut two = good();
        two.push(h("Sec-WebSocket-Version", "14"));
        version(&two);
        // Key: missing, twice, not base64, not 16 bytes, not canonical.
        assert_eq!(
            bad(false, &with("sec-websocket-key", None)),
            "missing Sec-WebSocket-Key"
        );
        let mut two = good();
        two.push(h("Sec-WebSocket-Key", KEY));
        assert_eq!(bad(false, &two), "more than one Sec-WebSocket-Key");
        for key in [
            "",
            "not base64 at all!!!!!!!",
            "dGhlIHNhbXBsZSBub25jZQ",     // unpadded
            "dGhlIHNhbXBsZSBub25jZQ=",    // short padding
            "dGhlIHNhbXBsZSBub25jZXg=",   // 17 bytes
            "dGhlIHNhbXBsZSBub25j",       // 15 bytes
            "dGhlIHNhbXBsZSBub25jZR==",   // unused bits set
            "dGhlIHNhbXBsZSBub25jZQ==AA", // trailing data
        ] {
            assert_eq!(
                bad(false, &with("sec-websocket-key", Some(key))),
                "Sec-WebSocket-Key is not 16 bytes in base64",
                "{key:?}"
            );
        }
        // The version is answered before the key.
        let mut hs = with("sec-websocket-key", None);
        hs.retain(|x| !x.name.eq_ignore_ascii_case("sec-websocket-version"));
        version(&hs);
    }

    #[test]
    fn key_whitespace_is_trimmed() {
        let hs = with("sec-websocket-key", Some(" dGhlIHNhbXBsZSBub25jZQ==\t"));
        let Ok(up) = check(false, &hs) else {
            panic!("refused")
        };
        assert_eq!(up.key, KEY.as_bytes());
    }

    #[test]
    fn the_101() {
        let accept = accept_key(KEY.as_bytes());
        let mut out = Vec::new();
        write_101(&mut out, &accept, None, b"");
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
              sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        out.clear();
        write_101(
            &mut out,
            &accept,
            Some(b"permessage-deflate; server_no_context_takeover"),
            b"sec-websocket-protocol: chat\r\nx-a: b\r\n",
        );
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.ends_with(
            "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             sec-websocket-extensions: permessage-deflate; server_no_context_takeover\r\n\
             sec-websocket-protocol: chat\r\nx-a: b\r\n\r\n"
        ));
        // A head httparse reads as a 101 with those fields.
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut res = httparse::Response::new(&mut headers);
        assert!(matches!(res.parse(&out), Ok(httparse::Status::Complete(n)) if n == out.len()));
        assert_eq!(res.code, Some(101));
        assert_eq!(res.headers.len(), 6);
    }

    #[test]
    fn accept_key_of_other_keys() {
        // Any 16 bytes' key: 28 characters of base64 ending in one '='.
        for seed in 0u8..32 {
            let raw: Vec<u8> = (0..16)
                .map(|i| seed.wrapping_mul(31).wrapping_add(i))
                .collect();
            let mut key = [0u8; KEY_CHARS];
            assert_eq!(BASE64.encode_slice(&raw, &mut key), Ok(KEY_CHARS));
            assert!(valid_key(&key));
            let acc = accept_key(&key);
            assert_eq!(acc[27], b'=');
            assert!(acc[..27]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"+/".contains(b)));
        }
    }
}
