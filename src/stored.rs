//! A response serialized once and written many times: static routes and cached responses.
//! Everything that does not change per request (status line, headers, ETag, Content-Length, body)
//! is kept as bytes; `write` adds what does (Date, Age, Connection) and decides 304 and HEAD.
//! Writing allocates nothing once the output buffer has grown to size; a large body is written
//! by reference (`outbox.rs`), so however many requests it answers it exists once.
//!
//! Under a compression policy each content-coding is a variant of its own, encoded once on the
//! first request that takes it (`prepare`) and kept with the response: a hit on it costs no
//! compression and no allocation.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;

use crate::compress::{self, Coding, Facts, Policy};
use crate::h1::encode::{self as response, ConnHeader};
use crate::outbox::Outbox;

pub struct Stored {
    status: u16,
    /// Status line, headers, etag, content-length: every line up to Date.
    prefix: Box<[u8]>,
    /// Where the etag line starts in `prefix`: an encoded variant shares what comes before.
    etag_at: usize,
    /// The header lines a 304 repeats from the full response (RFC 9110 §15.4.5).
    revalidation: Box<[u8]>,
    etag: Box<[u8]>,
    body: Bytes,
    /// Set when the policy compresses this response (for a client that asks).
    encoded: Option<Box<Encoded>>,
}

/// The compressed variants of a response, made on first use.
struct Encoded {
    policy: Arc<Policy>,
    /// By `Coding::index() - 1` (gzip, br, zstd).
    variants: RefCell<[Option<Variant>; 3]>,
}

struct Variant {
    /// `Stored::prefix` with `content-encoding`, the weak ETag and the encoded length.
    prefix: Box<[u8]>,
    /// `W/"…"` (compress::weaken_etag), repeated by a 304 of this variant.
    etag: Box<[u8]>,
    body: Bytes,
}

impl Variant {
    fn size(&self) -> usize {
        self.prefix.len() + self.etag.len() + self.body.len()
    }
}

