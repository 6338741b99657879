//! The encoders: a whole body at once (`compress`), or a stream (`Encoder`) whose every
//! `flush` makes what was written so far decodable, so a streamed answer (SSE) reaches the
//! client piece by piece.
//!
//! Everything writes into `Vec<u8>`s, which cannot fail; the encoders' own errors only come from
//! invalid parameters, which the levels are clamped to avoid. So neither function returns a
//! `Result`.

use std::io::Write;

use brotli::enc::BrotliEncoderParams;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::Coding;

/// Brotli's and zstd's window for a stream: 2^16 = 64 KiB of history. A stream's encoder lives
/// as long as the answer (an SSE stream: hours) and there may be thousands, so each is kept small:
/// a stream's repeats (event names, JSON keys) are close together, so little ratio is lost, where
/// the defaults (a 4 MiB window for brotli, 2 MiB for zstd, and tables sized for them) would cost
/// several MiB per stream. Whole bodies size their window to the body instead.
const STREAM_WINDOW_LOG: u32 = 16;
/// zstd's hash and chain tables for a stream, 2^14 entries each, sized with its window rather
/// than for the 2 MiB window zstd picks for an unknown length. Measured RSS per open stream
/// encoder after one event (`tests::stream_encoder_memory`): zstd 171 KiB (555 KiB with a 2^18
/// window and 2^16 tables), brotli 190 KiB (its level's hash table, whatever the window), gzip
/// 301 KiB (zlib's fixed window and tables).
const STREAM_TABLE_LOG: u32 = 14;
/// Brotli's largest window (RFC 7932: 2^24 − 16, but 2^22 is the encoder's default and what
/// browsers are tuned for), for whole bodies.
const BROTLI_MAX_WINDOW_LOG: u32 = 22;
/// Brotli's smallest window (RFC 7932 §9.1).
const BROTLI_MIN_WINDOW_LOG: u32 = 10;
/// The brotli writer's own buffer between the encoder and our `Vec`.
const BROTLI_BUFFER: usize = 4096;

/// `data` encoded whole in `coding` at `level` (clamped to the coding's range); `Identity`
/// copies it.
pub fn compress(coding: Coding, level: i32, data: &[u8]) -> Vec<u8> {
    // Text usually shrinks to a quarter or less; the Vec grows if not.
    let out = Vec::with_capacity(data.len() / 4 + 64);
    match coding {
        Coding::Identity => data.to_vec(),
        Coding::Gzip => {
            let mut e = GzEncoder::new(out, gzip_level(level));
            e.write_all(data).expect("writing to a Vec");
            e.finish().expect("writing to a Vec")
        }
        Coding::Brotli => {
            let mut out = out;
            let params = brotli_params(level, window_for(data.len()), data.len());
            brotli::BrotliCompress(&mut &data[..], &mut out, &params).expect("writing to a Vec");
            out
        }
        Coding::Zstd => zstd::bulk::compress(data, zstd_level(level)).expect("writing to a Vec"),
    }
}

/// A streamed body being encoded. Each `write` appends to `out` whatever the encoder has
/// finished (often nothing); `flush` then emits the rest of what was written, decodable by
/// itself; `finish` ends the stream. `Identity` passes bytes through.
pub struct Encoder(Inner);

enum Inner {
    Identity,
    Gzip(GzEncoder<Vec<u8>>),
    // Boxed: the brotli state is several KiB inline, and an `Encoder` lives in every slot.
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// A stream encoder for `coding` at `level` (clamped), with the bounded windows of
    /// `STREAM_WINDOW_LOG` so that many long-lived streams stay cheap.
    pub fn new(coding: Coding, level: i32) -> Encoder {
        Encoder(match coding {
            Coding::Identity => Inner::Identity,
            Coding::Gzip => Inner::Gzip(GzEncoder::new(Vec::new(), gzip_level(level))),
            Coding::Brotli => Inner::Brotli(Box::new(brotli::CompressorWriter::with_params(
                Vec::new(),
                BROTLI_BUFFER,
                &brotli_params(level, STREAM_WINDOW_LOG, 0),
            ))),
            Coding::Zstd => {
                use zstd::zstd_safe::CParameter;
                let mut e = zstd::stream::write::Encoder::new(Vec::new(), zstd_level(level))
                    .expect("a zstd context (fails only when it cannot be allocated)");
                for p in [
                    CParameter::WindowLog(STREAM_WINDOW_LOG),
                    CParameter::HashLog(STREAM_TABLE_LOG),
                    CParameter::ChainLog(STREAM_TABLE_LOG),
                ] {
                    e.set_parameter(p).expect("parameters within zstd's bounds");
                }
                Inner::Zstd(e)
            }
        })
    }

