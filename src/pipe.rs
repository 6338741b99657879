//! An in-memory connection on the server thread: two byte queues, each bounded, between a server
//! end (an `io::Transport`, so the HTTP/1.1 connection serves it as it serves a socket) and a
//! client end driven by Rust code. HTTP/2 runs each of its streams through one (`h2/stream.rs`),
//! so a stream gets everything HTTP/1.1 has (routing, the cache, files, streams to JS, limits)
//! from the same code.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{Poll, Waker};

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::BufResult;

use crate::io::{RawFd, Transport};

/// Bytes one direction holds before its writer waits: the reader's backpressure reaches the
/// writer (an HTTP/2 window not yet granted stops the connection's writes, and through them JS).
pub const PIPE_CAPACITY: usize = 64 * 1024;

#[derive(Default)]
struct Direction {
    bytes: VecDeque<u8>,
    /// The writer is done (or gone): once `bytes` are read, the reader sees the end.
    closed: bool,
    /// The reader is gone: writes fail.
    abandoned: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Direction {
    /// The writer is done: the reader sees the end once it has read what is there.
    fn close(&mut self) {
        self.closed = true;
        self.wake_reader();
    }

    fn wake_reader(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    fn wake_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }

    /// Waits for bytes or the end; `Ok(0)` at the end.
    fn poll_readable(&mut self, cx: &std::task::Context<'_>) -> Poll<usize> {
        if !self.bytes.is_empty() || self.closed {
            return Poll::Ready(self.bytes.len());
        }
        self.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_room(&mut self, cx: &std::task::Context<'_>) -> Poll<io::Result<usize>> {
        if self.abandoned || self.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = PIPE_CAPACITY.saturating_sub(self.bytes.len());
        if room > 0 {
            return Poll::Ready(Ok(room));
        }
        self.writer = Some(cx.waker().clone());
        Poll::Pending
    }

    fn take(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.bytes.len());
        let (front, back) = self.bytes.as_slices();
        let k = front.len().min(n);
        out[..k].copy_from_slice(&front[..k]);
        out[k..n].copy_from_slice(&back[..n - k]);
        self.bytes.drain(..n);
        if n > 0 {
            self.wake_writer();
        }
        n
    }

    fn put(&mut self, bytes: &[u8]) {
        self.bytes.extend(bytes);
        self.wake_reader();
    }
}

#[derive(Default)]
struct Shared {
    /// Client → server (the request).
    up: Direction,
    /// Server → client (the answer).
    down: Direction,
}

/// Makes a connected pair.
pub fn pair() -> (ServerEnd, ClientEnd) {
    let shared = Rc::new(RefCell::new(Shared::default()));
    (
        ServerEnd {
            shared: shared.clone(),
        },
        ClientEnd { shared },
    )
}

pub struct ServerEnd {
    shared: Rc<RefCell<Shared>>,
}

pub struct ClientEnd {
    shared: Rc<RefCell<Shared>>,
}

impl Shared {
    /// One end went: what it wrote ends (`out`), what was written to it fails (`into`).
    fn gone(out: &mut Direction, into: &mut Direction) {
        out.close();
        into.abandoned = true;
        into.wake_writer();
    }
}

impl Drop for ServerEnd {
    fn drop(&mut self) {
        let s = &mut *self.shared.borrow_mut();
        Shared::gone(&mut s.down, &mut s.up);
    }
}

impl Drop for ClientEnd {
    fn drop(&mut self) {
        let s = &mut *self.shared.borrow_mut();
        Shared::gone(&mut s.up, &mut s.down);
    }
}

impl ClientEnd {
    /// Writes all of `bytes`, waiting for room; fails once the server end is gone.
    pub async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let room = poll_fn(|cx| self.shared.borrow_mut().up.poll_room(cx)).await?;
            let n = room.min(bytes.len());
            self.shared.borrow_mut().up.put(&bytes[..n]);
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Appends what the server wrote to `out`; `false` at the end (the server end closed).
    pub async fn read_into(&self, out: &mut Vec<u8>) -> bool {
        let n = poll_fn(|cx| self.shared.borrow_mut().down.poll_readable(cx)).await;
        if n == 0 {
            return false;
        }
        let at = out.len();
        out.resize(at + n, 0);
        self.shared.borrow_mut().down.take(&mut out[at..]);
        true
    }
}

impl Transport for ServerEnd {
    async fn readable(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.shared.borrow_mut().up.poll_readable(cx)).await;
        Ok(())
    }

