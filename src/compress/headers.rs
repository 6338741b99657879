//! What compression reads from an answer's headers (`Facts`) and how it changes them:
//! `Content-Encoding`, `Vary: Accept-Encoding`, a weakened ETag, no `Content-Length` of the
//! unencoded body.

use std::borrow::Cow;

use super::Coding;

/// The headers of an answer that decide whether it is compressed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts<'a> {
    pub content_type: Option<&'a [u8]>,
    /// A `Content-Encoding` other than `identity`: the app encoded the body itself.
    pub encoded: bool,
    /// `Cache-Control: no-transform` (RFC 9111 §5.2.2.6): intermediaries, and we, leave the
    /// bytes alone.
    pub no_transform: bool,
}

impl<'a> Facts<'a> {
    pub fn scan(headers: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Facts<'a> {
        let mut facts = Facts::default();
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(b"content-type") {
                facts.content_type = Some(value);
            } else if name.eq_ignore_ascii_case(b"content-encoding") {
                let v = value.trim_ascii();
                facts.encoded |= !v.is_empty() && !v.eq_ignore_ascii_case(b"identity");
            } else if name.eq_ignore_ascii_case(b"cache-control") {
                facts.no_transform |= list_has(value, b"no-transform");
            }
        }
        facts
    }
}

/// Passes an answer's headers to `emit` as they must go out: with `coding` other than identity,
/// `content-length` dropped (the encoded length is the framing's business), a strong `etag`
/// weakened and `content-encoding` set (replacing the app's, which can only have said
/// `identity`: an encoded answer is never compressed); with `vary`, `Accept-Encoding` merged into
/// the first `Vary` (or a `vary` added).
pub fn rewrite_headers<'a>(
    headers: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    coding: Coding,
    vary: bool,
    mut emit: impl FnMut(&[u8], &[u8]),
) {
    let encoded = coding != Coding::Identity;
    let mut vary_done = !vary;
    for (name, value) in headers {
        if encoded
            && (name.eq_ignore_ascii_case(b"content-length")
                || name.eq_ignore_ascii_case(b"content-encoding"))
        {
            continue;
        }
        if encoded && name.eq_ignore_ascii_case(b"etag") {
            emit(name, &weaken_etag(value));
        } else if !vary_done && name.eq_ignore_ascii_case(b"vary") {
            vary_done = true;
            match vary_accept_encoding(value) {
                Some(merged) => emit(name, &merged),
                None => emit(name, value),
            }
        } else {
            emit(name, value);
        }
    }
    if !vary_done {
        emit(b"vary", b"Accept-Encoding");
    }
    if encoded {
        emit(b"content-encoding", coding.token().as_bytes());
    }
}

/// A `Vary` value with `Accept-Encoding` added; `None` when it already lists it or is `*`.
pub fn vary_accept_encoding(existing: &[u8]) -> Option<Vec<u8>> {
    if list_has(existing, b"accept-encoding") || list_has(existing, b"*") {
        return None;
    }
    let existing = existing.trim_ascii();
    if existing.is_empty() {
        return Some(b"Accept-Encoding".to_vec());
    }
    let mut merged = Vec::with_capacity(existing.len() + 17);
    merged.extend_from_slice(existing);
    merged.extend_from_slice(b", Accept-Encoding");
    Some(merged)
}

/// The ETag of an encoded variant: a strong `"x"` becomes `W/"x"`, as nginx does. The encoded
/// bytes differ from the ones `"x"` names, so strong comparison (`If-Match`, `If-Range`) must
/// fail; weak comparison (`If-None-Match`) still matches, so a client revalidating any variant
/// gets its 304 without the server keeping a tag per coding. A weak tag is kept as is.
pub fn weaken_etag(etag: &[u8]) -> Cow<'_, [u8]> {
    let etag = etag.trim_ascii();
    if etag.starts_with(b"W/") {
        return Cow::Borrowed(etag);
    }
    let mut weak = Vec::with_capacity(etag.len() + 2);
    weak.extend_from_slice(b"W/");
    weak.extend_from_slice(etag);
    Cow::Owned(weak)
}

/// Whether a comma-separated header value lists `token` (case-insensitive, directives with
/// arguments compared by name).
fn list_has(value: &[u8], token: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|item| {
        let item = item.trim_ascii();
        let name = item
            .iter()
            .position(|&b| b == b'=')
            .map_or(item, |eq| item[..eq].trim_ascii());
        name.eq_ignore_ascii_case(token)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(headers: &[(&str, &str)], coding: Coding, vary: bool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        rewrite_headers(
            headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            coding,
            vary,
            |n, v| {
                out.push((
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                ))
            },
        );
        out
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn facts_from_headers() {
        let h: [(&[u8], &[u8]); 3] = [
            (b"Content-Type", b"text/html"),
            (b"Content-Encoding", b"identity"),
            (b"Cache-Control", b"public, No-Transform"),
        ];
        let f = Facts::scan(h.into_iter());
        assert_eq!(f.content_type, Some(&b"text/html"[..]));
        assert!(!f.encoded && f.no_transform);
        let h: [(&[u8], &[u8]); 2] = [
            (b"content-encoding", b"gzip"),
            (b"cache-control", b"max-age=60, no-transformer"),
        ];
        let f = Facts::scan(h.into_iter());
        assert!(f.encoded && !f.no_transform && f.content_type.is_none());
    }

    #[test]
    fn encoded_answer_headers() {
        let h = [
            ("Content-Type", "text/html"),
            ("Content-Length", "5000"),
            ("ETag", "\"abc\""),
            ("Vary", "Origin"),
        ];
        let mut identity = h.to_vec();
        identity.push(("Content-Encoding", "identity"));
        assert_eq!(
            rewritten(&identity, Coding::Brotli, true),
            pairs(&[
                ("Content-Type", "text/html"),
                ("ETag", "W/\"abc\""),
                ("Vary", "Origin, Accept-Encoding"),
                ("content-encoding", "br"),
            ])
        );
        // Identity but compressible: only Vary changes.
        assert_eq!(
            rewritten(&h[..3], Coding::Identity, true),
            pairs(&[
                ("Content-Type", "text/html"),
                ("Content-Length", "5000"),
                ("ETag", "\"abc\""),
                ("vary", "Accept-Encoding"),
            ])
        );
        assert_eq!(rewritten(&h, Coding::Identity, false), pairs(&h));
    }

    #[test]
    fn vary_and_etag_helpers() {
        assert_eq!(vary_accept_encoding(b"accept-encoding, origin"), None);
        assert_eq!(vary_accept_encoding(b"*"), None);
        assert_eq!(
            vary_accept_encoding(b" ").as_deref(),
            Some(&b"Accept-Encoding"[..])
        );
        assert_eq!(
            vary_accept_encoding(b"Origin").as_deref(),
            Some(&b"Origin, Accept-Encoding"[..])
        );
        assert_eq!(&*weaken_etag(b"\"x\""), b"W/\"x\"");
        assert_eq!(&*weaken_etag(b"W/\"x\""), b"W/\"x\"");
    }
}
