//! The open WebSockets of one server thread and the topics they subscribe to: what each socket
//! owes its client (frames, bounded by `maxBackpressure`), what JS asked of it (a close), and the
//! fan-out of a publish — the frame built (and compressed) once, then queued for every
//! subscriber here, with no call into JS per recipient. The connection that writes a socket's
//! frames and reads its client is `wsconn/`; the bridge fills sockets from JS's records.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::io::IoSlice;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Poll, Waker};

use bytes::Bytes;

use super::deflate::{Deflater, Mode, Negotiated, LEVEL};
use super::frame::{self, Opcode};
use super::WsRoute;
use crate::io::{self, RawFd};
use crate::outbox::{Outbox, Part};
use crate::stats::{bump, Stats};

/// Messages shorter than this are sent uncompressed even when compression was negotiated: a
/// deflate block's own overhead (a few bytes, plus the RSV1 frame) leaves nothing to gain, and
/// the `ws` package draws its line (1 KiB) for the same reason, further out.
pub const COMPRESS_MIN: usize = 128;

/// What JS asked of a socket's connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EndRequest {
    /// The close handshake, with this code (the reason is in `Socket::end_reason`).
    Close(u16),
    /// Drop the connection without a close frame.
    Terminate,
}

/// One open WebSocket: shared by its connection (which writes what it owes and reads its client)
/// and the bridge (which queues JS's messages and publishes).
pub struct Socket {
    pub id: u32,
    pub route: WsRoute,
    /// permessage-deflate as negotiated in the handshake; `None` when not in use.
    pub deflate: Option<Negotiated>,
    /// Frames owed to the client, in order.
    out: RefCell<Outbox>,
    /// Payload bytes of JS's own sends among them: credited back to JS once written.
    js_owed: Cell<usize>,
    /// JS passed its drain mark and waits for credit: credit it as soon as the socket takes
    /// what it owes.
    pub js_waiting: Cell<bool>,
    /// JS payload bytes written and not yet credited (sent in `CREDIT_BATCH`es).
    pub uncredited: Cell<usize>,
    /// Message bytes handed to JS that its message handler has not taken yet (credited back).
    in_js: Cell<usize>,
    end: Cell<Option<EndRequest>>,
    /// The connection took `end` (`take_end`): a later termination still reaches it.
    end_taken: Cell<bool>,
    end_reason: RefCell<Vec<u8>>,
    /// Its topics, to leave them all when it closes.
    topics: RefCell<Vec<Rc<[u8]>>>,
    /// Its own compressor (compression `'dedicated'`), made on first use.
    deflater: RefCell<Option<Box<Deflater>>>,
    /// The connection is over: nothing more is queued.
    closed: Cell<bool>,
    waker: Cell<Option<Waker>>,
    /// The plain socket under it, once its connection runs (`attach`), for frames sent at once.
    fd: Cell<Option<RawFd>>,
    /// Its connection is writing what the socket owed: new frames queue behind.
    writing: Cell<bool>,
    /// Frames were gathered for it while a batch from JS was applied: sent when the batch ends.
    dirty: Cell<bool>,
}

impl Socket {
    pub fn new(id: u32, route: WsRoute, deflate: Option<Negotiated>) -> Socket {
        Socket {
            id,
            route,
            deflate,
            out: RefCell::new(Outbox::default()),
            js_owed: Cell::new(0),
            js_waiting: Cell::new(false),
            uncredited: Cell::new(0),
            in_js: Cell::new(0),
            end: Cell::new(None),
            end_taken: Cell::new(false),
            end_reason: RefCell::new(Vec::new()),
            topics: RefCell::new(Vec::new()),
            deflater: RefCell::new(None),
            closed: Cell::new(false),
            waker: Cell::new(None),
            fd: Cell::new(None),
            writing: Cell::new(false),
            dirty: Cell::new(false),
        }
    }

    /// Its connection runs over `fd` (a plain socket; `None` for a transport whose bytes are not
    /// the socket's, TLS): frames may be sent to it at once from now on.
    pub fn attach(&self, fd: Option<RawFd>) {
        self.fd.set(fd);
    }

    /// Its connection is (or no longer is) writing what the socket owed.
    pub fn set_writing(&self, writing: bool) {
        self.writing.set(writing);
    }

