//! Serializing responses: status line, headers, the per-second `Date` value, bodies whole or
//! streamed (chunked, a length JS gave, or until close).
//!
//! Everything here appends to a caller-owned `Vec<u8>`, so a connection can gather every
//! pipelined response into one buffer and write it with one syscall.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::outbox::{Outbox, BY_REFERENCE};

/// How the connection header of a response must read, decided by the connection that owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnHeader {
    /// HTTP/1.1 keep-alive: the default, no header needed.
    None,
    /// HTTP/1.0 client that asked to be kept alive.
    KeepAlive,
    /// The connection closes after this response.
    Close,
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a Teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// 1xx, 204 and 304 responses never carry a body (RFC 9110 §6.4.1), nor, for 1xx and 204,
/// a Content-Length.
pub fn status_has_body(status: u16) -> bool {
    !(status < 200 || status == 204 || status == 304)
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`.
pub fn status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u64(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends the headers Rust owns on every response, the blank line, and the body unless `head`
/// (a HEAD request still learns the length the GET would have had).
pub fn finish(out: &mut Vec<u8>, status: u16, conn: ConnHeader, body: &[u8], head: bool) {
    finish_with_length(out, status, conn, body.len() as u64, body, head);
}

/// `finish` with the `content-length` to announce, which differs from the body's only for a
/// HEAD answer (see `from_js`).
fn finish_with_length(
    out: &mut Vec<u8>,
    status: u16,
    conn: ConnHeader,
    length: u64,
    body: &[u8],
    head: bool,
) {
    let has_body = status_has_body(status);
    if has_body {
        out.extend_from_slice(b"content-length: ");
        push_u64(out, length);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"date: ");
    with_date(|d| out.extend_from_slice(d));
    out.extend_from_slice(b"\r\n");
    conn_header(out, conn);
    out.extend_from_slice(b"\r\n");
    if has_body && !head {
        out.extend_from_slice(body);
    }
}

pub fn conn_header(out: &mut Vec<u8>, conn: ConnHeader) {
    match conn {
        ConnHeader::None => {}
        ConnHeader::KeepAlive => out.extend_from_slice(b"connection: keep-alive\r\n"),
        ConnHeader::Close => out.extend_from_slice(b"connection: close\r\n"),
    }
}

/// A response Rust composes by itself (404, 400, 413 …): a small JSON body naming the status,
/// the same shape the JS default handlers use.
pub fn simple(out: &mut Vec<u8>, status: u16, conn: ConnHeader, head: bool) {
    simple_with(out, status, conn, head, b"");
}

/// `simple` with extra header lines (each ending in CRLF), such as `retry-after`.
pub fn simple_with(out: &mut Vec<u8>, status: u16, conn: ConnHeader, head: bool, extra: &[u8]) {
    status_line(out, status);
    out.extend_from_slice(extra);
    out.extend_from_slice(b"content-type: application/json; charset=utf-8\r\n");
    let mut body = Vec::with_capacity(48);
    body.extend_from_slice(b"{\"error\":\"");
    body.extend_from_slice(reason(status).replace('\'', "\\u0027").as_bytes());
    body.extend_from_slice(b"\"}");
    finish(out, status, conn, &body, head);
}

/// Serializes a response JS produced. Content-Length, Date and Connection are Rust's to write,
/// so JS's copies are dropped; a `connection: close` from JS is honoured. Returns whether the
/// connection must close after this response.
pub fn from_js(
    out: &mut Vec<u8>,
    status: u16,
    headers: impl HeaderList,
    body: &[u8],
    head: bool,
    conn: ConnHeader,
) -> bool {
    let status = valid_status(status);
    status_line(out, status);
    let js = js_headers(out, headers);
    let close = conn == ConnHeader::Close || js.close;
    let conn = if close { ConnHeader::Close } else { conn };
    // A HEAD answer JS ended without a body after setting the length (node's `res.end()` after
    // `setHeader('Content-Length', n)`, as `send` does for express.static): that length is what
    // a GET would get (RFC 9110 §9.3.2), not the 0 bytes JS sent.
    let length = match js.content_length {
        Some(n) if head && body.is_empty() => n,
        _ => body.len() as u64,
    };
    finish_with_length(out, status, conn, length, body, head);
    close
}

/// How the body of a streamed answer is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// `Transfer-Encoding: chunked`: HTTP/1.1 and no length given.
    Chunked,
    /// The `Content-Length` JS set, with the bytes still owed: more is cut off, less closes the
    /// connection (the client sees a short body rather than a wrong one).
    Length(u64),
    /// HTTP/1.0 and no length given: the body ends when the connection closes.
    UntilClose,
    /// Nothing goes on the wire (HEAD, 1xx, 204, 304): pieces are dropped.
    Omitted,
}

/// Serializes the head of a streamed answer (RFC 9112 §6.3): a `content-length` from JS is
/// kept and enforced, else the body is chunked on HTTP/1.1 and close-delimited on 1.0. Returns
/// the framing and whether the connection closes after this answer.
pub fn stream_head(
    out: &mut Vec<u8>,
    status: u16,
    headers: impl HeaderList,
    head: bool,
    http10: bool,
    conn: ConnHeader,
) -> (BodyFraming, bool) {
    let status = valid_status(status);
    status_line(out, status);
    let js = js_headers(out, headers);
    let mut close = conn == ConnHeader::Close || js.close;
    let framing = if !status_has_body(status) {
        BodyFraming::Omitted
    } else if let Some(n) = js.content_length {
        out.extend_from_slice(b"content-length: ");
        push_u64(out, n);
        out.extend_from_slice(b"\r\n");
        if head {
            BodyFraming::Omitted
        } else {
            BodyFraming::Length(n)
        }
    } else if head {
        BodyFraming::Omitted
    } else if http10 {
        close = true;
        BodyFraming::UntilClose
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        BodyFraming::Chunked
    };
    out.extend_from_slice(b"date: ");
    with_date(|d| out.extend_from_slice(d));
    out.extend_from_slice(b"\r\n");
    conn_header(out, if close { ConnHeader::Close } else { conn });
    out.extend_from_slice(b"\r\n");
    (framing, close)
}

/// Appends one body piece of a streamed answer in its framing. False when it runs past the
/// announced length (what fits is written; the connection must close).
pub fn body_piece(out: &mut Vec<u8>, framing: &mut BodyFraming, data: &[u8]) -> bool {
    match framing {
        BodyFraming::Chunked if data.is_empty() => {}
        BodyFraming::Chunked => {
            push_hex(out, data.len());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        BodyFraming::Length(left) => {
            let fits = usize::try_from(*left).map_or(data.len(), |l| l.min(data.len()));
            out.extend_from_slice(&data[..fits]);
            *left -= fits as u64;
            if fits < data.len() {
                return false;
            }
        }
        BodyFraming::UntilClose => out.extend_from_slice(data),
        BodyFraming::Omitted => {}
    }
    true
}

/// `body_piece` into an outbox: a large piece that already lives in a shared buffer (the batch
/// JS sent it in) goes by reference instead of being copied once more.
pub fn body_piece_shared(out: &mut Outbox, framing: &mut BodyFraming, data: Bytes) -> bool {
    let len = data.len();
    if len < BY_REFERENCE {
        return body_piece(out.bytes(), framing, &data);
    }
    match framing {
        BodyFraming::Chunked => {
            push_hex(out.bytes(), len);
            out.bytes().extend_from_slice(b"\r\n");
            out.body(&data);
            out.bytes().extend_from_slice(b"\r\n");
        }
        BodyFraming::Length(left) if (len as u64) <= *left => {
            out.body(&data);
            *left -= len as u64;
        }
        BodyFraming::Length(_) => return body_piece(out.bytes(), framing, &data),
        BodyFraming::UntilClose => out.body(&data),
        BodyFraming::Omitted => {}
    }
    true
}

/// Ends a streamed answer; returns whether the connection must close after it (a body that
/// ends by closing, or one shorter than its `content-length`).
pub fn body_end(out: &mut Vec<u8>, framing: BodyFraming) -> bool {
    match framing {
        BodyFraming::Chunked => {
            out.extend_from_slice(b"0\r\n\r\n");
            false
        }
        BodyFraming::Length(left) => left > 0,
        BodyFraming::UntilClose => true,
        BodyFraming::Omitted => false,
    }
}

/// The headers a response is serialized from: JS's as they came (any iterator of pairs), or
/// changed on the way (compression's, `bridge::compression::Rewritten`).
pub trait HeaderList {
    fn each(self, f: impl FnMut(&[u8], &[u8]));
}

impl<'a, I: Iterator<Item = (&'a [u8], &'a [u8])>> HeaderList for I {
    fn each(self, mut f: impl FnMut(&[u8], &[u8])) {
        for (name, value) in self {
            f(name, value);
        }
    }
}

/// What `js_headers` found among the headers it copied.
struct JsHeaders {
    close: bool,
    content_length: Option<u64>,
}

/// Copies JS's headers but those Rust writes itself (`content-length`, `transfer-encoding`,
/// `date`, `connection`) and any unsafe one; notes a `connection: close` and the length JS set.
fn js_headers(out: &mut Vec<u8>, headers: impl HeaderList) -> JsHeaders {
    let mut found = JsHeaders {
        close: false,
        content_length: None,
    };
    headers.each(|name, value| {
        if name.eq_ignore_ascii_case(b"content-length") {
            found.content_length = parse_length(value);
            return;
        }
        if name.eq_ignore_ascii_case(b"transfer-encoding") || name.eq_ignore_ascii_case(b"date") {
            return;
        }
        if name.eq_ignore_ascii_case(b"connection") {
            found.close |= lists_close(value);
            return;
        }
        if !header_is_safe(name, value) {
            return;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    });
    found
}

/// A `content-length` value: digits only, no more than fit a u64.
fn parse_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn push_hex(out: &mut Vec<u8>, n: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = HEX[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The status a response from JS is sent with: its own, unless outside 100–999.
pub fn valid_status(status: u16) -> u16 {
    if (100..=999).contains(&status) {
        status
    } else {
        500
    }
}

/// Whether a JS response's headers ask to close the connection after it.
pub fn asks_close<'a>(mut headers: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> bool {
    headers.any(|(name, value)| name.eq_ignore_ascii_case(b"connection") && lists_close(value))
}

fn lists_close(value: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
}

/// Header names are tokens, and values hold no control character but tab (RFC 9110 §5.5:
/// field-vchar, SP, HTAB, obs-text): CR or LF could split the response, and node:http refuses
/// the others too (ERR_INVALID_CHAR). JS validates when a header is set; this is the last line
/// of defence, for anything that slips through.
/// Whether a header the app set goes into an answer whose framing Rust writes (a file, a 101):
/// not the framing and connection headers Rust writes itself, nor any in `also`, nor one that is
/// not safe on the wire.
pub fn keeps_app_header(name: &[u8], value: &[u8], also: &[&[u8]]) -> bool {
    const OURS: [&[u8]; 4] = [
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"date",
    ];
    !OURS
        .iter()
        .chain(also)
        .any(|h| name.eq_ignore_ascii_case(h))
        && header_is_safe(name, value)
}

pub fn header_is_safe(name: &[u8], value: &[u8]) -> bool {
    !name.is_empty()
        && name.iter().all(|&b| is_tchar(b))
        && value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

pub fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
        b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

thread_local! {
    // The formatted date changes once a second; every response in that second shares it.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Calls `f` with the current IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn with_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != now {
            *cached = (now, format_http_date(now));
        }
        f(&cached.1)
    })
}

pub fn format_http_date(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm), valid for every date after 1970.
    let z = days as i64 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);

    let mut out = [0u8; 29];
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    out[3..5].copy_from_slice(b", ");
    two(&mut out[5..7], d as u64);
    out[7] = b' ';
    out[8..11].copy_from_slice(MONTHS[(m - 1) as usize]);
    out[11] = b' ';
    let y = y as u64;
    two(&mut out[12..14], y / 100);
    two(&mut out[14..16], y % 100);
    out[16] = b' ';
    two(&mut out[17..19], hh);
    out[19] = b':';
    two(&mut out[20..22], mm);
    out[22] = b':';
    two(&mut out[23..25], ss);
    out[25..29].copy_from_slice(b" GMT");
    out
}

fn two(dst: &mut [u8], n: u64) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(
            &format_http_date(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(&format_http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &format_http_date(951_782_400),
            b"Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            &format_http_date(4_102_444_799),
            b"Thu, 31 Dec 2099 23:59:59 GMT"
        );
    }

    #[test]
    fn simple_response_has_length_date_and_close() {
        let mut out = Vec::new();
        simple(&mut out, 404, ConnHeader::Close, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("content-length: 21\r\n"));
        assert!(text.contains("\r\ndate: "));
        assert!(text.contains("connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"error\":\"Not Found\"}"));
    }

    #[test]
    fn head_and_no_content_have_no_body() {
        let mut out = Vec::new();
        status_line(&mut out, 200);
        finish(&mut out, 200, ConnHeader::None, b"hello", true);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("content-length: 5\r\n"));
        assert!(text.ends_with("\r\n\r\n"));

        let mut out = Vec::new();
        status_line(&mut out, 204);
        finish(&mut out, 204, ConnHeader::None, b"ignored", false);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("content-length"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn js_response_keeps_user_headers_and_owns_framing() {
        let mut out = Vec::new();
        let headers: [(&[u8], &[u8]); 5] = [
            (b"Content-Type", b"text/plain"),
            (b"Content-Length", b"999"),
            (b"X-Bad", b"a\r\nInjected: 1"),
            (b"Set-Cookie", b"a=1"),
            (b"Connection", b"Close"),
        ];
        let close = from_js(
            &mut out,
            201,
            headers.into_iter(),
            b"abc",
            false,
            ConnHeader::None,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(close);
        assert!(text.starts_with(
            "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n"
        ));
        assert!(text.contains("content-length: 3\r\n"));
        assert!(!text.contains("999") && !text.contains("Injected"));
        assert!(text.contains("connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nabc"));
    }

    #[test]
    fn head_answer_without_body_keeps_the_length_js_set() {
        let headers: [(&[u8], &[u8]); 1] = [(b"Content-Length", b"14")];
        let mut out = Vec::new();
        from_js(
            &mut out,
            200,
            headers.into_iter(),
            b"",
            true,
            ConnHeader::None,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("content-length: 14\r\n"));
        assert!(text.ends_with("\r\n\r\n"));

        // A GET's empty body is 0 bytes, whatever JS said.
        let mut out = Vec::new();
        from_js(
            &mut out,
            200,
            headers.into_iter(),
            b"",
            false,
            ConnHeader::None,
        );
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("content-length: 0\r\n"));
    }

    #[test]
    fn rejects_header_injection() {
        assert!(header_is_safe(b"x-a", b"b c"));
        assert!(header_is_safe(b"x-a", b"tab\tand \xc3\xa9 obs-text"));
        for bad in [&b"a\x01b"[..], b"a\x0bb", b"a\x7fb", b"a\x1fb", b"\0"] {
            assert!(!header_is_safe(b"x-a", bad), "{bad:?}");
        }
        assert!(!header_is_safe(b"x-a", b"b\r\nx: y"));
        assert!(!header_is_safe(b"x a", b"b"));
        assert!(!header_is_safe(b"", b"b"));
    }
}
