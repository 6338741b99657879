//! The Reader driven as a connection drives it: bytes arrive in reads cut anywhere, each event's
//! bytes are drained after use. Hand-written cases for every rule, and properties: any bytes
//! never panic it nor break its promises, and valid traffic (fragmented, masked with any key,
//! compressed or not, pings between fragments, cut at any read boundary) comes out as sent.

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;
use crate::ws::close_code::{NORMAL, NO_STATUS};
use crate::ws::frame::tests::client_frame;

/// A stand-in for permessage-deflate (deflate.rs is tested on its own): "compression" XORs every
/// byte with 0x5A, so any cut of a compressed message inflates piece by piece. Keeps every
/// `last` it was told, and fails with INVALID_DATA on an input starting with 0xFF when `strict`.
#[derive(Default)]
struct Xor {
    lasts: Vec<bool>,
    strict: bool,
}

const XOR_KEY: u8 = 0x5A;

impl Decompress for Xor {
    fn decompress(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), u16> {
        self.lasts.push(last);
        if self.strict && input.first() == Some(&0xFF) {
            return Err(INVALID_DATA);
        }
        if out.len() + input.len() > limit {
            return Err(TOO_BIG);
        }
        out.extend(input.iter().map(|b| b ^ XOR_KEY));
        Ok(())
    }
}

fn xor(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b ^ XOR_KEY).collect()
}

/// An event with its bytes copied out of the buffer, for comparing.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Seen {
    Message(bool, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Vec<u8>),
    Fail(u16),
}

/// Feeds `input` to a fresh Reader in reads ending at `cuts` (sorted), as a connection would,
/// checking the Reader's promises at every step; stops at the first failure.
fn drive(
    input: &[u8],
    cuts: &[usize],
    max: usize,
    mut inflate: Option<&mut dyn Decompress>,
) -> Vec<Seen> {
    let mut reader = Reader::default();
    let mut seen = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut reads = cuts
        .iter()
        .copied()
        .chain(std::iter::once(input.len()))
        .map(|c| c.min(input.len()));
    let mut fed = 0;
    loop {
        match reader.next(&mut buf, max, inflate.as_deref_mut()) {
            Step::Event(event, consumed) => {
                assert!(consumed > 0 && consumed <= buf.len(), "consumed {consumed}");
                let inside = |r: &Range<usize>| {
                    assert!(
                        r.start <= r.end && r.end <= consumed,
                        "{r:?} past {consumed}"
                    );
                    buf[r.clone()].to_vec()
                };
                let s = match event {
                    Event::Message { binary, payload } => {
                        let data = match payload {
                            Payload::InPlace(r) => inside(&r),
                            Payload::Owned(v) => v,
                        };
                        assert!(data.len() <= max, "message of {} over {max}", data.len());
                        assert!(binary || std::str::from_utf8(&data).is_ok());
                        Seen::Message(binary, data)
                    }
                    Event::Ping(r) => Seen::Ping(inside(&r)),
                    Event::Pong(r) => Seen::Pong(inside(&r)),
                    Event::Close { code, reason } => {
                        let reason = inside(&reason);
                        assert!(code == NO_STATUS || frame::valid_close_code(code));
                        assert!(reason.len() <= frame::MAX_CLOSE_REASON);
                        assert!(std::str::from_utf8(&reason).is_ok());
                        Seen::Close(code, reason)
                    }
                };
                if let Seen::Message(..) = s {
                    assert_eq!(reader.held(), 0, "a message ended but memory is held");
                }
                seen.push(s);
                buf.drain(..consumed);
            }
            Step::Absorbed(n) => {
                assert!(n > 0 && n <= buf.len(), "absorbed {n} of {}", buf.len());
                buf.drain(..n);
                // What is left is an incomplete frame.
                assert!(matches!(
                    reader.next(&mut buf, max, inflate.as_deref_mut()),
                    Step::NeedMore
                ));
            }
            Step::NeedMore => match reads.next() {
                Some(end) if end >= fed => {
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
                Some(_) => {}
                None => return seen,
            },
            Step::Fail(code, reason) => {
                assert!([PROTOCOL, INVALID_DATA, TOO_BIG].contains(&code), "{code}");
                assert!(!reason.is_empty() && reason.len() <= frame::MAX_CLOSE_REASON);
                assert_eq!(reader.held(), 0);
                seen.push(Seen::Fail(code));
                return seen;
            }
        }
    }
}

fn one(input: &[u8]) -> Vec<Seen> {
    drive(input, &[], 1 << 20, None)
}

const M: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    client_frame(fin, false, opcode, payload, M)
}

