//! Property tests for the code that reads bytes nobody vouches for: request heads and chunked
//! bodies from clients, response records from JS, percent-encoded route parameters. They run in
//! `cargo test` with modest case counts; the cargo-fuzz targets in `fuzz/` go deeper on the same
//! entry points (see fuzz/README.md).
//!
//! Each property says in a comment what it guards. A failing case is shrunk by proptest and
//! saved to `src/properties.proptest-regressions` (commit that file: it is replayed first).

use crate::bridge::records::{
    self as envelope, decode_responses, encode_request, Record, RequestParts,
};
use crate::h1::{head_end, oversize_status, parse_head, ChunkedDecoder, Framing, Limits, Progress};
use crate::router::percent_decode_into;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::FileFailurePersistence;

/// Cases per property; `PROPTEST_CASES=100000 cargo test --release --test properties` goes
/// deeper when a change touches these parsers.
pub(crate) fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // Failing cases go to src/properties.proptest-regressions (commit it: it is replayed
        // first).
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn default_limits() -> Limits {
    Limits {
        max_header_size: 16 * 1024,
        max_headers: 128,
        max_url_length: 8192,
        body_limit: 1 << 20,
    }
}

/// The defaults, and small limits so the 414/431 branches are reached by short inputs.
fn limits() -> impl Strategy<Value = Limits> {
    (
        prop_oneof![Just(16usize), Just(8192)],
        prop_oneof![Just(4usize), Just(128)],
        prop_oneof![0usize..2048, Just(1 << 20)],
    )
        .prop_map(|(max_url_length, max_headers, body_limit)| Limits {
            max_header_size: 16 * 1024,
            max_headers,
            max_url_length,
            body_limit,
        })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Sorted cut points in `1..=len`, for feeding growing prefixes of one buffer.
fn cuts(len: usize, raw: &[usize]) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    let mut cuts: Vec<usize> = raw.iter().map(|c| 1 + c % len).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Bytes that look like HTTP often enough to get past the request line: random runs of
/// fragments that matter to the parser, mixed with random bytes.
fn soup(fragments: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => select(fragments).prop_map(|s| s.as_bytes().to_vec()),
            1 => prop::collection::vec(any::<u8>(), 0..4),
        ],
        0..max,
    )
    .prop_map(|parts| parts.concat())
}

const HEAD_FRAGMENTS: &[&str] = &[
    "GET",
    "POST",
    "OPTIONS",
    "HEAD",
    " ",
    "/",
    "/a/b",
    "*",
    "?",
    "?x=1",
    "http://h",
    "HTTPS://h",
    "ftp://",
    "%",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/2.0",
    "HTTP/1.",
    "\r\n",
    "\r\n",
    "\n",
    "\r",
    "\r\n\r\n",
    "Host: h",
    "host:",
    "Content-Length: ",
    "content-length:",
    "0",
    "7",
    "99999999999999999999",
    "1001",
    "Transfer-Encoding: ",
    "chunked",
    "gzip",
    ",",
    "Connection: close",
    "keep-alive",
    "Expect: 100-continue",
    "Expect: x",
    "\t",
    ":",
    "\0",
];

/// `inner` with a few bytes overwritten, deleted or inserted (sometimes none): valid input
/// with the kind of damage that reaches deep branches, which random bytes rarely do.
fn mutated(inner: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let edit = (
        any::<usize>(),
        0u8..3,
        prop_oneof![
            select(&b"\r\n\t :;,0123456789aAfF/?%*\0\x7f\xff"[..]),
            any::<u8>(),
        ],
    );
    let edits = prop_oneof![
        1 => Just(Vec::new()),
        2 => prop::collection::vec(edit, 1..4),
    ];
    (inner, edits).prop_map(|(mut buf, edits)| {
        for (at, kind, b) in edits {
            let at = at % (buf.len() + 1);
            match kind {
                0 if at < buf.len() => buf[at] = b,
                1 if at < buf.len() => {
                    buf.remove(at);
                }
                _ => buf.insert(at, b),
            }
        }
        buf
    })
}

/// Usually one of `good` (a part a server accepts), sometimes one of `bad`.
fn usually(
    good: &'static [&'static str],
    bad: &'static [&'static str],
) -> impl Strategy<Value = &'static str> + Clone {
    prop_oneof![6 => select(good), 1 => select(bad)]
}