    async fn writable(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.shared.borrow_mut().down.poll_room(cx))
            .await
            .map(|_| ())
    }

    fn raw_fd(&self) -> Option<RawFd> {
        None
    }
}

impl AsyncReadRent for ServerEnd {
    async fn read<T: IoBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        let ready = poll_fn(|cx| self.shared.borrow_mut().up.poll_readable(cx)).await;
        if ready == 0 {
            // The client end never half-closes: it goes when its stream is over, answered or
            // reset, and the connection must take that as a client gone (JS's `req.signal`
            // aborts), not as a FIN after a complete request.
            return (Err(io::ErrorKind::ConnectionReset.into()), buf);
        }
        let len = buf.bytes_total().min(ready);
        // SAFETY: `write_ptr` points to `bytes_total()` writable bytes owned by `buf`; the first
        // `len` are zeroed before a slice is made of them, so the slice is initialized.
        let slice = unsafe {
            std::ptr::write_bytes(buf.write_ptr(), 0, len);
            std::slice::from_raw_parts_mut(buf.write_ptr(), len)
        };
        let n = self.shared.borrow_mut().up.take(slice);
        // SAFETY: `n` bytes were just written at the buffer's start.
        unsafe { buf.set_init(n) };
        (Ok(n), buf)
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        (Err(io::ErrorKind::Unsupported.into()), buf)
    }
}

impl AsyncWriteRent for ServerEnd {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        let room = match poll_fn(|cx| self.shared.borrow_mut().down.poll_room(cx)).await {
            Ok(room) => room,
            Err(e) => return (Err(e), buf),
        };
        let n = room.min(buf.bytes_init());
        // SAFETY: `read_ptr` points to `bytes_init()` initialized bytes that `buf` owns and
        // keeps alive until it is returned below; `n` is no more than that.
        let bytes = unsafe { std::slice::from_raw_parts(buf.read_ptr(), n) };
        self.shared.borrow_mut().down.put(bytes);
        (Ok(n), buf)
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        (Err(io::ErrorKind::Unsupported.into()), buf)
    }

    async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.shared.borrow_mut().down.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn run(fut: impl std::future::Future<Output = ()>) {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .unwrap()
            .block_on(fut);
    }

    #[test]
    fn a_writer_waits_for_room_and_bytes_arrive_in_order() {
        run(async {
            let (mut server, client) = pair();
            let sent: Vec<u8> = (0..3 * PIPE_CAPACITY).map(|i| i as u8).collect();
            let done = Rc::new(Cell::new(false));
            let writer = {
                let (sent, done) = (sent.clone(), done.clone());
                monoio::spawn(async move {
                    client.write_all(&sent).await.unwrap();
                    done.set(true);
                    client
                })
            };
            let mut got = Vec::new();
            while got.len() < sent.len() {
                // Never more than the bound waits in the pipe.
                assert!(server.shared.borrow().up.bytes.len() <= PIPE_CAPACITY);
                let (res, buf) = server.read(Vec::with_capacity(10_000)).await;
                got.extend_from_slice(&buf[..res.unwrap()]);
            }
            assert_eq!(got, sent);
            let client = writer.await;
            assert!(done.get());
            // The server's answer, then its close: the client reads both.
            let (res, _) = server.write(b"answer".to_vec()).await;
            assert_eq!(res.unwrap(), 6);
            server.shutdown().await.unwrap();
            let mut out = Vec::new();
            while client.read_into(&mut out).await {}
            assert_eq!(out, b"answer");
        });
    }

    #[test]
    fn a_client_end_that_goes_is_a_reset_and_a_server_end_that_goes_fails_writes() {
        run(async {
            let (mut server, client) = pair();
            client.write_all(b"GET").await.unwrap();
            drop(client);
            let (res, buf) = server.read(Vec::with_capacity(16)).await;
            assert_eq!(&buf[..res.unwrap()], b"GET");
            server.readable().await.unwrap();
            let (res, _) = server.read(Vec::with_capacity(16)).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
            let (res, _) = server.write(b"x".to_vec()).await;
            assert_eq!(res.unwrap_err().kind(), io::ErrorKind::BrokenPipe);

            let (server, client) = pair();
            drop(server);
            assert_eq!(
                client.write_all(b"x").await.unwrap_err().kind(),
                io::ErrorKind::BrokenPipe
            );
            assert!(!client.read_into(&mut Vec::new()).await);
        });
    }
}