fn text(s: &str) -> Seen {
    Seen::Message(false, s.as_bytes().to_vec())
}

// ---------------------------------------------------------------------------------------------
// Single frames
// ---------------------------------------------------------------------------------------------

#[test]
fn single_frame_is_in_place() {
    // RFC 6455 §5.7: a single-frame masked text message.
    let mut buf = vec![
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0x82,
    ];
    let mut r = Reader::default();
    match r.next(&mut buf, 1 << 20, None) {
        Step::Event(
            Event::Message {
                binary: false,
                payload: Payload::InPlace(range),
            },
            11,
        ) => assert_eq!(&buf[range], b"Hello"),
        _ => panic!("not an in-place text message"),
    }
    assert_eq!(r.held(), 0);

    let mut bin = frame(true, 2, &[0, 159, 255]);
    assert!(matches!(
        r.next(&mut bin, 3, None),
        Step::Event(
            Event::Message {
                binary: true,
                payload: Payload::InPlace(_)
            },
            9
        )
    ));
}

#[test]
fn empty_messages() {
    let mut input = frame(true, 1, b"");
    input.extend(frame(true, 2, b""));
    input.extend(frame(false, 1, b""));
    input.extend(frame(true, 0, b""));
    assert_eq!(
        one(&input),
        [text(""), Seen::Message(true, vec![]), text("")]
    );
}

