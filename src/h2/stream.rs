//! One HTTP/2 stream. Its request becomes an HTTP/1.1 request on an in-memory connection
//! (`pipe.rs`) that `conn::serve` serves like any other, so routing, the cache, files,
//! compression, streams to and from JS and every limit behave as over HTTP/1.1; the answer that
//! connection writes becomes the stream's response.
//!
//! Flow control reaches JS both ways: the request body is taken from HTTP/2 (and its window
//! given back) only as fast as the connection reads it, and the answer is read from the
//! connection only as fast as the client's window lets it go out. A client's reset drops the
//! in-memory connection, which the connection code sees as a client gone.

use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};

use super::translate::{self, Body, Framing, Interim};
use crate::conn;
use crate::ctx::ConnCtx;
use crate::h1::{ChunkedDecoder, Progress};
use crate::peer::Peer;
use crate::pipe::{self, ClientEnd};

/// How a stream ended, for the connection's rapid-reset accounting.
pub enum Ended {
    Answered,
    /// The client reset the stream before its answer was complete.
    Reset,
}

pub async fn serve(
    req: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
    peer: Rc<Peer>,
    ctx: Rc<ConnCtx>,
) -> Ended {
    let (parts, body) = req.into_parts();
    let head_request = parts.method == http::Method::HEAD;
    let (head, framing) = translate::request_head(&parts, body.is_end_stream());
    let (server, client) = pipe::pair();
    // In this task rather than one of its own: a task and a copy of the connection's state per
    // stream saved. It never switches to a WebSocket: HTTP/2 has no Upgrade (RFC 8441 is not
    // supported).
    let serving = conn::serve(server, peer, ctx);
    let upload = send_request(&client, head, body, framing);
    let answer = answer(&client, respond, head_request);
    let mut serving = std::pin::pin!(serving);
    let mut upload = std::pin::pin!(upload);
    let mut answer = std::pin::pin!(answer);
    let (mut open, mut uploading) = (true, true);
    loop {
        monoio::select! {
            _ = &mut serving, if open => open = false,
            _ = &mut upload, if uploading => uploading = false,
            ended = &mut answer => return ended,
        }
    }
}

/// Writes the request head, then its body as the connection takes it.
async fn send_request(client: &ClientEnd, head: Vec<u8>, mut body: RecvStream, framing: Body) {
    if client.write_all(&head).await.is_err() || framing == Body::None {
        return;
    }
    while let Some(data) = body.data().await {
        let Ok(data) = data else {
            // The client reset the stream: the answer side sees it too.
            return;
        };
        let n = data.len();
        if n == 0 {
            continue;
        }
        let written = if framing == Body::Chunked {
            let size = format!("{n:x}\r\n");
            let mut ok = client.write_all(size.as_bytes()).await.is_ok();
            ok = ok && client.write_all(&data).await.is_ok();
            ok && client.write_all(b"\r\n").await.is_ok()
        } else {
            client.write_all(&data).await.is_ok()
        };
        if !written {
            return;
        }
        // The window comes back only once the connection has the bytes.
        let _ = body.flow_control().release_capacity(n);
    }
    if framing == Body::Chunked {
        let _ = client.write_all(b"0\r\n\r\n").await;
    }
}

