//! permessage-deflate (RFC 7692): which of a client's `Sec-WebSocket-Extensions` offers we accept
//! and what we answer, and the raw-DEFLATE codecs for the messages: a `Deflater` for those we
//! send, an `Inflater` for those we receive, each with or without context takeover.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::close_code::{INVALID_DATA, TOO_BIG};

/// Compression level for every message we send. Measured with `tests::level_figures` (release
/// build, zlib-rs, fastest of 5 runs on a shared 2-core machine): time per message and compressed
/// size over original, for chat-like JSON of 60–200 bytes with a fresh window per message
/// (shared) and with the context kept (dedicated), and for 16 KiB of Markdown (fresh window):
///
/// | level | small, fresh     | small, kept     | 16 KiB, fresh   |
/// |-------|------------------|-----------------|-----------------|
/// | 1     |  5.2 µs, 0.742   | 0.6 µs, 0.271   | 112 µs, 0.584   |
/// | 2     | 11.5 µs, 0.706   | 4.6 µs, 0.250   | 177 µs, 0.444   |
/// | 3     | 11.5 µs, 0.704   | 4.7 µs, 0.234   | 210 µs, 0.427   |
/// | 4     | 11.5 µs, 0.704   | 4.8 µs, 0.199   | 233 µs, 0.424   |
/// | 6     | 11.7 µs, 0.704   | 7.3 µs, 0.181   | 246 µs, 0.421   |
/// | 9     | 12.2 µs, 0.697   | 8.2 µs, 0.174   | 433 µs, 0.420   |
///
/// Level 1 (zlib-rs's `quick`: fixed Huffman codes only) is twice as fast but a third bigger on
/// text. From 2 up a small message costs the same (building its Huffman codes, and with a fresh
/// window the reset, dominate), and 4 (lazy matching) is where kept-context messages shrink most
/// for that time; 6 costs half as much again for 9% less, 9 twice as much on text for nothing.
pub const LEVEL: u32 = 4;

/// The extension's registered name (RFC 7692 §6).
const NAME: &str = "permessage-deflate";
/// What a sync flush ends with (an empty stored block's LEN/NLEN): stripped from what we send
/// and appended to what we receive (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// The window sizes a `*_max_window_bits` parameter may name (RFC 7692 §7.1.2).
const WINDOW_BITS: std::ops::RangeInclusive<u8> = 8..=15;
/// The largest window, which a peer may use when nothing was said about windows.
const MAX_WINDOW_BITS: u8 = 15;
/// The smallest window zlib (and so flate2) builds for a raw stream: it refuses 8 (zlib ≥ 1.2.9,
/// "until 256-byte window bug fixed"). Both directions still honour 8: our 9-bit compressor never
/// reaches back further than 512 − 262 = 250 bytes (zlib's MAX_DIST, which zlib-rs keeps:
/// `tests::nine_bit_window_reaches_back_less_than_256`), so its output suits a 256-byte window;
/// and a 9-bit inflater reads anything a 256-byte compressor wrote.
const ZLIB_MIN_WINDOW_BITS: u8 = 9;
/// Room first given to a compressed message: text usually shrinks to half or less, and the Vec
/// grows when it does not.
const DEFLATE_SLACK: usize = 64;
/// The smallest step an inflated message's buffer grows by; it otherwise doubles, never past the
/// caller's limit + 1 (the one byte that proves the message too big). Not less than 1 KiB: zlib
/// decodes with its fast loop only while 258 bytes of room are left (a whole match's worth), and
/// its byte-at-a-time loop took twice as long over a small message (`tests::level_figures`).
const INFLATE_MIN_STEP: usize = 1024;

/// How the server keeps its compression state. `Shared`: no context takeover either way, so a
/// socket holds no zlib state between messages and one `Deflater` per server thread compresses
/// each message (or publish) once for every socket. `Dedicated`: the context is kept per socket
/// both ways unless the client asks otherwise (better ratio, a deflate and an inflate state per
/// socket).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Shared,
    Dedicated,
}

/// What was agreed for one socket. Window bits are the limits the peer was told (8..=15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

/// Picks the first acceptable permessage-deflate offer among the Sec-WebSocket-Extensions values
/// (each may hold several comma-separated offers; other extensions ignored; malformed or duplicate
/// params make that offer unacceptable). Returns the parameters and the response header value.
///
/// Both modes answer what the client asked for (its `*_no_context_takeover`, its
/// `server_max_window_bits`, its `client_max_window_bits` value). `Shared` also answers
/// `server_no_context_takeover` (RFC 7692 §7.1.1.1 allows it unasked) and
/// `client_no_context_takeover` (§7.1.1.2 allows it too), so that between messages a socket
/// holds no zlib state at all; and it declines an offer that limits the server's window below 15
/// bits, since the thread's one `Deflater` compresses with 15 for everyone (the client's next
/// offer, if any, is tried; `Dedicated` honours any limit).
pub fn negotiate(offers: &[&[u8]], mode: Mode) -> Option<(Negotiated, String)> {
    offers
        .iter()
        .flat_map(|value| elements(value))
        .filter_map(offer)
        .find_map(|o| o.ok().and_then(|o| accept(&o, mode)))
}

/// The parameters of one permessage-deflate offer (RFC 7692 §7.1).
#[derive(Default, Debug, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (the client can be told a limit).
    client_max_window_bits: Option<Option<u8>>,
}

