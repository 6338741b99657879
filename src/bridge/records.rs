//! The binary bridge format (layout and rationale in docs/bridge.md): request envelopes, body
//! data, credits and control records going to JS; responses, body data and credits coming back.
//! A codec only: it knows byte layouts, not HTTP.

use crate::peer::Peer;
use crate::router::percent_decode_into;

pub const VERSION: u8 = 1;
const FIXED_LEN: usize = 40;
const RESPONSE_FIXED_LEN: usize = 24;
/// Data and credit records, both ways: length, kind, flags, id, then bytes (data) or a u32
/// (credit).
const STREAM_FIXED_LEN: usize = 12;
const CREDIT_LEN: usize = 16;

/// Kinds of the records JS sends (byte 8).
const KIND_RESPONSE: u8 = 1;
const KIND_DATA: u8 = 2;
const KIND_CREDIT: u8 = 3;
/// WebSocket records from JS (docs/bridge.md, "WebSocket"): a message for one socket, its close,
/// a subscription change, a publish.
const KIND_WS_SEND: u8 = 4;
const KIND_WS_END: u8 = 5;
const KIND_WS_SUBSCRIBE: u8 = 6;
const KIND_WS_UNSUBSCRIBE: u8 = 7;
const KIND_WS_PUBLISH: u8 = 8;
/// Kinds of the records Rust sends besides envelopes (byte 4; an envelope has its version there).
pub const CONTROL_RECORD: u8 = 0x81;
pub const DATA_RECORD: u8 = 0x82;
pub const CREDIT_RECORD: u8 = 0x83;
pub const WS_MESSAGE_RECORD: u8 = 0x84;
pub const WS_CLOSED_RECORD: u8 = 0x85;
/// Flags byte: the last record of its stream (a whole response, or a body's last data).
pub const FLAG_END: u8 = 1;
/// Flags byte of a data record from JS: the answer failed midway (`res.destroy()`, a source
/// stream that errored): cut the connection rather than end the body as if it were complete.
pub const FLAG_ABORT: u8 = 2;
/// Flags byte of a response head or data record from JS: with this record the producer reached
/// its high-water mark and waits for credit (`res.write()` returned false): credit it at once.
pub const FLAG_WAITING: u8 = 4;
/// A whole answer whose body is a file's path (`res.sendFile`): Rust serves the file, with the
/// options and the request's conditional headers JS put in `:`-prefixed pseudo headers.
pub const FLAG_FILE: u8 = 8;
/// A 101 response record (with end): JS accepts the WebSocket upgrade of that request.
pub const FLAG_UPGRADE: u8 = 16;
/// Flags of WebSocket records from JS: a binary message (else text); compress it if the socket
/// negotiated compression; (WS_END) drop the connection without a close frame.
pub const WS_FLAG_BINARY: u8 = 1;
pub const WS_FLAG_COMPRESS: u8 = 2;
pub const WS_FLAG_TERMINATE: u8 = 1;

pub const FLAG_HTTP10: u8 = 1;
pub const FLAG_HAS_QUERY: u8 = 2;
/// The body is not in the envelope: it follows in data records (a `{ body: 'stream' }` route).
pub const FLAG_BODY_STREAM: u8 = 4;
/// A valid WebSocket upgrade on a WebSocket route: JS accepts (a 101 record) or refuses it.
pub const FLAG_WS_UPGRADE: u8 = 8;
/// On an upgrade: the socket will speak permessage-deflate if JS accepts (`ws.extensions`).
pub const FLAG_WS_DEFLATE: u8 = 16;
/// The connection is TLS (`req.protocol === 'https'`).
pub const FLAG_TLS: u8 = 32;
/// An HTTP/2 stream (`req.httpVersion === '2.0'`).
pub const FLAG_HTTP2: u8 = 64;
/// The client's certificate (DER) follows the headers: a u32 length, then its bytes.
pub const FLAG_CLIENT_CERT: u8 = 128;