/// Reads the connection's answer and sends it as the stream's response.
async fn answer(client: &ClientEnd, mut respond: SendResponse<Bytes>, head_request: bool) -> Ended {
    let mut buf = Vec::new();
    let parsed = loop {
        match translate::answer_head(&buf, head_request) {
            Ok(Some(answer)) => break answer,
            Ok(None) => {}
            Err(Interim::Skip(n)) => {
                buf.drain(..n);
                continue;
            }
            Err(Interim::Broken | Interim::TooMany) => {
                respond.send_reset(Reason::INTERNAL_ERROR);
                return Ended::Answered;
            }
        }
        let more = monoio::select! {
            more = client.read_into(&mut buf) => more,
            _ = poll_fn(|cx| respond.poll_reset(cx)) => return Ended::Reset,
        };
        if !more {
            // The connection ended without answering (the server is closing).
            respond.send_reset(Reason::REFUSED_STREAM);
            return Ended::Answered;
        }
    };
    let empty = parsed.framing == Framing::Empty;
    let Ok(mut send) = respond.send_response(parsed.response, empty) else {
        return Ended::Reset;
    };
    if empty {
        return Ended::Answered;
    }
    buf.drain(..parsed.head_len);
    let mut body = BodyReader::new(parsed.framing);
    loop {
        let done = match body.take(&mut buf) {
            Ok((piece, done)) => {
                if !piece.is_empty() && forward(&mut send, piece).await.is_err() {
                    return Ended::Reset;
                }
                done
            }
            Err(()) => {
                send.send_reset(Reason::INTERNAL_ERROR);
                return Ended::Answered;
            }
        };
        if done {
            let _ = send.send_data(Bytes::new(), true);
            return Ended::Answered;
        }
        let more = monoio::select! {
            more = client.read_into(&mut buf) => more,
            _ = poll_fn(|cx| send.poll_reset(cx)) => return Ended::Reset,
        };
        if !more {
            if body.framing == Framing::Close {
                let _ = send.send_data(Bytes::new(), true);
            } else {
                // Cut short (`res.destroy()`, a source stream that failed): the client must not
                // take it for the whole answer.
                send.send_reset(Reason::INTERNAL_ERROR);
            }
            return Ended::Answered;
        }
    }
}

/// Sends `data` as the client's window allows; `Err` when the client reset the stream.
async fn forward(send: &mut SendStream<Bytes>, mut data: Bytes) -> Result<(), ()> {
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let granted = poll_fn(|cx| {
            if send.poll_reset(cx).is_ready() {
                return Poll::Ready(None);
            }
            send.poll_capacity(cx)
        })
        .await;
        match granted {
            Some(Ok(0)) => continue,
            Some(Ok(n)) => {
                let piece = data.split_to(n.min(data.len()));
                send.send_data(piece, false).map_err(|_| ())?;
            }
            _ => return Err(()),
        }
    }
    Ok(())
}

/// The answer's body bytes out of what the connection wrote, by its HTTP/1.1 framing.
struct BodyReader {
    framing: Framing,
    /// Bytes still owed under `Length`.
    left: u64,
    chunked: ChunkedDecoder,
}

impl BodyReader {
    fn new(framing: Framing) -> BodyReader {
        BodyReader {
            framing,
            left: match framing {
                Framing::Length(n) => n,
                _ => 0,
            },
            chunked: ChunkedDecoder::new(),
        }
    }

    /// Takes the body bytes at the front of `buf` (removing what it used) and says whether the
    /// body is complete. `Err` for framing our own encoder never writes.
    fn take(&mut self, buf: &mut Vec<u8>) -> Result<(Bytes, bool), ()> {
        match self.framing {
            Framing::Empty => Ok((Bytes::new(), true)),
            Framing::Close => Ok((Bytes::from(std::mem::take(buf)), false)),
            Framing::Length(_) => {
                let n = (buf.len() as u64).min(self.left) as usize;
                let piece = Bytes::copy_from_slice(&buf[..n]);
                buf.drain(..n);
                self.left -= n as u64;
                Ok((piece, self.left == 0))
            }
            Framing::Chunked => {
                let progress = self
                    .chunked
                    .feed(buf, usize::MAX, usize::MAX)
                    .map_err(|_| ())?;
                let mut piece = Bytes::new();
                self.chunked
                    .drain_decoded(|decoded| piece = Bytes::copy_from_slice(decoded));
                let used = match progress {
                    Progress::Done { consumed } => consumed,
                    Progress::NeedMore => self.chunked.used(),
                };
                buf.drain(..used);
                self.chunked.forget_used();
                Ok((piece, matches!(progress, Progress::Done { .. })))
            }
        }
    }
}
