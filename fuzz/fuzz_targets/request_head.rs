//! Request heads: `head_end` (whole and incremental, as conn.rs resumes it), `oversize_status`
//! and `parse_head` on arbitrary bytes. Checks, beyond "no panic": the incremental scan finds
//! the same end as one scan; httparse ends the head exactly where `head_end` did; an `Ok`
//! head's path, query and method come from the input, its lines end in CRLF, and its framing
//! is what its fields say.
#![no_main]

use http_native::h1::{head_end, oversize_status, parse_head, Framing, Limits};
use libfuzzer_sys::fuzz_target;

const DEFAULTS: Limits = Limits {
    max_header_size: 16 * 1024,
    max_headers: 128,
    max_url_length: 8192,
    body_limit: 1 << 20,
};

/// Small limits, so short inputs reach the 414/431 branches.
const SMALL: Limits = Limits {
    max_header_size: 64,
    max_headers: 4,
    max_url_length: 16,
    body_limit: 10,
};

fuzz_target!(|data: &[u8]| {
    let whole = head_end(data, 0);
    if let Some(n) = whole {
        assert!(n <= data.len());
        assert!(data[..n].ends_with(b"\n\n") || data[..n].ends_with(b"\n\r\n"));
    }

    // conn.rs scans what has arrived, then resumes 3 bytes back from the end after a miss.
    // Arrival steps come from the first byte so the fuzzer can vary them.
    let step = 1 + usize::from(data.first().copied().unwrap_or(0) % 16);
    let mut scanned = 0;
    let mut len = 0;
    let incremental = loop {
        len = (len + step).min(data.len());
        if let Some(n) = head_end(&data[..len], scanned) {
            break Some(n);
        }
        if len == data.len() {
            break None;
        }
        scanned = len.saturating_sub(3);
    };
    assert_eq!(
        incremental, whole,
        "incremental scan (step {step}) disagrees"
    );

    for limits in [&DEFAULTS, &SMALL] {
        let status = oversize_status(data, limits);
        assert!(status == 414 || status == 431);
        if let Some(n) = whole {
            check(&data[..n], limits, true);
        }
        // Only complete heads reach parse_head, but nothing may panic on anything.
        check(data, limits, false);
    }
});

fn check(buf: &[u8], limits: &Limits, complete: bool) {
    let mut slots = vec![std::mem::MaybeUninit::uninit(); limits.max_headers];
    let head = match parse_head(buf, &mut slots, limits) {
        Ok(head) => head,
        Err(status) => {
            assert!(
                [400, 413, 414, 417, 431, 501, 505].contains(&status),
                "undocumented status {status}"
            );
            return;
        }
    };
    assert!(contains(buf, head.path.as_bytes()), "path {:?}", head.path);
    assert!(contains(buf, head.method.as_bytes()));
    assert!(head.path.starts_with('/') || (head.path == "*" && head.method == "OPTIONS"));
    match head.query {
        Some(q) => {
            assert!(contains(buf, q.as_bytes()), "query {q:?}");
            assert_eq!(head.target, format!("{}?{q}", head.path));
        }
        None => assert_eq!(head.target, head.path),
    }
    assert!(head.target.len() <= limits.max_url_length);
    assert!(head.headers.len() <= limits.max_headers);
    // Lines end in CRLF only: a bare LF is refused, never guessed at.
    assert!(
        buf.iter()
            .enumerate()
            .all(|(i, &b)| b != b'\n' || (i > 0 && buf[i - 1] == b'\r')),
        "an Ok head with a bare LF"
    );

    let trim = |v: &[u8]| {
        String::from_utf8_lossy(v)
            .trim_matches([' ', '\t'])
            .to_string()
    };
    let field = |name: &str| -> Vec<String> {
        head.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| trim(h.value))
            .collect()
    };
    let lengths = field("content-length");
    let codings: Vec<String> = field("transfer-encoding")
        .iter()
        .flat_map(|v| {
            v.split(',')
                .map(|c| c.trim_matches([' ', '\t']).to_string())
        })
        .collect();
    match head.framing {
        Framing::Chunked => {
            assert!(!head.http10 && lengths.is_empty());
            assert_eq!(codings.len(), 1);
            assert!(codings[0].eq_ignore_ascii_case("chunked"));
        }
        Framing::Length(n) => {
            assert!(n > 0 && codings.is_empty());
            assert!(lengths.iter().all(|l| l.parse::<u64>() == Ok(n as u64)));
        }
        Framing::None => {
            assert!(codings.is_empty());
            assert!(lengths.iter().all(|l| l.parse::<u64>() == Ok(0)));
        }
    }
    if complete {
        // parse_head trusts head_end's cut: bytes between the two ends would be dropped.
        let mut again = vec![httparse::EMPTY_HEADER; limits.max_headers];
        let parsed = httparse::Request::new(&mut again).parse(buf);
        assert_eq!(parsed, Ok(httparse::Status::Complete(buf.len())));
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