/// What a request envelope carries, borrowed from the connection's buffer.
pub struct RequestParts<'a, 'h> {
    pub method: &'a str,
    pub method_code: u8,
    pub http10: bool,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The connection's side of the envelope: `req.ip`, TLS, HTTP/2, the client's certificate.
    pub peer: &'a Peer,
    pub headers: &'h [httparse::Header<'a>],
    pub body: &'a [u8],
    /// The body follows in data records.
    pub body_stream: bool,
    /// A WebSocket upgrade (`FLAG_WS_UPGRADE`).
    pub upgrade: bool,
    /// Its permessage-deflate offer was accepted (`FLAG_WS_DEFLATE`).
    pub ws_deflate: bool,
    /// The native guards' word for JS (offset 36: an allowed request's rate-limit count), or 0.
    pub guard: u32,
    /// The answer the route's schemas give this request, for JS to send once the middleware
    /// before the route ran: u32 status, then the JSON body, between params and headers.
    pub verdict: Option<&'a crate::validate::Rejection>,
}

/// Appends one envelope to `out`. Raw parameter values are percent-decoded straight into it.
/// `Err` carries the status to answer (400 for an undecodable parameter, 431/501 for fields
/// too long for the format); `out` is then left as it was.
pub fn encode_request<'p>(
    out: &mut Vec<u8>,
    request_id: u32,
    route_id: u32,
    req: &RequestParts<'_, '_>,
    params: impl Iterator<Item = &'p str>,
) -> Result<(), u16> {
    let start = out.len();
    let result = encode(out, start, request_id, route_id, req, params);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode<'p>(
    out: &mut Vec<u8>,
    start: usize,
    request_id: u32,
    route_id: u32,
    req: &RequestParts<'_, '_>,
    params: impl Iterator<Item = &'p str>,
) -> Result<(), u16> {
    let method_len = u8::try_from(req.method.len()).map_err(|_| 501u16)?;
    let ip = req.peer.ip.as_str();
    let ip_len = u8::try_from(ip.len()).map_err(|_| 500u16)?;
    let header_count = u16::try_from(req.headers.len()).map_err(|_| 431u16)?;
    let query = req.query.unwrap_or("");
    let mut flags = 0;
    if req.http10 {
        flags |= FLAG_HTTP10;
    }
    if req.query.is_some() {
        flags |= FLAG_HAS_QUERY;
    }
    if req.body_stream {
        flags |= FLAG_BODY_STREAM;
    }
    if req.upgrade {
        flags |= FLAG_WS_UPGRADE;
    }
    if req.ws_deflate {
        flags |= FLAG_WS_DEFLATE;
    }
    if req.peer.secure {
        flags |= FLAG_TLS;
    }
    if req.peer.http2 {
        flags |= FLAG_HTTP2;
    }
    let cert = req.peer.client_cert.as_deref();
    if cert.is_some() {
        flags |= FLAG_CLIENT_CERT;
    }
    let headers_len: usize = req
        .headers
        .iter()
        .map(|h| 6 + h.name.len() + h.value.len())
        .sum();
    out.reserve(
        FIXED_LEN
            + req.method.len()
            + req.path.len()
            + query.len()
            + ip.len()
            + req.body.len()
            + cert.map_or(0, |c| 4 + c.len())
            + headers_len
            + req.verdict.map_or(0, |v| 4 + v.body.len())
            + 64,
    );

    out.extend_from_slice(&[0; 4]); // recordLen, patched below
    out.push(VERSION);
    out.push(req.method_code);
    out.push(flags);
    out.push(0); // paramCount, patched below
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&route_id.to_le_bytes());
    out.extend_from_slice(&header_count.to_le_bytes());
    out.push(method_len);
    out.push(ip_len);
    out.extend_from_slice(&len32(req.path.len())?.to_le_bytes());
    out.extend_from_slice(&len32(query.len())?.to_le_bytes());
    out.extend_from_slice(&len32(req.body.len())?.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // headersOffset, patched below
    out.extend_from_slice(&req.guard.to_le_bytes());
    out.extend_from_slice(req.method.as_bytes());
    out.extend_from_slice(req.path.as_bytes());
    out.extend_from_slice(query.as_bytes());
    out.extend_from_slice(ip.as_bytes());
    out.extend_from_slice(req.body);

    let mut param_count: u8 = 0;
    for raw in params {
        param_count = param_count.checked_add(1).ok_or(414u16)?;
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        percent_decode_into(out, raw).map_err(|_| 400u16)?;
        let len = len32(out.len() - len_at - 4)?;
        out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }

    if let Some(verdict) = req.verdict {
        out.extend_from_slice(&u32::from(verdict.status).to_le_bytes());
        out.extend_from_slice(&verdict.body);
    }

    let headers_offset = len32(out.len() - start)?;
    for h in req.headers {
        let name_len = u16::try_from(h.name.len()).map_err(|_| 431u16)?;
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&len32(h.value.len())?.to_le_bytes());
        out.extend(h.name.bytes().map(|b| b.to_ascii_lowercase()));
        out.extend_from_slice(h.value);
    }
    if let Some(cert) = cert {
        out.extend_from_slice(&len32(cert.len())?.to_le_bytes());
        out.extend_from_slice(cert);
    }

    let record_len = len32(out.len() - start)?;
    out[start..start + 4].copy_from_slice(&record_len.to_le_bytes());
    out[start + 7] = param_count;
    out[start + 32..start + 36].copy_from_slice(&headers_offset.to_le_bytes());
    Ok(())
}

