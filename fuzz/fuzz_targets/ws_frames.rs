//! WebSocket frames from a client (`ws::message::Reader`, and through it `ws::frame::parse_head`,
//! `unmask` and the UTF-8 validator). The first byte picks a small max_payload, whether
//! compression is on (a stand-in decompressor: XOR, so any cut inflates piece by piece) and a
//! read size; the rest is fed whole and in reads of that size, as a connection feeds it. Checks:
//! no panic; the same events either way; consumed and every range within the buffer; messages
//! within max_payload, text and close reasons UTF-8, close codes valid or 1005, failures only
//! 1002/1007/1009; nothing held after a message or a failure.
#![no_main]

use http_native::ws::frame::{valid_close_code, MAX_CLOSE_REASON};
use http_native::ws::message::{Event, Payload, Reader, Step};
use http_native::ws::Decompress;
use libfuzzer_sys::fuzz_target;

/// Small, so the 1009 paths (single frames, fragments, inflated size) are reached by short
/// inputs; one large, so long messages pass too.
const MAX_PAYLOADS: [usize; 4] = [0, 7, 125, 1 << 20];

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let max = MAX_PAYLOADS[usize::from(first & 3)];
    let compression = first & 4 != 0;
    let read = 1 + usize::from(first >> 3);

    let whole = drive(input, input.len().max(1), max, compression);
    let pieces = drive(input, read, max, compression);
    assert_eq!(whole, pieces, "reads of {read} change the events");
});

/// XOR with a key: inflates any cut of a message piece by piece, honours `limit` like a real one.
struct Xor;

impl Decompress for Xor {
    fn decompress(
        &mut self,
        input: &[u8],
        _last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), u16> {
        if out.len() + input.len() > limit {
            return Err(1009);
        }
        out.extend(input.iter().map(|b| b ^ 0x5A));
        Ok(())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Message(bool, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Vec<u8>),
    Fail(u16),
}

fn drive(input: &[u8], read: usize, max: usize, compression: bool) -> Vec<Seen> {
    let mut reader = Reader::default();
    let mut xor = Xor;
    let mut seen = Vec::new();
    let mut buf = Vec::new();
    let mut reads = input.chunks(read);
    loop {
        let inflate: Option<&mut dyn Decompress> = if compression {
            Some(&mut xor)
        } else {
            None
        };
        match reader.next(&mut buf, max, inflate) {
            Step::Event(event, consumed) => {
                assert!(consumed > 0 && consumed <= buf.len());
                let inside = |r: std::ops::Range<usize>| {
                    assert!(r.start <= r.end && r.end <= consumed);
                    buf[r].to_vec()
                };
                let s = match event {
                    Event::Message { binary, payload } => {
                        let data = match payload {
                            Payload::InPlace(r) => inside(r),
                            Payload::Owned(v) => v,
                        };
                        assert!(data.len() <= max);
                        assert!(binary || std::str::from_utf8(&data).is_ok());
                        assert_eq!(reader.held(), 0);
                        Seen::Message(binary, data)
                    }
                    Event::Ping(r) => Seen::Ping(inside(r)),
                    Event::Pong(r) => Seen::Pong(inside(r)),
                    Event::Close { code, reason } => {
                        let reason = inside(reason);
                        assert!(code == 1005 || valid_close_code(code));
                        assert!(reason.len() <= MAX_CLOSE_REASON);
                        assert!(std::str::from_utf8(&reason).is_ok());
                        Seen::Close(code, reason)
                    }
                };
                seen.push(s);
                buf.drain(..consumed);
            }
            Step::Absorbed(n) => {
                assert!(n > 0 && n <= buf.len());
                buf.drain(..n);
            }
            Step::NeedMore => match reads.next() {
                Some(more) => buf.extend_from_slice(more),
                None => return seen,
            },
            Step::Fail(code, reason) => {
                assert!([1002, 1007, 1009].contains(&code), "code {code}");
                assert!(!reason.is_empty() && reason.len() <= MAX_CLOSE_REASON);
                assert_eq!(reader.held(), 0);
                seen.push(Seen::Fail(code));
                return seen;
            }
        }
    }
}