#[test]
fn back_to_back_messages_in_one_read() {
    let mut input = frame(true, 1, b"one");
    input.extend(frame(true, 2, b"two"));
    input.extend(frame(true, 1, "három".as_bytes()));
    assert_eq!(
        one(&input),
        [
            text("one"),
            Seen::Message(true, b"two".to_vec()),
            text("három")
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Fragmentation
// ---------------------------------------------------------------------------------------------

#[test]
fn fragmented_message_is_owned() {
    // RFC 6455 §5.7's fragmented "Hello", masked.
    let mut input = frame(false, 1, b"Hel");
    input.extend(frame(true, 0, b"lo"));
    let mut r = Reader::default();
    let len = input.len();
    match r.next(&mut input, 1 << 20, None) {
        Step::Event(
            Event::Message {
                binary: false,
                payload: Payload::Owned(v),
            },
            n,
        ) => {
            assert_eq!(v, b"Hello");
            assert_eq!(n, len);
        }
        _ => panic!("not an owned message"),
    }
    assert_eq!(r.held(), 0);
}

#[test]
fn fragments_are_absorbed_as_they_come() {
    let first = frame(false, 2, &[1; 100]);
    let second = frame(false, 0, &[2; 100]);
    let last = frame(true, 0, &[3; 10]);
    let mut buf = first.clone();
    buf.extend(&second);
    buf.extend(&last[..5]);
    let mut r = Reader::default();
    match r.next(&mut buf, 1 << 20, None) {
        Step::Absorbed(n) => assert_eq!(n, first.len() + second.len()),
        _ => panic!("fragments not absorbed"),
    }
    assert!(r.held() >= 200);
    let mut rest = last.clone();
    match r.next(&mut rest, 1 << 20, None) {
        Step::Event(
            Event::Message {
                binary: true,
                payload: Payload::Owned(v),
            },
            n,
        ) => {
            assert_eq!(n, last.len());
            assert_eq!(v.len(), 210);
            assert_eq!((v[0], v[100], v[209]), (1, 2, 3));
        }
        _ => panic!("no message"),
    }
    assert_eq!(r.held(), 0);
}

#[test]
fn a_stream_of_empty_fragments_is_drained() {
    // Without Absorbed the caller would keep all of these until the message ended.
    let mut input = frame(false, 1, b"");
    for _ in 0..1000 {
        input.extend(frame(false, 0, b""));
    }
    let mut buf = input.clone();
    buf.push(0x80); // the start of the next frame
    let mut r = Reader::default();
    assert!(matches!(r.next(&mut buf, 16, None), Step::Absorbed(n) if n == input.len()));
    assert_eq!(r.held(), 0);
}

#[test]
fn control_frames_between_fragments() {
    let mut input = frame(false, 1, b"Hel");
    input.extend(frame(true, 9, b"ping!"));
    input.extend(frame(false, 0, b"l"));
    input.extend(frame(true, 0xA, b""));
    input.extend(frame(true, 0, b"o"));
    assert_eq!(
        one(&input),
        [
            Seen::Ping(b"ping!".to_vec()),
            Seen::Pong(vec![]),
            text("Hello")
        ]
    );
    // The ping's range and consumed count cover the fragment absorbed before it.
    let mut r = Reader::default();
    let mut buf = input.clone();
    match r.next(&mut buf, 1 << 20, None) {
        Step::Event(Event::Ping(range), n) => {
            assert_eq!(n, 9 + 11);
            assert_eq!(range, 15..20);
            assert_eq!(&buf[range], b"ping!");
        }
        _ => panic!("no ping"),
    }
}

#[test]
fn fragmentation_errors() {
    // A continuation with no message started.
    assert_eq!(one(&frame(true, 0, b"x")), [Seen::Fail(PROTOCOL)]);
    // A new data frame before the fragmented message ended.
    for opcode in [1, 2] {
        let mut input = frame(false, 1, b"a");
        input.extend(frame(true, opcode, b"b"));
        assert_eq!(one(&input), [Seen::Fail(PROTOCOL)]);
    }
    // RSV1 on a continuation frame, even with compression.
    let mut input = frame(false, 1, b"a");
    input.extend(client_frame(true, true, 0, b"b", M));
    let mut x = Xor::default();
    assert_eq!(
        drive(&input, &[], 100, Some(&mut x)),
        [Seen::Fail(PROTOCOL)]
    );
    // RSV1 without compression negotiated.
    assert_eq!(
        one(&client_frame(true, true, 1, b"a", M)),
        [Seen::Fail(PROTOCOL)]
    );
    // Unmasked (frame.rs checks the rest of the head).
    assert_eq!(one(&[0x81, 0x01, b'a']), [Seen::Fail(PROTOCOL)]);
}

// ---------------------------------------------------------------------------------------------
// UTF-8
// ---------------------------------------------------------------------------------------------

#[test]
fn utf8_across_fragments() {
    let euro = "€".as_bytes();
    let mut input = frame(false, 1, &euro[..1]);
    input.extend(frame(false, 0, &euro[1..2]));
    input.extend(frame(true, 9, b""));
    input.extend(frame(true, 0, &euro[2..]));
    assert_eq!(one(&input), [Seen::Ping(vec![]), text("€")]);
}

#[test]
fn invalid_utf8() {
    // In one frame.
    assert_eq!(one(&frame(true, 1, b"a\xFF")), [Seen::Fail(INVALID_DATA)]);
    // In a fragment: fails there, before the message ends.
    let mut input = frame(false, 1, &[0xED, 0xA0, 0x80]);
    input.extend(frame(false, 0, b"more"));
    assert_eq!(one(&input), [Seen::Fail(INVALID_DATA)]);
    // Split across fragments.
    let mut input = frame(false, 1, &[0xF0, 0x9F]);
    input.extend(frame(true, 0, b"x"));
    assert_eq!(one(&input), [Seen::Fail(INVALID_DATA)]);
    // A character left unfinished at the message's end.
    let mut input = frame(false, 1, b"ok");
    input.extend(frame(true, 0, &[0xE2, 0x82]));
    assert_eq!(one(&input), [Seen::Fail(INVALID_DATA)]);
    // Binary messages are not checked.
    assert_eq!(
        one(&frame(true, 2, &[0xFF])),
        [Seen::Message(true, vec![0xFF])]
    );
    // Compressed text is checked after inflating.
    let mut x = Xor::default();
    let input = client_frame(true, true, 1, &xor(&[b'a', 0xC0, 0x80]), M);
    assert_eq!(
        drive(&input, &[], 100, Some(&mut x)),
        [Seen::Fail(INVALID_DATA)]
    );
}

// ---------------------------------------------------------------------------------------------
// Close frames
// ---------------------------------------------------------------------------------------------

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

#[test]
fn close_frames() {
    assert_eq!(one(&frame(true, 8, b"")), [Seen::Close(NO_STATUS, vec![])]);
    assert_eq!(
        one(&frame(true, 8, &close_payload(NORMAL, b"bye"))),
        [Seen::Close(NORMAL, b"bye".to_vec())]
    );
    assert_eq!(
        one(&frame(true, 8, &close_payload(4321, "ütf".as_bytes()))),
        [Seen::Close(4321, "ütf".as_bytes().to_vec())]
    );
    let reason = [b'r'; 123];
    assert_eq!(
        one(&frame(true, 8, &close_payload(3000, &reason))),
        [Seen::Close(3000, reason.to_vec())]
    );
}

#[test]
fn close_errors() {
    assert_eq!(one(&frame(true, 8, &[0x03])), [Seen::Fail(PROTOCOL)]);
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        assert_eq!(
            one(&frame(true, 8, &close_payload(code, b""))),
            [Seen::Fail(PROTOCOL)],
            "code {code}"
        );
    }
    assert_eq!(
        one(&frame(true, 8, &close_payload(NORMAL, &[0xCE, 0xBA, 0xE1]))),
        [Seen::Fail(INVALID_DATA)]
    );
    // Over 125 bytes: a control frame too long (frame.rs).
    assert_eq!(
        one(&frame(true, 8, &close_payload(NORMAL, &[b'r'; 124]))),
        [Seen::Fail(PROTOCOL)]
    );
}

#[test]
fn close_amid_a_fragmented_message_frees_it() {
    let mut buf = frame(false, 2, &[7; 300]);
    buf.extend(frame(true, 8, &close_payload(1001, b"")));
    let mut r = Reader::default();
    assert!(matches!(
        r.next(&mut buf, 1 << 20, None),
        Step::Event(Event::Close { code: 1001, .. }, _)
    ));
    assert_eq!(r.held(), 0);
}

// ---------------------------------------------------------------------------------------------
// max_payload
// ---------------------------------------------------------------------------------------------

#[test]
fn max_payload_over_the_whole_message() {
    // Exactly the limit passes, in one frame or in fragments.
    assert_eq!(
        drive(&frame(true, 2, &[1; 10]), &[], 10, None),
        [Seen::Message(true, vec![1; 10])]
    );
    let mut input = frame(false, 2, &[1; 6]);
    input.extend(frame(true, 0, &[1; 4]));
    assert_eq!(
        drive(&input, &[], 10, None),
        [Seen::Message(true, vec![1; 10])]
    );
    // One byte more does not, known from the head alone (the payload never has to arrive).
    let f = frame(true, 2, &[1; 11]);
    let mut r = Reader::default();
    assert!(matches!(
        r.next(&mut f[..6].to_vec(), 10, None),
        Step::Fail(TOO_BIG, _)
    ));
    let mut input = frame(false, 2, &[1; 6]);
    input.extend(frame(true, 0, &[1; 5]));
    assert_eq!(drive(&input, &[], 10, None), [Seen::Fail(TOO_BIG)]);
    // Control frames are bounded by 125, not by max_payload.
    assert_eq!(
        drive(&frame(true, 9, &[1; 100]), &[], 10, None),
        [Seen::Ping(vec![1; 100])]
    );
    // Compressed: the inflated size counts.
    let mut x = Xor::default();
    let input = client_frame(true, true, 2, &xor(&[9; 11]), M);
    assert_eq!(drive(&input, &[], 10, Some(&mut x)), [Seen::Fail(TOO_BIG)]);
    let mut x = Xor::default();
    let mut input = client_frame(false, true, 2, &xor(&[9; 10]), M);
    input.extend(frame(true, 0, &xor(&[9; 1])));
    assert_eq!(drive(&input, &[], 10, Some(&mut x)), [Seen::Fail(TOO_BIG)]);
}

/// A decompressor that ignores the limit must not get a message past it either.
struct Careless;

impl Decompress for Careless {
    fn decompress(
        &mut self,
        input: &[u8],
        _: bool,
        out: &mut Vec<u8>,
        _: usize,
    ) -> Result<(), u16> {
        out.extend_from_slice(input);
        out.extend_from_slice(input);
        Ok(())
    }
}

#[test]
fn limit_holds_whatever_the_decompressor_does() {
    let input = client_frame(true, true, 2, &[1; 6], M);
    assert_eq!(
        drive(&input, &[], 10, Some(&mut Careless)),
        [Seen::Fail(TOO_BIG)]
    );
}

// ---------------------------------------------------------------------------------------------
// Compression
// ---------------------------------------------------------------------------------------------

#[test]
fn compressed_messages() {
    let mut x = Xor::default();
    let mut input = client_frame(true, true, 1, &xor(b"single"), M);
    // Fragmented: RSV1 on the first frame only; a ping between; an empty last frame.
    input.extend(client_frame(false, true, 2, &xor(b"frag"), M));
    input.extend(frame(true, 9, b"p"));
    input.extend(frame(false, 0, &xor(b"mented")));
    input.extend(frame(true, 0, b""));
    // Uncompressed messages still pass with compression negotiated.
    input.extend(frame(true, 1, b"plain"));
    assert_eq!(
        drive(&input, &[], 100, Some(&mut x)),
        [
            text("single"),
            Seen::Ping(b"p".to_vec()),
            Seen::Message(true, b"fragmented".to_vec()),
            text("plain"),
        ]
    );
    // `last` on each message's final frame only.
    assert_eq!(x.lasts, [true, false, false, true]);
}

#[test]
fn corrupt_compressed_data() {
    let mut x = Xor {
        strict: true,
        ..Xor::default()
    };
    let input = client_frame(true, true, 2, &[0xFF, 1, 2], M);
    assert_eq!(
        drive(&input, &[], 100, Some(&mut x)),
        [Seen::Fail(INVALID_DATA)]
    );
}

// ---------------------------------------------------------------------------------------------
// Idle cost
// ---------------------------------------------------------------------------------------------

#[test]
fn idle_reader_is_small() {
    // Part of the 4 KiB an idle socket may cost: a Vec header, the validator and the state.
    assert!(
        std::mem::size_of::<Reader>() <= 40,
        "{}",
        std::mem::size_of::<Reader>()
    );
    let mut r = Reader::default();
    let mut buf = frame(false, 1, &[b'a'; 1000]);
    assert!(matches!(r.next(&mut buf, 1 << 20, None), Step::Absorbed(_)));
    assert!(r.held() >= 1000);
    let mut buf = frame(true, 0xA, b"");
    buf.extend(frame(true, 2, b"x")); // a new message mid-way: 1002
    assert!(matches!(r.next(&mut buf, 1 << 20, None), Step::Event(Event::Pong(_), n) if n == 6));
    let mut buf = buf[6..].to_vec();
    assert!(matches!(
        r.next(&mut buf, 1 << 20, None),
        Step::Fail(PROTOCOL, _)
    ));
    assert_eq!(r.held(), 0);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// The crate's property settings (`PROPTEST_CASES`, failures kept and replayed first).
use crate::properties::config;

/// Read boundaries anywhere in `len` bytes, sorted.
fn cuts(len: usize, picks: &[Index]) -> Vec<usize> {
    let mut c: Vec<usize> = picks.iter().map(|i| i.index(len + 1)).collect();
    c.sort_unstable();
    c
}

/// Frame-shaped noise: heads with any bits (masked most of the time), short payloads, then a
/// few bytes flipped, so the checks past the first byte are reached.
fn noisy_frames() -> impl Strategy<Value = Vec<u8>> {
    let one = (
        any::<u8>(),
        prop_oneof![8 => Just(0x80u8), 1 => Just(0)],
        prop_oneof![8 => 0usize..20, 1 => 120usize..130, 1 => Just(300)],
        any::<[u8; 4]>(),
        any::<u8>(),
    )
        .prop_map(|(b0, mask_bit, len, mask, fill)| {
            let mut f = vec![b0];
            if len < 126 {
                f.push(mask_bit | len as u8);
            } else {
                f.push(mask_bit | 126);
                f.extend_from_slice(&(len as u16).to_be_bytes());
            }
            f.extend_from_slice(&mask);
            f.extend(std::iter::repeat_n(fill, len));
            f
        });
    (
        proptest::collection::vec(one, 0..8),
        proptest::collection::vec((any::<Index>(), any::<u8>()), 0..4),
    )
        .prop_map(|(frames, flips)| {
            let mut bytes = frames.concat();
            if !bytes.is_empty() {
                for (at, b) in flips {
                    let i = at.index(bytes.len());
                    bytes[i] = b;
                }
            }
            bytes
        })
}

/// One message as a client may send it.
#[derive(Debug, Clone)]
struct Sent {
    binary: bool,
    data: Vec<u8>,
    compressed: bool,
    /// Where fragments end, within data.
    splits: Vec<Index>,
    /// A ping (payload) after fragment i, for some i.
    pings: Vec<(Index, Vec<u8>)>,
}

fn sent() -> impl Strategy<Value = Sent> {
    (
        prop_oneof![
            ".{0,40}".prop_map(|s| (false, s.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|v| (true, v)),
        ],
        any::<bool>(),
        proptest::collection::vec(any::<Index>(), 0..5),
        proptest::collection::vec(
            (
                any::<Index>(),
                proptest::collection::vec(any::<u8>(), 0..126),
            ),
            0..3,
        ),
    )
        .prop_map(|((binary, data), compressed, splits, pings)| Sent {
            binary,
            data,
            compressed,
            splits,
            pings,
        })
}

/// The wire bytes for `messages` (every frame masked with a key from `keys`) and the events a
/// server must see for them.
fn encode(messages: &[Sent], keys: &mut impl Iterator<Item = [u8; 4]>) -> (Vec<u8>, Vec<Seen>) {
    let mut wire = Vec::new();
    let mut want = Vec::new();
    for m in messages {
        let body = if m.compressed {
            xor(&m.data)
        } else {
            m.data.clone()
        };
        let mut ends = cuts(body.len(), &m.splits);
        ends.push(body.len());
        ends.dedup();
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let first = i == 0;
            let fin = i == ends.len() - 1;
            let opcode = match (first, m.binary) {
                (false, _) => 0,
                (true, false) => 1,
                (true, true) => 2,
            };
            let key = keys.next().unwrap();
            wire.extend(client_frame(
                fin,
                first && m.compressed,
                opcode,
                &body[start..end],
                key,
            ));
            start = end;
            if !fin {
                for (at, ping) in &m.pings {
                    if at.index(ends.len()) == i {
                        wire.extend(client_frame(true, false, 9, ping, keys.next().unwrap()));
                        want.push(Seen::Ping(ping.clone()));
                    }
                }
            }
        }
        want.push(Seen::Message(m.binary, m.data.clone()));
    }
    (wire, want)
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes, read in any pieces, with and without compression: no panic, every promise
    /// `drive` checks holds (consumed and ranges within the buffer, messages within max_payload,
    /// text and close reasons UTF-8, close codes valid, only 1002/1007/1009), and the events do
    /// not depend on where the reads were cut.
    #[test]
    fn any_bytes(
        bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..400), noisy_frames()],
        picks in proptest::collection::vec(any::<Index>(), 0..8),
        max in prop_oneof![0usize..40, Just(1 << 20)],
        compression in any::<bool>(),
    ) {
        let cut = cuts(bytes.len(), &picks);
        let (mut a, mut b) = (Xor::default(), Xor::default());
        let (a, b): (Option<&mut dyn Decompress>, Option<&mut dyn Decompress>) = if compression {
            (Some(&mut a), Some(&mut b))
        } else {
            (None, None)
        };
        let whole = drive(&bytes, &[], max, a);
        let pieces = drive(&bytes, &cut, max, b);
        prop_assert_eq!(whole, pieces);
    }

    /// Valid traffic comes out as sent: messages fragmented anywhere, text or binary, compressed
    /// or not, each frame masked with its own random key, pings between fragments, read in
    /// pieces cut anywhere, with max_payload exactly the largest message.
    #[test]
    fn valid_traffic_reassembles(
        messages in proptest::collection::vec(sent(), 0..6),
        keys in proptest::collection::vec(any::<[u8; 4]>(), 64),
        picks in proptest::collection::vec(any::<Index>(), 0..12),
    ) {
        let (wire, want) = encode(&messages, &mut keys.into_iter().cycle());
        let max = messages.iter().map(|m| m.data.len()).max().unwrap_or(0);
        let mut x = Xor::default();
        let got = drive(&wire, &cuts(wire.len(), &picks), max, Some(&mut x));
        prop_assert_eq!(got, want);
        // One byte less and the largest message is refused with 1009, never delivered.
        if max > 0 {
            let mut x = Xor::default();
            let got = drive(&wire, &[], max - 1, Some(&mut x));
            prop_assert_eq!(got.last(), Some(&Seen::Fail(TOO_BIG)));
        }
    }
}