    /// Queues a frame. While the connection waits (not writing, on a plain socket), it is
    /// gathered with whatever else the batch from JS being applied sends this socket, and
    /// `Hub::flush` sends it all in one go from the server thread, without waking the socket's
    /// task; otherwise the task is woken to write it.
    fn put(&self, head: &[u8], body: &Bytes, hub: &Hub) {
        let mut out = self.out.borrow_mut();
        out.bytes().extend_from_slice(head);
        out.body(body);
        drop(out);
        if self.fd.get().is_some() && !self.writing.get() {
            if !self.dirty.replace(true) {
                hub.dirty.borrow_mut().push(self.id);
            }
        } else {
            self.wake();
        }
    }

    /// Bytes owed to the client now.
    pub fn owed(&self) -> usize {
        self.out.borrow().len()
    }

    /// Takes everything owed, with how many of its payload bytes JS sent itself.
    pub fn take_out(&self) -> (Outbox, usize) {
        let out = std::mem::take(&mut *self.out.borrow_mut());
        (out, self.js_owed.replace(0))
    }

    /// Queues a control frame (pong, ping, close) the connection itself answers with.
    pub fn push_control(&self, opcode: Opcode, payload: &[u8]) {
        let mut out = self.out.borrow_mut();
        let bytes = out.bytes();
        if opcode == Opcode::Close {
            let code = payload.get(..2).map_or(super::close_code::NO_STATUS, |c| {
                u16::from_be_bytes([c[0], c[1]])
            });
            if code == super::close_code::NO_STATUS {
                frame::write_head(bytes, true, false, Opcode::Close, 0);
            } else {
                frame::write_close(bytes, code, &payload[2..]);
            }
        } else {
            frame::write_head(bytes, true, false, opcode, payload.len());
            bytes.extend_from_slice(payload);
        }
    }

    /// Whether this frame fits under `maxBackpressure`; past it the message is dropped, or the
    /// socket closed with 1008 when the route says so.
    fn room_for(&self, len: usize) -> bool {
        let bound = self.route.max_backpressure;
        if bound == 0 || self.owed() + len <= bound {
            return true;
        }
        if self.route.close_on_limit && self.end.get().is_none() {
            self.request_end(super::close_code::POLICY, b"backpressure limit");
        }
        false
    }

    /// Sends what it owes at once if the socket takes it all (one non-blocking send); else its
    /// connection is woken to write the rest. Returns JS's payload bytes that went out.
    fn flush_now(&self, stats: &Stats) -> usize {
        self.dirty.set(false);
        let Some(fd) = self.fd.get() else { return 0 };
        let mut out = self.out.borrow_mut();
        if self.writing.get() || out.is_empty() {
            drop(out);
            self.wake();
            return 0;
        }
        let parts = out.parts();
        let own = out.bytes();
        let slices: Vec<IoSlice<'_>> = parts
            .iter()
            .filter_map(|part| match part {
                Part::Own(from, to) => Some(IoSlice::new(&own[*from..*to])),
                Part::Shared(body) => Some(IoSlice::new(body)),
                // Never queued for a socket.
                Part::File(_) => None,
            })
            .collect();
        let sent = io::send_now(fd, &slices);
        drop(slices);
        stats.ws_bytes_out.fetch_add(sent as u64, Relaxed);
        if sent == out.len() {
            // An idle socket keeps no buffer.
            *out = Outbox::default();
            return self.js_owed.replace(0);
        }
        out.consume(sent);
        drop(out);
        self.wake();
        0
    }

    /// Asks the connection to close with `code` (JS's `ws.end`, or a policy).
    pub fn request_end(&self, code: u16, reason: &[u8]) {
        if self.end.get().is_some() {
            return;
        }
        *self.end_reason.borrow_mut() = reason.to_vec();
        self.end.set(Some(EndRequest::Close(code)));
        self.wake();
    }

    pub fn request_terminate(&self) {
        self.end.set(Some(EndRequest::Terminate));
        self.end_taken.set(false);
        self.wake();
    }

    /// What JS (or a policy) asked and the connection has not acted on yet.
    pub fn take_end(&self) -> Option<(EndRequest, Vec<u8>)> {
        let end = self.end.get()?;
        if self.end_taken.replace(true) {
            return None;
        }
        Some((end, std::mem::take(&mut *self.end_reason.borrow_mut())))
    }

    /// `bytes` more of a message went to JS.
    pub fn sent_to_js(&self, bytes: usize) {
        self.in_js.set(self.in_js.get() + bytes);
    }

