//! A file's validators (ETag, Last-Modified) and the request's preconditions against them, in
//! RFC 9110 §13.2.2's order: If-Match, else If-Unmodified-Since (412); If-None-Match, else
//! If-Modified-Since (304 for GET/HEAD); then If-Range decides whether Range applies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The request headers file serving reads. For a directory mount they come from the request;
/// for `res.sendFile` from the pseudo headers JS copied them into (`:range`, ...).
#[derive(Default, Clone, Copy, Debug)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_unmodified_since: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    pub accept_encoding: Option<&'a [u8]>,
}

impl<'a> Conditions<'a> {
    /// Picks the headers named `prefix` + name (`prefix` is empty for request headers, `:` for
    /// the pseudo headers of a file record).
    pub fn take(&mut self, prefix: &[u8], name: &[u8], value: &'a [u8]) -> bool {
        let Some(name) = name.strip_prefix(prefix) else {
            return false;
        };
        let field = match name.len() {
            5 if name.eq_ignore_ascii_case(b"range") => &mut self.range,
            8 if name.eq_ignore_ascii_case(b"if-match") => &mut self.if_match,
            8 if name.eq_ignore_ascii_case(b"if-range") => &mut self.if_range,
            13 if name.eq_ignore_ascii_case(b"if-none-match") => &mut self.if_none_match,
            15 if name.eq_ignore_ascii_case(b"accept-encoding") => &mut self.accept_encoding,
            17 if name.eq_ignore_ascii_case(b"if-modified-since") => &mut self.if_modified_since,
            19 if name.eq_ignore_ascii_case(b"if-unmodified-since") => {
                &mut self.if_unmodified_since
            }
            _ => return false,
        };
        *field = Some(value);
        true
    }
}

/// What identifies one version of a file.
#[derive(Clone, Debug)]
pub struct Validators {
    /// Strong, quoted; empty when ETags are off.
    pub etag: Box<[u8]>,
    /// Whole seconds (what HTTP dates carry); `None` when Last-Modified is off.
    pub modified: Option<u64>,
}

impl Validators {
    /// `"<size hex>-<mtime ms hex>"`, like nginx's and serve-static's (which are seconds-based):
    /// stable across restarts and servers that share the files, and changed by any write that
    /// moves the mtime.
    pub fn of(meta: &std::fs::Metadata, etag: bool, last_modified: bool) -> Validators {
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        let since = mtime.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Validators {
            etag: if etag {
                format!("\"{:x}-{:x}\"", meta.len(), since.as_millis())
                    .into_bytes()
                    .into()
            } else {
                Box::default()
            },
            modified: last_modified.then_some(since.as_secs()),
        }
    }

    pub fn last_modified_header(&self) -> Option<String> {
        self.modified
            .map(|s| httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s)))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Serve it (Range may still apply).
    Proceed,
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

pub fn evaluate(c: &Conditions<'_>, v: &Validators) -> Verdict {
    if let Some(list) = c.if_match {
        if !matches(list, &v.etag, true) {
            return Verdict::Failed;
        }
    } else if let (Some(date), Some(modified)) = (c.if_unmodified_since.and_then(date), v.modified)
    {
        if modified > date {
            return Verdict::Failed;
        }
    }
    if let Some(list) = c.if_none_match {
        if matches(list, &v.etag, false) {
            return Verdict::NotModified;
        }
    } else if let (Some(date), Some(modified)) = (c.if_modified_since.and_then(date), v.modified) {
        if modified <= date {
            return Verdict::NotModified;
        }
    }
    Verdict::Proceed
}

/// Whether a Range request is honoured: no If-Range, or one that names this version — an ETag
/// compared strongly, or a date equal to Last-Modified (RFC 9110 §13.1.5).
pub fn range_applies(c: &Conditions<'_>, v: &Validators) -> bool {
    let Some(cond) = c.if_range else { return true };
    let cond = cond.trim_ascii();
    if cond.starts_with(b"\"") {
        return !v.etag.is_empty() && cond == &*v.etag;
    }
    if cond.starts_with(b"W/") {
        return false;
    }
    matches!((date(cond), v.modified), (Some(d), Some(m)) if d == m)
}

/// `*`, or any listed tag equal to ours: strongly (If-Match: neither weak) or weakly (the
/// opaque parts equal, `W/` or not on either side; ours is weak for an encoded variant).
fn matches(list: &[u8], etag: &[u8], strong: bool) -> bool {
    if list.trim_ascii() == b"*" {
        return true;
    }
    if etag.is_empty() {
        return false;
    }
    let (ours, ours_weak) = match etag.strip_prefix(b"W/") {
        Some(opaque) => (opaque, true),
        None => (etag, false),
    };
    list.split(|&b| b == b',').any(|tag| {
        let tag = tag.trim_ascii();
        let (theirs, weak) = match tag.strip_prefix(b"W/") {
            Some(opaque) => (opaque, true),
            None => (tag, false),
        };
        theirs == ours && !(strong && (weak || ours_weak))
    })
}

