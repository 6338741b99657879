//! Lone requests answered from the JS thread.
//!
//! A request that reaches JS while the server has nothing else in flight, on a connection that
//! owes nothing before it and has nothing unread behind it, is *offered*: the `respond()` call
//! that carries its answer serializes it and writes it to the socket right there, on the JS
//! thread, instead of handing it to the server thread and waking that thread to write it. The
//! wake is one of the four thread switches a lone request otherwise costs (client → server
//! thread → JS → server thread → client; node:http pays two), and at one connection it is most
//! of the latency we add. The server thread learns of the write lazily: when the client's next
//! request makes the socket readable, or at the next tick.
//!
//! Two threads, one socket: each offer is a small state machine that gives the socket's write
//! side to exactly one of them at a time.
//!
//! ```text
//! OFFERED ──JS claims──▶ CLAIMED ──whole answer sent──▶ WRITTEN
//!    │                      └──short or failed send──▶ HANDED (the rest goes through the mailbox)
//!    └──the server thread takes it back──▶ REVOKED (the answer goes through the mailbox as usual)
//! ```
//!
//! The server thread never writes to, reads the next request from, nor closes a socket whose
//! offer is OFFERED or CLAIMED: it takes the offer back first (`take_back`), waiting out a claim,
//! which lasts one non-blocking `send`. That is what keeps the descriptor JS writes to the
//! client's, and the answers in request order.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{compression, records};
use crate::compress::Accepted;
use crate::h1::encode::{self as response, ConnHeader};
use crate::stats::{bump, Stats};

pub use crate::io::RawFd;

const OFFERED: u8 = 0;
const CLAIMED: u8 = 1;
const WRITTEN: u8 = 2;
const HANDED: u8 = 3;
const REVOKED: u8 = 4;

/// Answers larger than this go through the server thread, which can wait for a slow reader; a
/// lone small answer is the case worth a shortcut.
const MAX_DIRECT: usize = 64 * 1024;

/// What became of an offer, as the server thread finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// JS sent the whole answer: nothing is left to write for this request.
    Written,
    /// JS sent part of it (or none, the socket being full); the rest arrives as a `Tail`.
    Handed,
    /// JS had not taken it: its answer comes through the mailbox like any other.
    Revoked,
}

pub struct Offer {
    state: AtomicU8,
    fd: RawFd,
    id: u32,
    head: bool,
    conn: ConnHeader,
    /// Its client sends requests back to back: once JS has written this answer, the next
    /// request is worth waiting for (handoff.rs).
    wait: bool,
    /// Its route compresses (`Slot::accepted`): an answer that gets compressed is left to the
    /// server thread; one that does not still gets its `Vary` here.
    accepted: Option<Accepted>,
}

impl Offer {
    pub fn is_written(&self) -> bool {
        self.state.load(Ordering::Acquire) == WRITTEN
    }
}

/// The rest of an answer JS could not send in full, for the server thread to write.
pub struct Tail {
    pub request_id: u32,
    pub bytes: Vec<u8>,
}

/// What `Offers::answer` leaves for the server thread.
pub struct Answered<'b> {
    /// JS wrote an answer to a client that sends requests back to back (`Offer::wait`).
    pub wait: bool,
    /// The records JS did not write itself, unchanged.
    pub rest: Cow<'b, [u8]>,
    pub tails: Vec<Tail>,
}

/// The offers JS may take, shared by the server thread (which makes and takes back offers) and
/// the JS thread (which claims them in `respond()`).
#[derive(Default)]
pub struct Offers {
    /// How many offers `table` holds: a loaded server makes none, and `answer` then costs one
    /// atomic load.
    open: AtomicUsize,
    /// Rarely more than one entry: an offer needs the server to be otherwise idle.
    table: Mutex<Vec<Arc<Offer>>>,
}

impl Offers {
    /// Server thread: offers request `id`'s answer to JS. Must happen before its envelope is
    /// handed to JS (the batch is sent later in the same turn of the server's loop).
    pub fn publish(
        &self,
        fd: RawFd,
        id: u32,
        head: bool,
        conn: ConnHeader,
        wait: bool,
        accepted: Option<Accepted>,
    ) -> Arc<Offer> {
        let offer = Arc::new(Offer {
            state: AtomicU8::new(OFFERED),
            fd,
            id,
            head,
            conn,
            wait,
            accepted,
        });
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.push(offer.clone());
        self.open.store(table.len(), Ordering::Release);
        offer
    }

