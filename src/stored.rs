//! A response serialized once and written many times: static routes and cached responses.
//! Everything that does not change per request (status line, headers, ETag, Content-Length, body)
//! is kept as bytes; `write` adds what does (Date, Age, Connection) and decides 304 and HEAD.
//! Writing allocates nothing once the output buffer has grown to size; a large body is written
//! by reference (`outbox.rs`), so however many requests it answers it exists once.

use std::hash::{Hash, Hasher};

use bytes::Bytes;

use crate::h1::encode::{self as response, ConnHeader};
use crate::outbox::Outbox;

pub struct Stored {
    status: u16,
    /// Status line, headers, etag, content-length: every line up to Date.
    prefix: Box<[u8]>,
    /// The header lines a 304 repeats from the full response (RFC 9110 §15.4.5).
    revalidation: Box<[u8]>,
    etag: Box<[u8]>,
    body: Bytes,
}

impl Stored {
    /// `headers` as an app gave them; framing headers are Rust's and are dropped. A strong ETag
    /// is derived from the body unless the app set one.
    pub fn new<'a>(
        status: u16,
        headers: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        body: &[u8],
    ) -> Stored {
        let status = response::valid_status(status);
        let mut prefix = Vec::with_capacity(256);
        response::status_line(&mut prefix, status);
        let mut etag: Option<Vec<u8>> = None;
        let mut revalidation = Vec::new();
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(b"content-length")
                || name.eq_ignore_ascii_case(b"transfer-encoding")
                || name.eq_ignore_ascii_case(b"date")
                || name.eq_ignore_ascii_case(b"connection")
                || name.eq_ignore_ascii_case(b"age")
                || !response::header_is_safe(name, value)
            {
                continue;
            }
            if name.eq_ignore_ascii_case(b"etag") {
                etag = Some(value.to_vec());
                continue;
            }
            push_header(&mut prefix, name, value);
            if [
                &b"cache-control"[..],
                b"content-location",
                b"expires",
                b"vary",
            ]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
            {
                push_header(&mut revalidation, name, value);
            }
        }
        let etag = etag.unwrap_or_else(|| strong_etag(body));
        push_header(&mut prefix, b"etag", &etag);
        let has_body = response::status_has_body(status);
        if has_body {
            prefix.extend_from_slice(b"content-length: ");
            response::push_u64(&mut prefix, body.len() as u64);
            prefix.extend_from_slice(b"\r\n");
        }
        Stored {
            status,
            prefix: prefix.into(),
            revalidation: revalidation.into(),
            etag: etag.into(),
            body: if has_body {
                Bytes::copy_from_slice(body)
            } else {
                Bytes::new()
            },
        }
    }

    /// Bytes this response holds, for the cache's memory bound.
    pub fn size(&self) -> usize {
        self.prefix.len() + self.revalidation.len() + self.etag.len() + self.body.len()
    }

    /// Appends the response for one request and returns the status written (304 when the
    /// client's `If-None-Match` matches).
    pub fn write(
        &self,
        outbox: &mut Outbox,
        head: bool,
        conn: ConnHeader,
        age: Option<u64>,
        if_none_match: Option<&[u8]>,
    ) -> u16 {
        // Only a successful response can be "not modified" (RFC 9110 §13.1.2).
        let not_modified = (200..300).contains(&self.status)
            && if_none_match.is_some_and(|v| etag_matches(v, &self.etag));
        let out = outbox.bytes();
        if not_modified {
            response::status_line(out, 304);
            out.extend_from_slice(&self.revalidation);
            push_header(out, b"etag", &self.etag);
        } else {
            out.extend_from_slice(&self.prefix);
        }
        out.extend_from_slice(b"date: ");
        response::with_date(|d| out.extend_from_slice(d));
        out.extend_from_slice(b"\r\n");
        if let Some(age) = age {
            out.extend_from_slice(b"age: ");
            response::push_u64(out, age);
            out.extend_from_slice(b"\r\n");
        }
        response::conn_header(out, conn);
        out.extend_from_slice(b"\r\n");
        if not_modified {
            return 304;
        }
        if !head {
            outbox.body(&self.body);
        }
        self.status
    }
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `"<hash>-<length>"`: SipHash with fixed keys, so the same body gets the same tag across
/// restarts and servers.
fn strong_etag(body: &[u8]) -> Vec<u8> {
    let mut h = std::hash::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:016x}-{:x}\"", h.finish(), body.len()).into_bytes()
}

