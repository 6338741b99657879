//! The Range header (RFC 9110 §14) against a file's length: which bytes to send, and the
//! `multipart/byteranges` framing when there are several ranges.

/// Ranges beyond this many in one request make it a whole-file answer: RFC 9110 §14.2 lets a
/// server ignore a Range header, and many small ranges are a known way to make a server do much
/// work per request (CVE-2011-3192, "Apache Killer").
pub const MAX_RANGES: usize = 32;

#[derive(Debug, PartialEq, Eq)]
pub enum Ranges {
    /// No (usable) Range header: 200 with the whole file.
    Whole,
    /// 206 with these inclusive ranges, in request order, overlapping ones merged.
    Partial(Vec<(u64, u64)>),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

pub fn parse(header: Option<&[u8]>, len: u64) -> Ranges {
    let Some(value) = header else {
        return Ranges::Whole;
    };
    let Some(spec) = value.trim_ascii().strip_prefix(b"bytes=") else {
        // Another unit, or not a range at all: ignored.
        return Ranges::Whole;
    };
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut any = false;
    for part in spec.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() {
            continue;
        }
        any = true;
        let Some(dash) = part.iter().position(|&b| b == b'-') else {
            return Ranges::Whole;
        };
        let (first, last) = (&part[..dash], &part[dash + 1..]);
        let range = match (number(first), number(last)) {
            // A suffix: the last N bytes.
            (None, Some(n)) if first.is_empty() => {
                if n == 0 || len == 0 {
                    None
                } else {
                    Some((len.saturating_sub(n), len - 1))
                }
            }
            (Some(a), None) if last.is_empty() => (a < len).then(|| (a, len - 1)),
            (Some(a), Some(b)) if a <= b => (a < len).then(|| (a, b.min(len - 1))),
            _ => return Ranges::Whole,
        };
        if let Some(r) = range {
            ranges.push(r);
        }
        if ranges.len() > MAX_RANGES {
            return Ranges::Whole;
        }
    }
    if !any {
        return Ranges::Whole;
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    Ranges::Partial(merge(ranges))
}

/// Merges overlapping or adjacent ranges (RFC 9110 §14.3 lets a server coalesce them), keeping
/// the first one's position, so no byte is sent twice. Repeated until nothing merges: joining
/// two ranges can make the result touch an earlier one.
fn merge(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    loop {
        let before = ranges.len();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(before);
        for (a, b) in ranges {
            match out
                .iter_mut()
                .find(|(x, y)| a <= y.saturating_add(1) && *x <= b.saturating_add(1))
            {
                Some(m) => *m = (m.0.min(a), m.1.max(b)),
                None => out.push((a, b)),
            }
        }
        if out.len() == before {
            return out;
        }
        ranges = out;
    }
}

fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The part header that precedes each range of a `multipart/byteranges` body.
pub fn part_header(boundary: &str, content_type: &[u8], range: (u64, u64), len: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + content_type.len());
    out.extend_from_slice(b"\r\n--");
    out.extend_from_slice(boundary.as_bytes());
    if !content_type.is_empty() {
        out.extend_from_slice(b"\r\ncontent-type: ");
        out.extend_from_slice(content_type);
    }
    out.extend_from_slice(
        format!(
            "\r\ncontent-range: bytes {}-{}/{}\r\n\r\n",
            range.0, range.1, len
        )
        .as_bytes(),
    );
    out
}

/// What ends a `multipart/byteranges` body.
pub fn closing(boundary: &str) -> Vec<u8> {
    format!("\r\n--{boundary}--\r\n").into_bytes()
}

/// A boundary that will not occur in the file: 24 random hex digits (from the std hasher's
/// per-process random keys, mixed with a counter).
pub fn boundary() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
    let a = h.finish();
    h.write_u64(a);
    format!("hn{:016x}{:08x}", a, h.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Ranges {
        parse(Some(s.as_bytes()), 1000)
    }

    #[test]
    fn single_suffix_open_and_clamped() {
        assert_eq!(p("bytes=0-99"), Ranges::Partial(vec![(0, 99)]));
        assert_eq!(p("bytes=-100"), Ranges::Partial(vec![(900, 999)]));
        assert_eq!(p("bytes=-5000"), Ranges::Partial(vec![(0, 999)]));
        assert_eq!(p("bytes=990-"), Ranges::Partial(vec![(990, 999)]));
        assert_eq!(p("bytes=990-5000"), Ranges::Partial(vec![(990, 999)]));
        assert_eq!(p(" bytes=5-5 "), Ranges::Partial(vec![(5, 5)]));
    }

    #[test]
    fn multiple_are_merged_in_order() {
        assert_eq!(
            p("bytes=500-599, 0-99"),
            Ranges::Partial(vec![(500, 599), (0, 99)])
        );
        assert_eq!(
            p("bytes=0-99,50-150,151-160"),
            Ranges::Partial(vec![(0, 160)])
        );
        assert_eq!(p("bytes=0-9,20-29,5-25"), Ranges::Partial(vec![(0, 29)]));
        assert_eq!(p("bytes=0-1,2000-3000"), Ranges::Partial(vec![(0, 1)]));
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(p("bytes=1000-"), Ranges::Unsatisfiable);
        assert_eq!(p("bytes=-0"), Ranges::Unsatisfiable);
        assert_eq!(parse(Some(b"bytes=-1"), 0), Ranges::Unsatisfiable);
        for ignored in [
            "bytes=9-5",
            "items=0-1",
            "bytes=a-b",
            "bytes=",
            "bytes=--1",
            "0-1",
            "bytes=1",
        ] {
            assert_eq!(p(ignored), Ranges::Whole, "{ignored}");
        }
        let many = (0..=MAX_RANGES)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect::<Vec<_>>();
        assert_eq!(p(&format!("bytes={}", many.join(","))), Ranges::Whole);
        assert_eq!(parse(None, 10), Ranges::Whole);
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(boundary(), boundary());
    }
}