/// Heads assembled line by line from parts that matter to the framing rules (methods, target
/// forms, versions, Host, Content-Length, Transfer-Encoding, Connection, Expect, odd separators
/// and line ends), so a good share parses and the rest fails in interesting places.
fn head_like() -> impl Strategy<Value = Vec<u8>> {
    let eol = || {
        prop_oneof![
            12 => Just("\r\n"),
            2 => Just("\n"),
            1 => Just("\r"),
            1 => Just(""),
        ]
    };
    let request_line = (
        usually(
            &["GET", "HEAD", "POST", "PUT", "OPTIONS", "PROPFIND"],
            &["G T", "", "GET\0"],
        ),
        usually(&[" "], &["  ", "\t"]),
        usually(
            &[
                "/",
                "/a/b",
                "/a?x=1",
                "/?",
                "/%zz",
                "//",
                "http://h",
                "http://h/p?q",
                "HTTPS://h?q",
                "http://h?q/r",
                "*",
            ],
            &[
                "ftp://x/y",
                "x",
                "/a#f",
                "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ],
        ),
        usually(&[" "], &["  ", ""]),
        usually(
            &["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"],
            &["HTTP/2.0", "HTTP/1.2", "HTTP/1", "FOO"],
        ),
        eol(),
    )
        .prop_map(|(m, s1, t, s2, v, e)| format!("{m}{s1}{t}{s2}{v}{e}"));
    // Mostly a name with a value meant for it, sometimes any name with any value. (Host comes
    // first, below, in most heads: a second one is a 400.)
    let field = prop_oneof![
        2 => (
            select(&["Content-Length", "content-length"][..]),
            usually(&["0", "5", "1001", " 7 "], &["+1", "1,1", "", "99999999999999999999"]),
        ),
        4 => (
            select(&["Transfer-Encoding", "transfer-encoding"][..]),
            usually(
                &["chunked", "Chunked", "gzip, chunked"],
                &["chunked, gzip", "chunked, chunked", "gzip", ",", "gz ip, chunked"],
            ),
        ),
        2 => (
            Just("Connection"),
            select(&["close", "keep-alive", "Keep-Alive, Upgrade", ""][..]),
        ),
        1 => (Just("Expect"), usually(&["100-continue", "100-Continue "], &["teapot"])),
        2 => (
            select(&["X-A", "X-B", "Host ", "", "Ho\0st", "Host"][..]),
            select(&["h", "", "a\0b", "a\tb", "chunked", "5"][..]),
        ),
    ];
    let sep = prop_oneof![
        8 => Just(": "),
        1 => Just(":"),
        1 => Just(":\t"),
        1 => Just(" : "),
    ];
    let header = (field, sep, eol()).prop_map(|((n, v), sep, e)| format!("{n}{sep}{v}{e}"));
    (
        request_line,
        prop::option::weighted(0.85, Just("Host: h\r\n")),
        prop::collection::vec(header, 0..4),
        eol(),
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(line, host, headers, end, tail)| {
            let mut buf = line.into_bytes();
            buf.extend_from_slice(host.unwrap_or("").as_bytes());
            buf.extend(headers.concat().into_bytes());
            buf.extend_from_slice(end.as_bytes());
            buf.extend(tail);
            buf
        })
}

fn head_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        1 => soup(HEAD_FRAGMENTS, 48),
        3 => mutated(head_like()),
        1 => mutated(gen_head().prop_map(|h| h.encode())),
    ]
}

/// Checks every promise `parse_head` makes about an `Ok` head, and that errors are statuses it
/// documents. `complete`: `buf` ends at the blank line `head_end` found.
fn check_parse(buf: &[u8], limits: &Limits, complete: bool) -> Result<(), TestCaseError> {
    let mut slots = vec![std::mem::MaybeUninit::uninit(); limits.max_headers];
    match parse_head(buf, &mut slots, limits) {
        Ok(head) => {
            // The envelope sends path and query as raw client bytes: they must come from the
            // input (absolute-form is reduced, never rewritten).
            prop_assert!(contains(buf, head.path.as_bytes()), "path {:?}", head.path);
            prop_assert!(head.path.starts_with('/') || head.path == "*");
            prop_assert!(head.path != "*" || head.method == "OPTIONS");
            match head.query {
                Some(q) => {
                    prop_assert!(contains(buf, q.as_bytes()), "query {:?}", q);
                    prop_assert_eq!(head.target, format!("{}?{}", head.path, q));
                }
                None => {
                    prop_assert_eq!(head.target, head.path);
                    prop_assert!(!head.path.contains('?'));
                }
            }
            prop_assert!(head.target.len() <= limits.max_url_length);
            prop_assert!(contains(buf, head.method.as_bytes()));
            prop_assert!(head.headers.len() <= limits.max_headers);
            // Lines end in CRLF only (llhttp's rule): a bare LF is refused, never guessed at.
            prop_assert!(
                buf.iter()
                    .enumerate()
                    .all(|(i, &b)| b != b'\n' || (i > 0 && buf[i - 1] == b'\r')),
                "an Ok head with a bare LF"
            );
            check_framing(
                &head
                    .headers
                    .iter()
                    .map(|h| (h.name, h.value))
                    .collect::<Vec<_>>(),
                head.framing,
                head.http10,
            )?;
            if complete {
                // parse_head ignores httparse's length and relies on head_end having cut the
                // head at the same place: anything between the two would be silently dropped.
                let mut again = vec![httparse::EMPTY_HEADER; limits.max_headers];
                let parsed = httparse::Request::new(&mut again).parse(buf);
                prop_assert_eq!(parsed, Ok(httparse::Status::Complete(buf.len())));
            }
        }
        Err(status) => {
            prop_assert!(
                [400, 413, 414, 417, 431, 501, 505].contains(&status),
                "status {}",
                status
            );
        }
    }
    Ok(())
}

