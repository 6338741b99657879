//! One `compression` option (app-wide or a route's): which codings, at which levels, above which
//! size, for which types; and the rules that say whether an answer is compressed at all.

use super::headers::Facts;
use super::negotiate::negotiate;
use super::types::Types;
use super::Coding;

/// Bodies shorter than this go out as they are (Express `compression`'s default too): below
/// about a kilobyte the coding's own framing and the CPU cost outweigh the bytes saved, and
/// the answer usually fits one TCP segment either way.
pub const DEFAULT_THRESHOLD: usize = 1024;

/// Levels per coding. The defaults suit answers compressed per request (JS answers, streams):
/// each compresses 100 KiB of JSON in about a millisecond or less (see the figure in
/// `compress/tests.rs`, `cost_at_default_levels`), close to the best ratio per CPU each offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Levels {
    /// 1–9 (zlib); 6 is zlib's and Express's default.
    pub gzip: u32,
    /// Quality 0–11; 4 is the usual choice for dynamic content (11 costs about 100× more CPU
    /// for ~10 % smaller output).
    pub brotli: u32,
    /// 1–19 (the fast negative levels are not offered); 3 is zstd's default.
    pub zstd: i32,
}

impl Default for Levels {
    fn default() -> Levels {
        Levels {
            gzip: 6,
            brotli: 4,
            zstd: 3,
        }
    }
}

/// The compression settings of one scope (the app, or a route that overrides them).
#[derive(Clone, Debug)]
pub struct Policy {
    /// Codings offered, in server preference order (ties in q go to the first).
    encodings: Box<[Coding]>,
    threshold: usize,
    levels: Levels,
    types: Types,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::new(
            &Coding::COMPRESSED,
            DEFAULT_THRESHOLD,
            Levels::default(),
            Types::Default,
        )
    }
}

impl Policy {
    /// `encodings` in preference order (identity and repeats are dropped); `threshold` in bytes.
    pub fn new(encodings: &[Coding], threshold: usize, levels: Levels, types: Types) -> Policy {
        let mut list: Vec<Coding> = Vec::with_capacity(encodings.len());
        for &c in encodings {
            if c != Coding::Identity && !list.contains(&c) {
                list.push(c);
            }
        }
        Policy {
            encodings: list.into(),
            threshold,
            levels,
            types,
        }
    }

    /// The coding to answer with for this `Accept-Encoding` (q-values, `*`, `identity;q=0`):
    /// the best acceptable among the codings this policy offers, server order breaking ties;
    /// none acceptable, or no header → `Identity`. Allocates nothing.
    pub fn negotiate(&self, accept_encoding: Option<&[u8]>) -> Coding {
        negotiate(&self.encodings, accept_encoding)
    }

    /// Whether the answer depends on `Accept-Encoding` at all, i.e. would be compressed for a
    /// client that asks and is big enough: a status with a body other than 206 (a range is of
    /// the unencoded bytes), a compressible type, no `Content-Encoding` of its own and no
    /// `Cache-Control: no-transform`. Such an answer carries `Vary: Accept-Encoding` whether or
    /// not this request gets it compressed, so caches keep the variants apart.
    pub fn varies(&self, status: u16, facts: &Facts) -> bool {
        !self.encodings.is_empty()
            && status >= 200
            && !matches!(status, 204 | 206 | 304)
            && !facts.encoded
            && !facts.no_transform
            && self.types.matches(facts.content_type)
    }

    /// Whether this answer goes out compressed (given a client that accepts a coding): it
    /// `varies`, is not to a HEAD request (no body to encode: a HEAD gets the identity
    /// headers, as with Express `compression`), and its body is at least the threshold long
    /// (`None`: a streamed body of unknown length, compressed).
    pub fn applies(&self, status: u16, head: bool, facts: &Facts, len: Option<usize>) -> bool {
        !head && len.is_none_or(|n| n >= self.threshold) && self.varies(status, facts)
    }

    /// The level this policy uses for a coding (`compress`, `Encoder::new`).
    pub fn level(&self, c: Coding) -> i32 {
        match c {
            Coding::Identity => 0,
            Coding::Gzip => self.levels.gzip as i32,
            Coding::Brotli => self.levels.brotli as i32,
            Coding::Zstd => self.levels.zstd,
        }
    }

    /// The codings offered, in preference order.
    pub fn encodings(&self) -> &[Coding] {
        &self.encodings
    }

    pub fn threshold(&self) -> usize {
        self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(ct: &'static str) -> Facts<'static> {
        Facts {
            content_type: Some(ct.as_bytes()),
            ..Facts::default()
        }
    }

    #[test]
    fn applies_by_status_type_size_head_and_headers() {
        let p = Policy::default();
        let json = facts("application/json");
        assert!(p.applies(200, false, &json, Some(1024)));
        assert!(p.applies(404, false, &json, Some(5000)));
        assert!(p.applies(200, false, &json, None));
        assert!(!p.applies(200, false, &json, Some(1023)));
        assert!(!p.applies(200, true, &json, Some(5000)));
        for status in [101, 204, 206, 304] {
            assert!(!p.applies(status, false, &json, Some(5000)), "{status}");
        }
        assert!(!p.applies(200, false, &facts("image/png"), Some(5000)));
        assert!(!p.applies(200, false, &Facts::default(), Some(5000)));
        let encoded = Facts {
            encoded: true,
            ..json
        };
        assert!(!p.applies(200, false, &encoded, Some(5000)));
        assert!(!p.varies(200, &encoded));
        let no_transform = Facts {
            no_transform: true,
            ..json
        };
        assert!(!p.applies(200, false, &no_transform, Some(5000)));
        // Small and HEAD answers still vary: another request may get the coding.
        assert!(p.varies(200, &json));
    }

    #[test]
    fn options_shape_the_policy() {
        let p = Policy::new(
            &[Coding::Gzip, Coding::Identity, Coding::Gzip, Coding::Zstd],
            0,
            Levels {
                gzip: 9,
                brotli: 11,
                zstd: 19,
            },
            Types::only(["application/x-custom"]),
        );
        assert_eq!(p.encodings(), &[Coding::Gzip, Coding::Zstd]);
        assert_eq!(p.negotiate(Some(b"br, zstd, gzip")), Coding::Gzip);
        assert_eq!(p.level(Coding::Gzip), 9);
        assert_eq!(p.level(Coding::Zstd), 19);
        assert!(p.applies(200, false, &facts("application/x-custom"), Some(0)));
        assert!(!p.applies(200, false, &facts("text/html"), Some(5000)));
        let off = Policy::new(&[], 0, Levels::default(), Types::Default);
        assert!(!off.varies(200, &facts("text/html")));
    }
}