    /// JS's message handler took `bytes`; the connection may read on.
    pub fn credit_from_js(&self, bytes: usize) {
        self.in_js.set(self.in_js.get().saturating_sub(bytes));
        self.wake();
    }

    /// Message bytes JS has not taken yet.
    pub fn in_js(&self) -> usize {
        self.in_js.get()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Completes once something changed for the connection: frames to write, credit from JS, a
    /// close asked for.
    pub async fn changed(&self) {
        let mut first = true;
        poll_fn(|cx| {
            if !first {
                return Poll::Ready(());
            }
            first = false;
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}

/// A topic's subscribers, by socket id.
type Subscribers = HashMap<u32, Rc<Socket>>;

/// Every open socket of the server thread, by id (the id of the request that upgraded), and the
/// topics.
pub struct Hub {
    sockets: RefCell<HashMap<u32, Rc<Socket>>>,
    topics: RefCell<HashMap<Rc<[u8]>, Subscribers>>,
    /// One compressor for every socket in shared mode and for publishes: it keeps no context
    /// between messages, so one serves them all.
    shared: RefCell<Option<Box<Deflater>>>,
    stats: Arc<Stats>,
    /// Sockets with frames gathered while a batch from JS is applied: each gets one send at
    /// the end (`flush`), not one per message.
    dirty: RefCell<Vec<u32>>,
}

impl Hub {
    pub fn new(stats: Arc<Stats>) -> Hub {
        Hub {
            sockets: RefCell::new(HashMap::new()),
            topics: RefCell::new(HashMap::new()),
            shared: RefCell::new(None),
            stats,
            dirty: RefCell::new(Vec::new()),
        }
    }

    /// Sends what each socket gathered, one send per socket; returns the sockets whose JS
    /// payload bytes went out, with how many (JS's credit).
    pub fn flush(&self) -> Vec<(Rc<Socket>, usize)> {
        let dirty = std::mem::take(&mut *self.dirty.borrow_mut());
        let mut credited = Vec::new();
        for id in dirty {
            let Some(socket) = self.get(id) else { continue };
            let js = socket.flush_now(&self.stats);
            if js > 0 {
                credited.push((socket, js));
            }
        }
        credited
    }

    pub fn contains(&self, id: u32) -> bool {
        self.sockets.borrow().contains_key(&id)
    }

    pub fn get(&self, id: u32) -> Option<Rc<Socket>> {
        self.sockets.borrow().get(&id).cloned()
    }

    pub fn open(&self, socket: Rc<Socket>) {
        bump(&self.stats.ws_total);
        bump(&self.stats.ws_open);
        self.sockets.borrow_mut().insert(socket.id, socket);
    }

    /// The socket's connection is over: it leaves every topic and nothing more is queued.
    pub fn close(&self, socket: &Socket) {
        if socket.closed.replace(true) {
            return;
        }
        self.stats
            .ws_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.sockets.borrow_mut().remove(&socket.id);
        let topics = std::mem::take(&mut *socket.topics.borrow_mut());
        let mut all = self.topics.borrow_mut();
        for topic in topics {
            if let Some(subscribers) = all.get_mut(&topic) {
                subscribers.remove(&socket.id);
                if subscribers.is_empty() {
                    all.remove(&topic);
                }
            }
        }
        *socket.out.borrow_mut() = Outbox::default();
        socket.deflater.borrow_mut().take();
        // Its descriptor is about to close: nothing may be sent to it from here.
        socket.fd.set(None);
    }

    pub fn subscribe(&self, id: u32, topic: &[u8], on: bool) {
        let Some(socket) = self.get(id) else { return };
        let mut all = self.topics.borrow_mut();
        let mut mine = socket.topics.borrow_mut();
        if on {
            let subscribers = match all.get_mut(topic) {
                Some(s) => s,
                None => all.entry(Rc::from(topic)).or_default(),
            };
            if subscribers.insert(id, socket.clone()).is_none() {
                let key = all.get_key_value(topic).map(|(k, _)| k.clone());
                mine.extend(key);
            }
        } else if let Some(subscribers) = all.get_mut(topic) {
            if subscribers.remove(&id).is_some() {
                mine.retain(|t| **t != *topic);
            }
            if subscribers.is_empty() {
                all.remove(topic);
            }
        }
    }

    /// A message from JS for one socket (`payload` shares JS's batch). JS keeps its own sends
    /// under `maxBackpressure` (`ws.send` answers 2 past it), so they are not dropped here.
    pub fn send(&self, id: u32, payload: Bytes, binary: bool, compress: bool, waiting: bool) {
        let Some(socket) = self.get(id) else { return };
        if socket.closed.get() || socket.end.get().is_some() {
            return;
        }
        if waiting {
            socket.js_waiting.set(true);
        }
        bump(&self.stats.ws_messages_out);
        let len = payload.len();
        let (rsv1, body) = match self.encode(&socket, &payload, binary, compress) {
            Some(compressed) => (true, Bytes::from(compressed)),
            None => (false, payload),
        };
        let mut head = [0; frame::MAX_HEAD];
        let head = frame::head_into(&mut head, true, rsv1, opcode(binary), body.len());
        socket.put(head, &body, self);
        socket.js_owed.set(socket.js_owed.get() + len);
    }

    /// The compressed payload of a message for `socket`, when it is to be compressed.
    fn encode(
        &self,
        socket: &Socket,
        payload: &[u8],
        _binary: bool,
        compress: bool,
    ) -> Option<Vec<u8>> {
        let n = socket.deflate.as_ref()?;
        if !compress || payload.len() < COMPRESS_MIN {
            return None;
        }
        let mut out = Vec::with_capacity(payload.len() / 2 + 16);
        match socket.route.compression {
            Some(Mode::Dedicated) if !n.server_no_context_takeover => {
                let mut own = socket.deflater.borrow_mut();
                own.get_or_insert_with(|| Box::new(Deflater::new(n, LEVEL)))
                    .compress(payload, &mut out);
            }
            _ => self.shared_deflate(payload, &mut out),
        }
        Some(out)
    }

    fn shared_deflate(&self, payload: &[u8], out: &mut Vec<u8>) {
        let mut shared = self.shared.borrow_mut();
        let deflater = shared.get_or_insert_with(|| {
            let n = Negotiated {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            };
            Box::new(Deflater::new(&n, LEVEL))
        });
        deflater.compress(payload, out);
    }

    /// Queues `payload` for every subscriber of `topic` but `from`. The frame is built once (and
    /// compressed once for every socket in shared mode); a large one is shared by reference, not
    /// copied per subscriber. A subscriber over `maxBackpressure` misses it (or is closed).
    pub fn publish(&self, from: u32, topic: &[u8], payload: &[u8], binary: bool, compress: bool) {
        bump(&self.stats.ws_published);
        let all = self.topics.borrow();
        let Some(subscribers) = all.get(topic) else {
            return;
        };
        let plain: OnceCell<(Vec<u8>, Bytes)> = OnceCell::new();
        let shared: OnceCell<(Vec<u8>, Bytes)> = OnceCell::new();
        let small = payload.len() < COMPRESS_MIN || !compress;
        for (&id, socket) in subscribers {
            if id == from || socket.closed.get() || socket.end.get().is_some() {
                continue;
            }
            let own;
            let (head, body) = match (&socket.deflate, socket.route.compression) {
                (Some(n), Some(Mode::Dedicated)) if !small && !n.server_no_context_takeover => {
                    let compressed = self
                        .encode(socket, payload, binary, compress)
                        .unwrap_or_default();
                    let mut head = Vec::with_capacity(frame::MAX_HEAD);
                    frame::write_head(&mut head, true, true, opcode(binary), compressed.len());
                    own = (head, Bytes::from(compressed));
                    &own
                }
                (Some(_), Some(_)) if !small => shared.get_or_init(|| {
                    let mut body = Vec::with_capacity(payload.len() / 2 + 16);
                    self.shared_deflate(payload, &mut body);
                    let mut head = Vec::with_capacity(10);
                    frame::write_head(&mut head, true, true, opcode(binary), body.len());
                    (head, Bytes::from(body))
                }),
                _ => plain.get_or_init(|| {
                    let mut head = Vec::with_capacity(10);
                    frame::write_head(&mut head, true, false, opcode(binary), payload.len());
                    (head, Bytes::copy_from_slice(payload))
                }),
            };
            if !socket.room_for(head.len() + body.len()) {
                bump(&self.stats.ws_dropped);
                continue;
            }
            bump(&self.stats.ws_messages_out);
            socket.put(head, body, self);
        }
    }

    /// Every open socket (for the close 1001 at shutdown).
    pub fn all(&self) -> Vec<Rc<Socket>> {
        self.sockets.borrow().values().cloned().collect()
    }
}

fn opcode(binary: bool) -> Opcode {
    if binary {
        Opcode::Binary
    } else {
        Opcode::Text
    }
}
