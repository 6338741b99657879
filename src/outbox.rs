//! What a connection owes its client, in order: serialized bytes, with the large bodies of
//! stored responses (static routes, cache entries) held by reference rather than copied. The
//! connection bounds what it owes by `len()` (write_queue.rs, `MAX_OWED`), so a client that pipelines
//! requests for a large static body costs one body, shared with every other client, not one
//! copy per request. A file's bytes (`files/`) are owed as a span of an open file, read and
//! written a chunk at a time when their turn comes, so a file is never held in memory whole.

use std::rc::Rc;

use bytes::Bytes;

/// Stored bodies at least this large are written from the stored copy: copying them would cost
/// more than the extra write, and would grow the output buffer past what the buffer pool keeps
/// (`buffers::KEEP_CAPACITY`). Smaller ones are copied, so pipelined small answers still leave
/// in one write with no allocation.
pub const BY_REFERENCE: usize = 16 * 1024;

#[derive(Default)]
pub struct Outbox {
    bytes: Vec<u8>,
    /// Bodies to write at these offsets of `bytes`, in order of offset.
    shared: Vec<(usize, Body)>,
    shared_len: usize,
}

#[derive(Clone)]
enum Body {
    Shared(Bytes),
    File(FileSpan),
}

/// `len` bytes of an open file from `offset`; with `encode`, compressed as they are written
/// (in that coding and level) and framed as a chunked body.
#[derive(Clone)]
pub struct FileSpan {
    pub file: Rc<monoio::fs::File>,
    pub offset: u64,
    pub len: u64,
    pub encode: Option<(crate::compress::Coding, i32)>,
}

/// One piece of an outbox, in the order it goes on the wire.
pub enum Part {
    /// `bytes[from..to]` of the outbox's own buffer.
    Own(usize, usize),
    Shared(Bytes),
    File(FileSpan),
}

impl Outbox {
    pub fn from_bytes(bytes: Vec<u8>) -> Outbox {
        Outbox {
            bytes,
            ..Outbox::default()
        }
    }

