//! JS answers under a compression policy (compress/), on the server thread: a whole body is
//! compressed before it is serialized; a streamed one goes through an `Encoder` flushed after
//! every piece, so each piece (an SSE event) reaches the client as soon as JS sends it. Every
//! answer the policy would compress for some client carries `Vary: Accept-Encoding`.

use crate::compress::{self, Accepted, Coding, Encoder, Facts};
use crate::h1::encode::{self as response, BodyFraming, ConnHeader, HeaderList};

use super::records::ResponseRecord;

/// JS's headers as they go out under a plan: see `compress::rewrite_headers`.
pub struct Rewritten<I> {
    headers: I,
    plan: Plan,
}

impl<'a, I: Iterator<Item = (&'a [u8], &'a [u8])>> HeaderList for Rewritten<I> {
    fn each(self, f: impl FnMut(&[u8], &[u8])) {
        compress::rewrite_headers(self.headers, self.plan.coding, self.plan.vary, f);
    }
}

/// What compression does to one answer.
#[derive(Clone, Copy)]
struct Plan {
    /// `Identity`: the body goes out as JS sent it.
    coding: Coding,
    vary: bool,
}

/// `len`: the body's length, `None` for a stream.
fn plan(record: &ResponseRecord<'_>, head: bool, len: Option<usize>, accepted: &Accepted) -> Plan {
    let status = response::valid_status(record.status);
    let facts = Facts::scan(record.headers());
    let policy = &accepted.policy;
    let compressed =
        accepted.coding != Coding::Identity && policy.applies(status, head, &facts, len);
    Plan {
        coding: if compressed {
            accepted.coding
        } else {
            Coding::Identity
        },
        vary: policy.varies(status, &facts),
    }
}

/// Whether this whole answer would be compressed: then the server thread must write it (the JS
/// thread does not spend its time compressing, see direct.rs).
pub fn compresses(record: &ResponseRecord<'_>, head: bool, accepted: Option<&Accepted>) -> bool {
    accepted
        .is_some_and(|a| plan(record, head, Some(record.body.len()), a).coding != Coding::Identity)
}

/// Serializes a whole answer from JS (`response::from_js`), compressed when the request's
/// `accepted` coding and policy say so. Returns whether the connection closes after it.
pub fn whole(
    out: &mut Vec<u8>,
    record: &ResponseRecord<'_>,
    head: bool,
    conn: ConnHeader,
    accepted: Option<&Accepted>,
) -> bool {
    let Some(accepted) = accepted else {
        return response::from_js(
            out,
            record.status,
            record.headers(),
            record.body,
            head,
            conn,
        );
    };
    let plan = plan(record, head, Some(record.body.len()), accepted);
    let headers = Rewritten {
        headers: record.headers(),
        plan,
    };
    if plan.coding == Coding::Identity {
        return response::from_js(out, record.status, headers, record.body, head, conn);
    }
    let body = compress::compress(plan.coding, accepted.policy.level(plan.coding), record.body);
    out.reserve(body.len());
    response::from_js(out, record.status, headers, &body, head, conn)
}

/// A streamed answer being compressed: its encoder, and the buffer each piece is encoded into
/// before it is framed (a chunk's size line comes first).
pub struct Compressing {
    /// Taken when the stream ends.
    encoder: Option<Encoder>,
    scratch: Vec<u8>,
}

impl Compressing {
    /// Encodes `data`, the whole of it decodable at once (or ends the stream when `end`), and
    /// appends it in `framing`, which is never a JS length (compression drops it). Returns, as
    /// `Slot::piece` wants, `Some(close)` once the answer is complete.
    pub fn piece(
        &mut self,
        out: &mut Vec<u8>,
        framing: &mut BodyFraming,
        data: &[u8],
        end: bool,
    ) -> Option<bool> {
        self.scratch.clear();
        if end {
            if let Some(mut encoder) = self.encoder.take() {
                encoder.write(data, &mut self.scratch);
                encoder.finish(&mut self.scratch);
            }
        } else if let Some(encoder) = &mut self.encoder {
            if !data.is_empty() {
                encoder.piece(data, &mut self.scratch);
            }
        }
        response::body_piece(out, framing, &self.scratch);
        end.then(|| response::body_end(out, *framing))
    }
}

/// Serializes a streamed answer's head (`response::stream_head`); when the answer is compressed,
/// without JS's `content-length` (so chunked), and with the `Compressing` its pieces go through.
pub fn stream_head(
    out: &mut Vec<u8>,
    record: &ResponseRecord<'_>,
    head: bool,
    http10: bool,
    conn: ConnHeader,
    accepted: Option<&Accepted>,
) -> (BodyFraming, bool, Option<Box<Compressing>>) {
    let Some(accepted) = accepted else {
        let (framing, close) =
            response::stream_head(out, record.status, record.headers(), head, http10, conn);
        return (framing, close, None);
    };
    let plan = plan(record, head, None, accepted);
    let headers = Rewritten {
        headers: record.headers(),
        plan,
    };
    let (framing, close) = response::stream_head(out, record.status, headers, head, http10, conn);
    let compressing = (plan.coding != Coding::Identity).then(|| {
        Box::new(Compressing {
            encoder: Some(Encoder::new(
                plan.coding,
                accepted.policy.level(plan.coding),
            )),
            scratch: Vec::new(),
        })
    });
    (framing, close, compressing)
}