/// Appends a data record: `bytes` of request `id`'s body, the last when `end`.
pub fn encode_data(out: &mut Vec<u8>, id: u32, bytes: &[u8], end: bool) {
    let len = (STREAM_FIXED_LEN + bytes.len()) as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[DATA_RECORD, if end { FLAG_END } else { 0 }, 0, 0]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Appends a credit record: `bytes` more of request `id`'s streamed answer were written.
pub fn encode_credit(out: &mut Vec<u8>, id: u32, bytes: usize) {
    out.extend_from_slice(&(CREDIT_LEN as u32).to_le_bytes());
    out.extend_from_slice(&[CREDIT_RECORD, 0, 0, 0]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&u32::try_from(bytes).unwrap_or(u32::MAX).to_le_bytes());
}

/// Appends a WebSocket message for JS: socket `id`'s `payload`, binary or text.
pub fn encode_ws_message(out: &mut Vec<u8>, id: u32, binary: bool, payload: &[u8]) {
    let len = (STREAM_FIXED_LEN + payload.len()) as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[WS_MESSAGE_RECORD, u8::from(binary), 0, 0]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Appends the end of socket `id` for JS: the close code and reason it ended with.
pub fn encode_ws_closed(out: &mut Vec<u8>, id: u32, code: u16, reason: &[u8]) {
    let len = (STREAM_FIXED_LEN + 2 + reason.len()) as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[WS_CLOSED_RECORD, 0, 0, 0]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(reason);
}

/// Appends a control record (`event` about request `id`, with a message for server errors).
pub fn encode_control(out: &mut Vec<u8>, event: u8, id: u32, message: &[u8]) {
    let len = 12 + message.len();
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&[CONTROL_RECORD, event, 0, 0]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(message);
}

fn len32(n: usize) -> Result<u32, u16> {
    u32::try_from(n).map_err(|_| 413u16)
}

/// One response from JS, borrowed from the `respond` buffer.
#[derive(Debug)]
pub struct ResponseRecord<'a> {
    pub request_id: u32,
    /// The whole answer; else its head, with the body following in data records.
    pub end: bool,
    /// A streamed answer's head whose first bytes took the producer to its high-water mark.
    pub waiting: bool,
    /// The body is a file's path (`FLAG_FILE`).
    pub file: bool,
    /// A 101 accepting a WebSocket upgrade (`FLAG_UPGRADE`).
    pub upgrade: bool,
    pub status: u16,
    header_count: u16,
    headers: &'a [u8],
    /// How long the response may be served from the cache (`res.ncache`); 0 when not cached.
    pub cache_ttl_ms: u32,
    /// The request target to cache it under; empty when not cached.
    pub cache_key: &'a [u8],
    pub body: &'a [u8],
}

impl<'a> ResponseRecord<'a> {
    /// `(name, value)` pairs as JS sent them; already bounds-checked by `decode_responses`.
    pub fn headers(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone {
        let mut rest = self.headers;
        (0..self.header_count).map_while(move |_| {
            let (name, value, tail) = split_header(rest)?;
            rest = tail;
            Some((name, value))
        })
    }
}

fn split_header(buf: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let name_len = usize::from(u16::from_le_bytes(buf.get(0..2)?.try_into().ok()?));
    let value_len = u32::from_le_bytes(buf.get(2..6)?.try_into().ok()?) as usize;
    let name_end = 6usize.checked_add(name_len)?;
    let value_end = name_end.checked_add(value_len)?;
    Some((
        buf.get(6..name_end)?,
        buf.get(name_end..value_end)?,
        buf.get(value_end..)?,
    ))
}

/// One record from JS.
#[derive(Debug)]
pub enum Record<'a> {
    Response(ResponseRecord<'a>),
    /// Body bytes of a streamed answer; the last when `end`; `abort`: cut it off; `waiting`:
    /// the producer waits for credit.
    Data {
        request_id: u32,
        end: bool,
        abort: bool,
        waiting: bool,
        bytes: &'a [u8],
    },
    /// The app consumed `bytes` of a streamed request body (or of socket messages).
    Credit {
        request_id: u32,
        bytes: u32,
    },
    /// A message for socket `id`.
    WsSend {
        id: u32,
        binary: bool,
        compress: bool,
        waiting: bool,
        payload: &'a [u8],
    },
    /// Close socket `id` with `code` and `reason`, or drop it at once (`terminate`).
    WsEnd {
        id: u32,
        code: u16,
        reason: &'a [u8],
        terminate: bool,
    },
    WsSubscribe {
        id: u32,
        topic: &'a [u8],
        on: bool,
    },
    /// A message for every subscriber of `topic` but socket `from` (0: the app's own).
    WsPublish {
        from: u32,
        binary: bool,
        compress: bool,
        topic: &'a [u8],
        payload: &'a [u8],
    },
}

impl Record<'_> {
    pub fn request_id(&self) -> u32 {
        match self {
            Record::Response(r) => r.request_id,
            Record::Data { request_id, .. } | Record::Credit { request_id, .. } => *request_id,
            Record::WsSend { id, .. }
            | Record::WsEnd { id, .. }
            | Record::WsSubscribe { id, .. } => *id,
            Record::WsPublish { from, .. } => *from,
        }
    }
}

/// Appends one whole response record, laid out as js/bridge.js writes it. Rust never sends
/// these; the unit tests, property tests and fuzz targets use it to feed `decode_responses`.
#[doc(hidden)]
pub fn encode_response<'h>(
    out: &mut Vec<u8>,
    request_id: u32,
    status: u16,
    headers: &[(&'h [u8], &'h [u8])],
    cache_ttl_ms: u32,
    cache_key: &[u8],
    body: &[u8],
) {
    encode_response_part(
        out,
        request_id,
        true,
        status,
        headers,
        cache_ttl_ms,
        cache_key,
        body,
    );
}