/// The framing parse_head chose must be the one the fields say (RFC 9112 §6.3), with no
/// guessing: Chunked only for a 1.1 request whose codings end in chunked and that has no
/// Content-Length; Length(n) only when every Content-Length field is the plain decimal n and
/// there is no Transfer-Encoding. (body_limit is no longer parse_head's business: conn/frame.rs
/// checks Length(n) against the routed body limit.)
fn check_framing(
    headers: &[(&str, &[u8])],
    framing: Framing,
    http10: bool,
) -> Result<(), TestCaseError> {
    let trim = |v: &[u8]| {
        String::from_utf8_lossy(v)
            .trim_matches([' ', '\t'])
            .to_string()
    };
    let lengths: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| trim(v))
        .collect();
    let codings: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, v)| v.split(|&b| b == b',').map(trim).collect::<Vec<_>>())
        .collect();
    match framing {
        Framing::Chunked => {
            prop_assert!(!http10 && lengths.is_empty());
            prop_assert!(codings.iter().all(|c| c.eq_ignore_ascii_case("chunked")));
            prop_assert_eq!(codings.len(), 1);
        }
        Framing::Length(n) => {
            prop_assert!(n > 0 && codings.is_empty() && !lengths.is_empty());
            for l in &lengths {
                prop_assert!(l.bytes().all(|b| b.is_ascii_digit()), "{:?}", l);
                prop_assert_eq!(l.parse::<u64>().ok(), Some(n as u64));
            }
        }
        Framing::None => {
            prop_assert!(codings.is_empty());
            for l in &lengths {
                prop_assert!(l.bytes().all(|b| b.is_ascii_digit()), "{:?}", l);
                prop_assert_eq!(l.parse::<u64>().ok(), Some(0));
            }
        }
    }
    Ok(())
}

/// A valid head: method, target and headers as generated, then a tail (body, next request).
#[derive(Clone, Debug)]
struct GenHead {
    method: &'static str,
    path: String,
    query: Option<String>,
    http10: bool,
    headers: Vec<(String, String)>,
    /// `Length(0)` is sent as `Content-Length: 0`; `Chunked` only on 1.1.
    framing: Framing,
    eols: Vec<&'static str>,
}

impl GenHead {
    fn encode(&self) -> Vec<u8> {
        let mut eol = self.eols.iter().cycle();
        let mut out = format!("{} {}", self.method, self.path);
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
        out.push_str(if self.http10 {
            " HTTP/1.0"
        } else {
            " HTTP/1.1"
        });
        out.push_str(eol.next().unwrap());
        for (name, value) in self.all_headers() {
            out.push_str(&format!("{name}: {value}"));
            out.push_str(eol.next().unwrap());
        }
        out.push_str(eol.next().unwrap());
        out.into_bytes()
    }

    /// Whether a line of the encoded head ends in a bare LF.
    fn uses_bare_lf(&self) -> bool {
        let lines = self.all_headers().len() + 2;
        self.eols.iter().cycle().take(lines).any(|&e| e == "\n")
    }

    fn all_headers(&self) -> Vec<(String, String)> {
        let mut all = Vec::new();
        if !self.http10 {
            all.push(("Host".to_string(), "example.com".to_string()));
        }
        all.extend(self.headers.iter().cloned());
        match self.framing {
            Framing::None => {}
            Framing::Length(n) => all.push(("Content-Length".to_string(), n.to_string())),
            Framing::Chunked => all.push(("Transfer-Encoding".to_string(), "chunked".to_string())),
        }
        all
    }
}

const FRAMING_NAMES: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
];

