//! WebSocket frames (RFC 6455 §5): the head of a client frame read from the front of a buffer,
//! payload unmasking, and the heads of the frames the server writes (never masked, §5.1). Knows
//! nothing of messages: fragmentation, UTF-8 and limits over a message are `message.rs`'s.

use super::close_code::{PROTOCOL, TOO_BIG};

/// Largest payload of a control frame (§5.5): its length must fit the 7-bit field.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Longest close reason (§5.5.1): a close frame's 125 bytes less the 2 of its code.
pub const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// Longest frame head: 2 bytes, an 8-byte extended length, a 4-byte mask.
pub const MAX_HEAD: usize = 14;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    /// The 4-bit opcode on the wire.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// The opcode for 4 wire bits; None for the reserved ones (3-7, B-F).
    pub fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    /// Close, Ping and Pong (§5.5): never fragmented, at most 125 bytes, allowed between the
    /// fragments of a message.
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }
}

#[derive(Clone, Copy, Debug)]
pub struct FrameHead {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: Opcode,
    /// Bytes of the head (2 to 14): the payload starts there.
    pub header_len: usize,
    pub payload_len: usize,
    pub mask: [u8; 4],
}

impl FrameHead {
    /// Bytes of the whole frame, head and payload.
    pub fn frame_len(&self) -> usize {
        // Cannot overflow: payload_len was checked against a usize max_payload, and a caller's
        // buffer holding the frame must fit in memory anyway; saturate rather than trust that.
        self.header_len.saturating_add(self.payload_len)
    }
}

#[derive(Debug)]
pub enum Parsed {
    Frame(FrameHead),
    NeedMore,
    Fail(u16 /* close code */, &'static str /* reason */),
}

/// A client frame's head at the front of buf. Fails (1002) on: unmasked frame, RSV2/RSV3, RSV1
/// unless `rsv1_allowed` (compression negotiated) or on a control frame, reserved opcodes, control
/// frame with FIN=0 or payload > 125, 64-bit length with the top bit set; (1009) payload_len >
/// max_payload. Every check the first two bytes allow is made before asking for more, so a bad
/// frame fails at once. Lengths not in their shortest form are accepted (as browsers' peers and
/// the `ws` package do): the RFC's "minimal number of bytes" guards nothing on the reading side.
pub fn parse_head(buf: &[u8], max_payload: usize, rsv1_allowed: bool) -> Parsed {
    let [b0, b1, ..] = *buf else {
        return Parsed::NeedMore;
    };
    if b0 & 0x30 != 0 {
        return Parsed::Fail(PROTOCOL, "reserved bits set");
    }
    let Some(opcode) = Opcode::from_bits(b0 & 0x0F) else {
        return Parsed::Fail(PROTOCOL, "reserved opcode");
    };
    let fin = b0 & 0x80 != 0;
    let rsv1 = b0 & 0x40 != 0;
    if rsv1 && (!rsv1_allowed || opcode.is_control()) {
        return Parsed::Fail(PROTOCOL, "RSV1 set without compression");
    }
    if b1 & 0x80 == 0 {
        return Parsed::Fail(PROTOCOL, "unmasked client frame");
    }
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Parsed::Fail(PROTOCOL, "fragmented control frame");
        }
        if usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Parsed::Fail(PROTOCOL, "control frame too long");
        }
    }
    let (len, at) = match len7 {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Parsed::NeedMore;
            };
            (u64::from(u16::from_be_bytes([b[0], b[1]])), 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Parsed::NeedMore;
            };
            let len = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            if len >> 63 != 0 {
                return Parsed::Fail(PROTOCOL, "frame length top bit set");
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    // Checked before the mask arrives: a frame too big fails as soon as its length is known.
    // usize::try_from fails only where usize is narrower than the length, which is over any max.
    let payload_len = match usize::try_from(len) {
        Ok(n) if n <= max_payload => n,
        _ => return Parsed::Fail(TOO_BIG, "message too big"),
    };
    let Some(m) = buf.get(at..at + 4) else {
        return Parsed::NeedMore;
    };
    Parsed::Frame(FrameHead {
        fin,
        rsv1,
        opcode,
        header_len: at + 4,
        payload_len,
        mask: [m[0], m[1], m[2], m[3]],
    })
}

/// XORs `data` with `mask`, `offset` = bytes of this payload already unmasked (so it can be done
/// in pieces). Eight bytes at a time: the compiler turns the loop into vector XORs (tens of GB/s
/// against under 4 byte by byte), with no unsafe.
pub fn unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut m = mask;
    m.rotate_left(offset % 4);
    let wide = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut words = data.chunks_exact_mut(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        word.copy_from_slice(&(u64::from_ne_bytes(w) ^ wide).to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, so the mask's phase is m[0] again.
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= m[i & 3];
    }
}

