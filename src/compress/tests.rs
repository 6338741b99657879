//! Round trips through real decoders: whatever the coding, level and input, decoding gives back
//! the bytes; a stream flushed per piece decodes piece by piece.

use std::io::{Read, Write};

use proptest::prelude::*;

use super::*;

const CODINGS: [Coding; 4] = [Coding::Identity, Coding::Gzip, Coding::Brotli, Coding::Zstd];

fn decode(coding: Coding, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        Coding::Identity => out.extend_from_slice(data),
        Coding::Gzip => {
            flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .unwrap();
        }
        Coding::Brotli => {
            brotli::Decompressor::new(data, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Coding::Zstd => out = zstd::stream::decode_all(data).unwrap(),
    }
    out
}

/// A decoder fed as bytes arrive, as a browser's is.
enum Incremental {
    Identity(Vec<u8>),
    Gzip(Box<flate2::write::GzDecoder<Vec<u8>>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Vec<u8>>>),
}

impl Incremental {
    fn new(coding: Coding) -> Incremental {
        match coding {
            Coding::Identity => Incremental::Identity(Vec::new()),
            Coding::Gzip => Incremental::Gzip(Box::new(flate2::write::GzDecoder::new(Vec::new()))),
            // An output buffer larger than any payload here: this decoder only hands over one
            // buffer's worth per write, leaving the rest until more input comes (browsers'
            // decoders push everything they have).
            Coding::Brotli => Incremental::Brotli(Box::new(brotli::DecompressorWriter::new(
                Vec::new(),
                1 << 20,
            ))),
            Coding::Zstd => Incremental::Zstd(Box::new(
                zstd::stream::write::Decoder::new(Vec::new()).unwrap(),
            )),
        }
    }

    /// Feeds wire bytes; returns everything decoded so far.
    fn feed(&mut self, wire: &[u8]) -> &[u8] {
        match self {
            Incremental::Identity(v) => {
                v.extend_from_slice(wire);
                v
            }
            Incremental::Gzip(d) => {
                d.write_all(wire).unwrap();
                d.flush().unwrap();
                d.get_ref()
            }
            Incremental::Brotli(d) => {
                d.write_all(wire).unwrap();
                d.flush().unwrap();
                d.get_ref()
            }
            Incremental::Zstd(d) => {
                d.write_all(wire).unwrap();
                d.flush().unwrap();
                d.get_ref()
            }
        }
    }
}

fn level(coding: Coding) -> impl Strategy<Value = i32> {
    match coding {
        Coding::Gzip => 1i32..=9,
        Coding::Brotli => 0i32..=6,
        Coding::Zstd => 1i32..=9,
        Coding::Identity => 0i32..=0,
    }
}

/// Text-like bytes (repetitive, so the encoders do real matching) or random ones.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..20_000),
        proptest::collection::vec(
            proptest::sample::select(vec![
                &b"{\"id\":"[..],
                b"\"name\":\"alpha\",",
                b"data: tick\n\n",
                b"0123456789",
                b" ",
                b"\xc3\xa9",
            ]),
            0..3000,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn coding_and_level() -> impl Strategy<Value = (Coding, i32)> {
    proptest::sample::select(CODINGS.to_vec()).prop_flat_map(|c| (Just(c), level(c)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Compression never changes the bytes: one shot, any coding and level.
    #[test]
    fn whole_bodies_round_trip((coding, level) in coding_and_level(), data in payload()) {
        prop_assert_eq!(decode(coding, &compress(coding, level, &data)), data);
    }

    /// A stream cut anywhere decodes, after each flushed piece, to exactly the pieces so far;
    /// once finished, to the whole.
    #[test]
    fn streams_decode_piece_by_piece(
        (coding, level) in coding_and_level(),
        data in payload(),
        cuts in proptest::collection::vec(0usize..20_000, 0..12),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.push(data.len());
        cuts.sort_unstable();
        let mut enc = Encoder::new(coding, level);
        prop_assert_eq!(enc.coding(), coding);
        let mut dec = Incremental::new(coding);
        let mut wire = Vec::new();
        let mut start = 0;
        for cut in cuts {
            let mut out = Vec::new();
            enc.piece(&data[start..cut], &mut out);
            wire.extend_from_slice(&out);
            prop_assert_eq!(dec.feed(&out), &data[..cut]);
            start = cut;
        }
        let mut out = Vec::new();
        enc.finish(&mut out);
        wire.extend_from_slice(&out);
        prop_assert_eq!(decode(coding, &wire), data);
    }
}

#[test]
fn text_shrinks_in_every_coding() {
    let text = b"{\"id\":1,\"name\":\"alpha\",\"tags\":[\"a\",\"b\"]},".repeat(200);
    for coding in Coding::COMPRESSED {
        let level = Policy::default().level(coding);
        let packed = compress(coding, level, &text);
        assert!(
            packed.len() * 10 < text.len(),
            "{coding:?}: {}",
            packed.len()
        );
        assert_eq!(decode(coding, &packed), text);
    }
}

/// A 100 KiB JSON document, like an API answer: what compressing it costs at the default levels.
/// `cargo test --release cost_at_default_levels -- --ignored --nocapture` prints µs per body.
/// Not a test of speed (it asserts the round trip only): the figure documents the trade-off.
#[test]
#[ignore]
fn cost_at_default_levels() {
    let mut json = String::from("[");
    let mut i = 0u64;
    while json.len() < 100 << 10 {
        let n = i.wrapping_mul(2_654_435_761) % 100_000;
        json.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{n}\",\"email\":\"user{n}@example.com\",\"score\":{},\"active\":{},\"tags\":[\"t{}\",\"t{}\"]}},",
            n % 977,
            n.is_multiple_of(2),
            n % 13,
            n % 7
        ));
        i += 1;
    }
    json.push(']');
    let json = json.into_bytes();
    let policy = Policy::default();
    for coding in Coding::COMPRESSED {
        let level = policy.level(coding);
        let rounds = 50;
        let packed = compress(coding, level, &json);
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(compress(coding, level, std::hint::black_box(&json)));
        }
        let per = start.elapsed() / rounds;
        println!(
            "{:<5} level {:>2}: {:>6} µs per {} KiB body, {} → {} bytes ({:.1} %)",
            coding.token(),
            level,
            per.as_micros(),
            json.len() >> 10,
            json.len(),
            packed.len(),
            packed.len() as f64 * 100.0 / json.len() as f64
        );
        assert_eq!(decode(coding, &packed), json);
    }
}

/// What one open stream's encoder holds (SSE clients keep theirs for hours): RSS grown by 1,000
/// encoders that each encoded one event. `cargo test --release stream_encoder_memory -- --ignored
/// --nocapture` prints KiB per encoder. Documents `STREAM_WINDOW_LOG`; asserts nothing of size.
#[cfg(target_os = "linux")]
#[test]
#[ignore]
fn stream_encoder_memory() {
    fn rss_kib() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4
    }
    let event = b"id: 1\nevent: tick\ndata: {\"n\":1,\"user\":\"someone\"}\n\n".repeat(4);
    for coding in Coding::COMPRESSED {
        let level = Policy::default().level(coding);
        let before = rss_kib();
        let mut encoders: Vec<Encoder> = (0..1000).map(|_| Encoder::new(coding, level)).collect();
        let mut out = Vec::new();
        for e in &mut encoders {
            e.piece(&event, &mut out);
        }
        let after = rss_kib();
        println!(
            "{:<5} level {:>2}: {} KiB per open stream encoder",
            coding.token(),
            level,
            after.saturating_sub(before) / 1000
        );
        drop(encoders);
    }
}