/// `If-None-Match` uses the weak comparison (RFC 9110 §13.1.2): `*`, or any listed tag whose
/// opaque part equals ours, with or without `W/`.
fn etag_matches(header: &[u8], etag: &[u8]) -> bool {
    let ours = etag.strip_prefix(b"W/").unwrap_or(etag);
    header.split(|&b| b == b',').any(|tag| {
        let tag = tag.trim_ascii();
        tag == b"*" || tag.strip_prefix(b"W/").unwrap_or(tag) == ours
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Stored {
        let headers: [(&[u8], &[u8]); 3] = [
            (b"content-type", b"text/plain"),
            (b"content-length", b"999"),
            (b"x-a", b"1"),
        ];
        Stored::new(200, headers.into_iter(), b"hello")
    }

    fn text(mut out: Outbox) -> String {
        assert!(out.is_contiguous());
        String::from_utf8(out.take_bytes()).unwrap()
    }

    #[test]
    fn writes_fresh_date_age_and_body() {
        let s = stored();
        let mut out = Outbox::default();
        assert_eq!(
            s.write(&mut out, false, ConnHeader::None, Some(3), None),
            200
        );
        let t = text(out);
        assert!(t.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-a: 1\r\netag: \""));
        assert!(t.contains("content-length: 5\r\ndate: "));
        assert!(t.contains("\r\nage: 3\r\n\r\nhello"));
        assert!(!t.contains("999"));
    }

    #[test]
    fn head_and_not_modified() {
        let s = stored();
        let etag = String::from_utf8(s.etag.to_vec()).unwrap();
        let mut out = Outbox::default();
        s.write(&mut out, true, ConnHeader::Close, None, None);
        let t = text(out);
        assert!(t.contains("content-length: 5\r\n") && t.ends_with("connection: close\r\n\r\n"));

        for inm in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"x\", {etag}"),
            "*".into(),
        ] {
            let mut out = Outbox::default();
            assert_eq!(
                s.write(
                    &mut out,
                    false,
                    ConnHeader::None,
                    None,
                    Some(inm.as_bytes())
                ),
                304
            );
            let t = text(out);
            assert!(t.starts_with("HTTP/1.1 304 Not Modified\r\n"));
            assert!(t.contains(&format!("etag: {etag}\r\n")) && t.ends_with("\r\n\r\n"));
            assert!(!t.contains("content-length") && !t.contains("hello"));
        }
        let mut out = Outbox::default();
        assert_eq!(
            s.write(&mut out, false, ConnHeader::None, None, Some(b"\"other\"")),
            200
        );
    }

    #[test]
    fn not_modified_repeats_caching_headers_and_covers_every_2xx() {
        let headers: [(&[u8], &[u8]); 3] = [
            (b"Cache-Control", b"public, max-age=60"),
            (b"Vary", b"Accept-Encoding"),
            (b"x-other", b"1"),
        ];
        let s = Stored::new(203, headers.into_iter(), b"body");
        let mut out = Outbox::default();
        assert_eq!(
            s.write(&mut out, false, ConnHeader::None, None, Some(b"*")),
            304
        );
        let t = text(out);
        assert!(t.contains("Cache-Control: public, max-age=60\r\nVary: Accept-Encoding\r\netag: "));
        assert!(!t.contains("x-other"));
        let s = Stored::new(404, std::iter::empty(), b"gone");
        assert_eq!(
            s.write(
                &mut Outbox::default(),
                false,
                ConnHeader::None,
                None,
                Some(b"*")
            ),
            404
        );
    }

    #[test]
    fn etag_is_strong_stable_and_overridable() {
        assert_eq!(stored().etag, stored().etag);
        assert!(stored().etag.starts_with(b"\""));
        let other = Stored::new(200, std::iter::empty(), b"hellO");
        assert_ne!(other.etag, stored().etag);
        let headers: [(&[u8], &[u8]); 1] = [(b"ETag", b"\"v1\"")];
        assert_eq!(
            &*Stored::new(200, headers.into_iter(), b"x").etag,
            b"\"v1\""
        );
    }
}