fn gen_head() -> impl Strategy<Value = GenHead> {
    let method = select(
        &[
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "M-SEARCH",
        ][..],
    );
    let path = prop::collection::vec("[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,8}", 0..6)
        .prop_map(|segments| format!("/{}", segments.join("/")));
    let query = prop::option::of("[A-Za-z0-9=&%/?._~-]{0,12}");
    let header = (
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}",
        prop_oneof!["", "[!-~]([ \t!-~]{0,20}[!-~])?"],
    )
        .prop_filter("framing headers are generated separately", |(n, _)| {
            !FRAMING_NAMES.iter().any(|f| n.eq_ignore_ascii_case(f))
        });
    (
        method,
        path,
        query,
        any::<bool>(),
        prop::collection::vec(header, 0..8),
        prop_oneof![
            Just(Framing::None),
            (0usize..5000).prop_map(Framing::Length),
            Just(Framing::Chunked),
        ],
        prop::collection::vec(prop_oneof![4 => Just("\r\n"), 1 => Just("\n")], 1..4),
    )
        .prop_map(
            |(method, path, query, http10, headers, framing, eols)| GenHead {
                method,
                path,
                query,
                http10,
                headers,
                framing: if http10 && framing == Framing::Chunked {
                    Framing::None
                } else {
                    framing
                },
                eols,
            },
        )
}

/// Chunked encoding of `body` cut at `sizes` (the rest in one last chunk), with the variations
/// RFC 9112 §7.1 allows: hex case, leading zeros, whitespace and extensions after the size,
/// trailer fields.
#[derive(Clone, Debug)]
struct GenChunked {
    body: Vec<u8>,
    sizes: Vec<usize>,
    exts: Vec<String>,
    upper: bool,
    zeros: usize,
    trailers: Vec<String>,
}

