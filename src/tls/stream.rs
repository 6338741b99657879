//! A TLS connection as a transport (`io::Transport`): plaintext in and out of a rustls session
//! whose records travel over the TCP socket.
//!
//! The socket is read and written with non-blocking system calls once monoio says it is ready,
//! never with an owned-buffer operation: the connection cancels its waits (a timer, a piece
//! from JS), and a cancelled read would lose ciphertext already taken from the kernel, which
//! breaks the session. Records rustls has not been able to send stay in rustls.
//!
//! `readable()` completes only once decrypted bytes (or the end) are there, as for a socket: a
//! connection that saw readiness reads at once, never waiting for the rest of a record with its
//! buffer taken (conn/read.rs relies on it).

use std::io::{self, Read, Write};

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::BufResult;
use rustls::ServerConnection;

use crate::io::{RawFd, Transport};

pub struct TlsStream {
    tcp: TcpStream,
    tls: ServerConnection,
    /// Records on their way out through `send_records`, kept for the next answer.
    out: Vec<u8>,
    /// The client closed its side (a FIN): no more records come.
    eof: bool,
}

impl TlsStream {
    pub fn new(tcp: TcpStream, tls: ServerConnection) -> TlsStream {
        TlsStream {
            tcp,
            tls,
            out: Vec::new(),
            eof: false,
        }
    }

    pub fn session(&self) -> &ServerConnection {
        &self.tls
    }

    fn fd(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.tcp.as_raw_fd()
    }

    /// Hands rustls what the socket holds and processes it. `Ok(false)`: the socket had nothing.
    /// A protocol error is answered with rustls's alert (best effort) and fails the connection.
    fn pull(&mut self) -> io::Result<bool> {
        let fd = self.fd();
        match self.tls.read_tls(&mut Socket(fd)) {
            Ok(0) => self.eof = true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
            Err(e) => return Err(e),
        }
        if let Err(e) = self.tls.process_new_packets() {
            let _ = self.tls.write_tls(&mut Socket(fd));
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        Ok(true)
    }

    /// Sends the records rustls holds, waiting while the socket is full.
    async fn push(&mut self) -> io::Result<()> {
        let fd = self.fd();
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut Socket(fd)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.tcp.writable(false).await?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends the records of an answer with the runtime's own write (an io_uring operation,
    /// batched with every other connection's, where `push` costs a system call each). Only
    /// from `write`, which the connection never cancels but to drop the connection: a cancelled
    /// write loses the records it held, and the session with them.
    async fn send_records(&mut self) -> io::Result<()> {
        use monoio::io::AsyncWriteRentExt;
        let mut out = std::mem::take(&mut self.out);
        while self.tls.wants_write() {
            self.tls.write_tls(&mut out)?;
        }
        let (res, mut out) = self.tcp.write_all(out).await;
        out.clear();
        self.out = out;
        res.map(|_| ())
    }

    /// Completes the handshake: the session is then ready for application data, its ALPN and
    /// client certificate known.
    pub async fn handshake(&mut self) -> io::Result<()> {
        while self.tls.is_handshaking() {
            self.push().await?;
            if !self.tls.is_handshaking() {
                break;
            }
            if self.eof {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if !self.pull()? {
                self.tcp.readable(false).await?;
            }
        }
        // The server's last flight (Finished, session tickets).
        self.push().await
    }

    /// Decrypted bytes waiting to be read (`Some(0)`: the session's end), or `None`: a read
    /// would wait.
    fn input(&mut self) -> io::Result<Option<usize>> {
        let state = self
            .tls
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let ready = state.plaintext_bytes_to_read();
        Ok((ready > 0 || state.peer_has_closed() || self.eof).then_some(ready))
    }

    /// Waits until a read completes at once; returns the decrypted bytes waiting.
    /// `socket_first`: ask the socket before waiting for readiness, right when bytes are likely
    /// there (a read in the middle of a request); between requests the socket is usually empty,
    /// and asking it first would cost a system call that finds nothing.
    async fn wait_input(&mut self, socket_first: bool) -> io::Result<usize> {
        let mut ask_socket = socket_first;
        loop {
            if let Some(ready) = self.input()? {
                return Ok(ready);
            }
            if !(ask_socket && self.pull()?) {
                self.tcp.readable(false).await?;
                self.pull()?;
            }
            ask_socket = true;
            // What a record asked for in return (a key update's answer).
            if self.tls.wants_write() {
                self.push().await?;
            }
        }
    }
}

impl Transport for TlsStream {
    async fn readable(&mut self) -> io::Result<()> {
        self.wait_input(false).await.map(|_| ())
    }

    async fn writable(&mut self) -> io::Result<()> {
        self.push().await?;
        self.tcp.writable(false).await.map(|_| ())
    }

    /// The bytes on the socket are records, not the answer: nothing may be written to it
    /// directly (lone answers from JS, WebSocket frames from the hub, sendfile).
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }
}

impl AsyncReadRent for TlsStream {
    async fn read<T: IoBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        let ready = match self.wait_input(true).await {
            Ok(n) => n,
            Err(e) => return (Err(e), buf),
        };
        let len = buf.bytes_total().min(ready);
        if len == 0 {
            // The client's close_notify, or its FIN without one (a truncation HTTP's own framing
            // catches: a request cut short is never complete).
            return (Ok(0), buf);
        }
        // SAFETY: `write_ptr` points to `bytes_total()` writable bytes owned by `buf`; the first
        // `len` of them are zeroed before a slice is made of them, so the slice is initialized.
        let slice = unsafe {
            std::ptr::write_bytes(buf.write_ptr(), 0, len);
            std::slice::from_raw_parts_mut(buf.write_ptr(), len)
        };
        match self.tls.reader().read(slice) {
            Ok(n) => {
                // SAFETY: rustls wrote `n` bytes into the slice just made, at the buffer's start.
                unsafe { buf.set_init(n) };
                (Ok(n), buf)
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => (Ok(0), buf),
            Err(e) => (Err(e), buf),
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        // Nothing reads a connection into several buffers.
        (Err(io::ErrorKind::Unsupported.into()), buf)
    }
}

impl AsyncWriteRent for TlsStream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        // Room in rustls first: it takes no more than its buffer limit at a time.
        if let Err(e) = self.push().await {
            return (Err(e), buf);
        }
        // SAFETY: `read_ptr` points to `bytes_init()` initialized bytes that `buf` owns and keeps
        // alive until it is returned below.
        let slice = unsafe { std::slice::from_raw_parts(buf.read_ptr(), buf.bytes_init()) };
        let n = match self.tls.writer().write(slice) {
            Ok(n) => n,
            Err(e) => return (Err(e), buf),
        };
        match self.send_records().await {
            Ok(()) => (Ok(n), buf),
            Err(e) => (Err(e), buf),
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        // Nothing writes a connection from several buffers at once.
        (Err(io::ErrorKind::Unsupported.into()), buf)
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.push().await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.tls.send_close_notify();
        self.push().await?;
        self.tcp.shutdown().await
    }
}

/// The socket under the session, read and written without waiting (the caller waited for
/// readiness); `WouldBlock` when it has nothing or no room.
struct Socket(RawFd);

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use nix::sys::socket::{recv, MsgFlags};
        recv(self.0, buf, MsgFlags::MSG_DONTWAIT).map_err(io::Error::from)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        use nix::sys::socket::{sendmsg, MsgFlags};
        // Node ignores SIGPIPE, but an embedder may not: a peer that left must not kill us.
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        sendmsg::<()>(self.0, bufs, &[], flags, None).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
