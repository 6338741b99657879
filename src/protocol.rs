//! Which protocol an accepted connection speaks, and who serves it: TLS first when the server
//! has certificates, then HTTP/2 if ALPN chose it; on plain TCP, HTTP/2 with prior knowledge
//! (h2c) when it is on and the client starts with its preface; HTTP/1.1 otherwise, handing the
//! transport to a WebSocket's own task when JS accepts an upgrade.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use monoio::net::TcpStream;

use crate::conn;
use crate::ctx::ConnCtx;
use crate::h2;
use crate::io::Transport;
use crate::peer::Peer;
use crate::stats::bump;
use crate::tls::accept::accept;
use crate::tls::Settings;
use crate::unwind::spawn_contained;
use crate::wsconn;

/// The TLS and HTTP/2 paths are boxed: a task's future is as large as its largest state, and a
/// plain HTTP/1.1 connection (kept alive by the thousand) must not carry theirs.
pub async fn serve(tcp: TcpStream, addr: SocketAddr, ctx: Rc<ConnCtx>) {
    let mut peer = Peer::plain(addr);
    if let Some(tls) = ctx.tls.clone() {
        return Box::pin(secure(tcp, peer, tls, ctx)).await;
    }
    if let Some(settings) = ctx.http2.clone() {
        if starts_with_preface(&tcp, ctx.timeouts.headers).await {
            peer.http2 = true;
            return Box::pin(h2::serve(tcp, Rc::new(peer), ctx, &settings)).await;
        }
    }
    http1(tcp, peer, ctx).await;
}

async fn secure(tcp: TcpStream, mut peer: Peer, tls: Arc<Settings>, ctx: Rc<ConnCtx>) {
    let Some((stream, agreed)) = accept(tcp, &tls).await else {
        bump(&ctx.stats.tls_failures);
        return;
    };
    bump(&ctx.stats.tls_handshakes);
    peer.secure = true;
    peer.client_cert = agreed.client_cert;
    match (ctx.http2.clone(), agreed.h2) {
        (Some(settings), true) => {
            peer.http2 = true;
            h2::serve(stream, Rc::new(peer), ctx, &settings).await;
        }
        _ => http1(stream, peer, ctx).await,
    }
}

/// Also `inject()`'s in-memory connections (`inject/`).
pub(crate) async fn http1<S: Transport + 'static>(stream: S, peer: Peer, ctx: Rc<ConnCtx>) {
    let bridge = ctx.bridge.clone();
    if let Some(switch) = conn::serve(stream, Rc::new(peer), ctx).await {
        // Its own task: the HTTP connection's state is freed.
        spawn_contained(&bridge, wsconn::serve(switch));
    }
}

/// While the first bytes could still be the h2c preface, how long to wait between looks at
/// them: a client sends its preface in one piece, so this is a rare, short wait.
const PREFACE_RECHECK: Duration = Duration::from_millis(5);

/// Whether the connection starts with the HTTP/2 preface, decided by looking at its first bytes
/// without taking them. Usually the first byte decides (no HTTP/1.1 method starts with "PRI").
async fn starts_with_preface(tcp: &TcpStream, limit: Option<Duration>) -> bool {
    let look = async {
        let mut buf = [0u8; h2::PREFACE.len()];
        loop {
            let Some(n) = crate::io::peek(tcp, &mut buf).await else {
                return false;
            };
            if buf[..n] != h2::PREFACE[..n] {
                return false;
            }
            if n == h2::PREFACE.len() {
                return true;
            }
            // Part of the preface: the rest is on its way (the socket stays readable meanwhile).
            monoio::time::sleep(PREFACE_RECHECK).await;
        }
    };
    match limit {
        Some(limit) => monoio::select! {
            is = look => is,
            _ = monoio::time::sleep(limit) => false,
        },
        None => look.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future an async fn of three arguments returns, without calling it.
    fn future_size<A, B, C, F>(_: fn(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn a_plain_connection_carries_no_tls_or_http2_state() {
        let plain = future_size(http1::<TcpStream>);
        let whole = future_size(serve);
        // The peer and the h2c look at the first bytes, not a TLS session (over a kilobyte) or
        // an HTTP/2 connection: an idle keep-alive connection pays for its task's future.
        assert!(
            whole <= plain + 512,
            "serve: {whole} bytes, HTTP/1.1 alone: {plain}"
        );
    }
}
