//! The request head: request line and header fields, with every framing rule that decides how
//! the body is read (RFC 9112 §6). A head that is ambiguous is rejected, never guessed at: the
//! connection closes after the error so no leftover byte is read as another request.

use std::mem::MaybeUninit;

use httparse::{Header, Status};

/// Limits on what a client may send; see `config.rs` for the defaults and their reasons.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_header_size: usize,
    pub max_headers: usize,
    pub max_url_length: usize,
    /// The default; a route may have its own.
    pub body_limit: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length: n`, n > 0.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

#[derive(Debug)]
pub struct Head<'h, 'b> {
    pub method: &'b str,
    /// The code the envelope uses (see docs/bridge.md); 0 for any other method.
    pub method_code: u8,
    /// Path and query as sent (absolute-form reduced to them): the cache key.
    pub target: &'b str,
    /// The path of the target, before `?`, not decoded.
    pub path: &'b str,
    pub query: Option<&'b str>,
    pub http10: bool,
    pub headers: &'h [Header<'b>],
    pub framing: Framing,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

/// Finds the end of a head (just past its blank line) in `buf`, scanning from `from` so a head
/// that arrives a byte at a time is not rescanned from the start on every read.
pub fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            // The head so far ends in "\n\r": the next byte decides.
            Some(b'\r') if nl + 2 == buf.len() => return None,
            _ => i = nl + 1,
        }
    }
    None
}

/// The status for a head that outgrew `max_header_size` without ending: 414 when the request
/// line alone is too long, else 431.
pub fn oversize_status(buf: &[u8], limits: &Limits) -> u16 {
    let line_len = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line_len > limits.max_url_length {
        414
    } else {
        431
    }
}

/// Parses a complete head (`buf` ends at its blank line) into `slots`, which need no
/// initialization: filling 128 empty header slots before every request was a measurable share of
/// a cached request's cost. `Err` carries the status to answer.
pub fn parse_head<'h, 'b>(
    buf: &'b [u8],
    slots: &'h mut [MaybeUninit<Header<'b>>],
    limits: &Limits,
) -> Result<Head<'h, 'b>, u16> {
    // httparse accepts a bare LF as a line end; llhttp, and so we, do not: a front end that
    // reads such a head differently is how requests get smuggled.
    if buf
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || buf[i - 1] != b'\r'))
    {
        return Err(400);
    }
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(buf, slots) {
        Ok(Status::Complete(_)) => {}
        Ok(Status::Partial) => return Err(400),
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        Err(httparse::Error::Version) => return Err(version_error(buf)),
        Err(_) => return Err(400),
    }
    let method = req.method.ok_or(400u16)?;
    let target = req.path.ok_or(400u16)?;
    let http10 = req.version == Some(0);
    let headers: &'h [Header<'b>] = req.headers;

    if target.len() > limits.max_url_length {
        return Err(414);
    }
    let target = origin_form(target).ok_or(400u16)?;
    let (path, query) = match target.find('?') {
        Some(q) => (&target[..q], Some(&target[q + 1..])),
        None => (target, None),
    };
    if path == "*" && method != "OPTIONS" {
        return Err(400);
    }

    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut chunked = false;
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut expect_continue = false;
    for h in headers {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if !valid_host(h.value) {
                return Err(400);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_content_length(h.value).ok_or(400u16)?;
            if content_length.is_some_and(|prev| prev != n) {
                return Err(400);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Codings accumulate across repeated fields; chunked must come last, exactly once.
            for coding in h.value.split(|&b| b == b',') {
                let coding = trim(coding);
                if coding.is_empty() || chunked {
                    return Err(400);
                }
                if coding.eq_ignore_ascii_case(b"chunked") {
                    chunked = true;
                } else if !coding.iter().all(|&b| super::encode::is_tchar(b)) {
                    return Err(400);
                }
            }
            transfer_encoding = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    conn_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    conn_keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            if trim(h.value).eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(417);
            }
        }
    }

    if hosts > 1 || (hosts == 0 && !http10) {
        return Err(400);
    }
    let framing = if transfer_encoding {
        // Both framings at once is the classic smuggling vector (RFC 9112 §6.3 ¶3); so is a
        // coding list that does not end in chunked, and a 1.0 request with Transfer-Encoding.
        if content_length.is_some() || http10 {
            return Err(400);
        }
        if !chunked {
            return Err(400);
        }
        if !h_value_is_only_chunked(headers) {
            return Err(501);
        }
        Framing::Chunked
    } else {
        // Whether the length is acceptable depends on the route (its own body limit), which
        // the connection decides once it has routed the head.
        match content_length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    };

    Ok(Head {
        method,
        method_code: method_code(method),
        target,
        path,
        query,
        http10,
        headers,
        framing,
        keep_alive: !conn_close && (!http10 || conn_keep_alive),
        expect_continue: expect_continue && framing != Framing::None && !http10,
    })
}

pub fn method_code(method: &str) -> u8 {
    match method {
        "GET" => 1,
        "HEAD" => 2,
        "POST" => 3,
        "PUT" => 4,
        "DELETE" => 5,
        "PATCH" => 6,
        "OPTIONS" => 7,
        _ => 0,
    }
}

/// We decode no content codings, so the only coding accepted is a lone `chunked`.
fn h_value_is_only_chunked(headers: &[Header<'_>]) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .all(|c| trim(c).eq_ignore_ascii_case(b"chunked"))
}

/// Origin-form stays as it is; absolute-form (`http://host/p?q`) is reduced to `/p?q`
/// (RFC 9112 §3.2.2); `*` is kept for OPTIONS. Anything else is not a target we serve.
fn origin_form(target: &str) -> Option<&str> {
    if target.starts_with('/') || target == "*" {
        return Some(target);
    }
    let lower_scheme_end = target.find("://")?;
    let scheme = &target[..lower_scheme_end];
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let rest = &target[lower_scheme_end + 3..];
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => Some(&rest[i..]),
        // `http://host?q` has an empty path, which means `/`; `?q` alone is not routable.
        Some(_) | None => Some("/"),
    }
}

