//! One HTTP/2 connection: the handshake, accepting streams (each served in a task of its own),
//! `keepAliveTimeout` while no stream is open, GOAWAY at `server.close()`, and the rapid-reset
//! check.

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use h2::Reason;

use super::stream::{self, Ended};
use super::{Settings, RESET_ALLOWANCE};
use crate::conn::Open;
use crate::ctx::ConnCtx;
use crate::io::Transport;
use crate::peer::Peer;
use crate::stats::bump;
use crate::unwind::spawn_contained;

/// The buffers between the transport and `h2`'s codec (monoio-compat's copies): one TLS record.
const IO_BUFFER: usize = 16 * 1024;

/// Streams counted on a connection, for the rapid-reset check.
#[derive(Default)]
struct Tally {
    streams: Cell<u64>,
    resets: Cell<u64>,
    open: Cell<usize>,
}

impl Tally {
    fn abusive(&self) -> bool {
        let resets = self.resets.get();
        resets > RESET_ALLOWANCE && resets * 2 >= self.streams.get()
    }
}

pub async fn serve<S: Transport + Unpin + 'static>(
    stream: S,
    peer: Rc<Peer>,
    ctx: Rc<ConnCtx>,
    settings: &Settings,
) {
    let open = Open::register(&ctx, true);
    let key = open.key;
    bump(&ctx.stats.h2_connections);
    let io = monoio_compat::StreamWrapper::new_with_buffer_size(stream, IO_BUFFER, IO_BUFFER);
    let handshake = h2::server::Builder::new()
        .max_concurrent_streams(settings.max_concurrent_streams)
        .initial_window_size(settings.initial_window_size)
        .initial_connection_window_size(settings.initial_window_size)
        .max_header_list_size(settings.max_header_list_size)
        .max_frame_size(settings.max_frame_size)
        .handshake::<_, Bytes>(io);
    // The client's preface and SETTINGS are its request head: `headersTimeout` applies.
    let headers_timeout = ctx.timeouts.headers;
    let mut conn = monoio::select! {
        done = handshake => match done {
            Ok(conn) => conn,
            Err(_) => return,
        },
        _ = sleep_or_never(headers_timeout) => return,
        _ = ctx.life.until_shutdown(key) => return,
    };
    let tally = Rc::new(Tally::default());
    let mut closing = false;
    loop {
        let idle = !closing && tally.open.get() == 0;
        monoio::select! {
            next = conn.accept() => match next {
                Some(Ok((req, respond))) => {
                    bump(&ctx.stats.h2_streams);
                    tally.streams.set(tally.streams.get() + 1);
                    tally.open.set(tally.open.get() + 1);
                    let (peer, ctx2, counts) = (peer.clone(), ctx.clone(), tally.clone());
                    spawn_contained(&ctx.bridge, async move {
                        if let Ended::Reset = stream::serve(req, respond, peer, ctx2).await {
                            counts.resets.set(counts.resets.get() + 1);
                        }
                        counts.open.set(counts.open.get() - 1);
                    });
                    if tally.abusive() {
                        conn.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
                        closing = true;
                    }
                }
                // The client closed, or broke the protocol (h2 sent GOAWAY).
                Some(Err(_)) | None => break,
            },
            _ = sleep_or_never(ctx.timeouts.keep_alive), if idle => {
                conn.graceful_shutdown();
                closing = true;
            }
            _ = ctx.life.until_shutdown(key), if !closing => {
                conn.graceful_shutdown();
                closing = true;
            }
            _ = ctx.life.until_abort(key) => break,
        }
    }
    drop(conn);
    drop(open);
}

async fn sleep_or_never(limit: Option<std::time::Duration>) {
    match limit {
        Some(d) => monoio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
