//! An HTTP/2 stream's head as the HTTP/1.1 request the connection code serves, and the HTTP/1.1
//! answer it writes back as an HTTP/2 response head. Pure functions over bytes and `http` types.

use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};

/// Header fields that are about one HTTP/1.1 connection and mean nothing (or are forbidden,
/// RFC 9113 §8.2.2) in HTTP/2; `expect` because the stream answers at once, `te` because only
/// `trailers` is allowed and HTTP/1.1 has nothing to do with it here.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "expect",
    "te",
];

/// How the request's body travels to the HTTP/1.1 side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    /// `content-length` came with it: the bytes go as they are.
    Sized,
    /// No length known: chunked framing is added around each DATA frame.
    Chunked,
}

/// The HTTP/1.1 head for a request. `ended`: the HEADERS frame ended the stream (no body).
/// Every translated request asks for `connection: close`: the HTTP/1.1 side closes once it has
/// answered, which is how this side knows the answer ended whatever its framing.
pub fn request_head(parts: &http::request::Parts, ended: bool) -> (Vec<u8>, Body) {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    let target = match parts.uri.path_and_query() {
        Some(pq) => pq.as_str(),
        None if parts.method == http::Method::OPTIONS => "*",
        None => "/",
    };
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !parts.headers.contains_key(http::header::HOST) {
        if let Some(authority) = parts.uri.authority() {
            out.extend_from_slice(b"host: ");
            out.extend_from_slice(authority.as_str().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    for (name, value) in &parts.headers {
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body = if ended {
        Body::None
    } else if parts.headers.contains_key(http::header::CONTENT_LENGTH) {
        Body::Sized
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Body::Chunked
    };
    out.extend_from_slice(b"connection: close\r\n\r\n");
    (out, body)
}

/// How the answer's body is framed on the HTTP/1.1 side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: HEAD, 204, 304, or `content-length: 0`.
    Empty,
    Length(u64),
    Chunked,
    /// Until the HTTP/1.1 side closes.
    Close,
}

/// A parsed answer head: the HTTP/2 response, how its body is framed, and the head's length.
pub struct Answer {
    pub response: Response<()>,
    pub framing: Framing,
    pub head_len: usize,
}

/// Header lines an answer's head is parsed with at first, and at most: room for ordinary answers
/// on the stack, more only for one that needs it (many `set-cookie` lines).
const ANSWER_HEADERS: usize = 48;
const MAX_ANSWER_HEADERS: usize = 4096;

/// Parses the answer head at the front of `buf`. `Ok(None)`: incomplete. An interim (1xx)
/// answer is skipped: `Answer::response` is then `None`-like, signalled by `Err(len)` so the
/// caller drops `len` bytes and parses again.
pub fn answer_head(buf: &[u8], head_request: bool) -> Result<Option<Answer>, Interim> {
    let mut headers = [httparse::EMPTY_HEADER; ANSWER_HEADERS];
    match parse_answer(buf, &mut headers, head_request) {
        Err(Interim::TooMany) => {
            let mut headers = vec![httparse::EMPTY_HEADER; MAX_ANSWER_HEADERS];
            parse_answer(buf, &mut headers, head_request)
        }
        other => other,
    }
}

fn parse_answer<'b>(
    buf: &'b [u8],
    headers: &mut [httparse::Header<'b>],
    head_request: bool,
) -> Result<Option<Answer>, Interim> {
    let mut parsed = httparse::Response::new(headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Interim::TooMany),
        Err(_) => return Err(Interim::Broken),
    };
    let code = parsed.code.unwrap_or(500);
    if (100..200).contains(&code) {
        return Err(Interim::Skip(head_len));
    }
    let status = StatusCode::from_u16(code).map_err(|_| Interim::Broken)?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    let mut length = None;
    let mut chunked = false;
    for h in parsed.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        }
        if HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            continue;
        }
        // Lower-cased by `from_bytes`, as HTTP/2 requires.
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            continue;
        };
        response.headers_mut().append(name, value);
    }
    let framing = if head_request || code == 204 || code == 304 || length == Some(0) {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    Ok(Some(Answer {
        response,
        framing,
        head_len,
    }))
}

pub enum Interim {
    /// A 1xx answer of this many bytes, to drop.
    Skip(usize),
    /// More header lines than the first try had room for.
    TooMany,
    /// Not an HTTP/1.1 answer: cannot happen with our own encoder, answered as a reset stream.
    Broken,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    #[test]
    fn request_gets_host_from_authority_and_drops_hop_by_hop_fields() {
        let req = http::Request::builder()
            .method("POST")
            .uri("https://example.com:8443/a/b?c=1")
            .header("te", "trailers")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(())
            .unwrap();
        let (head, body) = request_head(&parts(req), false);
        let text = String::from_utf8(head).unwrap();
        assert_eq!(body, Body::Chunked);
        assert_eq!(
            text,
            "POST /a/b?c=1 HTTP/1.1\r\nhost: example.com:8443\r\ncookie: a=1\r\ncookie: b=2\r\n\
             transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn a_sized_or_absent_body_keeps_its_framing() {
        let req = http::Request::builder()
            .method("PUT")
            .uri("/x")
            .header("content-length", "3")
            .body(())
            .unwrap();
        assert_eq!(request_head(&parts(req), false).1, Body::Sized);
        let req = http::Request::builder().uri("/x").body(()).unwrap();
        let (head, body) = request_head(&parts(req), true);
        assert_eq!(body, Body::None);
        assert!(!String::from_utf8(head).unwrap().contains("host:"));
    }

    #[test]
    fn answers_lose_connection_fields_and_say_how_their_body_ends() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\
                    Connection: close\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n5\r\nhello";
        let Ok(Some(answer)) = answer_head(raw, false) else {
            panic!("a complete head")
        };
        assert_eq!(answer.framing, Framing::Chunked);
        let h = answer.response.headers();
        assert!(h.get("connection").is_none() && h.get("transfer-encoding").is_none());
        assert_eq!(h.get_all("set-cookie").iter().count(), 2);
        assert_eq!(h.get("content-type").unwrap(), "text/plain");
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n";
        let Ok(Some(answer)) = answer_head(head, true) else {
            panic!("a complete head")
        };
        assert_eq!(answer.framing, Framing::Empty);
        assert!(matches!(
            answer_head(b"HTTP/1.1 100 Continue\r\n\r\n", false),
            Err(Interim::Skip(25))
        ));
        assert!(matches!(
            answer_head(b"HTTP/1.1 200 OK\r\n", false),
            Ok(None)
        ));
    }
}