/// Our answer to an offer, or `None` to decline it.
fn accept(o: &Offer, mode: Mode) -> Option<(Negotiated, String)> {
    let shared = mode == Mode::Shared;
    if shared
        && o.server_max_window_bits
            .is_some_and(|b| b < MAX_WINDOW_BITS)
    {
        return None;
    }
    let n = Negotiated {
        server_no_context_takeover: o.server_no_context_takeover || shared,
        client_no_context_takeover: o.client_no_context_takeover || shared,
        server_max_window_bits: o.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        // Without a value we leave the client its full window (its compressor is its business;
        // our inflater costs the same either way, see `Inflater`).
        client_max_window_bits: o
            .client_max_window_bits
            .flatten()
            .unwrap_or(MAX_WINDOW_BITS),
    };
    let mut answer = String::from(NAME);
    if n.server_no_context_takeover {
        answer.push_str("; server_no_context_takeover");
    }
    if n.client_no_context_takeover {
        answer.push_str("; client_no_context_takeover");
    }
    // §7.1.2.1: accepting a server_max_window_bits offer means answering it.
    if let Some(bits) = o.server_max_window_bits {
        answer.push_str(&format!("; server_max_window_bits={bits}"));
    }
    // §7.1.2.2: only when offered; echoing the client's own value confirms what it will use.
    if let Some(Some(bits)) = o.client_max_window_bits {
        answer.push_str(&format!("; client_max_window_bits={bits}"));
    }
    Some((n, answer))
}

/// One list element (an extension and its params), parsed: `None` when it is empty or another
/// extension, `Some(Err)` when it is a permessage-deflate offer we must decline (RFC 7692 §7: an
/// unknown or repeated parameter, a bad value), or malformed.
fn offer(element: &[u8]) -> Option<Result<Offer, ()>> {
    let mut c = Cursor { s: element, i: 0 };
    c.skip_ows();
    if c.at_end() {
        return None;
    }
    let name = c.token();
    if !name.eq_ignore_ascii_case(NAME.as_bytes()) {
        return None;
    }
    Some(params(&mut c))
}

/// The `; name[=value]` params after the extension's name (RFC 6455 §9.1; values may be tokens
/// or quoted strings, RFC 7692 §5 / RFC 7230 §3.2.6).
fn params(c: &mut Cursor<'_>) -> Result<Offer, ()> {
    let mut o = Offer::default();
    loop {
        c.skip_ows();
        if c.at_end() {
            return Ok(o);
        }
        if !c.eat(b';') {
            return Err(());
        }
        c.skip_ows();
        let name = c.token();
        if name.is_empty() {
            return Err(());
        }
        c.skip_ows();
        let value = if c.eat(b'=') {
            c.skip_ows();
            Some(c.value()?)
        } else {
            None
        };
        apply(&mut o, name, value.as_deref())?;
    }
}

/// Records one parameter in the offer; `Err` for anything RFC 7692 §7 says to decline.
fn apply(o: &mut Offer, name: &[u8], value: Option<&[u8]>) -> Result<(), ()> {
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    if is("server_no_context_takeover") || is("client_no_context_takeover") {
        let flag = if is("server_no_context_takeover") {
            &mut o.server_no_context_takeover
        } else {
            &mut o.client_no_context_takeover
        };
        if *flag || value.is_some() {
            return Err(());
        }
        *flag = true;
    } else if is("server_max_window_bits") {
        if o.server_max_window_bits.is_some() {
            return Err(());
        }
        o.server_max_window_bits = Some(window_bits(value.ok_or(())?)?);
    } else if is("client_max_window_bits") {
        if o.client_max_window_bits.is_some() {
            return Err(());
        }
        o.client_max_window_bits = Some(value.map(window_bits).transpose()?);
    } else {
        return Err(());
    }
    Ok(())
}

/// "a decimal integer value without leading zeroes between 8 to 15, inclusive" (§7.1.2.1).
fn window_bits(v: &[u8]) -> Result<u8, ()> {
    let n = match v {
        [d @ b'8'..=b'9'] => d - b'0',
        [b'1', d @ b'0'..=b'5'] => 10 + d - b'0',
        _ => return Err(()),
    };
    debug_assert!(WINDOW_BITS.contains(&n));
    Ok(n)
}

/// The list elements of one header value: split at commas outside quoted strings (RFC 7230 §7).
/// An unterminated quote runs to the end of the value, whose element then fails to parse.
fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let s = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, &b) in s.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if quoted {
                match b {
                    b'\\' => escaped = true,
                    b'"' => quoted = false,
                    _ => {}
                }
            } else if b == b'"' {
                quoted = true;
            } else if b == b',' {
                rest = Some(&s[i + 1..]);
                return Some(&s[..i]);
            }
        }
        rest = None;
        Some(s)
    })
}

/// A read position in one list element.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn at_end(&self) -> bool {
        self.i == self.s.len()
    }

    fn skip_ows(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.s.get(self.i) == Some(&b);
        self.i += usize::from(hit);
        hit
    }

    /// The longest run of token characters here (maybe empty).
    fn token(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.s.get(self.i).is_some_and(|&b| is_tchar(b)) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// A parameter value: a token, or a quoted string unescaped, which must then be a token
    /// (RFC 6455 §9.1).
    fn value(&mut self) -> Result<Vec<u8>, ()> {
        if !self.eat(b'"') {
            let t = self.token();
            return if t.is_empty() {
                Err(())
            } else {
                Ok(t.to_vec())
            };
        }
        let mut v = Vec::new();
        loop {
            match *self.s.get(self.i).ok_or(())? {
                b'"' => break,
                b'\\' => {
                    self.i += 1;
                    v.push(*self.s.get(self.i).ok_or(())?);
                }
                b => v.push(b),
            }
            self.i += 1;
        }
        self.i += 1;
        if v.is_empty() || !v.iter().all(|&b| is_tchar(b)) {
            return Err(());
        }
        Ok(v)
    }
}

