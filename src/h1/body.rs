//! Chunked request bodies (RFC 9112 §7.1), decoded incrementally: the decoder keeps its place,
//! so a body that arrives one byte at a time costs linear work, not quadratic, and the caller
//! may drop the framing and data it already decoded (`forget_used`) so that nothing decoded
//! stays buffered twice.

/// Most hex digits a chunk size may have: 16 digits already exceed any body limit we allow.
const MAX_SIZE_DIGITS: u32 = 16;
/// Chunk extensions (and the whitespace before them) a whole body may carry. Nothing we serve
/// reads them, so they are only checked and skipped; the bound is node's own since
/// CVE-2024-22019, where an endless extension kept a connection reading forever.
pub const MAX_EXTENSION_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size {
        digits: u32,
    },
    /// Whitespace after the size or after an extension: only `;` may follow (BWS belongs to a
    /// chunk extension).
    SizeWs,
    /// After `;`: whitespace, then an extension name.
    ExtNameStart,
    ExtName,
    /// Whitespace after a name: `=` or `;` follows.
    ExtNameWs,
    /// After `=`: whitespace, then a token or a quoted string.
    ExtValueStart,
    ExtToken,
    ExtQuoted,
    /// After a backslash in a quoted string.
    ExtQuotedPair,
    /// After a quoted value: `;`, whitespace before one, or the end of the line.
    ExtEnd,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    /// A trailer field's name, up to its colon.
    TrailerName,
    /// A trailer field's value, up to CR.
    Trailer,
    TrailerLf,
    FinalLf,
    Done,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    /// The body is complete; `consumed` bytes of framing and data were used from the input.
    Done {
        consumed: usize,
    },
}

#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes of input already used.
    consumed: usize,
    /// Size of the chunk being read, then what is left of it.
    size: u64,
    trailer_bytes: usize,
    extension_bytes: usize,
    body: Vec<u8>,
    /// Decoded bytes already handed out (`drain_decoded`): they still count against the limit.
    drained: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        Self {
            state: State::Size { digits: 0 },
            consumed: 0,
            size: 0,
            trailer_bytes: 0,
            extension_bytes: 0,
            body: Vec::new(),
            drained: 0,
        }
    }

    /// Resumes decoding. `input` is every body byte received for this request since the last
    /// `forget_used` (the decoder remembers how much of it it has used). `Err` carries the
    /// status to answer: 413 past `body_limit`, 431 for trailers past `max_trailer`, 400 for
    /// bad framing or extensions past `MAX_EXTENSION_BYTES`.
    pub fn feed(
        &mut self,
        input: &[u8],
        body_limit: usize,
        max_trailer: usize,
    ) -> Result<Progress, u16> {
        let mut i = self.consumed;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Size { digits } => match hex_value(b) {
                    Some(v) => {
                        if digits == MAX_SIZE_DIGITS {
                            return Err(400);
                        }
                        self.size = (self.size << 4) | u64::from(v);
                        let decoded = (self.drained + self.body.len()) as u64;
                        if decoded.saturating_add(self.size) > body_limit as u64 {
                            return Err(413);
                        }
                        self.state = State::Size { digits: digits + 1 };
                    }
                    None if digits == 0 => return Err(400),
                    None => match b {
                        b'\r' => self.state = State::SizeLf,
                        b';' | b' ' | b'\t' => {
                            self.extension_bytes += 1;
                            self.state = extension(State::SizeWs, b)?;
                        }
                        _ => return Err(400),
                    },
                },
                State::SizeWs
                | State::ExtNameStart
                | State::ExtName
                | State::ExtNameWs
                | State::ExtValueStart
                | State::ExtToken
                | State::ExtQuoted
                | State::ExtQuotedPair
                | State::ExtEnd => {
                    self.extension_bytes += 1;
                    if self.extension_bytes > MAX_EXTENSION_BYTES {
                        return Err(400);
                    }
                    self.state = extension(self.state, b)?;
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(400);
                    }
                    self.state = if self.size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data
                    };
                }
                State::Data => {
                    let take = (input.len() - i).min(self.size as usize);
                    self.body.extend_from_slice(&input[i..i + take]);
                    self.size -= take as u64;
                    i += take;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    continue;
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(400);
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(400);
                    }
                    self.state = State::Size { digits: 0 };
                }
                State::TrailerStart => match b {
                    b'\r' => self.state = State::FinalLf,
                    // Trailers follow the field syntax: a token name (no obs-fold, no space
                    // before the colon), as llhttp requires.
                    b if super::encode::is_tchar(b) => {
                        self.state = State::TrailerName;
                        continue;
                    }
                    _ => return Err(400),
                },
                State::TrailerName => {
                    self.count_trailer(max_trailer)?;
                    match b {
                        b':' => self.state = State::Trailer,
                        b if super::encode::is_tchar(b) => {}
                        _ => return Err(400),
                    }
                }
                State::Trailer => {
                    self.count_trailer(max_trailer)?;
                    match b {
                        b'\r' => self.state = State::TrailerLf,
                        b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                        _ => return Err(400),
                    }
                }
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(400);
                    }
                    self.state = State::TrailerStart;
                }
                State::FinalLf => {
                    if b != b'\n' {
                        return Err(400);
                    }
                    self.state = State::Done;
                    self.consumed = i + 1;
                    return Ok(Progress::Done {
                        consumed: self.consumed,
                    });
                }
                State::Done => break,
            }
            i += 1;
        }
        self.consumed = i;
        if self.state == State::Done {
            return Ok(Progress::Done { consumed: i });
        }
        Ok(Progress::NeedMore)
    }

    fn count_trailer(&mut self, max_trailer: usize) -> Result<(), u16> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > max_trailer {
            return Err(431);
        }
        Ok(())
    }

    /// The decoded body, once `feed` said `Done`.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// Bytes of the input used so far: framing, extensions and data the body already holds.
    pub fn used(&self) -> usize {
        self.consumed
    }

    /// The caller dropped the `used()` bytes from the front of its input: the next `feed`
    /// starts with what came after them.
    pub fn forget_used(&mut self) {
        self.consumed = 0;
    }

    /// Bytes of decoded body so far.
    pub fn body_len(&self) -> usize {
        self.drained + self.body.len()
    }

    /// For a body streamed as it arrives: hands `f` what was decoded since the last call, then
    /// forgets it (its bytes still count against `body_limit`).
    pub fn drain_decoded(&mut self, f: impl FnOnce(&[u8])) {
        f(&self.body);
        self.drained += self.body.len();
        self.body.clear();
    }
}

