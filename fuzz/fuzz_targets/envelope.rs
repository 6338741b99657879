//! The bridge codec (docs/bridge.md). `decode_responses` on the raw input: no panic, iteration
//! stops at the first error, and every record it returns is exactly the bytes its recordLen
//! covers. Then the input, read as structured values, builds a response record (must decode
//! back exactly) and a request envelope (every fixed field and part must sit where the docs
//! say).
#![no_main]

use http_native::bridge::records::{self, decode_responses, encode_request, Record, RequestParts};
use http_native::router::percent_decode_into;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    decode_any(data);
    let mut u = Unstructured::new(data);
    let _ = response_roundtrip(&mut u);
    let _ = request_layout(&mut u);
});

struct Response {
    id: u32,
    end: bool,
    status: u16,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    ttl: u32,
    key: Vec<u8>,
    body: Vec<u8>,
}

fn encode_response(r: &Response, out: &mut Vec<u8>) {
    let headers: Vec<_> = r.headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    records::encode_response_part(out, r.id, r.end, r.status, &headers, r.ttl, &r.key, &r.body);
}

fn decode_any(data: &[u8]) {
    let mut at = 0;
    let mut records = decode_responses(data);
    for rec in records.by_ref() {
        let rec = match rec {
            Ok(Record::Response(rec)) => rec,
            Ok(_) => {
                at += u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
                continue;
            }
            Err(_) => break,
        };
        let again = Response {
            id: rec.request_id,
            end: rec.end,
            status: rec.status,
            headers: rec
                .headers()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect(),
            ttl: rec.cache_ttl_ms,
            key: rec.cache_key.to_vec(),
            body: rec.body.to_vec(),
        };
        let mut bytes = Vec::new();
        encode_response(&again, &mut bytes);
        let len = bytes.len();
        assert!(at + len <= data.len());
        // The flags byte's unused bits are not checked by the decoder.
        assert_eq!(&bytes[..9], &data[at..at + 9]);
        assert_eq!(bytes[9], data[at + 9] & 1);
        assert_eq!(&bytes[10..], &data[at + 10..at + len]);
        at += len;
    }
    assert!(records.next().is_none(), "a record after an error");
}

fn bytes(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let len = u.int_in_range(0..=max)?;
    Ok(u.bytes(len)?.to_vec())
}

fn response_roundtrip(u: &mut Unstructured<'_>) -> Result<()> {
    let mut records = Vec::new();
    for _ in 0..u.int_in_range(1..=3)? {
        let mut headers = Vec::new();
        for _ in 0..u.int_in_range(0..=8)? {
            headers.push((bytes(u, 64)?, bytes(u, 256)?));
        }
        let ttl = u.arbitrary()?;
        records.push(Response {
            id: u.arbitrary()?,
            end: u.arbitrary()?,
            status: u.int_in_range(100..=999)?,
            headers,
            ttl,
            key: if ttl == 0 { Vec::new() } else { bytes(u, 300)? },
            body: bytes(u, 4096)?,
        });
    }
    let mut buf = Vec::new();
    for r in &records {
        encode_response(r, &mut buf);
    }
    let decoded: Vec<_> = decode_responses(&buf).collect();
    assert_eq!(decoded.len(), records.len());
    for (rec, want) in decoded.iter().zip(&records) {
        let rec = rec.as_ref().expect("a valid record was refused");
        assert_eq!(rec.request_id, want.id);
        assert_eq!(rec.status, want.status);
        assert!(rec
            .headers()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .eq(want.headers.iter().cloned()));
        assert_eq!(rec.cache_ttl_ms, want.ttl);
        assert_eq!(rec.cache_key, &want.key[..]);
        assert_eq!(rec.body, &want.body[..]);
    }
    Ok(())
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes(b[at..at + 2].try_into().unwrap()))
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