impl Stored {
    /// `headers` as an app gave them; framing headers are Rust's and are dropped. A strong ETag
    /// is derived from the body unless the app set one.
    pub fn new<'a>(
        status: u16,
        headers: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
        body: &[u8],
    ) -> Stored {
        Stored::with_policy(status, headers, body, None)
    }

    /// `new` under a compression policy: an answer the policy compresses gets
    /// `Vary: Accept-Encoding` and its encoded variants on demand (`prepare`).
    pub fn with_policy<'a>(
        status: u16,
        headers: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
        body: &[u8],
        policy: Option<&Arc<Policy>>,
    ) -> Stored {
        let status = response::valid_status(status);
        let has_body = response::status_has_body(status);
        let facts = Facts::scan(headers.clone());
        let vary = policy.is_some_and(|p| p.varies(status, &facts));
        let compressible = policy
            .filter(|p| has_body && p.applies(status, false, &facts, Some(body.len())))
            .cloned();
        let mut prefix = Vec::with_capacity(256);
        response::status_line(&mut prefix, status);
        let mut etag: Option<Vec<u8>> = None;
        let mut revalidation = Vec::new();
        compress::rewrite_headers(headers, Coding::Identity, vary, |name, value| {
            if name.eq_ignore_ascii_case(b"content-length")
                || name.eq_ignore_ascii_case(b"transfer-encoding")
                || name.eq_ignore_ascii_case(b"date")
                || name.eq_ignore_ascii_case(b"connection")
                || name.eq_ignore_ascii_case(b"age")
                || !response::header_is_safe(name, value)
            {
                return;
            }
            if name.eq_ignore_ascii_case(b"etag") {
                etag = Some(value.to_vec());
                return;
            }
            // Only `identity` can be here (an encoded answer has no variants): the variants say
            // their own coding, and identity needs no saying.
            if compressible.is_some() && name.eq_ignore_ascii_case(b"content-encoding") {
                return;
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
        });
        let etag = etag.unwrap_or_else(|| strong_etag(body));
        let etag_at = prefix.len();
        push_header(&mut prefix, b"etag", &etag);
        if has_body {
            push_length(&mut prefix, body.len());
        }
        Stored {
            status,
            prefix: prefix.into(),
            etag_at,
            revalidation: revalidation.into(),
            etag: etag.into(),
            body: if has_body {
                Bytes::copy_from_slice(body)
            } else {
                Bytes::new()
            },
            encoded: compressible.map(|policy| {
                Box::new(Encoded {
                    policy,
                    variants: RefCell::new([None, None, None]),
                })
            }),
        }
    }

    /// The same response for another thread's cache: the body shared (`Bytes`), the encoded
    /// variants left for that thread to make on first use (they are per-thread `RefCell`s).
    pub fn replica(&self) -> Stored {
        Stored {
            status: self.status,
            prefix: self.prefix.clone(),
            etag_at: self.etag_at,
            revalidation: self.revalidation.clone(),
            etag: self.etag.clone(),
            body: self.body.clone(),
            encoded: self.encoded.as_ref().map(|e| {
                Box::new(Encoded {
                    policy: e.policy.clone(),
                    variants: RefCell::new([None, None, None]),
                })
            }),
        }
    }

    /// Bytes this response holds, its encoded variants included, for the cache's memory bound.
    pub fn size(&self) -> usize {
        let variants = self.encoded.as_ref().map_or(0, |e| {
            e.variants
                .borrow()
                .iter()
                .flatten()
                .map(Variant::size)
                .sum()
        });
        self.prefix.len() + self.revalidation.len() + self.etag.len() + self.body.len() + variants
    }

    /// The coding this response goes out in for a request with this `Accept-Encoding`: always
    /// identity for a HEAD (as for JS answers: no body to encode) or a response the policy
    /// leaves alone. Allocates nothing.
    pub fn coding_for(&self, head: bool, accept_encoding: Option<&[u8]>) -> Coding {
        match &self.encoded {
            Some(e) if !head => e.policy.negotiate(accept_encoding),
            _ => Coding::Identity,
        }
    }

    /// Makes the variant for `coding` unless it exists (or the response is not compressed);
    /// returns the bytes it added to `size()`.
    pub fn prepare(&self, coding: Coding) -> usize {
        let Some(e) = &self.encoded else {
            return 0;
        };
        if coding == Coding::Identity {
            return 0;
        }
        let mut variants = e.variants.borrow_mut();
        let slot = &mut variants[coding.index() - 1];
        if slot.is_some() {
            return 0;
        }
        let body = compress::compress(coding, e.policy.level(coding), &self.body);
        let etag = compress::weaken_etag(&self.etag).into_owned();
        let mut prefix = Vec::with_capacity(self.etag_at + 96);
        prefix.extend_from_slice(&self.prefix[..self.etag_at]);
        push_header(&mut prefix, b"content-encoding", coding.token().as_bytes());
        push_header(&mut prefix, b"etag", &etag);
        push_length(&mut prefix, body.len());
        let variant = Variant {
            prefix: prefix.into(),
            etag: etag.into(),
            body: body.into(),
        };
        let added = variant.size();
        *slot = Some(variant);
        added
    }

    /// Drops the variant for `coding` (the cache could not keep it).
    pub fn discard(&self, coding: Coding) {
        if let (Some(e), Some(i)) = (&self.encoded, coding.index().checked_sub(1)) {
            e.variants.borrow_mut()[i] = None;
        }
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
        self.write_encoded(outbox, head, conn, age, if_none_match, Coding::Identity)
    }

    /// `write` in `coding` (`coding_for`), from its variant when `prepare` made one; else, and
    /// for identity, the response as stored.
    pub fn write_encoded(
        &self,
        outbox: &mut Outbox,
        head: bool,
        conn: ConnHeader,
        age: Option<u64>,
        if_none_match: Option<&[u8]>,
        coding: Coding,
    ) -> u16 {
        let variants = match &self.encoded {
            Some(e) if coding != Coding::Identity => Some(e.variants.borrow()),
            _ => None,
        };
        let variant = variants
            .as_ref()
            .and_then(|v| v[coding.index() - 1].as_ref());
        let (prefix, etag, body) = match variant {
            Some(v) => (&v.prefix, &v.etag, &v.body),
            None => (&self.prefix, &self.etag, &self.body),
        };
        // Only a successful response can be "not modified" (RFC 9110 §13.1.2).
        let not_modified = (200..300).contains(&self.status)
            && if_none_match.is_some_and(|v| etag_matches(v, etag));
        let out = outbox.bytes();
        if not_modified {
            response::status_line(out, 304);
            out.extend_from_slice(&self.revalidation);
            push_header(out, b"etag", etag);
        } else {
            out.extend_from_slice(prefix);
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
            outbox.body(body);
        }
        self.status
    }
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(b"content-length: ");
    response::push_u64(out, len as u64);
    out.extend_from_slice(b"\r\n");
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

    fn decoded(coding: Coding, body: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => {
                flate2::read::GzDecoder::new(body)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Brotli => {
                brotli::Decompressor::new(body, 4096)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Zstd => out = zstd::stream::decode_all(body).unwrap(),
            Coding::Identity => out.extend_from_slice(body),
        }
        out
    }

    #[test]
    fn encoded_variants() {
        let policy = Arc::new(Policy::default());
        let body = b"<p>hello</p>\n".repeat(200);
        let headers: [(&[u8], &[u8]); 2] = [(b"content-type", b"text/html"), (b"vary", b"Origin")];
        let s = Stored::with_policy(200, headers.into_iter(), &body, Some(&policy));
        let plain = s.size();
        assert_eq!(s.coding_for(false, Some(b"gzip, br")), Coding::Brotli);
        assert_eq!(s.coding_for(true, Some(b"gzip, br")), Coding::Identity);
        assert_eq!(s.coding_for(false, None), Coding::Identity);
        let added = s.prepare(Coding::Gzip);
        assert!(added > 0 && s.size() == plain + added);
        assert_eq!(s.prepare(Coding::Gzip), 0, "made once");

        let mut out = Outbox::default();
        assert_eq!(
            s.write_encoded(&mut out, false, ConnHeader::None, None, None, Coding::Gzip),
            200
        );
        let wire = out.take_bytes();
        let split = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8(wire[..split].to_vec()).unwrap();
        assert!(head.contains("vary: Origin, Accept-Encoding\r\n"));
        assert!(head.contains("content-encoding: gzip\r\netag: W/\""));
        assert!(head.contains(&format!("content-length: {}\r\n", wire.len() - split)));
        assert_eq!(decoded(Coding::Gzip, &wire[split..]), body);

        // A 304 of the variant repeats its weak tag and the Vary; the strong tag matches it too.
        let strong = String::from_utf8(s.etag.to_vec()).unwrap();
        let mut out = Outbox::default();
        let status = s.write_encoded(
            &mut out,
            false,
            ConnHeader::None,
            None,
            Some(strong.as_bytes()),
            Coding::Gzip,
        );
        assert_eq!(status, 304);
        let t = text(out);
        assert!(t.contains("vary: Origin, Accept-Encoding\r\n"));
        assert!(t.contains(&format!("etag: W/{strong}\r\n")));

        // A variant never made (or dropped) goes out unencoded, with the Vary.
        s.discard(Coding::Gzip);
        assert_eq!(s.size(), plain);
        let mut out = Outbox::default();
        s.write_encoded(&mut out, false, ConnHeader::None, None, None, Coding::Zstd);
        let t = text(out);
        assert!(!t.contains("content-encoding") && t.contains("Accept-Encoding"));
        assert!(t.ends_with(std::str::from_utf8(&body).unwrap()));
    }

    #[test]
    fn what_the_policy_leaves_alone_has_no_variants() {
        let policy = Arc::new(Policy::default());
        let png: [(&[u8], &[u8]); 1] = [(b"content-type", b"image/png")];
        let small: [(&[u8], &[u8]); 1] = [(b"content-type", b"text/plain")];
        let encoded: [(&[u8], &[u8]); 2] = [
            (b"content-type", b"text/plain"),
            (b"content-encoding", b"gzip"),
        ];
        let big = vec![b'a'; 5000];
        for (headers, body, vary) in [
            (&png[..], &big[..], false),
            (&small[..], &b"tiny"[..], true),
            (&encoded[..], &big[..], false),
        ] {
            let s = Stored::with_policy(200, headers.iter().copied(), body, Some(&policy));
            assert_eq!(s.coding_for(false, Some(b"br")), Coding::Identity);
            assert_eq!(s.prepare(Coding::Brotli), 0);
            let mut out = Outbox::default();
            s.write_encoded(
                &mut out,
                false,
                ConnHeader::None,
                None,
                None,
                Coding::Brotli,
            );
            let t = String::from_utf8_lossy(&out.take_bytes()).into_owned();
            assert_eq!(t.contains("vary: Accept-Encoding"), vary, "{headers:?}");
            assert!(!t.contains("content-encoding: br"));
        }
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