/// One byte of a chunk extension (RFC 9112 §7.1.1):
/// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`, then CRLF. `state` is
/// where the extension stands before `b`; returns where it stands after.
fn extension(state: State, b: u8) -> Result<State, u16> {
    use super::encode::is_tchar;
    let ws = b == b' ' || b == b'\t';
    Ok(match state {
        State::SizeWs | State::ExtEnd if ws => State::SizeWs,
        State::SizeWs | State::ExtEnd | State::ExtName | State::ExtNameWs if b == b';' => {
            State::ExtNameStart
        }
        State::ExtEnd | State::ExtName if b == b'\r' => State::SizeLf,
        State::ExtNameStart if ws => State::ExtNameStart,
        State::ExtNameStart | State::ExtName if is_tchar(b) => State::ExtName,
        State::ExtName | State::ExtNameWs if ws => State::ExtNameWs,
        State::ExtName | State::ExtNameWs if b == b'=' => State::ExtValueStart,
        State::ExtValueStart if ws => State::ExtValueStart,
        State::ExtValueStart if b == b'"' => State::ExtQuoted,
        State::ExtValueStart | State::ExtToken if is_tchar(b) => State::ExtToken,
        State::ExtToken if b == b'\r' => State::SizeLf,
        State::ExtToken if b == b';' => State::ExtNameStart,
        State::ExtToken if ws => State::SizeWs,
        // qdtext: HTAB, SP, visible characters but `"` and `\`, obs-text.
        State::ExtQuoted if b == b'"' => State::ExtEnd,
        State::ExtQuoted if b == b'\\' => State::ExtQuotedPair,
        State::ExtQuoted if ws || (0x21..=0x7e).contains(&b) || b >= 0x80 => State::ExtQuoted,
        State::ExtQuotedPair if ws || (0x21..=0x7e).contains(&b) || b >= 0x80 => State::ExtQuoted,
        _ => return Err(400),
    })
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize), u16> {
        let mut d = ChunkedDecoder::new();
        match d.feed(input, 1 << 20, 1024)? {
            Progress::Done { consumed } => Ok((d.take_body(), consumed)),
            Progress::NeedMore => Err(0),
        }
    }

    #[test]
    fn decodes_chunks_with_extensions_and_trailers() {
        let raw = b"5\r\nhello\r\n6 ;name=v\r\n world\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let (body, consumed) = decode_all(raw).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(&raw[consumed..], b"NEXT");
    }

    #[test]
    fn byte_at_a_time_gives_the_same_body() {
        let raw = b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n";
        let mut d = ChunkedDecoder::new();
        for end in 1..raw.len() {
            assert_eq!(
                d.feed(&raw[..end], 1 << 20, 64),
                Ok(Progress::NeedMore),
                "at {end}"
            );
        }
        assert_eq!(
            d.feed(raw, 1 << 20, 64),
            Ok(Progress::Done {
                consumed: raw.len()
            })
        );
        assert_eq!(d.take_body(), b"abc0123456789");
    }

    #[test]
    fn rejects_bad_framing() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"5\r\nhelloXX",
            b"5\nhello\r\n",
            b"-5\r\n",
            b"5 x\r\n",
            b"0\r\nbad\ntrailer\r\n\r\n",
            b"5 \r\nhello\r\n0\r\n\r\n",
            b"0\r\nno-colon\r\n\r\n",
            b"0\r\n folded: x\r\n\r\n",
            b"0\r\nname : x\r\n\r\n",
        ] {
            assert_eq!(
                decode_all(bad),
                Err(400),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn chunk_extensions_follow_the_grammar() {
        for good in [
            "5;a\r\nhello\r\n0\r\n\r\n",
            "5;a=b\r\nhello\r\n0\r\n\r\n",
            "5 ; a = b ;c\r\nhello\r\n0\r\n\r\n",
            "5;a=\"x y;z\\\"q\"\r\nhello\r\n0\r\n\r\n",
            "5;a=\"\" ;b\r\nhello\r\n0;last=1\r\n\r\n",
            "5;a=b ;c\r\nhello\r\n0\r\n\r\n",
        ] {
            let (body, _) = decode_all(good.as_bytes()).unwrap_or_else(|e| panic!("{good:?}: {e}"));
            assert_eq!(body, b"hello", "{good:?}");
        }
        for bad in [
            "5;\r\nhello\r\n0\r\n\r\n",
            "2;\r\nhi\r\n0\r\n\r\n",
            "2;a=\"open\r\nhi\r\n0\r\n\r\n",
            "2;a=\r\nhi\r\n0\r\n\r\n",
            "2;a b\r\nhi\r\n0\r\n\r\n",
            "2;a \r\nhi\r\n0\r\n\r\n",
            "2;a=b \r\nhi\r\n0\r\n\r\n",
            "2;a=b\"c\"\r\nhi\r\n0\r\n\r\n",
            "2;=b\r\nhi\r\n0\r\n\r\n",
            "2;a=\"x\"y\r\nhi\r\n0\r\n\r\n",
            "2;a=\"\x01\"\r\nhi\r\n0\r\n\r\n",
            "2 \r\nhi\r\n0\r\n\r\n",
        ] {
            assert_eq!(decode_all(bad.as_bytes()), Err(400), "{bad:?}");
        }
    }

    #[test]
    fn extensions_are_bounded_per_body() {
        let long = format!("1;a={}\r\n", "x".repeat(MAX_EXTENSION_BYTES));
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(long.as_bytes(), 1 << 20, 64), Err(400));
        // Many small extensions add up.
        let one = format!("1;{}\r\nx\r\n", "e".repeat(1000));
        let mut d = ChunkedDecoder::new();
        let mut input = Vec::new();
        let mut result = Ok(Progress::NeedMore);
        for _ in 0..20 {
            input.extend_from_slice(one.as_bytes());
            result = d.feed(&input, 1 << 20, 64);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(400));
        // Whitespace after the size counts too.
        let spaces = format!("1{};a\r\n", " ".repeat(MAX_EXTENSION_BYTES));
        assert_eq!(
            ChunkedDecoder::new().feed(spaces.as_bytes(), 1 << 20, 64),
            Err(400)
        );
    }

    /// The caller may drop what the decoder used and feed only what follows: the same body
    /// comes out, however the input was cut.
    #[test]
    fn forgetting_used_input_gives_the_same_body() {
        let raw = b"3;x=\"q\"\r\nabc\r\nA\r\n0123456789\r\n0\r\nt: 1\r\n\r\n";
        for step in 1..raw.len() {
            let mut d = ChunkedDecoder::new();
            let mut held: Vec<u8> = Vec::new();
            let mut outcome = Ok(Progress::NeedMore);
            for piece in raw.chunks(step) {
                held.extend_from_slice(piece);
                outcome = d.feed(&held, 1 << 20, 64);
                if outcome != Ok(Progress::NeedMore) {
                    break;
                }
                held.drain(..d.used());
                d.forget_used();
                assert!(held.len() < step + 16, "held {} bytes", held.len());
            }
            assert_eq!(
                outcome,
                Ok(Progress::Done {
                    consumed: held.len()
                }),
                "step {step}"
            );
            assert_eq!(d.take_body(), b"abc0123456789");
        }
    }

    #[test]
    fn enforces_limits() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"b\r\n", 10, 64), Err(413));
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"5\r\nhello\r\n6\r\n", 10, 64), Err(413));
        let mut d = ChunkedDecoder::new();
        assert_eq!(
            d.feed(b"ffffffffffffffff\r\n", usize::MAX, 64),
            Ok(Progress::NeedMore)
        );
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"11111111111111111\r\n", usize::MAX, 64), Err(400));
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"0\r\nx: aaaaaaaaaaaa\r\n", 10, 8), Err(431));
    }
}
