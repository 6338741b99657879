//! The listening socket: which address it binds (every interface unless a host was given, as
//! node does), dual-stack IPv6, SO_REUSEPORT and the backlog; and taking in every connection
//! already waiting on it at once. Built with socket2 because monoio's own `bind_with_config`
//! cannot turn IPV6_V6ONLY off.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Listen;

/// Connections taken from the backlog in one go after an accept completes. A busy runtime
/// polls the accept task once per round of its other tasks: with 10,000 streams writing events,
/// one connection per round let a burst of new clients wait seconds in a full backlog (libuv, for
/// the same reason, accepts until the backlog is empty). Bounded so a flood of connects cannot
/// keep the task from yielding.
pub const ACCEPT_BURST: usize = 256;

/// Connections already waiting on `listener`, taken without waiting (non-blocking `accept4`),
/// at most `ACCEPT_BURST`.
pub fn accept_waiting(
    listener: &monoio::net::TcpListener,
) -> Vec<(monoio::net::TcpStream, SocketAddr)> {
    accept_waiting_std(listener)
        .into_iter()
        .filter_map(|(s, peer)| Some((monoio::net::TcpStream::from_std(s).ok()?, peer)))
        .collect()
}

/// `accept_waiting`, as std sockets registered with no runtime: for handing to another thread.
#[cfg(target_os = "linux")]
pub fn accept_waiting_std(
    listener: &monoio::net::TcpListener,
) -> Vec<(std::net::TcpStream, SocketAddr)> {
    use nix::sys::socket::{accept4, SockFlag};
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut accepted = Vec::new();
    while accepted.len() < ACCEPT_BURST {
        let Ok(fd) = accept4(
            listener.as_raw_fd(),
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        ) else {
            break; // EAGAIN (the backlog is empty) or an error the next accept will meet
        };
        // SAFETY: `fd` was just returned by accept4 and is owned by nothing else; the std stream
        // takes sole ownership and closes it if anything below fails.
        let std_stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
        let Ok(peer) = std_stream.peer_addr() else {
            continue;
        };
        accepted.push((std_stream, peer));
    }
    accepted
}

#[cfg(not(target_os = "linux"))]
pub fn accept_waiting_std(
    _listener: &monoio::net::TcpListener,
) -> Vec<(std::net::TcpStream, SocketAddr)> {
    Vec::new()
}

/// Binds and listens. Without a host: `[::]` accepting IPv4 too, else, where IPv6 is unavailable
/// (a kernel without it, a sandbox refusing AF_INET6), `0.0.0.0` — node's rule: every failure of
/// the IPv6 bind but EADDRINUSE falls back. The socket is non-blocking, for the epoll driver.
pub fn bind(listen: &Listen) -> io::Result<std::net::TcpListener> {
    match listen.host {
        Some(ip) => bind_one(SocketAddr::new(ip, listen.port), listen),
        None => {
            let any6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), listen.port);
            match bind_one(any6, listen) {
                Err(e) if e.kind() != io::ErrorKind::AddrInUse => bind_one(
                    SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), listen.port),
                    listen,
                ),
                bound => bound,
            }
        }
    }
}

/// A failure names the address it was for, as node's listen errors do.
fn bind_one(addr: SocketAddr, listen: &Listen) -> io::Result<std::net::TcpListener> {
    try_bind(addr, listen).map_err(|e| io::Error::new(e.kind(), format!("{e}, binding {addr}")))
}

fn try_bind(addr: SocketAddr, listen: &Listen) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As libuv does for every listening socket: a restarted server binds its port again while
    // the previous one's connections are still in TIME_WAIT. (On Windows the option means
    // something else: stealing a port in use.)
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    // Dual-stack, set explicitly rather than left to the net.ipv6.bindv6only sysctl, as libuv
    // does: `::` then takes IPv4 clients too (as ::ffff:a.b.c.d).
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    #[cfg(unix)]
    if listen.reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(listen.backlog)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, TcpStream};

    fn listen(host: Option<IpAddr>, port: u16, reuse_port: bool) -> Listen {
        Listen {
            host,
            port,
            backlog: 16,
            reuse_port,
        }
    }

    fn ipv6_available() -> bool {
        std::net::TcpListener::bind("[::1]:0").is_ok()
    }

    #[test]
    fn no_host_binds_every_interface_for_both_families() {
        let l = bind(&listen(None, 0, false)).unwrap();
        let addr = l.local_addr().unwrap();
        assert!(addr.ip().is_unspecified(), "{addr}");
        TcpStream::connect((Ipv4Addr::LOCALHOST, addr.port())).unwrap();
        if ipv6_available() {
            assert!(addr.is_ipv6(), "{addr}");
            TcpStream::connect((Ipv6Addr::LOCALHOST, addr.port())).unwrap();
        }
    }

    #[test]
    fn an_explicit_host_is_bound_exactly() {
        let l = bind(&listen(Some(Ipv4Addr::LOCALHOST.into()), 0, false)).unwrap();
        assert_eq!(
            l.local_addr().unwrap().ip(),
            IpAddr::from(Ipv4Addr::LOCALHOST)
        );
        let l = bind(&listen(Some(Ipv4Addr::UNSPECIFIED.into()), 0, false)).unwrap();
        assert_eq!(
            l.local_addr().unwrap().ip(),
            IpAddr::from(Ipv4Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn a_port_in_use_is_refused_unless_every_socket_reuses_it() {
        let first = bind(&listen(None, 0, false)).unwrap();
        let port = first.local_addr().unwrap().port();
        let err = bind(&listen(None, port, false)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // A socket that asks for SO_REUSEPORT cannot join one that did not.
        let err = bind(&listen(None, port, true)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(first);

        let shared = bind(&listen(None, 0, true)).unwrap();
        let port = shared.local_addr().unwrap().port();
        let second = bind(&listen(None, port, true)).unwrap();
        assert_eq!(second.local_addr().unwrap().port(), port);
    }
}