/// An HTTP date in seconds since the epoch; `None` when it is not one (the header is then
/// ignored, as RFC 9110 says).
fn date(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let t: SystemTime = httpdate::parse_http_date(text.trim()).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validators {
        Validators {
            etag: (*b"\"a-1\"").into(),
            modified: Some(784_111_777), // Sun, 06 Nov 1994 08:49:37 GMT
        }
    }
    const AT: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";
    const BEFORE: &[u8] = b"Sun, 06 Nov 1994 08:49:36 GMT";

    #[test]
    fn precedence_follows_rfc_9110() {
        let c = |f: &dyn Fn(&mut Conditions<'static>)| {
            let mut c = Conditions::default();
            f(&mut c);
            evaluate(&c, &v())
        };
        assert_eq!(c(&|_| {}), Verdict::Proceed);
        assert_eq!(
            c(&|c| c.if_match = Some(b"\"x\", \"a-1\"")),
            Verdict::Proceed
        );
        assert_eq!(c(&|c| c.if_match = Some(b"W/\"a-1\"")), Verdict::Failed);
        assert_eq!(c(&|c| c.if_match = Some(b"*")), Verdict::Proceed);
        assert_eq!(
            c(&|c| c.if_unmodified_since = Some(BEFORE)),
            Verdict::Failed
        );
        assert_eq!(c(&|c| c.if_unmodified_since = Some(AT)), Verdict::Proceed);
        // If-Match present: If-Unmodified-Since is not evaluated.
        assert_eq!(
            c(&|c| {
                c.if_match = Some(b"\"a-1\"");
                c.if_unmodified_since = Some(BEFORE);
            }),
            Verdict::Proceed
        );
        assert_eq!(
            c(&|c| c.if_none_match = Some(b"W/\"a-1\"")),
            Verdict::NotModified
        );
        assert_eq!(c(&|c| c.if_none_match = Some(b"\"b\"")), Verdict::Proceed);
        assert_eq!(c(&|c| c.if_modified_since = Some(AT)), Verdict::NotModified);
        assert_eq!(c(&|c| c.if_modified_since = Some(BEFORE)), Verdict::Proceed);
        assert_eq!(
            c(&|c| c.if_modified_since = Some(b"garbage")),
            Verdict::Proceed
        );
        // If-None-Match present: If-Modified-Since is ignored.
        assert_eq!(
            c(&|c| {
                c.if_none_match = Some(b"\"b\"");
                c.if_modified_since = Some(AT);
            }),
            Verdict::Proceed
        );
        // A failed If-Match wins over a matching If-None-Match.
        assert_eq!(
            c(&|c| {
                c.if_match = Some(b"\"z\"");
                c.if_none_match = Some(b"*");
            }),
            Verdict::Failed
        );
    }

    #[test]
    fn a_weak_etag_of_ours_matches_weakly_only() {
        let weak = Validators {
            etag: (*b"W/\"a-1\"").into(),
            modified: None,
        };
        let inm = |list: &'static [u8]| Conditions {
            if_none_match: Some(list),
            ..Conditions::default()
        };
        assert_eq!(evaluate(&inm(b"W/\"a-1\""), &weak), Verdict::NotModified);
        assert_eq!(evaluate(&inm(b"\"a-1\""), &weak), Verdict::NotModified);
        let im = Conditions {
            if_match: Some(b"W/\"a-1\""),
            ..Conditions::default()
        };
        assert_eq!(evaluate(&im, &weak), Verdict::Failed);
    }

    #[test]
    fn if_range_needs_a_strong_match_or_the_exact_date() {
        let r = |value: &'static [u8]| {
            range_applies(
                &Conditions {
                    if_range: Some(value),
                    ..Conditions::default()
                },
                &v(),
            )
        };
        assert!(r(b"\"a-1\"") && r(AT));
        assert!(!r(b"W/\"a-1\"") && !r(b"\"b\"") && !r(BEFORE) && !r(b"nonsense"));
        assert!(range_applies(&Conditions::default(), &v()));
    }

    #[test]
    fn takes_request_and_pseudo_headers() {
        let mut c = Conditions::default();
        assert!(c.take(b"", b"Range", b"bytes=0-1"));
        assert!(c.take(b":", b":if-none-match", b"*"));
        assert!(!c.take(b":", b"if-match", b"*"));
        assert!(!c.take(b"", b"x-range", b"1"));
        assert_eq!(c.range, Some(&b"bytes=0-1"[..]));
        assert_eq!(c.if_none_match, Some(&b"*"[..]));
        assert!(c.if_match.is_none());
    }
}