/// `encode_response`, or with `end` false the head of a streamed answer.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn encode_response_part<'h>(
    out: &mut Vec<u8>,
    request_id: u32,
    end: bool,
    status: u16,
    headers: &[(&'h [u8], &'h [u8])],
    cache_ttl_ms: u32,
    cache_key: &[u8],
    body: &[u8],
) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&[KIND_RESPONSE, if end { FLAG_END } else { 0 }]);
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&(headers.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cache_key.len() as u16).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&cache_ttl_ms.to_le_bytes());
    for (name, value) in headers {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(value);
    }
    out.extend_from_slice(cache_key);
    out.extend_from_slice(body);
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// Iterates the records of a `respond` buffer. The buffer comes from JS, so nothing about it is
/// trusted: a record whose lengths do not add up ends the iteration with `Err`.
pub fn decode_responses(buf: &[u8]) -> impl Iterator<Item = Result<Record<'_>, ()>> {
    let mut records = decode_records(buf);
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match records.next() {
            Some((record, _)) => Some(Ok(record)),
            None if records.remainder().is_empty() => None,
            None => {
                failed = true;
                Some(Err(()))
            }
        }
    })
}

/// `decode_responses` with each record's own bytes, to pass it on unchanged (direct.rs). The
/// walk stops at a malformed record, which `remainder` then starts with.
pub fn decode_records(buf: &[u8]) -> Records<'_> {
    Records { rest: buf }
}