/// Appends a server frame head (never masked): 2, 4 or 10 bytes.
pub fn write_head(out: &mut Vec<u8>, fin: bool, rsv1: bool, opcode: Opcode, len: usize) {
    let b0 = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode.bits();
    if len < 126 {
        out.extend_from_slice(&[b0, len as u8]);
    } else if let Ok(short) = u16::try_from(len) {
        let l = short.to_be_bytes();
        out.extend_from_slice(&[b0, 126, l[0], l[1]]);
    } else {
        out.extend_from_slice(&[b0, 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends a whole close frame (code + reason, reason cut to 123 bytes at a char boundary).
/// Code 1005 ("no status", never sent on the wire, §7.4.1) writes a close frame with an empty
/// payload: the answer to a close that carried no code.
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    if code == super::close_code::NO_STATUS {
        write_head(out, true, false, Opcode::Close, 0);
        return;
    }
    let mut cut = reason.len().min(MAX_CLOSE_REASON);
    // Back off continuation bytes (10xxxxxx) so a multi-byte character is never split.
    while cut < reason.len() && cut > 0 && reason[cut] & 0xC0 == 0x80 {
        cut -= 1;
    }
    let reason = &reason[..cut];
    write_head(out, true, false, Opcode::Close, 2 + reason.len());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
}

/// Whether a received close code is valid on the wire (RFC 6455 §7.4; 1000-1003, 1007-1014,
/// 3000-4999). 1004-1006 and 1015 are reserved never to be sent; 1012-1014 are IANA-registered
/// (service restart, try again later, bad gateway); 3000-4999 belong to libraries and apps.
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ws::close_code;

    /// A masked client frame, as a browser sends it.
    pub(crate) fn client_frame(
        fin: bool,
        rsv1: bool,
        opcode: u8,
        payload: &[u8],
        mask: [u8; 4],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let b0 = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode;
        let len = payload.len();
        if len < 126 {
            out.extend_from_slice(&[b0, 0x80 | len as u8]);
        } else if len <= 0xFFFF {
            out.extend_from_slice(&[b0, 0x80 | 126]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.extend_from_slice(&[b0, 0x80 | 127]);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        let start = out.len();
        out.extend_from_slice(payload);
        unmask(&mut out[start..], mask, 0);
        out
    }

    fn head(buf: &[u8]) -> FrameHead {
        match parse_head(buf, 1 << 20, false) {
            Parsed::Frame(h) => h,
            Parsed::NeedMore => panic!("need more"),
            Parsed::Fail(c, r) => panic!("fail {c} {r}"),
        }
    }

    fn fails(buf: &[u8], max: usize, rsv1_allowed: bool) -> (u16, &'static str) {
        match parse_head(buf, max, rsv1_allowed) {
            Parsed::Fail(c, r) => (c, r),
            Parsed::Frame(h) => panic!("parsed {h:?}"),
            Parsed::NeedMore => panic!("need more"),
        }
    }

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7: a single-frame masked text message "Hello".
        let mut frame = vec![
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let h = head(&frame);
        assert!(h.fin && !h.rsv1);
        assert_eq!(h.opcode, Opcode::Text);
        assert_eq!((h.header_len, h.payload_len), (6, 5));
        unmask(&mut frame[6..], h.mask, 0);
        assert_eq!(&frame[6..], b"Hello");

        // And the unmasked server frame the same section shows.
        let mut out = Vec::new();
        write_head(&mut out, true, false, Opcode::Text, 5);
        out.extend_from_slice(b"Hello");
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    }

    #[test]
    fn lengths_of_every_width() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 1 << 20] {
            let f = client_frame(true, false, 2, &vec![0xAB; len], [1, 2, 3, 4]);
            let h = head(&f);
            assert_eq!(h.payload_len, len);
            assert_eq!(h.frame_len(), f.len());
            let expected_head = 6 + if len < 126 {
                0
            } else if len < 65536 {
                2
            } else {
                8
            };
            assert_eq!(h.header_len, expected_head);
            // Every strict prefix of the head asks for more.
            for cut in 0..h.header_len {
                assert!(matches!(
                    parse_head(&f[..cut], 1 << 20, false),
                    Parsed::NeedMore
                ));
            }
        }
    }

    #[test]
    fn non_minimal_length_is_accepted() {
        let f = [0x82, 0x80 | 126, 0, 5, 1, 2, 3, 4, 0, 0, 0, 0, 0];
        assert_eq!(head(&f).payload_len, 5);
    }

    #[test]
    fn every_failure() {
        let p = close_code::PROTOCOL;
        let m = [0x80, 0, 0, 0, 0];
        // unmasked
        assert_eq!(
            fails(&[0x81, 0x05], 100, false),
            (p, "unmasked client frame")
        );
        // RSV2, RSV3
        assert_eq!(fails(&[0xA1, 0x80], 100, true).0, p);
        assert_eq!(fails(&[0x91, 0x80], 100, true).0, p);
        // RSV1 without compression; allowed with it; never on control frames
        assert_eq!(fails(&[0xC1, 0x80], 100, false).0, p);
        assert!(matches!(
            parse_head(&[0xC1, 0x80, 0, 0, 0, 0], 100, true),
            Parsed::Frame(FrameHead { rsv1: true, .. })
        ));
        assert_eq!(fails(&[0xC9, 0x80], 100, true).0, p);
        // reserved opcodes
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                fails(&[0x80 | op, 0x80], 100, false),
                (p, "reserved opcode")
            );
        }
        // control frame fragmented, or over 125 (with a 16-bit length too)
        for op in [8u8, 9, 0xA] {
            assert_eq!(fails(&[op, 0x80], 100, false).0, p);
            assert_eq!(fails(&[0x80 | op, 0x80 | 126], 100, false).0, p);
            assert_eq!(fails(&[0x80 | op, 0x80 | 127], 100, false).0, p);
        }
        // 64-bit length with the top bit set
        let mut f = vec![0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        f.extend_from_slice(&m[..4]);
        assert_eq!(
            fails(&f, usize::MAX, false),
            (p, "frame length top bit set")
        );
        // over max_payload, known before the mask arrives
        assert_eq!(
            fails(&[0x82, 0x80 | 11], 10, false),
            (close_code::TOO_BIG, "message too big")
        );
        assert_eq!(
            fails(&[0x82, 0x80 | 126, 1, 0], 255, false).0,
            close_code::TOO_BIG
        );
        let f = [
            0x82,
            0x80 | 127,
            0x7F,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
        ];
        assert_eq!(fails(&f, 1 << 31, false).0, close_code::TOO_BIG);
        // exactly max_payload is fine
        assert!(matches!(
            parse_head(&[0x82, 0x80 | 10, 0, 0, 0, 0], 10, false),
            Parsed::Frame(_)
        ));
    }

    #[test]
    fn unmask_in_pieces_matches_whole() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..100u8).collect();
        let mut whole = data.clone();
        unmask(&mut whole, mask, 0);
        for (i, b) in whole.iter().enumerate() {
            assert_eq!(*b, data[i] ^ mask[i % 4]);
        }
        for split in 0..data.len() {
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(split);
            unmask(a, mask, 0);
            unmask(b, mask, split);
            assert_eq!(pieces, whole, "split at {split}");
        }
    }

    #[test]
    fn server_heads() {
        let cases: [(usize, &[u8]); 5] = [
            (0, &[0x82, 0]),
            (125, &[0x82, 125]),
            (126, &[0x82, 126, 0, 126]),
            (65535, &[0x82, 126, 0xFF, 0xFF]),
            (65536, &[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ];
        for (len, want) in cases {
            let mut out = Vec::new();
            write_head(&mut out, true, false, Opcode::Binary, len);
            assert_eq!(out, want, "len {len}");
        }
        let mut out = Vec::new();
        write_head(&mut out, false, true, Opcode::Text, 3);
        assert_eq!(out, [0x41, 3]);
        out.clear();
        write_head(&mut out, true, false, Opcode::Continuation, 1);
        assert_eq!(out, [0x80, 1]);
    }

    #[test]
    fn close_frames() {
        let mut out = Vec::new();
        write_close(&mut out, 1000, b"bye");
        assert_eq!(out, [0x88, 5, 0x03, 0xE8, b'b', b'y', b'e']);

        out.clear();
        write_close(&mut out, close_code::NO_STATUS, b"ignored");
        assert_eq!(out, [0x88, 0]);

        // 122 ASCII bytes then a 3-byte character: cut before it, not through it.
        let mut reason = vec![b'a'; 122];
        reason.extend_from_slice("€".as_bytes());
        out.clear();
        write_close(&mut out, 1001, &reason);
        assert_eq!(out[1] as usize, 2 + 122);
        assert_eq!(&out[4..], &reason[..122]);

        // Long ASCII: cut at exactly 123.
        out.clear();
        write_close(&mut out, 4000, &[b'x'; 300]);
        assert_eq!(out.len(), 2 + 125);
    }

    #[test]
    fn close_codes() {
        let valid: Vec<u16> = (0..=u16::MAX).filter(|&c| valid_close_code(c)).collect();
        assert_eq!(valid.len(), 4 + 8 + 2000);
        for c in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, u16::MAX] {
            assert!(!valid_close_code(c), "{c}");
        }
        for c in [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(valid_close_code(c), "{c}");
        }
    }
}
