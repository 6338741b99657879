//! Chunked request bodies. The first byte picks the limits and where to split the rest; the
//! rest is fed to one decoder whole and to another in two calls (the second with the whole
//! buffer, as conn.rs resumes it). Checks: same outcome and body either way, body never past
//! body_limit, `consumed` within the input, only documented statuses; and the input, taken as
//! a body, survives a chunked encode/decode roundtrip.
#![no_main]

use http_native::h1::{ChunkedDecoder, Progress};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let body_limit = if first & 1 == 0 { 1 << 20 } else { 64 };
    let max_trailer = if first & 2 == 0 { 1024 } else { 8 };
    let split = input.len() * usize::from(first) / 255;

    let mut d = ChunkedDecoder::new();
    let whole = d.feed(input, body_limit, max_trailer);
    let body = d.take_body();
    assert!(
        body.len() <= body_limit,
        "body of {} past {body_limit}",
        body.len()
    );
    match whole {
        Ok(Progress::Done { consumed }) => assert!(consumed <= input.len()),
        Ok(Progress::NeedMore) => {}
        Err(status) => assert!([400, 413, 431].contains(&status), "status {status}"),
    }

    let mut d = ChunkedDecoder::new();
    let pieces = match d.feed(&input[..split], body_limit, max_trailer) {
        Ok(Progress::NeedMore) => d.feed(input, body_limit, max_trailer),
        other => other,
    };
    assert_eq!(pieces, whole, "split at {split} changes the outcome");
    if whole.is_ok() {
        assert_eq!(d.take_body(), body, "split at {split} changes the body");
    }

    roundtrip(input, 1 + usize::from(first % 64));
});

/// Encodes `body` in chunks of `size` (a trailer field too), then decodes it whole.
fn roundtrip(body: &[u8], size: usize) {
    let mut encoded = Vec::with_capacity(body.len() + 64);
    for chunk in body.chunks(size) {
        encoded.extend_from_slice(format!("{:x};e=1\r\n", chunk.len()).as_bytes());
        encoded.extend_from_slice(chunk);
        encoded.extend_from_slice(b"\r\n");
    }
    encoded.extend_from_slice(b"0\r\nx-t: 1\r\n\r\n");
    let end = encoded.len();
    encoded.extend_from_slice(b"GET / HTTP/1.1\r\n");

    let mut d = ChunkedDecoder::new();
    assert_eq!(
        d.feed(&encoded, body.len(), 64),
        Ok(Progress::Done { consumed: end })
    );
    assert_eq!(d.take_body(), body);
}