    /// The buffer serialized output is appended to.
    pub fn bytes(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Appends a stored body: by reference when it is large, else copied.
    pub fn body(&mut self, body: &Bytes) {
        if body.len() >= BY_REFERENCE {
            self.shared
                .push((self.bytes.len(), Body::Shared(body.clone())));
            self.shared_len += body.len();
        } else {
            self.bytes.extend_from_slice(body);
        }
    }

    /// Appends a span of a file, read when it is written. It counts by its length in `len()`,
    /// so a connection does not parse ahead of a large file either.
    pub fn file(&mut self, span: FileSpan) {
        if span.len == 0 {
            return;
        }
        self.shared_len += span.len as usize;
        self.shared.push((self.bytes.len(), Body::File(span)));
    }

    /// Appends everything `other` owes, after what this one owes.
    pub fn append(&mut self, other: Outbox) {
        if self.bytes.is_empty() && self.shared.is_empty() && self.bytes.capacity() == 0 {
            *self = other;
            return;
        }
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.shared
            .extend(other.shared.into_iter().map(|(at, body)| (base + at, body)));
        self.shared_len += other.shared_len;
    }

    /// Bytes owed, shared bodies included.
    pub fn len(&self) -> usize {
        self.bytes.len() + self.shared_len
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.shared.is_empty()
    }

    /// The pieces to write, in order; empty pieces are left out.
    pub fn parts(&self) -> Vec<Part> {
        let mut parts = Vec::with_capacity(2 * self.shared.len() + 1);
        let mut from = 0;
        for (at, body) in &self.shared {
            if *at > from {
                parts.push(Part::Own(from, *at));
            }
            parts.push(match body {
                Body::Shared(bytes) => Part::Shared(bytes.clone()),
                Body::File(span) => Part::File(span.clone()),
            });
            from = *at;
        }
        if self.bytes.len() > from {
            parts.push(Part::Own(from, self.bytes.len()));
        }
        parts
    }

    /// Drops the first `n` bytes (sent by someone else): what is left of its own buffer moves to
    /// the front, shared bodies are sliced, never copied. Not for file spans.
    pub fn consume(&mut self, mut n: usize) {
        let parts = self.parts();
        let mut bytes = std::mem::take(&mut self.bytes);
        let mut rest = Outbox::default();
        for part in parts {
            match part {
                Part::Own(from, to) => {
                    let skip = n.min(to - from);
                    n -= skip;
                    rest.bytes.extend_from_slice(&bytes[from + skip..to]);
                }
                Part::Shared(body) => {
                    let skip = n.min(body.len());
                    n -= skip;
                    if skip < body.len() {
                        rest.shared_len += body.len() - skip;
                        rest.shared
                            .push((rest.bytes.len(), Body::Shared(body.slice(skip..))));
                    }
                }
                Part::File(span) => rest.file(span),
            }
        }
        bytes.clear();
        *self = rest;
    }

    /// Whether every body is in `bytes`, which can then be written in one piece.
    pub fn is_contiguous(&self) -> bool {
        self.shared.is_empty()
    }

    /// Takes the buffer out (to lend it to a write or give it back to the pool), leaving this
    /// outbox empty.
    pub fn take_bytes(&mut self) -> Vec<u8> {
        self.shared.clear();
        self.shared_len = 0;
        std::mem::take(&mut self.bytes)
    }

    /// Puts a buffer (back) in an empty outbox.
    pub fn set_bytes(&mut self, bytes: Vec<u8>) {
        debug_assert!(self.is_empty());
        self.bytes = bytes;
    }

    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    #[cfg(test)]
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.shared.clear();
        self.shared_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(out: &Outbox) -> Vec<u8> {
        let mut wire = Vec::new();
        for part in out.parts() {
            match part {
                Part::Own(from, to) => wire.extend_from_slice(&out.bytes[from..to]),
                Part::Shared(body) => wire.extend_from_slice(&body),
                Part::File(_) => unreachable!(),
            }
        }
        wire
    }

    #[test]
    fn large_bodies_are_shared_small_ones_copied_and_order_is_kept() {
        let big = Bytes::from(vec![b'B'; BY_REFERENCE]);
        let small = Bytes::from_static(b"small");
        let mut out = Outbox::default();
        out.bytes().extend_from_slice(b"head1;");
        out.body(&big);
        out.bytes().extend_from_slice(b"head2;");
        out.body(&small);
        out.body(&big);
        assert_eq!(out.len(), 12 + 5 + 2 * BY_REFERENCE);
        assert_eq!(out.bytes.len(), 17, "the large bodies were not copied");

        let mut other = Outbox::default();
        other.bytes().extend_from_slice(b"head3;");
        other.body(&big);
        other.bytes().extend_from_slice(b"tail");
        out.append(other);

        let mut expected = b"head1;".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"head2;small");
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"head3;");
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"tail");
        assert_eq!(wire(&out), expected);
        assert_eq!(out.len(), expected.len());
        out.clear();
        assert!(out.is_empty());
        assert_eq!(out.len(), 0);
    }

    #[test]
    fn consume_drops_exactly_what_was_sent_at_any_point() {
        let big = Bytes::from(vec![7u8; BY_REFERENCE + 3]);
        let build = || {
            let mut out = Outbox::default();
            out.bytes().extend_from_slice(b"head1;");
            out.body(&big);
            out.bytes().extend_from_slice(b"tail");
            out
        };
        let whole = wire(&build());
        for n in [
            0,
            1,
            5,
            6,
            7,
            6 + big.len() - 1,
            6 + big.len(),
            whole.len() - 1,
            whole.len(),
        ] {
            let mut out = build();
            out.consume(n);
            assert_eq!(wire(&out), whole[n..], "after consuming {n}");
            assert_eq!(out.len(), whole.len() - n);
        }
    }
}