/// 1*DIGIT and nothing else: no sign, no comma list, no spaces inside, no overflow.
fn parse_content_length(value: &[u8]) -> Option<u64> {
    let value = trim(value);
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// A request line whose third part looks like a version is a version we don't speak (505);
/// anything else is just malformed (400).
fn version_error(buf: &[u8]) -> u16 {
    let line_end = buf.iter().position(|&b| b == b'\r' || b == b'\n');
    let line = &buf[..line_end.unwrap_or(buf.len())];
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let version = parts.nth(2);
    match version {
        Some(v)
            if v.len() == 8
                && v.starts_with(b"HTTP/")
                && v[5].is_ascii_digit()
                && v[6] == b'.'
                && v[7].is_ascii_digit() =>
        {
            505
        }
        _ => 400,
    }
}

/// `uri-host [ ":" port ]` (RFC 9112 §3.2 requires 400 for anything else): reg-name, IPv4 or
/// bracketed IP-literal characters only, so no spaces, slashes, `@`, `?` or `#`.
fn valid_host(value: &[u8]) -> bool {
    value.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
            )
    })
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_header_size: 16 * 1024,
            max_headers: 32,
            max_url_length: 64,
            body_limit: 1000,
        }
    }

    fn parse(raw: &str) -> Result<(Framing, bool, String, Option<String>), u16> {
        let mut headers = [MaybeUninit::uninit(); 32];
        let h = parse_head(raw.as_bytes(), &mut headers, &limits())?;
        Ok((
            h.framing,
            h.keep_alive,
            h.path.to_string(),
            h.query.map(str::to_string),
        ))
    }

    #[test]
    fn finds_head_end_incrementally() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        assert_eq!(head_end(buf, 0), Some(27));
        assert_eq!(head_end(&buf[..26], 0), None);
        assert_eq!(head_end(&buf[..25], 0), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\n", 0), Some(24));
        let mut headers = [MaybeUninit::uninit(); 4];
        let bare = b"GET / HTTP/1.1\nHost: a\r\n\r\n";
        assert_eq!(parse_head(bare, &mut headers, &limits()).unwrap_err(), 400);
        // Resuming a few bytes back from where the previous scan stopped still finds it.
        assert_eq!(head_end(buf, 23), Some(27));
    }

    #[test]
    fn splits_path_and_query() {
        let (f, ka, p, q) = parse("GET /a/b?x=1&y HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(
            (f, ka, p.as_str(), q.as_deref()),
            (Framing::None, true, "/a/b", Some("x=1&y"))
        );
        let (_, _, p, q) = parse("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!((p.as_str(), q.as_deref()), ("/a", Some("")));
    }

    #[test]
    fn absolute_form_is_reduced_to_its_path() {
        let (_, _, p, q) =
            parse("GET http://example.com/x?y=1 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!((p.as_str(), q.as_deref()), ("/x", Some("y=1")));
        let (_, _, p, _) = parse("GET HTTP://example.com HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(p, "/");
        assert_eq!(
            parse("GET ftp://x/y HTTP/1.1\r\nHost: h\r\n\r\n").unwrap_err(),
            400
        );
    }

    #[test]
    fn keep_alive_rules() {
        assert!(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap().1);
        assert!(
            !parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                .unwrap()
                .1
        );
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().1);
        assert!(
            parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .1
        );
    }

    #[test]
    fn content_length_must_be_plain_decimal() {
        let ok = |v: &str| {
            parse(&format!(
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {v}\r\n\r\n"
            ))
        };
        assert_eq!(ok("10").unwrap().0, Framing::Length(10));
        assert_eq!(ok("0").unwrap().0, Framing::None);
        for bad in [
            "+10",
            "-1",
            "1,1",
            "0x10",
            "1 0",
            "",
            "99999999999999999999999",
        ] {
            assert_eq!(ok(bad).unwrap_err(), 400, "{bad:?}");
        }
        assert_eq!(ok("1001").unwrap().0, Framing::Length(1001));
    }

    #[test]
    fn repeated_content_length_must_agree() {
        let raw = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(parse(raw).unwrap().0, Framing::Length(3));
        let raw = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        assert_eq!(parse(raw).unwrap_err(), 400);
    }

    #[test]
    fn transfer_encoding_rules() {
        let te = |v: &str| {
            parse(&format!(
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {v}\r\n\r\n"
            ))
        };
        assert_eq!(te("chunked").unwrap().0, Framing::Chunked);
        assert_eq!(te("Chunked").unwrap().0, Framing::Chunked);
        assert_eq!(te("chunked, gzip").unwrap_err(), 400);
        assert_eq!(te("gzip").unwrap_err(), 400);
        assert_eq!(te("chunked, chunked").unwrap_err(), 400);
        assert_eq!(te("gzip, chunked").unwrap_err(), 501);
        let both =
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(both).unwrap_err(), 400);
        let old = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(old).unwrap_err(), 400);
    }

    #[test]
    fn host_rules() {
        assert_eq!(parse("GET / HTTP/1.1\r\n\r\n").unwrap_err(), 400);
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err(),
            400
        );
        assert!(parse("GET / HTTP/1.0\r\n\r\n").is_ok());
        for bad in ["bad host", "a/b", "user@h", "h?x", "h#f"] {
            assert_eq!(
                parse(&format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n")).unwrap_err(),
                400,
                "{bad}"
            );
        }
        for good in [
            "example.com:8080",
            "[::1]:3000",
            "127.0.0.1",
            "xn--bcher-kva.example",
            "",
        ] {
            assert!(
                parse(&format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n")).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn versions_and_malformed_lines() {
        assert_eq!(parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n").unwrap_err(), 505);
        assert_eq!(parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n").unwrap_err(), 505);
        assert_eq!(parse("GET /\r\nHost: h\r\n\r\n").unwrap_err(), 400);
        assert_eq!(parse("GET / FOO\r\nHost: h\r\n\r\n").unwrap_err(), 400);
        assert_eq!(
            parse("G E T / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap_err(),
            400
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost : h\r\n\r\n").unwrap_err(),
            400
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n").unwrap_err(),
            400
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHo\0st: h\r\n\r\n").unwrap_err(),
            400
        );
        assert_eq!(parse("GET x HTTP/1.1\r\nHost: h\r\n\r\n").unwrap_err(), 400);
    }

    #[test]
    fn limits_are_enforced() {
        let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(64));
        assert_eq!(parse(&long).unwrap_err(), 414);
        let many: String = (0..40).map(|i| format!("x-{i}: v\r\n")).collect();
        assert_eq!(
            parse(&format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n")).unwrap_err(),
            431
        );
        assert_eq!(
            oversize_status(
                b"GET /aaaaaaaaaa",
                &Limits {
                    max_url_length: 5,
                    ..limits()
                }
            ),
            414
        );
        assert_eq!(
            oversize_status(b"GET / HTTP/1.1\r\nx: aaaa", &limits()),
            431
        );
    }

    #[test]
    fn expectations() {
        let raw = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
        let mut headers = [MaybeUninit::uninit(); 8];
        assert!(
            parse_head(raw.as_bytes(), &mut headers, &limits())
                .unwrap()
                .expect_continue
        );
        let raw = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: teapot\r\n\r\n";
        assert_eq!(parse(raw).unwrap_err(), 417);
    }
}