    pub fn coding(&self) -> Coding {
        match self.0 {
            Inner::Identity => Coding::Identity,
            Inner::Gzip(_) => Coding::Gzip,
            Inner::Brotli(_) => Coding::Brotli,
            Inner::Zstd(_) => Coding::Zstd,
        }
    }

    /// Feeds `data`; appends to `out` what the encoder already emitted.
    pub fn write(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let done = match &mut self.0 {
            Inner::Identity => {
                out.extend_from_slice(data);
                return;
            }
            Inner::Gzip(e) => e.write_all(data),
            Inner::Brotli(e) => e.write_all(data),
            Inner::Zstd(e) => e.write_all(data),
        };
        done.expect("writing to a Vec");
        self.drain(out);
    }

    /// A sync flush: appends to `out` everything needed to decode all that was written so far.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        let done = match &mut self.0 {
            Inner::Identity => return,
            Inner::Gzip(e) => e.flush(),
            Inner::Brotli(e) => e.flush(),
            Inner::Zstd(e) => e.flush(),
        };
        done.expect("writing to a Vec");
        self.drain(out);
    }

    /// `write` then `flush`: one streamed piece, on the wire as soon as it is written.
    pub fn piece(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.write(data, out);
        self.flush(out);
    }

    /// Ends the stream (trailer, checksum): appends the rest to `out`.
    pub fn finish(self, out: &mut Vec<u8>) {
        let mut rest = match self.0 {
            Inner::Identity => return,
            Inner::Gzip(e) => e.finish().expect("writing to a Vec"),
            Inner::Brotli(e) => e.into_inner(),
            Inner::Zstd(e) => e.finish().expect("writing to a Vec"),
        };
        out.append(&mut rest);
    }

    /// Moves what the encoder wrote to its own `Vec` into `out`, keeping that Vec's capacity.
    fn drain(&mut self, out: &mut Vec<u8>) {
        let sink = match &mut self.0 {
            Inner::Identity => return,
            Inner::Gzip(e) => e.get_mut(),
            Inner::Brotli(e) => e.get_mut(),
            Inner::Zstd(e) => e.get_mut(),
        };
        out.append(sink);
    }
}

fn gzip_level(level: i32) -> Compression {
    Compression::new(level.clamp(1, 9) as u32)
}

fn zstd_level(level: i32) -> i32 {
    level.clamp(1, 19)
}

fn brotli_params(level: i32, lgwin: u32, size_hint: usize) -> BrotliEncoderParams {
    BrotliEncoderParams {
        quality: level.clamp(0, 11),
        lgwin: lgwin as i32,
        size_hint,
        ..BrotliEncoderParams::default()
    }
}

/// The smallest brotli window that holds a body of `len` bytes (a window needs 16 bytes of
/// slack, RFC 7932 §9.1), so a small body does not allocate a 4 MiB ring buffer.
fn window_for(len: usize) -> u32 {
    let mut lg = BROTLI_MIN_WINDOW_LOG;
    while lg < BROTLI_MAX_WINDOW_LOG && (1usize << lg) - 16 < len {
        lg += 1;
    }
    lg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_fits_the_body() {
        assert_eq!(window_for(0), 10);
        assert_eq!(window_for(1008), 10);
        assert_eq!(window_for(1009), 11);
        assert_eq!(window_for(100 << 10), 17);
        assert_eq!(window_for(1 << 30), 22);
    }
}