fn request_layout(u: &mut Unstructured<'_>) -> Result<()> {
    let method: String = u.arbitrary()?;
    let path: String = u.arbitrary()?;
    let query: Option<String> = u.arbitrary()?;
    let ip: String = u.arbitrary()?;
    let mut names = Vec::new();
    let mut values = Vec::new();
    for _ in 0..u.int_in_range(0..=8)? {
        names.push(u.arbitrary::<String>()?);
        values.push(bytes(u, 128)?);
    }
    let headers: Vec<httparse::Header<'_>> = names
        .iter()
        .zip(&values)
        .map(|(n, v)| httparse::Header { name: n, value: v })
        .collect();
    let params: Vec<String> = (0..u.int_in_range(0..=4)?)
        .map(|_| u.arbitrary())
        .collect::<Result<_>>()?;
    let body = bytes(u, 1024)?;
    let prefix = bytes(u, 8)?;
    let (request_id, route_id, method_code, http10) = (
        u.arbitrary()?,
        u.arbitrary()?,
        u.arbitrary()?,
        u.arbitrary()?,
    );
    let req = RequestParts {
        method: &method,
        method_code,
        http10,
        path: &path,
        query: query.as_deref(),
        ip: &ip,
        headers: &headers,
        body: &body,
        body_stream: false,
    };

    let mut out = prefix.clone();
    let result = encode_request(
        &mut out,
        request_id,
        route_id,
        &req,
        params.iter().map(String::as_str),
    );
    // What each parameter must decode to; None when it is malformed.
    let decoded: Vec<Option<Vec<u8>>> = params
        .iter()
        .map(|p| {
            let mut v = Vec::new();
            percent_decode_into(&mut v, p).ok().map(|_| v)
        })
        .collect();
    let fits = method.len() <= 255 && ip.len() <= 255 && names.iter().all(|n| n.len() <= 65535);
    if !fits || decoded.iter().any(Option::is_none) {
        assert!(
            result.is_err(),
            "an envelope that cannot be right was written"
        );
    }
    if result.is_err() {
        assert_eq!(out, prefix, "a failed encode left bytes behind");
        return Ok(());
    }

    assert_eq!(&out[..prefix.len()], &prefix[..]);
    let rec = &out[prefix.len()..];
    let q = query.as_deref().unwrap_or("");
    assert_eq!(u32_at(rec, 0), rec.len());
    assert_eq!(rec[4], 1);
    assert_eq!(rec[5], method_code);
    assert_eq!(rec[6], u8::from(http10) | (u8::from(query.is_some()) << 1));
    assert_eq!(usize::from(rec[7]), params.len());
    assert_eq!(u32_at(rec, 8), request_id as usize);
    assert_eq!(u32_at(rec, 12), route_id as usize);
    assert_eq!(u16_at(rec, 16), headers.len());
    assert_eq!(usize::from(rec[18]), method.len());
    assert_eq!(usize::from(rec[19]), ip.len());
    assert_eq!(u32_at(rec, 20), path.len());
    assert_eq!(u32_at(rec, 24), q.len());
    assert_eq!(u32_at(rec, 28), body.len());
    assert_eq!(u32_at(rec, 36), 0);
    let mut at = 40;
    for part in [
        method.as_bytes(),
        path.as_bytes(),
        q.as_bytes(),
        ip.as_bytes(),
        &body,
    ] {
        assert_eq!(&rec[at..at + part.len()], part);
        at += part.len();
    }
    for value in decoded.iter().flatten() {
        let len = u32_at(rec, at);
        assert_eq!(&rec[at + 4..at + 4 + len], &value[..]);
        at += 4 + len;
    }
    assert_eq!(u32_at(rec, 32), at);
    for h in &headers {
        assert_eq!(u16_at(rec, at), h.name.len());
        assert_eq!(u32_at(rec, at + 2), h.value.len());
        at += 6;
        assert_eq!(
            &rec[at..at + h.name.len()],
            h.name.to_ascii_lowercase().as_bytes()
        );
        at += h.name.len();
        assert_eq!(&rec[at..at + h.value.len()], h.value);
        at += h.value.len();
    }
    assert_eq!(at, rec.len());
    Ok(())
}