/// RFC 7230 §3.2.6 tchar.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The window a zlib stream is built with for a negotiated limit (see `ZLIB_MIN_WINDOW_BITS`).
fn zlib_window(bits: u8) -> u8 {
    bits.clamp(ZLIB_MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}

/// Compresses whole messages for one socket (Dedicated) or for anyone (a Shared one is reset per
/// message, so one per server thread serves every shared socket and every publish). The zlib
/// state (372 KiB of heap, 312 KiB of RSS with a 15-bit window, 245/193 KiB with 9 bits, see
/// `tests::codec_memory`; flate2 does not expose zlib's memLevel, and zlib-rs's hash heads are a
/// fixed 128 KiB whatever it is) is made on the first message, so a socket that never sends costs
/// nothing.
pub struct Deflater {
    z: Option<Box<Compress>>,
    level: u32,
    window_bits: u8,
    reset: bool,
}

impl Deflater {
    pub fn new(n: &Negotiated, level: u32) -> Self {
        Deflater {
            z: None,
            level: level.min(9),
            window_bits: zlib_window(n.server_max_window_bits),
            reset: n.server_no_context_takeover,
        }
    }

    /// Appends the compressed message (the 00 00 ff ff tail removed, RFC 7692 §7.2.1) to out.
    /// An empty message compresses to the single byte 0x00.
    pub fn compress(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        if msg.is_empty() {
            // A flush with nothing new writes nothing once the stream is flushed, yet the peer
            // needs a block to append its tail to: an empty stored block's header byte (RFC 7692
            // §7.2.3.6), which leaves the window as it was.
            out.push(0x00);
            return;
        }
        let (level, bits) = (self.level, self.window_bits);
        let z = self.z.get_or_insert_with(|| {
            Box::new(Compress::new_with_window_bits(
                Compression::new(level),
                false,
                bits,
            ))
        });
        out.reserve(msg.len() / 2 + DEFLATE_SLACK);
        let mut input = msg;
        loop {
            let before = z.total_in();
            z.compress_vec(input, out, FlushCompress::Sync)
                .expect("raw deflate into a Vec cannot fail");
            input = &input[(z.total_in() - before) as usize..];
            // With room left over, the sync flush is complete.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(input.len() / 2) + DEFLATE_SLACK);
        }
        debug_assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - TAIL.len());
        if self.reset {
            // No allocation, but zlib-rs clears its 128 KiB of hash heads: about 5 µs, half of
            // what a small message costs in all (see `LEVEL`).
            z.reset();
        }
    }
}

/// Decompresses one socket's messages frame by frame. The zlib state (an inflate state and its
/// 32 KiB window, which zlib-rs allocates whatever the window bits: 46 KiB of heap, 18–47 KiB of
/// RSS, see `tests::codec_memory`) is made on the first compressed frame and, without client
/// context takeover, given back at the end of every message: an idle socket then holds none.
pub struct Inflater {
    z: Option<Box<Decompress>>,
    window_bits: u8,
    no_takeover: bool,
    /// The message's deflate stream ended with a BFINAL block (RFC 7692 §7.2.3.4): whatever
    /// follows in the message is padding, and the next message starts a new stream.
    ended: bool,
}

/// Inflate states given back by sockets without client context takeover, reset, for the next
/// message on this server thread: making one (an allocation and its setup) cost as much again
/// as inflating a small message (`tests::level_figures`). Only full-window ones, which are what
/// every browser and common client gets (the others are made and dropped).
const SPARE_STATES: usize = 4;

thread_local! {
    // Boxed: a state moves between a socket's `Inflater` (kept small) and here without a copy.
    #[allow(clippy::vec_box)]
    static SPARE: RefCell<Vec<Box<Decompress>>> = const { RefCell::new(Vec::new()) };
}

impl Inflater {
    pub fn new(n: &Negotiated) -> Self {
        Inflater {
            z: None,
            window_bits: zlib_window(n.client_max_window_bits),
            no_takeover: n.client_no_context_takeover,
            ended: false,
        }
    }

    fn feed(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), u16> {
        if self.ended || (input.is_empty() && !last) {
            return Ok(());
        }
        let bits = self.window_bits;
        let z = self.z.get_or_insert_with(|| {
            let spare = (bits == MAX_WINDOW_BITS)
                .then(|| SPARE.with_borrow_mut(Vec::pop))
                .flatten();
            spare.unwrap_or_else(|| Box::new(Decompress::new_with_window_bits(false, bits)))
        });
        self.ended = inflate(z, input, out, limit)?;
        if last && !self.ended {
            self.ended = inflate(z, &TAIL, out, limit)?;
        }
        Ok(())
    }

    /// The message is over (or failed): the state is kept for the next one with context
    /// takeover, else given back.
    fn end_message(&mut self, failed: bool) {
        if failed || self.no_takeover {
            if let Some(mut z) = self.z.take() {
                if self.window_bits == MAX_WINDOW_BITS {
                    z.reset(false);
                    SPARE.with_borrow_mut(|spare| {
                        if spare.len() < SPARE_STATES {
                            spare.push(z);
                        }
                    });
                }
            }
        } else if self.ended {
            if let Some(z) = &mut self.z {
                z.reset(false);
            }
        }
        self.ended = false;
    }
}

impl super::Decompress for Inflater {
    fn decompress(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), u16> {
        let result = self.feed(input, last, out, limit);
        // After an error the connection fails; start clean all the same.
        if result.is_err() || last {
            self.end_message(result.is_err());
        }
        result
    }
}