impl GenChunked {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = &self.body[..];
        let mut sizes = self.sizes.iter();
        let mut exts = self.exts.iter().cycle();
        let mut size_line = |out: &mut Vec<u8>, n: usize| {
            out.extend(std::iter::repeat_n(b'0', self.zeros));
            let hex = if self.upper {
                format!("{n:X}")
            } else {
                format!("{n:x}")
            };
            out.extend_from_slice(hex.as_bytes());
            out.extend_from_slice(exts.next().map_or("", String::as_str).as_bytes());
            out.extend_from_slice(b"\r\n");
        };
        while !rest.is_empty() {
            let n = sizes.next().map_or(rest.len(), |&s| s.min(rest.len()));
            size_line(&mut out, n);
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        size_line(&mut out, 0);
        for t in &self.trailers {
            out.extend_from_slice(t.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

fn gen_chunked() -> impl Strategy<Value = GenChunked> {
    let ext = prop_oneof![
        3 => Just(String::new()),
        1 => "[ \t]{0,2}(;[ \t]?[a-z]{1,5}(=[a-z0-9]{1,5})?){1,3}",
        1 => ";q=\"[ a-z;=]{0,8}\"",
    ];
    (
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(1usize..80, 0..40),
        prop::collection::vec(ext, 1..4),
        any::<bool>(),
        0usize..4,
        prop::collection::vec("[A-Za-z-]{1,10}:[ ]?[ -~]{0,20}", 0..3),
    )
        .prop_map(|(body, sizes, exts, upper, zeros, trailers)| GenChunked {
            body,
            sizes,
            exts,
            upper,
            zeros,
            trailers,
        })
}

const CHUNK_FRAGMENTS: &[&str] = &[
    "0",
    "1",
    "5",
    "a",
    "F",
    "10",
    "ffffffffffffffff",
    "00000000000000001",
    "\r\n",
    "\r\n",
    "\r",
    "\n",
    ";",
    ";ext=1",
    " ",
    "\t",
    "hello",
    "x: y",
    "\0",
];

/// What one decoder reports after being fed `input` whole or as growing prefixes; stops at the
/// first error (the connection is failed then, the decoder never fed again).
fn feed_prefixes(
    input: &[u8],
    cut_points: &[usize],
    body_limit: usize,
    max_trailer: usize,
) -> (Result<Progress, u16>, Vec<u8>) {
    let mut d = ChunkedDecoder::new();
    for &cut in cut_points.iter().chain(std::iter::once(&input.len())) {
        let r = d.feed(&input[..cut], body_limit, max_trailer);
        if !matches!(r, Ok(Progress::NeedMore)) {
            return (r, d.take_body());
        }
    }
    (Ok(Progress::NeedMore), d.take_body())
}

/// One response record laid out as docs/bridge.md says.
#[derive(Clone, Debug)]
struct GenResponse {
    id: u32,
    end: bool,
    status: u16,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    ttl: u32,
    key: Vec<u8>,
    body: Vec<u8>,
}

impl GenResponse {
    fn encode(&self, out: &mut Vec<u8>) {
        let headers: Vec<_> = self.headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        envelope::encode_response_part(
            out,
            self.id,
            self.end,
            self.status,
            &headers,
            self.ttl,
            &self.key,
            &self.body,
        );
    }
}

fn gen_response() -> impl Strategy<Value = GenResponse> {
    let bytes = |max| prop::collection::vec(any::<u8>(), 0..max);
    let cache = prop_oneof![
        Just((0u32, Vec::new())),
        (1u32.., prop::collection::vec(any::<u8>(), 1..64)),
    ];
    (
        any::<u32>(),
        any::<bool>(),
        100u16..=999,
        prop::collection::vec((bytes(24), bytes(48)), 0..6),
        cache,
        bytes(256),
    )
        .prop_map(|(id, end, status, headers, (ttl, key), body)| GenResponse {
            id,
            end,
            status,
            headers,
            ttl,
            key,
            body,
        })
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Percent-encodes `s`, choosing per character whether to escape it (always for `%`), with
/// upper- or lower-case hex: any of these spellings must decode back to `s`.
fn percent_encode(s: &str, escape: &[bool], upper: bool) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c == '%'
            || escape
                .get(i % escape.len().max(1))
                .copied()
                .unwrap_or(false)
        {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                });
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The obvious decoder, as an oracle: `%` + two hex digits is a byte, anything else after `%`
/// is an error, and the result must be UTF-8.
fn reference_decode(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Guards the first thing every client byte meets: head_end, oversize_status and parse_head
    /// never panic, parse_head answers only documented statuses, an Ok head's path and query
    /// come from the input, its framing is exactly what its Content-Length/Transfer-Encoding
    /// fields say, and httparse ends the head where head_end did.
    #[test]
    fn head_parsing_never_panics(buf in head_bytes(), limits in limits()) {
        prop_assert!([414, 431].contains(&oversize_status(&buf, &limits)));
        if let Some(n) = head_end(&buf, 0) {
            prop_assert!(n <= buf.len());
            prop_assert!(buf[..n].ends_with(b"\n\n") || buf[..n].ends_with(b"\n\r\n"));
            check_parse(&buf[..n], &limits, true)?;
        }
        // conn/frame.rs only passes complete heads, but nothing may panic on anything else either.
        check_parse(&buf, &limits, false)?;
    }

    /// Guards conn/frame.rs's incremental head scan on arbitrary bytes: resuming at
    /// `len.saturating_sub(3)` after a miss finds the same end as one scan of the whole buffer,
    /// never a later one (a missed blank line would glue two requests together).
    #[test]
    fn head_end_is_split_invariant_on_any_bytes(
        buf in head_bytes(),
        raw_cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let whole = head_end(&buf, 0);
        let mut scanned = 0;
        let mut found = None;
        for cut in cuts(buf.len(), &raw_cuts).into_iter().chain(std::iter::once(buf.len())) {
            if let Some(n) = head_end(&buf[..cut], scanned) {
                found = Some(n);
                break;
            }
            scanned = cut.saturating_sub(3);
        }
        prop_assert_eq!(found, whole);
    }

    /// Guards the same scan on realistic traffic (random method, path, query, headers, CRLF or
    /// bare LF line ends, then body bytes or a pipelined request): the end is found exactly at
    /// the blank line however the bytes arrive, and the head parses back to what was generated
    /// (or, with a bare LF, is refused with 400).
    #[test]
    fn valid_heads_split_invariance_and_roundtrip(
        gen in gen_head(),
        tail in prop::collection::vec(any::<u8>(), 0..64),
        raw_cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let head = gen.encode();
        let mut buf = head.clone();
        buf.extend_from_slice(&tail);

        prop_assert_eq!(head_end(&buf, 0), Some(head.len()));
        let mut scanned = 0;
        let mut found = None;
        for cut in cuts(buf.len(), &raw_cuts).into_iter().chain(std::iter::once(buf.len())) {
            match head_end(&buf[..cut], scanned) {
                Some(n) => {
                    prop_assert!(cut >= head.len());
                    found = Some(n);
                    break;
                }
                None => {
                    prop_assert!(cut < head.len(), "missed the end in a prefix of {}", cut);
                    scanned = cut.saturating_sub(3);
                }
            }
        }
        prop_assert_eq!(found, Some(head.len()));

        let limits = default_limits();
        let mut slots = vec![std::mem::MaybeUninit::uninit(); limits.max_headers];
        let parsed = parse_head(&buf[..head.len()], &mut slots, &limits);
        if gen.uses_bare_lf() {
            // head_end finds such a head (so the connection can answer it), but a bare LF is
            // refused: front ends that read it differently are how requests get smuggled.
            prop_assert_eq!(parsed.map(|_| ()), Err(400));
            return Ok(());
        }
        let parsed = match parsed {
            Ok(p) => p,
            Err(status) => {
                return Err(TestCaseError::fail(format!(
                    "valid head refused with {status}: {:?}",
                    String::from_utf8_lossy(&head)
                )))
            }
        };
        prop_assert_eq!(parsed.method, gen.method);
        prop_assert_eq!(parsed.path, gen.path.as_str());
        prop_assert_eq!(parsed.query, gen.query.as_deref());
        prop_assert_eq!(parsed.http10, gen.http10);
        let expected = match gen.framing {
            Framing::Length(0) => Framing::None,
            f => f,
        };
        prop_assert_eq!(parsed.framing, expected);
        let headers: Vec<(String, String)> = parsed
            .headers
            .iter()
            .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
            .collect();
        prop_assert_eq!(headers, gen.all_headers());
    }

    /// Guards the chunked decoder on valid input: the body comes back byte for byte, `consumed`
    /// stops exactly at the end of the framing (what follows is the next pipelined request),
    /// and feeding growing prefixes of the same buffer (how conn/frame.rs resumes it) gives the same
    /// answer as one call. Also: body_limit is inclusive, and trailers count against their
    /// limit.
    #[test]
    fn chunked_roundtrip_whole_and_incremental(
        gen in gen_chunked(),
        next in prop::collection::vec(any::<u8>(), 0..32),
        raw_cuts in prop::collection::vec(any::<usize>(), 0..24),
    ) {
        let encoded = gen.encode();
        let mut buf = encoded.clone();
        buf.extend_from_slice(&next);
        let limit = gen.body.len();

        let mut d = ChunkedDecoder::new();
        prop_assert_eq!(
            d.feed(&buf, limit, 1 << 16),
            Ok(Progress::Done { consumed: encoded.len() })
        );
        prop_assert_eq!(d.take_body(), gen.body.clone());

        let mut d = ChunkedDecoder::new();
        let mut done = false;
        for cut in cuts(buf.len(), &raw_cuts).into_iter().chain(std::iter::once(buf.len())) {
            let r = d.feed(&buf[..cut], limit, 1 << 16);
            if cut < encoded.len() {
                prop_assert_eq!(r, Ok(Progress::NeedMore), "prefix of {}", cut);
                // Feeding the same bytes again changes nothing.
                prop_assert_eq!(d.feed(&buf[..cut], limit, 1 << 16), Ok(Progress::NeedMore));
            } else {
                prop_assert_eq!(r, Ok(Progress::Done { consumed: encoded.len() }));
                done = true;
                break;
            }
        }
        prop_assert!(done);
        prop_assert_eq!(d.take_body(), gen.body.clone());

        if !gen.body.is_empty() {
            let mut d = ChunkedDecoder::new();
            prop_assert_eq!(d.feed(&buf, limit - 1, 1 << 16), Err(413));
        }
        if !gen.trailers.is_empty() {
            let mut d = ChunkedDecoder::new();
            prop_assert_eq!(d.feed(&buf, limit, 0), Err(431));
        }
    }

    /// Guards the chunked decoder on hostile input: no panic, no body past body_limit, only
    /// documented statuses, `consumed` within the input, and the same outcome whether the bytes
    /// arrive at once or in pieces (a difference would let a client steer framing by timing).
    #[test]
    fn chunked_any_bytes(
        buf in prop_oneof![
            1 => prop::collection::vec(any::<u8>(), 0..256),
            1 => soup(CHUNK_FRAGMENTS, 40),
            3 => mutated(gen_chunked().prop_map(|c| c.encode())),
        ],
        body_limit in prop_oneof![1 => 0usize..64, 3 => Just(1 << 20)],
        max_trailer in 0usize..32,
        raw_cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let (whole, whole_body) = feed_prefixes(&buf, &[], body_limit, max_trailer);
        prop_assert!(whole_body.len() <= body_limit);
        match whole {
            Ok(Progress::Done { consumed }) => prop_assert!(consumed <= buf.len()),
            Ok(Progress::NeedMore) => {}
            Err(status) => prop_assert!([400, 413, 431].contains(&status), "status {}", status),
        }
        let cut_points = cuts(buf.len(), &raw_cuts);
        let (pieces, pieces_body) = feed_prefixes(&buf, &cut_points, body_limit, max_trailer);
        let whole_ok = whole.is_ok();
        prop_assert_eq!(pieces, whole);
        if whole_ok {
            prop_assert_eq!(pieces_body, whole_body);
        }
    }

    /// Guards `respond()`: the buffer comes from JS and is not trusted. decode_responses never
    /// panics, stops at the first Err, and every Ok record is exactly the bytes its recordLen
    /// covers, in order (re-encoding what was decoded reproduces the input up to that point).
    #[test]
    fn decode_responses_never_panics(
        buf in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            // A valid batch with a few bytes overwritten: lengths that almost add up.
            (
                prop::collection::vec(gen_response(), 1..4),
                prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
            ).prop_map(|(recs, edits)| {
                let mut buf = Vec::new();
                for r in &recs {
                    r.encode(&mut buf);
                }
                for (at, b) in edits {
                    let at = at % buf.len();
                    buf[at] = b;
                }
                buf
            }),
        ],
    ) {
        let mut at = 0;
        let mut it = decode_responses(&buf);
        for rec in it.by_ref() {
            let rec = match rec {
                Ok(Record::Response(rec)) => rec,
                // Data and credit records are their length's bytes, read as they are.
                Ok(_) => {
                    at += u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                    continue;
                }
                Err(_) => break,
            };
            let again = GenResponse {
                id: rec.request_id,
                end: rec.end,
                status: rec.status,
                headers: rec.headers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
                ttl: rec.cache_ttl_ms,
                key: rec.cache_key.to_vec(),
                body: rec.body.to_vec(),
            };
            let mut bytes = Vec::new();
            again.encode(&mut bytes);
            let len = bytes.len();
            prop_assert!(at + len <= buf.len());
            // The flags byte's unused bits are not checked by the decoder; compare the rest.
            prop_assert_eq!(&bytes[..9], &buf[at..at + 9]);
            prop_assert_eq!(bytes[9], buf[at + 9] & 1);
            prop_assert_eq!(&bytes[10..], &buf[at + 10..at + len]);
            at += len;
        }
        prop_assert!(it.next().is_none(), "records after an error");
    }

    /// Guards the JS → Rust contract in docs/bridge.md: a batch of valid v2 records decodes to
    /// exactly what was encoded, and a batch cut anywhere inside a record yields the complete
    /// records before the cut, then one Err (never a record made of the wrong bytes).
    #[test]
    fn response_batch_roundtrip(
        recs in prop::collection::vec(gen_response(), 0..6),
        cut in any::<usize>(),
    ) {
        let mut buf = Vec::new();
        let mut ends = Vec::new();
        for r in &recs {
            r.encode(&mut buf);
            ends.push(buf.len());
        }
        let decoded: Vec<_> = decode_responses(&buf).collect();
        prop_assert_eq!(decoded.len(), recs.len());
        for (rec, want) in decoded.iter().zip(&recs) {
            let Ok(Record::Response(rec)) = rec else {
                return Err(TestCaseError::fail("valid record refused"));
            };
            prop_assert_eq!(rec.end, want.end);
            prop_assert_eq!(rec.request_id, want.id);
            prop_assert_eq!(rec.status, want.status);
            let headers: Vec<(Vec<u8>, Vec<u8>)> =
                rec.headers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(&headers, &want.headers);
            prop_assert_eq!(rec.cache_ttl_ms, want.ttl);
            prop_assert_eq!(rec.cache_key, &want.key[..]);
            prop_assert_eq!(rec.body, &want.body[..]);
        }

        if !buf.is_empty() {
            let cut = cut % buf.len();
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            let decoded: Vec<_> = decode_responses(&buf[..cut]).collect();
            let torn = usize::from(!ends.contains(&cut) && cut > 0);
            prop_assert_eq!(decoded.len(), whole + torn);
            prop_assert!(decoded[..whole].iter().all(Result::is_ok));
            if torn == 1 {
                prop_assert!(decoded[whole].is_err());
            }
        }
    }

    /// Guards the Rust → JS contract in docs/bridge.md: every fixed field of a request envelope
    /// (recordLen, version, methodCode, flags, paramCount, ids, counts, lengths, headersOffset,
    /// reserved) matches what was encoded, the variable parts sit where the docs say, parameter
    /// values arrive percent-decoded, header names lower-cased, and bytes already in the batch
    /// are untouched.
    #[test]
    fn request_envelope_layout(
        prefix in prop::collection::vec(any::<u8>(), 0..16),
        request_id in any::<u32>(),
        route_id in any::<u32>(),
        method in "[A-Z]{1,12}",
        method_code in 0u8..8,
        http10 in any::<bool>(),
        path in "/[!-~&&[^?]]{0,40}",
        query in prop::option::of("[!-~]{0,40}"),
        ip in select(&["127.0.0.1", "::1", "203.0.113.77", "2001:db8::8a2e:370:7334"][..]),
        headers in prop::collection::vec(
            ("[A-Za-z0-9-]{1,16}", prop::collection::vec(32u8..127, 0..40)), 0..10),
        body in prop::collection::vec(any::<u8>(), 0..300),
        params in prop::collection::vec(
            (any::<String>(), prop::collection::vec(any::<bool>(), 1..4), any::<bool>()),
            0..4,
        ),
    ) {
        let headers: Vec<httparse::Header<'_>> = headers
            .iter()
            .map(|(n, v)| httparse::Header { name: n, value: v })
            .collect();
        let peer = crate::peer::Peer { ip: ip.to_string(), ..Default::default() };
        let req = RequestParts {
            method: &method,
            method_code,
            http10,
            path: &path,
            query: query.as_deref(),
            peer: &peer,
            headers: &headers,
            body: &body,
            body_stream: false,
            upgrade: false,
            ws_deflate: false,
            guard: 0,
            verdict: None,
        };
        let raw_params: Vec<String> =
            params.iter().map(|(s, esc, up)| percent_encode(s, esc, *up)).collect();
        let mut out = prefix.clone();
        encode_request(&mut out, request_id, route_id, &req, raw_params.iter().map(String::as_str))
            .map_err(|s| TestCaseError::fail(format!("encode failed with {s}")))?;
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        let rec = &out[prefix.len()..];
        let q = query.as_deref().unwrap_or("");

        prop_assert_eq!(u32_at(rec, 0) as usize, rec.len());
        prop_assert_eq!(rec[4], 1);
        prop_assert_eq!(rec[5], method_code);
        let flags = u8::from(http10) | (u8::from(query.is_some()) << 1);
        prop_assert_eq!(rec[6], flags);
        prop_assert_eq!(usize::from(rec[7]), params.len());
        prop_assert_eq!(u32_at(rec, 8), request_id);
        prop_assert_eq!(u32_at(rec, 12), route_id);
        prop_assert_eq!(usize::from(u16_at(rec, 16)), headers.len());
        prop_assert_eq!(usize::from(rec[18]), method.len());
        prop_assert_eq!(usize::from(rec[19]), ip.len());
        prop_assert_eq!(u32_at(rec, 20) as usize, path.len());
        prop_assert_eq!(u32_at(rec, 24) as usize, q.len());
        prop_assert_eq!(u32_at(rec, 28) as usize, body.len());
        prop_assert_eq!(u32_at(rec, 36), 0);

        let mut at = 40;
        for part in [method.as_bytes(), path.as_bytes(), q.as_bytes(), ip.as_bytes(), &body[..]] {
            prop_assert_eq!(&rec[at..at + part.len()], part);
            at += part.len();
        }
        for (value, _, _) in &params {
            let len = u32_at(rec, at) as usize;
            prop_assert_eq!(&rec[at + 4..at + 4 + len], value.as_bytes());
            at += 4 + len;
        }
        prop_assert_eq!(u32_at(rec, 32) as usize, at);
        for h in &headers {
            prop_assert_eq!(usize::from(u16_at(rec, at)), h.name.len());
            prop_assert_eq!(u32_at(rec, at + 2) as usize, h.value.len());
            at += 6;
            let lower = h.name.to_ascii_lowercase();
            prop_assert_eq!(&rec[at..at + h.name.len()], lower.as_bytes());
            at += h.name.len();
            prop_assert_eq!(&rec[at..at + h.value.len()], h.value);
            at += h.value.len();
        }
        prop_assert_eq!(at, rec.len());

        // An undecodable parameter fails the whole envelope and leaves the batch as it was.
        let mut out = prefix.clone();
        let bad = raw_params.iter().map(String::as_str).chain(std::iter::once("%C3"));
        prop_assert_eq!(encode_request(&mut out, request_id, route_id, &req, bad), Err(400));
        prop_assert_eq!(out, prefix);
    }

    /// Guards route parameters (Express's decodeURIComponent semantics): any spelling of the
    /// percent-encoding of a UTF-8 string decodes back to it, appended after what was there.
    #[test]
    fn percent_decoding_roundtrip(
        s in any::<String>(),
        escape in prop::collection::vec(any::<bool>(), 1..8),
        upper in any::<bool>(),
        prefix in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let raw = percent_encode(&s, &escape, upper);
        let mut out = prefix.clone();
        prop_assert!(percent_decode_into(&mut out, &raw).is_ok(), "{:?} refused", raw);
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&out[prefix.len()..], s.as_bytes());
    }

    /// Guards the error path: on arbitrary input (biased towards `%`, hex digits and bytes of
    /// multi-byte characters) the result matches the obvious decoder, and a failure leaves the
    /// buffer exactly as it was, so a half-decoded parameter never reaches an envelope.
    #[test]
    fn percent_decoding_matches_reference(
        parts in prop::collection::vec(
            prop_oneof![
                Just("%".to_string()),
                "[0-9a-fA-FgG]{1,2}",
                "%[89a-fA-F][0-9a-fA-F]",
                any::<char>().prop_map(String::from),
            ],
            0..24,
        ),
        prefix in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let raw = parts.concat();
        let mut out = prefix.clone();
        let r = percent_decode_into(&mut out, &raw);
        match reference_decode(&raw) {
            Some(want) => {
                prop_assert!(r.is_ok(), "{:?} refused", raw);
                prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
                prop_assert_eq!(&out[prefix.len()..], want.as_bytes());
            }
            None => {
                prop_assert!(r.is_err(), "{:?} accepted", raw);
                prop_assert_eq!(out, prefix);
            }
        }
    }
}
