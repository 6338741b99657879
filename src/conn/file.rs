//! Writing a file body the connection owes (an `Outbox` file span): read with the runtime's
//! file I/O (an io_uring read, or `pread` on the legacy driver) a chunk at a time into one
//! buffer while the other is written, so the disk and the socket work at once; or, for a file
//! compressed as it goes, each chunk through the encoder and out as a chunk of a chunked body.
//! A file never sits in memory whole.

use std::rc::Rc;

use monoio::buf::IoBufMut;

use crate::compress::Encoder;
use crate::h1::encode::{body_end, body_piece, BodyFraming};
use crate::io::{write_all, Transport};
use crate::lifecycle::Watch;
use crate::outbox::FileSpan;

/// A file is sent this much at a time: large enough that a read and a write move a lot per
/// syscall (or ring entry), small enough that a thousand concurrent downloads hold 512 MiB at
/// most (two buffers each), and never the file itself.
pub const FILE_CHUNK: usize = 256 * 1024;

/// Reads up to `FILE_CHUNK` of `file` at `pos`, short of `end`, into `buf`. A file that shrank
/// under us is an error: its length was promised in the head.
async fn read_chunk(
    file: Rc<monoio::fs::File>,
    mut buf: Vec<u8>,
    pos: u64,
    end: u64,
) -> std::io::Result<Vec<u8>> {
    let want = FILE_CHUNK.min((end - pos) as usize);
    buf.clear();
    buf.reserve(want);
    let (res, slice) = file.read_at(buf.slice_mut(0..want), pos).await;
    match res {
        Ok(0) => Err(std::io::ErrorKind::UnexpectedEof.into()),
        Ok(_) => Ok(slice.into_inner()),
        Err(e) => Err(e),
    }
}

pub async fn write_file<S: Transport>(
    stream: &mut S,
    span: FileSpan,
    watch: &Watch,
) -> std::io::Result<()> {
    let end = span.offset + span.len;
    let mut pos = span.offset;
    let mut ready = read_chunk(span.file.clone(), Vec::new(), pos, end).await?;
    pos += ready.len() as u64;
    let mut encoder = span
        .encode
        .map(|(coding, level)| Encoder::new(coding, level));
    let mut framed = Vec::new();
    let mut spare = Vec::new();
    loop {
        let last = pos >= end;
        // Compressed: what goes out is the encoder's output for this chunk, framed.
        let out = match encoder.as_mut() {
            None => ready,
            Some(enc) => {
                let mut coded = std::mem::take(&mut framed);
                coded.clear();
                let mut piece = Vec::with_capacity(ready.len() / 2);
                enc.write(&ready, &mut piece);
                if last {
                    encoder.take().expect("encoding").finish(&mut piece);
                }
                body_piece(&mut coded, &mut BodyFraming::Chunked, &piece);
                if last {
                    body_end(&mut coded, BodyFraming::Chunked);
                }
                spare = ready;
                coded
            }
        };
        if last {
            write_all(stream, out, watch).await?;
            return Ok(());
        }
        let next = read_chunk(span.file.clone(), std::mem::take(&mut spare), pos, end);
        let (next, written) = monoio::join!(next, write_all(stream, out, watch));
        let written = written?;
        if encoder.is_some() {
            framed = written;
        } else {
            spare = written;
        }
        ready = next?;
        pos += ready.len() as u64;
    }
}
