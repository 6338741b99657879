//! The transport under a connection: a byte stream with owned-buffer reads and writes
//! (monoio's `AsyncReadRent`/`AsyncWriteRent`), a readiness wait, and, when it is a plain
//! socket, its descriptor. TCP implements it today; a TLS stream or an in-memory pipe (a
//! socketless `inject()`) implements the same trait and the request path does not change.
//! Writing everything owed, with the stall watch, lives here too.

use std::time::Duration;

use monoio::buf::IoBuf;
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::time::Instant;

use crate::lifecycle::Watch;

#[cfg(unix)]
pub use std::os::fd::RawFd;
#[cfg(not(unix))]
pub type RawFd = i32;

pub trait Transport: AsyncReadRent + AsyncWriteRent {
    /// Completes once a read would not wait (bytes, EOF or an error are there); `Err` when the
    /// transport failed.
    async fn readable(&mut self) -> std::io::Result<()>;

    /// Completes once a write would not wait.
    async fn writable(&mut self) -> std::io::Result<()>;

    /// The socket JS may write a lone answer to itself (`bridge/direct.rs`) and the one checked
    /// for a reset peer; `None` for a transport whose bytes are not the socket's (TLS, memory).
    fn raw_fd(&self) -> Option<RawFd>;
}

impl Transport for TcpStream {
    async fn readable(&mut self) -> std::io::Result<()> {
        // Not relaxed: on epoll, readiness monoio remembers from the last read is usually
        // stale, and the read would then wait holding the buffer (io_uring always polls).
        TcpStream::readable(self, false).await.map(|_| ())
    }

    async fn writable(&mut self) -> std::io::Result<()> {
        TcpStream::writable(self, false).await.map(|_| ())
    }

    #[cfg(unix)]
    fn raw_fd(&self) -> Option<RawFd> {
        use std::os::fd::AsRawFd;
        Some(self.as_raw_fd())
    }

    #[cfg(not(unix))]
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }
}

/// Writes all of `buf`, giving it back; fails when the transport does, or when the client
/// takes nothing for `requestTimeout` (`watch` fires).
pub async fn write_all<S: Transport, T: IoBuf>(
    stream: &mut S,
    mut buf: T,
    watch: &Watch,
) -> std::io::Result<T> {
    let len = buf.bytes_init();
    let mut written = 0;
    while written < len {
        watch.progress(Some(Instant::now()));
        let (res, slice) = monoio::select! {
            done = stream.write(buf.slice(written..)) => done,
            _ = watch.fired() => return Err(std::io::ErrorKind::TimedOut.into()),
        };
        watch.progress(None);
        buf = slice.into_inner();
        match res {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) => return Err(e),
        }
    }
    Ok(buf)
}

/// Sends what a plain socket takes of `parts` (one `sendmsg`, gathered) without waiting; returns
/// how much that was (0 on any error: the caller then queues it all for the connection, which
/// meets the error itself). For writes made outside the connection's task: a lone answer from
/// the JS thread (`bridge/direct.rs`), a WebSocket frame from the hub (`ws/hub.rs`).
#[cfg(unix)]
pub fn send_now(fd: RawFd, parts: &[std::io::IoSlice<'_>]) -> usize {
    use nix::errno::Errno;
    use nix::sys::socket::{sendmsg, MsgFlags};
    // Node ignores SIGPIPE, but an embedder may not: a peer that left must not kill the process.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = MsgFlags::MSG_DONTWAIT;
    loop {
        match sendmsg::<()>(fd, parts, &[], flags, None) {
            Ok(n) => return n,
            Err(Errno::EINTR) => continue,
            Err(_) => return 0,
        }
    }
}

#[cfg(not(unix))]
pub fn send_now(_fd: RawFd, _parts: &[std::io::IoSlice<'_>]) -> usize {
    0
}

/// Waits for the socket's first bytes and copies up to `buf.len()` of them without taking them
/// (they stay for whoever reads next): how an accepted connection's protocol is told (TLS's
/// first byte, the h2c preface). `None` at the end or on an error.
#[cfg(unix)]
pub async fn peek(tcp: &TcpStream, buf: &mut [u8]) -> Option<usize> {
    use nix::errno::Errno;
    use nix::sys::socket::{recv, MsgFlags};
    use std::os::fd::AsRawFd;
    loop {
        tcp.readable(false).await.ok()?;
        match recv(
            tcp.as_raw_fd(),
            buf,
            MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            // Readiness the driver remembered was stale: wait again.
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Whether the peer reset the connection (or it failed otherwise): a zero-timeout poll, where
/// POLLERR and POLLHUP are reported whatever was asked for.
#[cfg(unix)]
pub fn peer_reset(fd: Option<RawFd>) -> bool {
    use nix::poll::{poll, PollFd, PollFlags};
    let Some(fd) = fd else { return false };
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    match poll(&mut fds, 0) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        Err(_) => false,
    }
}

#[cfg(not(unix))]
pub fn peer_reset(_fd: Option<RawFd>) -> bool {
    false
}

/// After an error answer that closes the connection, how long and how much of the client's
/// unread request we read and discard (RFC 9112 §9.6): closing with unread input makes the
/// kernel send a reset, and a reset can destroy the answer before the client reads it.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;
const LINGER_READ: usize = 16 * 1024;

/// Half-closes, then reads and discards until the client closes too, the bounds run out, or
/// `stop` completes (the server aborts).
pub async fn linger<S: Transport>(
    stream: &mut S,
    watch: &Watch,
    stop: impl std::future::Future<Output = ()>,
) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let discard = async {
        let mut buf = Vec::with_capacity(LINGER_READ);
        let mut total = 0;
        while total < LINGER_BYTES {
            let (res, b) = stream.read(buf).await;
            buf = b;
            match res {
                Ok(n) if n > 0 => total += n,
                _ => return,
            }
        }
    };
    watch.read_until(Some(Instant::now() + LINGER_TIME));
    monoio::select! {
        _ = discard => {},
        _ = watch.fired() => {},
        _ = stop => {},
    }
}
