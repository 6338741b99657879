//! Incremental UTF-8 validation: a text message arrives in fragments, and each fragment's bytes
//! in pieces, so a character may be split anywhere. RFC 6455 §8.1 wants the connection failed as
//! soon as the bytes cannot be UTF-8 (Autobahn's 6.x cases check "fail fast"). std's validator
//! does the work (its ASCII fast path is the hot one); this keeps the 1-3 bytes of a character
//! cut at a piece's end and finishes it with the next piece.

/// Longest UTF-8 sequence.
const MAX_SEQ: usize = 4;

#[derive(Default, Clone, Debug)]
pub struct Utf8Validator {
    /// The start of a character the last piece ended inside (never a whole one).
    pending: [u8; MAX_SEQ - 1],
    pending_len: u8,
    /// Sticky: once invalid, every later answer is false until `finish` resets.
    failed: bool,
}

impl Utf8Validator {
    /// false as soon as the bytes so far cannot be a prefix of valid UTF-8.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if self.failed {
            return false;
        }
        let rest = match self.complete_pending(bytes) {
            Some(rest) => rest,
            None => {
                self.failed = true;
                return false;
            }
        };
        match std::str::from_utf8(rest) {
            Ok(_) => true,
            Err(e) if e.error_len().is_some() => {
                self.failed = true;
                false
            }
            Err(e) => {
                // Cut inside a character: std guarantees at most 3 bytes, a valid prefix.
                let tail = &rest[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                true
            }
        }
    }

    /// true when complete (no partial sequence left). Resets the validator for the next message.
    pub fn finish(&mut self) -> bool {
        let ok = !self.failed && self.pending_len == 0;
        *self = Self::default();
        ok
    }

    /// Finishes the character the previous piece ended inside with the front of `bytes`; returns
    /// what follows it, or None when the character is invalid.
    fn complete_pending<'b>(&mut self, bytes: &'b [u8]) -> Option<&'b [u8]> {
        let have = usize::from(self.pending_len);
        if have == 0 {
            return Some(bytes);
        }
        // The lead byte was a valid start (std called the sequence incomplete, not invalid),
        // so its high bits say the length.
        let need = match self.pending[0] {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let take = (need - have).min(bytes.len());
        let mut seq = [0u8; MAX_SEQ];
        seq[..have].copy_from_slice(&self.pending[..have]);
        seq[have..have + take].copy_from_slice(&bytes[..take]);
        match std::str::from_utf8(&seq[..have + take]) {
            Ok(_) => {
                self.pending_len = 0;
                Some(&bytes[take..])
            }
            Err(e) if e.error_len().is_some() => None,
            Err(_) => {
                // Still incomplete: `bytes` ran out before the character did.
                self.pending[..have + take].copy_from_slice(&seq[..have + take]);
                self.pending_len = (have + take) as u8;
                Some(&[])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pieces(bytes: &[u8], cuts: &[usize]) -> (bool, bool) {
        let mut v = Utf8Validator::default();
        let mut at = 0;
        let mut fed_ok = true;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            let cut = cut.clamp(at, bytes.len());
            fed_ok &= v.feed(&bytes[at..cut]);
            at = cut;
        }
        (fed_ok, v.finish())
    }

    #[test]
    fn valid_text_split_everywhere() {
        let text = "aé€😀z".as_bytes();
        for i in 0..=text.len() {
            for j in i..=text.len() {
                assert_eq!(pieces(text, &[i, j]), (true, true), "cuts {i} {j}");
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let text = "κόσμε 😀 \u{10FFFF}".as_bytes();
        let mut v = Utf8Validator::default();
        for b in text {
            assert!(v.feed(std::slice::from_ref(b)));
        }
        assert!(v.finish());
    }

    #[test]
    fn fails_fast() {
        // Autobahn 6.4.x: the failure is known at the first impossible byte, not at the end.
        let mut v = Utf8Validator::default();
        assert!(v.feed("κόσμε".as_bytes()));
        assert!(v.feed(&[0xF4]));
        assert!(!v.feed(&[0x90])); // U+110000 and up: past Unicode
        assert!(!v.feed(b"ok")); // sticky
        assert!(!v.finish());
        assert!(v.feed(b"ok")); // reset by finish
        assert!(v.finish());
    }

    #[test]
    fn invalid_cases() {
        let bad: &[&[u8]] = &[
            &[0xC0, 0x80],             // overlong NUL
            &[0xED, 0xA0, 0x80],       // surrogate
            &[0xFF],                   // never valid
            &[0x80],                   // lone continuation
            &[0xE2, 0x82],             // truncated at the end (finish)
            &[0xF0, 0x9F, 0x98, b'a'], // interrupted
        ];
        for b in bad {
            for cut in 0..=b.len() {
                let (fed, fin) = pieces(b, &[cut]);
                assert!(!(fed && fin), "{b:?} cut at {cut}");
            }
        }
        // Incomplete only: every feed accepts, finish refuses.
        assert_eq!(pieces(&[0xE2, 0x82], &[1]), (true, false));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any bytes (biased towards multi-byte characters), cut anywhere: the validator agrees
        /// with std::str::from_utf8 on the whole, and a piece is refused only if the whole is
        /// invalid.
        #[test]
        fn agrees_with_std(
            bytes in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..64),
                ".{0,24}".prop_map(String::into_bytes),
                (".{0,24}", any::<usize>(), any::<u8>()).prop_map(|(s, at, b)| {
                    let mut v = s.into_bytes();
                    if !v.is_empty() { let i = at % v.len(); v[i] = b; }
                    v
                }),
            ],
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let (fed, fin) = pieces(&bytes, &cuts);
            let valid = std::str::from_utf8(&bytes).is_ok();
            prop_assert_eq!(fed && fin, valid);
            // feed alone says false only when no continuation could make it valid.
            let prefix_ok = match std::str::from_utf8(&bytes) {
                Ok(_) => true,
                Err(e) => e.error_len().is_none(),
            };
            prop_assert_eq!(fed, prefix_ok);
        }
    }
}