pub struct Records<'b> {
    rest: &'b [u8],
}

impl<'b> Records<'b> {
    pub fn remainder(&self) -> &'b [u8] {
        self.rest
    }
}

impl<'b> Iterator for Records<'b> {
    type Item = (Record<'b>, &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (record, tail) = decode_one(self.rest).ok()?;
        let raw = &self.rest[..self.rest.len() - tail.len()];
        self.rest = tail;
        Some((record, raw))
    }
}

fn decode_one(buf: &[u8]) -> Result<(Record<'_>, &[u8]), ()> {
    let u32_at = |at: usize| -> Result<u32, ()> {
        Ok(u32::from_le_bytes(
            buf.get(at..at + 4).ok_or(())?.try_into().map_err(|_| ())?,
        ))
    };
    let u16_at = |at: usize| -> Result<u16, ()> {
        Ok(u16::from_le_bytes(
            buf.get(at..at + 2).ok_or(())?.try_into().map_err(|_| ())?,
        ))
    };
    let record_len = u32_at(0)? as usize;
    if record_len < STREAM_FIXED_LEN || record_len > buf.len() {
        return Err(());
    }
    let record = &buf[..record_len];
    let tail = &buf[record_len..];
    let request_id = u32_at(4)?;
    let end = record[9] & FLAG_END != 0;
    match record[8] {
        KIND_DATA => {
            let bytes = &record[STREAM_FIXED_LEN..];
            return Ok((
                Record::Data {
                    request_id,
                    end,
                    abort: record[9] & FLAG_ABORT != 0,
                    waiting: record[9] & FLAG_WAITING != 0,
                    bytes,
                },
                tail,
            ));
        }
        KIND_CREDIT if record_len == CREDIT_LEN => {
            let bytes = u32_at(STREAM_FIXED_LEN)?;
            return Ok((Record::Credit { request_id, bytes }, tail));
        }
        KIND_RESPONSE if record_len >= RESPONSE_FIXED_LEN => {}
        KIND_WS_SEND => {
            let flags = record[9];
            let record = Record::WsSend {
                id: request_id,
                binary: flags & WS_FLAG_BINARY != 0,
                compress: flags & WS_FLAG_COMPRESS != 0,
                waiting: flags & FLAG_WAITING != 0,
                payload: &record[STREAM_FIXED_LEN..],
            };
            return Ok((record, tail));
        }
        KIND_WS_END => {
            let record = Record::WsEnd {
                id: request_id,
                code: u16_at(10)?,
                reason: &record[STREAM_FIXED_LEN..],
                terminate: record[9] & WS_FLAG_TERMINATE != 0,
            };
            return Ok((record, tail));
        }
        KIND_WS_SUBSCRIBE | KIND_WS_UNSUBSCRIBE => {
            let record = Record::WsSubscribe {
                id: request_id,
                topic: &record[STREAM_FIXED_LEN..],
                on: record[8] == KIND_WS_SUBSCRIBE,
            };
            return Ok((record, tail));
        }
        KIND_WS_PUBLISH => {
            let topic_len = usize::from(u16_at(10)?);
            let rest = &record[STREAM_FIXED_LEN..];
            if topic_len > rest.len() {
                return Err(());
            }
            let flags = record[9];
            let record = Record::WsPublish {
                from: request_id,
                binary: flags & WS_FLAG_BINARY != 0,
                compress: flags & WS_FLAG_COMPRESS != 0,
                topic: &rest[..topic_len],
                payload: &rest[topic_len..],
            };
            return Ok((record, tail));
        }
        _ => return Err(()),
    }
    let status = u16_at(10)?;
    let header_count = u16_at(12)?;
    let key_len = usize::from(u16_at(14)?);
    let body_len = u32_at(16)? as usize;
    let cache_ttl_ms = u32_at(20)?;
    let variable = &record[RESPONSE_FIXED_LEN..];
    let headers_len = variable
        .len()
        .checked_sub(body_len)
        .and_then(|n| n.checked_sub(key_len))
        .ok_or(())?;
    let headers = &variable[..headers_len];
    // Walk the headers once so `headers()` can never run past them.
    let mut rest = headers;
    for _ in 0..header_count {
        rest = split_header(rest).ok_or(())?.2;
    }
    if !rest.is_empty() {
        return Err(());
    }
    Ok((
        Record::Response(ResponseRecord {
            request_id,
            end,
            waiting: record[9] & FLAG_WAITING != 0,
            file: record[9] & FLAG_FILE != 0,
            upgrade: record[9] & FLAG_UPGRADE != 0,
            status,
            header_count,
            headers,
            cache_ttl_ms,
            cache_key: &variable[headers_len..headers_len + key_len],
            body: &variable[headers_len + key_len..],
        }),
        tail,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn request_layout_matches_the_docs() {
        let headers = [
            httparse::Header {
                name: "Host",
                value: b"h",
            },
            httparse::Header {
                name: "X-Two",
                value: b"a b",
            },
        ];
        let req = RequestParts {
            method: "POST",
            method_code: 3,
            http10: false,
            path: "/users/caf%C3%A9",
            query: Some("x=1"),
            peer: &Peer {
                ip: "127.0.0.1".into(),
                ..Peer::default()
            },
            headers: &headers,
            body: b"BODY",
            body_stream: false,
            upgrade: false,
            ws_deflate: false,
            guard: 0,
            verdict: None,
        };
        let mut out = b"prefix".to_vec();
        encode_request(&mut out, 7, 9, &req, ["caf%C3%A9"].into_iter()).unwrap();
        let rec = &out[6..];
        assert_eq!(u32_at(rec, 0) as usize, rec.len());
        assert_eq!(
            (rec[4], rec[5], rec[6], rec[7]),
            (VERSION, 3, FLAG_HAS_QUERY, 1)
        );
        assert_eq!((u32_at(rec, 8), u32_at(rec, 12)), (7, 9));
        assert_eq!(u16::from_le_bytes([rec[16], rec[17]]), 2);
        assert_eq!((rec[18], rec[19]), (4, 9));
        assert_eq!(
            (u32_at(rec, 20), u32_at(rec, 24), u32_at(rec, 28)),
            (16, 3, 4)
        );
        let body_at = 40 + 4 + 16 + 3 + 9;
        assert_eq!(&rec[40..body_at], b"POST/users/caf%C3%A9x=1127.0.0.1");
        assert_eq!(&rec[body_at..body_at + 4], b"BODY");
        let param_at = body_at + 4;
        assert_eq!(u32_at(rec, param_at), 5);
        assert_eq!(&rec[param_at + 4..param_at + 9], "café".as_bytes());
        let headers_at = u32_at(rec, 32) as usize;
        assert_eq!(headers_at, param_at + 9);
        assert_eq!(&rec[headers_at..headers_at + 6], &[4, 0, 1, 0, 0, 0]);
        assert_eq!(&rec[headers_at + 6..headers_at + 11], b"hosth");
        assert!(rec.ends_with(b"x-twoa b"));
    }

    #[test]
    fn bad_param_leaves_the_buffer_untouched() {
        let req = RequestParts {
            method: "GET",
            method_code: 1,
            http10: true,
            path: "/u/%FF",
            query: None,
            peer: &Peer {
                ip: "::1".into(),
                ..Peer::default()
            },
            headers: &[],
            body: b"",
            body_stream: false,
            upgrade: false,
            ws_deflate: false,
            guard: 0,
            verdict: None,
        };
        let mut out = b"keep".to_vec();
        assert_eq!(
            encode_request(&mut out, 1, 1, &req, ["%FF"].into_iter()),
            Err(400)
        );
        assert_eq!(out, b"keep");
    }

    fn response(id: u32, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        cached(id, status, headers, 0, "", body)
    }

    fn cached(
        id: u32,
        status: u16,
        headers: &[(&str, &str)],
        ttl: u32,
        key: &str,
        body: &[u8],
    ) -> Vec<u8> {
        let headers: Vec<_> = headers
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        let mut out = Vec::new();
        encode_response(&mut out, id, status, &headers, ttl, key.as_bytes(), body);
        out
    }

    #[test]
    fn decodes_a_batch_of_responses() {
        let mut buf = response(
            1,
            200,
            &[("Content-Type", "text/plain"), ("X-A", "b")],
            b"hi",
        );
        buf.extend(response(2, 404, &[], b""));
        let recs: Vec<_> = decode_responses(&buf)
            .map(|r| match r {
                Ok(Record::Response(r)) => r,
                other => panic!("not a response: {other:?}"),
            })
            .collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            (recs[0].request_id, recs[0].status, recs[0].body),
            (1, 200, &b"hi"[..])
        );
        let h: Vec<_> = recs[0].headers().collect();
        assert_eq!(
            h,
            vec![
                (&b"Content-Type"[..], &b"text/plain"[..]),
                (&b"X-A"[..], &b"b"[..])
            ]
        );
        assert_eq!(
            (recs[1].request_id, recs[1].status, recs[1].body.len()),
            (2, 404, 0)
        );
    }

    #[test]
    fn decodes_stream_records_between_responses() {
        let mut buf = Vec::new();
        encode_response_part(&mut buf, 3, false, 200, &[], 0, b"", b"first");
        // Data and credit records as js/bridge.js lays them out.
        buf.extend_from_slice(&17u32.to_le_bytes());
        buf.extend_from_slice(&3u32.to_le_bytes());
        buf.extend_from_slice(&[KIND_DATA, FLAG_END, 0, 0]);
        buf.extend_from_slice(b"more!");
        buf.extend_from_slice(&16u32.to_le_bytes());
        buf.extend_from_slice(&4u32.to_le_bytes());
        buf.extend_from_slice(&[KIND_CREDIT, 0, 0, 0]);
        buf.extend_from_slice(&65536u32.to_le_bytes());
        let recs: Vec<_> = decode_responses(&buf).collect::<Result<_, _>>().unwrap();
        assert!(matches!(&recs[0], Record::Response(r) if !r.end && r.body == b"first"));
        assert!(matches!(
            &recs[1],
            Record::Data { request_id: 3, end: true, abort: false, waiting: false, bytes } if *bytes == b"more!"
        ));
        assert!(matches!(
            recs[2],
            Record::Credit {
                request_id: 4,
                bytes: 65536
            }
        ));
        // A credit record of the wrong length, or an unknown kind, is malformed.
        let mut bad = buf.clone();
        bad[8] = 9;
        assert!(decode_responses(&bad).any(|r| r.is_err()));
    }

    #[test]
    fn rejects_inconsistent_records_without_panicking() {
        let good = response(1, 200, &[("A", "b")], b"xyz");
        for cut in 1..good.len() {
            let mut bad = good[..cut].to_vec();
            if bad.len() >= 4 {
                bad[..4].copy_from_slice(&(cut as u32).to_le_bytes());
            }
            assert!(decode_responses(&bad).any(|r| r.is_err()), "cut at {cut}");
        }
        let mut lying = good.clone();
        lying[16] = 200; // bodyLen larger than the record
        assert!(decode_responses(&lying).any(|r| r.is_err()));
    }
}