    /// Server thread: takes `offer` back unless JS has it, and says what JS did. A claim is
    /// waited out (it lasts one non-blocking send), so on return JS is done with the socket.
    pub fn take_back(&self, offer: &Offer) -> Outcome {
        loop {
            match offer.state.compare_exchange(
                OFFERED,
                REVOKED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
                    table.retain(|o| !std::ptr::eq(&**o, offer));
                    self.open.store(table.len(), Ordering::Release);
                    return Outcome::Revoked;
                }
                Err(CLAIMED) => std::thread::yield_now(),
                Err(WRITTEN) => return Outcome::Written,
                Err(HANDED) => return Outcome::Handed,
                Err(_) => return Outcome::Revoked,
            }
        }
    }

    /// JS thread, in `respond()`: writes the answers to offered requests itself and leaves the
    /// other records, untouched, for the server thread.
    pub fn answer<'b>(&self, batch: &'b [u8], stats: &Stats) -> Answered<'b> {
        let untouched = Answered {
            wait: false,
            rest: Cow::Borrowed(batch),
            tails: Vec::new(),
        };
        if self.open.load(Ordering::Acquire) == 0 {
            return untouched;
        }
        let mut rest = Vec::new();
        let mut records = records::decode_records(batch);
        let claimed = self.claim(&mut records, &mut rest);
        if claimed.is_empty() {
            return untouched;
        }
        // A malformed record ends the walk: pass what follows on, the server thread reports it.
        rest.extend_from_slice(records.remainder());
        let mut tails = Vec::new();
        let mut wait = false;
        // Sent outside the table's lock: a claim alone makes the socket JS's, and the server
        // thread waits on a claim without the lock.
        for (offer, out, status) in claimed {
            let sent = crate::io::send_now(offer.fd, &[std::io::IoSlice::new(&out)]);
            let state = if sent == out.len() {
                WRITTEN
            } else {
                tails.push(Tail {
                    request_id: offer.id,
                    bytes: out[sent..].to_vec(),
                });
                HANDED
            };
            offer.state.store(state, Ordering::Release);
            stats.response(status);
            bump(&stats.bridge_direct);
            wait |= offer.wait;
        }
        Answered {
            wait,
            rest: Cow::Owned(rest),
            tails,
        }
    }

    /// Claims the offers this batch answers and serializes those answers; copies every other
    /// record to `rest`.
    fn claim(
        &self,
        records: &mut records::Records<'_>,
        rest: &mut Vec<u8>,
    ) -> Vec<(Arc<Offer>, Vec<u8>, u16)> {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let mut claimed = Vec::new();
        for (record, raw) in records {
            // Only a whole answer: a streamed one is written by the server thread, which can
            // wait for the client.
            let records::Record::Response(record) = record else {
                rest.extend_from_slice(raw);
                continue;
            };
            let eligible = record.end
                && !record.file
                && record.cache_ttl_ms == 0
                && record.body.len() <= MAX_DIRECT
                && !response::asks_close(record.headers());
            let found = table
                .iter()
                .position(|o| o.id == record.request_id)
                .filter(|&i| {
                    let offer = &table[i];
                    // Compressing is the server thread's work, not the JS thread's.
                    eligible
                        && !compression::compresses(&record, offer.head, offer.accepted.as_ref())
                });
            let Some(i) = found else {
                rest.extend_from_slice(raw);
                continue;
            };
            // Serialized before the claim, so that the claim spans the send alone.
            let offer = &table[i];
            let mut out = Vec::with_capacity(160 + record.body.len());
            compression::whole(
                &mut out,
                &record,
                offer.head,
                offer.conn,
                offer.accepted.as_ref(),
            );
            let claim =
                offer
                    .state
                    .compare_exchange(OFFERED, CLAIMED, Ordering::AcqRel, Ordering::Acquire);
            if claim.is_err() {
                // Taken back meanwhile: the server thread answers it.
                rest.extend_from_slice(raw);
                continue;
            }
            claimed.push((
                table.swap_remove(i),
                out,
                response::valid_status(record.status),
            ));
        }
        self.open.store(table.len(), Ordering::Release);
        claimed
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    fn record(id: u32, body: &[u8], ttl: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let headers: [(&[u8], &[u8]); 1] = [(b"content-type", b"text/plain")];
        records::encode_response(&mut out, id, 200, &headers, ttl, b"/k", body);
        out
    }

    #[test]
    fn writes_offered_answers_and_passes_the_rest_on() {
        let (ours, mut client) = UnixStream::pair().unwrap();
        let offers = Offers::default();
        let stats = Stats::default();
        let offer = offers.publish(ours.as_raw_fd(), 7, false, ConnHeader::None, false, None);
        let mut batch = record(3, b"three", 0);
        batch.extend(record(7, b"seven", 0));
        batch.extend(record(9, b"nine", 0));

        let answered = offers.answer(&batch, &stats);
        let mut expected = record(3, b"three", 0);
        expected.extend(record(9, b"nine", 0));
        assert_eq!(&*answered.rest, &expected[..]);
        assert!(answered.tails.is_empty());
        assert_eq!(offers.take_back(&offer), Outcome::Written);
        assert_eq!(crate::stats::get(&stats.bridge_direct), 1);

        drop(ours);
        let mut wire = String::new();
        client.read_to_string(&mut wire).unwrap();
        assert!(wire.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"));
        assert!(wire.ends_with("\r\n\r\nseven"));
        // Nothing is offered any more: the next batch passes untouched, without a copy.
        assert!(matches!(
            offers.answer(&batch, &stats).rest,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_revoked_offer_and_an_ineligible_answer_are_left_to_the_server_thread() {
        let (ours, _client) = UnixStream::pair().unwrap();
        let offers = Offers::default();
        let stats = Stats::default();
        let revoked = offers.publish(ours.as_raw_fd(), 1, false, ConnHeader::None, false, None);
        assert_eq!(offers.take_back(&revoked), Outcome::Revoked);
        let batch = record(1, b"late", 0);
        assert_eq!(&*offers.answer(&batch, &stats).rest, &batch[..]);

        // res.ncache() answers must be stored by the server thread.
        let cached = offers.publish(ours.as_raw_fd(), 2, false, ConnHeader::None, false, None);
        let batch = record(2, b"cache me", 1000);
        assert_eq!(&*offers.answer(&batch, &stats).rest, &batch[..]);
        assert_eq!(offers.take_back(&cached), Outcome::Revoked);
        assert_eq!(crate::stats::get(&stats.bridge_direct), 0);
    }

    #[test]
    fn a_full_socket_hands_the_rest_over_in_order() {
        let (ours, mut client) = UnixStream::pair().unwrap();
        let offers = Offers::default();
        let stats = Stats::default();
        // Fill the socket until it takes no more, so the answer can only be sent in part.
        ours.set_nonblocking(true).unwrap();
        let filler = vec![b'x'; 4096];
        let mut queued = 0;
        while let Ok(n) = (&ours).write(&filler) {
            queued += n;
        }
        let offer = offers.publish(ours.as_raw_fd(), 5, false, ConnHeader::None, false, None);
        let body = vec![b'b'; 1000];
        let batch = record(5, &body, 0);
        let answered = offers.answer(&batch, &stats);
        assert!(answered.rest.is_empty());
        assert_eq!(offers.take_back(&offer), Outcome::Handed);
        let tail = answered.tails.into_iter().next().unwrap();
        assert_eq!(tail.request_id, 5);
        // What JS sent plus the tail is the whole response, after what was queued before it.
        let mut wire = Vec::new();
        std::thread::scope(|s| {
            s.spawn(|| client.read_to_end(&mut wire).unwrap());
            ours.set_nonblocking(false).unwrap();
            (&ours).write_all(&tail.bytes).unwrap();
            drop(ours);
        });
        assert!(wire[..queued].iter().all(|&b| b == b'x'));
        let response = String::from_utf8(wire[queued..].to_vec()).unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(response.ends_with(&"b".repeat(1000)));
    }
}