/// Inflates all of `input` into `out`, growing it by doubling but never past `limit` + 1 bytes,
/// so a decompression bomb costs at most that much memory and that much work (or `out`'s spare
/// capacity, if the caller gave it more). `Ok(true)` when the
/// deflate stream ended (a BFINAL block). Corrupt data → INVALID_DATA (what the `ws` package and
/// Autobahn use for a message that does not inflate; RFC 7692 §8 only says to fail the
/// connection); more than `limit` bytes → TOO_BIG.
fn inflate(
    z: &mut Decompress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, u16> {
    if out.len() > limit {
        return Err(TOO_BIG);
    }
    let most = limit.saturating_add(1);
    loop {
        if out.len() == out.capacity() {
            let grow = out.capacity().max(input.len() * 2).max(INFLATE_MIN_STEP);
            let target = out.len().saturating_add(grow).min(most);
            out.reserve_exact(target - out.len());
        }
        let (in_before, out_before) = (z.total_in(), out.len());
        let status = z
            .decompress_vec(input, out, FlushDecompress::None)
            .map_err(|_| INVALID_DATA)?;
        let used = (z.total_in() - in_before) as usize;
        input = &input[used..];
        if out.len() > limit {
            return Err(TOO_BIG);
        }
        if status == Status::StreamEnd {
            return Ok(true);
        }
        let room = out.len() < out.capacity();
        if input.is_empty() && room {
            return Ok(false);
        }
        if room && used == 0 && out.len() == out_before {
            // Input and room, and no progress: zlib cannot get stuck so on valid data.
            return Err(INVALID_DATA);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Decompress as _;
    use super::*;
    use proptest::prelude::*;

    const LIMIT: usize = 1 << 20;

    fn n(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> Negotiated {
        Negotiated {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: sbits,
            client_max_window_bits: cbits,
        }
    }

    fn answer(offers: &[&str], mode: Mode) -> Option<String> {
        let offers: Vec<&[u8]> = offers.iter().map(|o| o.as_bytes()).collect();
        negotiate(&offers, mode).map(|(_, a)| a)
    }

    /// The Inflater on the other end of a socket whose server side negotiated `n`: the roles of
    /// the server_* and client_* parameters swap.
    fn peer_of(n: &Negotiated) -> Negotiated {
        Negotiated {
            client_no_context_takeover: n.server_no_context_takeover,
            client_max_window_bits: n.server_max_window_bits,
            ..*n
        }
    }

    fn compress(d: &mut Deflater, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        d.compress(msg, &mut out);
        out
    }

    /// One message through the Inflater, payload cut into frames at `cuts`.
    fn inflate_frames(
        i: &mut Inflater,
        payload: &[u8],
        cuts: &[usize],
        limit: usize,
    ) -> Result<Vec<u8>, u16> {
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().filter(|&&c| c <= payload.len()) {
            let c = c.max(at);
            i.decompress(&payload[at..c], false, &mut out, limit)?;
            at = c;
        }
        i.decompress(&payload[at..], true, &mut out, limit)?;
        Ok(out)
    }

    fn inflate_msg(i: &mut Inflater, payload: &[u8]) -> Result<Vec<u8>, u16> {
        inflate_frames(i, payload, &[], LIMIT)
    }

    /// Deterministic test data: xorshift64 bytes, and text made of its words.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// A number below `n`, taken before the caller's other argument is borrowed.
        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }
        fn bytes_below(&mut self, n: u64) -> Vec<u8> {
            let len = self.below(n);
            self.bytes(len)
        }
        fn text_below(&mut self, n: u64) -> Vec<u8> {
            let len = self.below(n);
            self.text(len)
        }
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
        fn text(&mut self, len: usize) -> Vec<u8> {
            const WORDS: [&str; 12] = [
                "room",
                "user",
                "hello",
                "the",
                "message",
                "\"type\":",
                "{\"id\":",
                "42,",
                "chat",
                "online",
                "world",
                "\n",
            ];
            let mut t = Vec::new();
            while t.len() < len {
                t.extend_from_slice(WORDS[(self.next() % 12) as usize].as_bytes());
                t.push(b' ');
            }
            t.truncate(len);
            t
        }
    }

    // ---- negotiation -------------------------------------------------------------------------

    #[test]
    fn real_clients_offers() {
        // Chromium, the ws npm client and Python's websockets all send the first; Firefox the second.
        for offer in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate",
        ] {
            let (got, text) = negotiate(&[offer.as_bytes()], Mode::Shared).unwrap();
            assert_eq!(got, n(true, true, 15, 15));
            assert_eq!(
                text,
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
            );
            let (got, text) = negotiate(&[offer.as_bytes()], Mode::Dedicated).unwrap();
            assert_eq!(got, n(false, false, 15, 15));
            assert_eq!(text, "permessage-deflate");
        }
    }

    #[test]
    fn parameters_are_answered() {
        let offer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                     server_max_window_bits=10; client_max_window_bits=9";
        let (got, text) = negotiate(&[offer.as_bytes()], Mode::Dedicated).unwrap();
        assert_eq!(got, n(true, true, 10, 9));
        assert_eq!(
            text,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=9"
        );
        assert_eq!(
            answer(
                &["permessage-deflate; server_max_window_bits=8"],
                Mode::Dedicated
            )
            .unwrap(),
            "permessage-deflate; server_max_window_bits=8"
        );
        assert_eq!(
            answer(
                &["permessage-deflate; client_max_window_bits=15"],
                Mode::Dedicated
            )
            .unwrap(),
            "permessage-deflate; client_max_window_bits=15"
        );
        // Shared keeps 15 for everyone: a smaller server window is declined, 15 answered.
        assert_eq!(
            answer(
                &["permessage-deflate; server_max_window_bits=14"],
                Mode::Shared
            ),
            None
        );
        assert_eq!(
            answer(&["permessage-deflate; server_max_window_bits=15"], Mode::Shared).unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15"
        );
    }

    #[test]
    fn the_first_acceptable_offer_wins() {
        // Autobahn 13.7's shape: an unacceptable (in Shared) offer, then fallbacks.
        let offers = [
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=8, \
                       permessage-deflate; client_max_window_bits=12, permessage-deflate",
        ];
        let (got, text) = negotiate(&[offers[0].as_bytes()], Mode::Shared).unwrap();
        assert_eq!(got, n(true, true, 15, 12));
        assert_eq!(
            text,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=12"
        );
        assert_eq!(
            answer(&offers, Mode::Dedicated).unwrap(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=8"
        );
        // Across several headers, other extensions skipped, empty elements allowed.
        assert_eq!(
            answer(
                &[
                    "x-webkit-deflate-frame",
                    " , ,foo; bar=\"a,b;c\"",
                    "permessage-deflate; client_no_context_takeover"
                ],
                Mode::Dedicated
            )
            .unwrap(),
            "permessage-deflate; client_no_context_takeover"
        );
    }

    #[test]
    fn syntax_variants_are_read() {
        for offer in [
            "permessage-deflate;client_max_window_bits=10",
            "permessage-deflate \t; client_max_window_bits = 10 ",
            "permessage-deflate; client_max_window_bits=\"10\"",
            "permessage-deflate; client_max_window_bits=\"1\\0\"",
            "Permessage-Deflate; Client_Max_Window_Bits=10",
        ] {
            let (got, text) = negotiate(&[offer.as_bytes()], Mode::Dedicated).unwrap();
            assert_eq!(got, n(false, false, 15, 10), "{offer}");
            assert_eq!(
                text, "permessage-deflate; client_max_window_bits=10",
                "{offer}"
            );
        }
    }

    #[test]
    fn bad_offers_are_declined_and_the_next_one_tried() {
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; foo=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=\"\"",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=08",
            "permessage-deflate; client_max_window_bits=1O",
            "permessage-deflate; client_max_window_bits=-9",
            "permessage-deflate; client_max_window_bits=",
            "permessage-deflate; client_max_window_bits=\"\"",
            "permessage-deflate; client_max_window_bits=\"1 0\"",
            "permessage-deflate; client_max_window_bits=10 11",
            "permessage-deflate;",
            "permessage-deflate;; client_max_window_bits",
            "permessage-deflate x",
            "permessage-deflate = 1",
            "permessage-deflate; =10",
            "permessage-deflate; client_max_window_bits=\"10",
        ] {
            for mode in [Mode::Shared, Mode::Dedicated] {
                assert_eq!(answer(&[bad], mode), None, "{bad}");
                // The next offer, in the next header: accepted.
                assert!(
                    answer(&[bad, "permessage-deflate"], mode).is_some(),
                    "{bad}"
                );
            }
            // The next offer in the same header: accepted, unless the bad one's quote swallows it.
            let same = format!("{bad}, permessage-deflate; client_max_window_bits=9");
            let got = answer(&[&same], Mode::Dedicated);
            if bad.ends_with("\"10") {
                assert_eq!(got, None);
            } else {
                assert_eq!(
                    got.unwrap(),
                    "permessage-deflate; client_max_window_bits=9",
                    "{bad}"
                );
            }
        }
        assert_eq!(answer(&[], Mode::Shared), None);
        assert_eq!(
            answer(
                &["", "  ", "x-webkit-deflate-frame; no_context_takeover"],
                Mode::Shared
            ),
            None
        );
        assert_eq!(
            answer(&["permessage-deflate-x", "deflate"], Mode::Dedicated),
            None
        );
    }

    // ---- known vectors (RFC 7692 §7.2.3) ------------------------------------------------------

    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    /// "Hello" again, sharing the LZ77 window with the first (§7.2.3.2).
    const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];

    #[test]
    fn rfc_vectors_inflate() {
        let mut i = Inflater::new(&n(false, false, 15, 15));
        assert_eq!(inflate_msg(&mut i, &HELLO).unwrap(), b"Hello");
        // §7.2.3.1, fragmented: two frames.
        assert_eq!(
            inflate_frames(&mut i, &HELLO, &[3], LIMIT).unwrap(),
            b"Hello"
        );
        // §7.2.3.2: the second message refers to the first one's window.
        let mut i = Inflater::new(&n(false, false, 15, 15));
        assert_eq!(inflate_msg(&mut i, &HELLO).unwrap(), b"Hello");
        assert_eq!(inflate_msg(&mut i, &HELLO_AGAIN).unwrap(), b"Hello");
        // §7.2.3.3 a stored block; §7.2.3.5 two blocks in one message.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(inflate_msg(&mut i, &stored).unwrap(), b"Hello");
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(inflate_msg(&mut i, &two).unwrap(), b"Hello");
        // §7.2.3.4 a BFINAL block (and its padding byte); the next message starts a new stream.
        let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(
            inflate_frames(&mut i, &bfinal, &[2, 7], LIMIT).unwrap(),
            b"Hello"
        );
        assert_eq!(inflate_msg(&mut i, &HELLO).unwrap(), b"Hello");
        // §7.2.3.6 / §7.2.1: an empty message.
        assert_eq!(inflate_msg(&mut i, &[0x00]).unwrap(), b"");
    }

    #[test]
    fn without_client_takeover_the_window_is_not_shared() {
        let mut i = Inflater::new(&n(false, true, 15, 15));
        assert_eq!(inflate_msg(&mut i, &HELLO).unwrap(), b"Hello");
        assert_eq!(inflate_msg(&mut i, &HELLO_AGAIN), Err(INVALID_DATA));
        assert_eq!(inflate_msg(&mut i, &HELLO).unwrap(), b"Hello");
        assert!(i.z.is_none(), "no zlib state held between messages");
    }

    #[test]
    fn rfc_vectors_deflate() {
        let mut d = Deflater::new(&n(false, false, 15, 15), LEVEL);
        assert_eq!(compress(&mut d, b"Hello"), HELLO);
        assert_eq!(compress(&mut d, b"Hello"), HELLO_AGAIN);
        let mut shared = Deflater::new(&n(true, true, 15, 15), LEVEL);
        assert_eq!(compress(&mut shared, b"Hello"), HELLO);
        assert_eq!(compress(&mut shared, b"Hello"), HELLO);
        assert_eq!(compress(&mut shared, b""), [0x00]);
        assert_eq!(compress(&mut d, b""), [0x00]);
    }

    // ---- round trips -------------------------------------------------------------------------

    fn round_trip(server: Negotiated, messages: &[Vec<u8>], cuts: &[usize]) {
        let mut d = Deflater::new(&server, LEVEL);
        let mut i = Inflater::new(&peer_of(&server));
        for m in messages {
            let packed = compress(&mut d, m);
            assert_eq!(&inflate_frames(&mut i, &packed, cuts, LIMIT).unwrap(), m);
        }
    }

    #[test]
    fn many_messages_in_a_row_with_and_without_takeover() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Mostly small, as chat and dashboards send; every 25th message larger than the window.
        let messages: Vec<Vec<u8>> = (0..200)
            .map(|k| match k % 5 {
                _ if k % 25 == 24 => {
                    let extra = rng.below(40_000);
                    rng.text(40_000 + extra)
                }
                0 => rng.bytes_below(300),
                1 | 2 => rng.text_below(2000),
                3 => rng.text_below(200),
                _ => Vec::new(),
            })
            .collect();
        for takeover in [false, true] {
            // A small window slides every few hundred bytes, slow in a debug build: fewer messages.
            for (bits, count) in [(8, 50), (9, 50), (12, 200), (15, 200)] {
                let server = n(!takeover, !takeover, bits, bits);
                round_trip(server, &messages[..count], &[]);
                round_trip(server, &messages[..count], &[1, 2, 2, 7, 100, 5000, 30_000]);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn random_messages_round_trip(
            messages in prop::collection::vec(
                prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..600),
                    prop::collection::vec(prop::sample::select(b"ab {}\"".to_vec()), 0..3000),
                ],
                1..12,
            ),
            cuts in prop::collection::vec(0usize..3000, 0..6),
            takeover in any::<bool>(),
            bits in 8u8..=15,
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            round_trip(n(!takeover, !takeover, bits, bits), &messages, &cuts);
        }
    }

    // ---- interop with flate2 used directly -------------------------------------------------

    #[test]
    fn deflater_output_inflates_with_plain_zlib() {
        let mut rng = Rng(7);
        let messages: Vec<Vec<u8>> = (0..50).map(|k| rng.text(10 + k * 97)).collect();
        for takeover in [true, false] {
            let mut d = Deflater::new(&n(!takeover, false, 15, 15), LEVEL);
            let mut z = Decompress::new(false);
            for m in &messages {
                let mut packed = compress(&mut d, m);
                packed.extend_from_slice(&TAIL);
                if !takeover {
                    z = Decompress::new(false);
                }
                let mut out = Vec::with_capacity(m.len() + 64);
                z.decompress_vec(&packed, &mut out, FlushDecompress::Sync)
                    .unwrap();
                assert_eq!(&out, m);
            }
        }
    }

    #[test]
    fn plain_zlib_output_inflates_with_inflater() {
        let mut rng = Rng(11);
        let messages: Vec<Vec<u8>> = (0..50).map(|k| rng.text(10 + k * 97)).collect();
        for takeover in [true, false] {
            let mut z = Compress::new(Compression::default(), false);
            let mut i = Inflater::new(&n(false, !takeover, 15, 15));
            for m in &messages {
                let mut packed = Vec::with_capacity(m.len() + 64);
                z.compress_vec(m, &mut packed, FlushCompress::Sync).unwrap();
                assert!(packed.ends_with(&TAIL));
                packed.truncate(packed.len() - 4);
                if !takeover {
                    z.reset();
                }
                assert_eq!(&inflate_msg(&mut i, &packed).unwrap(), m);
            }
        }
    }

    /// The 8-bit window promise: zlib-rs's 9-bit compressor matches 250 bytes back, never 251.
    /// Random blocks repeated: a period it can reach back to shrinks the message to about half
    /// (levels 1–6, whose 9-bit window slides often) or less; 251 and beyond do not shrink it.
    #[test]
    fn nine_bit_window_reaches_back_less_than_256() {
        let mut rng = Rng(3);
        for level in 1..=9 {
            let mut d = Deflater::new(&n(true, true, 8, 8), level);
            for (period, matched) in [
                (200, true),
                (250, true),
                (251, false),
                (256, false),
                (300, false),
            ] {
                let msg = rng.bytes(period).repeat(40);
                let packed = compress(&mut d, &msg);
                let shrunk = packed.len() < msg.len() * 3 / 4;
                assert_eq!(
                    shrunk,
                    matched,
                    "level {level}, period {period}: {}",
                    packed.len()
                );
                let mut i = Inflater::new(&n(true, true, 8, 8));
                assert_eq!(inflate_msg(&mut i, &packed).unwrap(), msg);
            }
        }
    }

    // ---- limits and bad data -----------------------------------------------------------------

    /// A deflate block whose every 2 bits (all zero) mean "258 bytes again": `zeros` bytes of it
    /// inflate to about zeros × 1032 bytes (DEFLATE's largest ratio). One dynamic-Huffman block
    /// header, code lengths: literal 0 → 2, end of block → 2, length 258 → 1, distance 1 → 1.
    fn bomb(zeros: usize) -> Vec<u8> {
        let mut w = Bits::default();
        w.put(0, 1); // BFINAL 0
        w.put(2, 2); // dynamic Huffman
        w.put(29, 5); // 286 literal/length codes
        w.put(0, 5); // 1 distance code
        w.put(14, 4); // 18 code-length codes, whose lengths follow in RFC 1951's order
        for sym in [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1] {
            let len = match sym {
                18 => 1,
                2 | 1 => 2,
                _ => 0,
            };
            w.put(len, 3);
        }
        // With them (18 '0', 1 '10', 2 '11'), the code lengths of the block's two alphabets.
        w.code("11"); // literal 0: 2
        w.code("0");
        w.put(127, 7); // 138 zeros
        w.code("0");
        w.put(106, 7); // 117 zeros: literals 1..=255
        w.code("11"); // end of block: 2
        w.code("0");
        w.put(17, 7); // 28 zeros: lengths 257..=284
        w.code("10"); // length 258: 1
        w.code("10"); // distance 1: 1
        w.code("10"); // the data: literal 0 ('10'), then (258, 1) pairs ('0' '0')
        let mut out: Vec<u8> =
            w.0.chunks(8)
                .map(|c| c.iter().enumerate().map(|(k, &b)| u8::from(b) << k).sum())
                .collect();
        out.resize(out.len() + zeros, 0);
        out
    }

    /// A DEFLATE bit stream being written: values least significant bit first, Huffman codes
    /// most significant bit first (RFC 1951 §3.1.1).
    #[derive(Default)]
    struct Bits(Vec<bool>);
    impl Bits {
        fn put(&mut self, value: u32, n: u32) {
            (0..n).for_each(|k| self.0.push(value >> k & 1 == 1));
        }
        fn code(&mut self, c: &str) {
            c.bytes().for_each(|b| self.0.push(b == b'1'));
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // It is one: 4 KiB of it inflate to over 4 MiB with zlib used directly.
        let small = bomb(4096);
        let mut z = Decompress::new(false);
        let mut out = Vec::with_capacity(8 << 20);
        z.decompress_vec(&small, &mut out, FlushDecompress::None)
            .unwrap();
        assert!(out.len() > 4096 * 1000, "{}", out.len());
        // 1 MiB of it (a GiB inflated), fed in 64 KiB frames: the first frame fails, with no
        // more than the limit + 1 byte allocated.
        let big = bomb(1 << 20);
        for (limit, takeover) in [(LIMIT, false), (LIMIT, true), (1000, false), (0, false)] {
            let mut i = Inflater::new(&n(false, !takeover, 15, 15));
            let mut out = Vec::new();
            assert_eq!(
                i.decompress(&big[..64 << 10], false, &mut out, limit),
                Err(TOO_BIG)
            );
            assert!(
                out.capacity() <= limit + 1,
                "{} > {}",
                out.capacity(),
                limit + 1
            );
            // The socket is failed; the Inflater is clean anyway.
            assert_eq!(inflate_msg(&mut i, &HELLO).unwrap(), b"Hello");
        }
    }

    #[test]
    fn the_limit_counts_the_whole_message() {
        let msg = Rng(5).text(50_000);
        let packed = compress(&mut Deflater::new(&n(true, true, 15, 15), LEVEL), &msg);
        let mut i = Inflater::new(&n(true, true, 15, 15));
        assert_eq!(
            inflate_frames(&mut i, &packed, &[10, 1000], msg.len()).unwrap(),
            msg
        );
        assert_eq!(
            inflate_frames(&mut i, &packed, &[10, 1000], msg.len() - 1),
            Err(TOO_BIG)
        );
        // Bytes already in `out` (earlier frames) count.
        let mut out = b"0123456789".to_vec();
        assert_eq!(i.decompress(&HELLO, true, &mut out, 14), Err(TOO_BIG));
        let mut out = b"0123456789".to_vec();
        i.decompress(&HELLO, true, &mut out, 15).unwrap();
        assert_eq!(out, b"0123456789Hello");
        // Already past the limit: refused, not a panic.
        assert_eq!(i.decompress(&HELLO, true, &mut out, 5), Err(TOO_BIG));
    }

    #[test]
    fn corrupt_data_is_invalid() {
        let mut i = Inflater::new(&n(false, false, 15, 15));
        for bad in [
            &[0x07][..],                           // reserved block type
            &[0x00, 0x05, 0x00, 0x00, 0x00, 0x48], // stored block, LEN/NLEN disagree
            &[0xfc, 0xff, 0xff, 0xff, 0xff, 0xff], // dynamic block, impossible code lengths
        ] {
            assert_eq!(
                inflate_frames(&mut i, bad, &[1], LIMIT),
                Err(INVALID_DATA),
                "{bad:x?}"
            );
            // The next message starts clean.
            assert_eq!(inflate_msg(&mut i, &HELLO).unwrap(), b"Hello");
        }
        // A match before any data (the RFC's second "Hello" on a fresh window).
        let mut fresh = Inflater::new(&n(false, false, 15, 15));
        assert_eq!(inflate_msg(&mut fresh, &HELLO_AGAIN), Err(INVALID_DATA));
        // Random bytes: never a panic; an error or some output.
        let mut rng = Rng(99);
        for _ in 0..500 {
            let junk = rng.bytes_below(200);
            let mut i = Inflater::new(&n(false, false, 15, 15));
            let _ = inflate_frames(&mut i, &junk, &[7, 50], 4096);
        }
    }

    #[test]
    fn state_is_made_on_first_use() {
        let mut d = Deflater::new(&n(false, false, 15, 15), LEVEL);
        let mut i = Inflater::new(&n(false, false, 15, 15));
        assert!(d.z.is_none() && i.z.is_none());
        compress(&mut d, b"x");
        inflate_msg(&mut i, &HELLO).unwrap();
        assert!(d.z.is_some() && i.z.is_some(), "kept for context takeover");
        assert!(std::mem::size_of::<Inflater>() <= 16 && std::mem::size_of::<Deflater>() <= 24);
    }

    // ---- figures (run by hand; they assert nothing) ------------------------------------------

    /// What 1,000 of something cost, per piece: (RSS, heap bytes in use) grown, in bytes. Freed
    /// memory is given back first, so that a piece's pages are its own.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn cost_of_1000<T>(make: impl FnMut() -> T) -> (usize, usize) {
        fn now() -> (usize, usize) {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
            let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
            // SAFETY: mallinfo2 takes no arguments and only reads glibc's own statistics.
            let m = unsafe { libc::mallinfo2() };
            (pages * 4096, m.uordblks + m.hblkhd)
        }
        crate::memory::trim();
        let before = now();
        let kept: Vec<T> = std::iter::repeat_with(make).take(1000).collect();
        let after = now();
        drop(kept);
        crate::memory::trim();
        (
            after.0.saturating_sub(before.0) / 1000,
            after.1.saturating_sub(before.1) / 1000,
        )
    }

    /// What a socket's codecs hold after a message: RSS and heap grown by 1,000 of each.
    /// `cargo test --release codec_memory -- --ignored --nocapture --test-threads=1`.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    #[ignore]
    fn codec_memory() {
        let kib = |(rss, heap): (usize, usize)| {
            format!("RSS {} KiB, heap {} KiB", rss / 1024, heap / 1024)
        };
        let msg = br#"{"type":"chat","room":"general","user":"someone","text":"hello there"}"#;
        let text = Rng(1).text(40_000);
        for (what, bits, msg) in [
            ("a small message", 15, &msg[..]),
            ("a 40 KB message", 15, &text[..]),
            ("a 40 KB message", 9, &text[..]),
        ] {
            let cost = cost_of_1000(|| {
                let mut d = Deflater::new(&n(false, false, bits, bits), LEVEL);
                compress(&mut d, msg);
                d
            });
            println!(
                "Deflater, {bits}-bit window, context kept, after {what}: {}",
                kib(cost)
            );
        }
        let packed = compress(&mut Deflater::new(&n(true, true, 15, 15), LEVEL), &text);
        let small = compress(&mut Deflater::new(&n(true, true, 15, 15), LEVEL), msg);
        for (what, payload) in [("a small message", &small), ("a 40 KB message", &packed)] {
            for takeover in [true, false] {
                let cost = cost_of_1000(|| {
                    let mut i = Inflater::new(&n(false, !takeover, 15, 15));
                    inflate_msg(&mut i, payload).unwrap();
                    i
                });
                let kept = if takeover { "kept" } else { "dropped" };
                println!("Inflater, context {kept}, after {what}: {}", kib(cost));
            }
        }
        println!(
            "Deflater::new, never used: {}",
            kib(cost_of_1000(|| Deflater::new(
                &n(false, false, 15, 15),
                LEVEL
            )))
        );
    }

    /// Speed and ratio per level, for `LEVEL`.
    /// `cargo test --release level_figures -- --ignored --nocapture --test-threads=1`.
    #[test]
    #[ignore]
    fn level_figures() {
        let mut rng = Rng(42);
        let small: Vec<Vec<u8>> = (0..2000)
            .map(|k| {
                let text = String::from_utf8(rng.text_below(120)).unwrap();
                format!(
                    r#"{{"type":"chat","room":"room-{}","user":"user{}","text":{:?},"ts":{}}}"#,
                    k % 7,
                    rng.next() % 500,
                    text,
                    1_700_000_000_000u64 + k
                )
                .into_bytes()
            })
            .collect();
        let readme = include_bytes!("../../README.md");
        let big: Vec<Vec<u8>> = (0..40)
            .map(|k| readme[k * 1000..k * 1000 + 16384].to_vec())
            .collect();
        for level in 1..=9 {
            for (name, set, takeover, bits) in [
                ("small, shared", &small, false, 15),
                ("small, dedicated", &small, true, 15),
                ("16 KiB, shared", &big, false, 15),
                ("16 KiB, 9-bit", &big, false, 9),
            ] {
                let mut d = Deflater::new(&n(!takeover, false, bits, 15), level);
                let mut out = Vec::new();
                let (mut raw, mut packed) = (0usize, 0usize);
                let start = std::time::Instant::now();
                for _ in 0..5 {
                    for m in set.iter() {
                        out.clear();
                        d.compress(m, &mut out);
                        raw += m.len();
                        packed += out.len();
                    }
                }
                let per = start.elapsed() / (5 * set.len()) as u32;
                println!(
                    "level {level} {name:<17}: {per:>9.2?}/msg, {:.3} of the size",
                    packed as f64 / raw as f64
                );
            }
        }
        // Inflating: what dropping the state after each message (no client takeover) costs.
        let mut d = Deflater::new(&n(true, true, 15, 15), LEVEL);
        let packed: Vec<Vec<u8>> = small.iter().map(|m| compress(&mut d, m)).collect();
        for takeover in [true, false] {
            let mut i = Inflater::new(&n(true, !takeover, 15, 15));
            let start = std::time::Instant::now();
            for _ in 0..5 {
                for p in &packed {
                    inflate_msg(&mut i, p).unwrap();
                }
            }
            let per = start.elapsed() / (5 * packed.len()) as u32;
            println!(
                "inflate small, state {}: {per:>9.2?}/msg",
                if takeover {
                    "kept"
                } else {
                    "given back per message"
                }
            );
        }
        let mut z = Decompress::new(false);
        let mut out = Vec::with_capacity(4096);
        let start = std::time::Instant::now();
        for _ in 0..5 {
            for p in &packed {
                out.clear();
                z.decompress_vec(p, &mut out, FlushDecompress::None)
                    .unwrap();
                z.decompress_vec(&TAIL, &mut out, FlushDecompress::None)
                    .unwrap();
            }
        }
        let per = start.elapsed() / (5 * packed.len()) as u32;
        let size = packed.iter().map(Vec::len).sum::<usize>() / packed.len();
        println!("inflate small, flate2 directly: {per:>9.2?}/msg ({size} bytes compressed)");
    }
}
