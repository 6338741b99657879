//! Per request, once its head (and a whole body) is read: who answers. Natively, with no JS —
//! a fresh response-cache entry, an `app.static` answer, 404, load shedding — written straight
//! into what the connection owes; or JS, through the bridge, as a slot the connection waits
//! on (a cache miss on a route that caches waits on the request already in JS for that key).

use std::rc::Rc;

use monoio::time::Instant;

use crate::bridge::records::RequestParts;
use crate::bridge::stream::{Asked, Slot, Upgrade};
use crate::bridge::Waiter;
use crate::cache::Miss;
use crate::compress::Scopes;
use crate::ctx::ConnCtx;
use crate::files::conditional::Conditions;
use crate::files::{Answer, FileRequest, NoFile};
use crate::guard::{self, Verdict};
use crate::h1::encode::{self as response, ConnHeader};
use crate::h1::parse::Head;
use crate::peer::Peer;
use crate::router::{percent_decode_into, Target, MOUNT_REST, NO_ROUTE};
use crate::stats::bump;
use crate::write_queue::{Owed, Queued};
use crate::ws::{deflate, handshake};

/// A request ready for dispatch: its head, and its body (whole, or to be streamed to JS).
pub struct Request<'r, 'h, 'b> {
    pub head: &'r Head<'h, 'b>,
    pub peer: &'r Peer,
    pub body: &'r [u8],
    /// The route streams its body: the envelope goes now, the body follows in data records.
    pub body_stream: bool,
    /// What the body holds against `maxInFlightBytes`; moves with it to JS.
    pub reservation: Option<crate::budget::Reservation>,
    pub conn: ConnHeader,
}

/// Answers `req`, natively into `owed` or by queueing a JS slot there. Returns the slot when
/// the request went to JS (the connection streams its body to it).
pub fn dispatch(ctx: &ConnCtx, req: Request<'_, '_, '_>, owed: &mut Owed) -> Option<Rc<Slot>> {
    let head = req.head;
    let conn = req.conn;
    let is_head = head.method_code == 2;
    let is_get = head.method_code == 1 || is_head;
    let stats = &ctx.stats;
    if is_get {
        let mut cache = ctx.cache.borrow_mut();
        let posts = ctx.mailbox.take_if_cache_ops();
        if !posts.is_empty() {
            ctx.bridge.settle(posts, &mut cache);
        }
        // The hot path: a fresh entry for the exact target is written with no allocation (once
        // the output has grown) and no JS.
        if !cache.is_empty() {
            let accept = || header(head.headers, "accept-encoding");
            let now = Instant::now();
            let hit = cache.get_encoded(head.target, now, |s| s.coding_for(is_head, accept()));
            if let Some((stored, age, coding)) = hit {
                let inm = header(head.headers, "if-none-match");
                let status = owed
                    .native(|out| stored.write_encoded(out, is_head, conn, Some(age), inm, coding));
                bump(&stats.cache_hits);
                if status == 304 {
                    bump(&stats.cache_not_modified);
                }
                stats.native(status);
                return None;
            }
        }
    }
    let mut parts = parts(head, req.peer, req.body, req.body_stream);
    let found = ctx.router.lookup(head.method_code, head.path);
    if !ctx.router.guards.is_empty() {
        match guarded(ctx, found.as_ref(), head, req.peer, conn, owed) {
            Some(word) => parts.guard = word,
            None => return None,
        }
    }
    // Route schemas (validate/): a request that fails them is answered here when no middleware
    // runs before its route; else JS gets the answer to send once that middleware has run.
    let rejected = found
        .as_ref()
        .and_then(|f| check_schema(ctx, f, head, req.body));
    if let Some((rejection, true)) = &rejected {
        owed.native(|out| rejection.write(out.bytes(), conn, is_head));
        stats.native(rejection.status);
        return None;
    }
    let parts = RequestParts {
        verdict: rejected.as_ref().map(|(r, _)| r),
        ..parts
    };
    let dispatched = match found {
        Some(found) => {
            let params = found.params.iter().flat_map(|p| p.iter().map(|(_, v)| v));
            match found.target {
                Target::Static(i) => {
                    let stored = &ctx.statics[i];
                    let coding =
                        stored.coding_for(is_head, header(head.headers, "accept-encoding"));
                    stored.prepare(coding);
                    let inm = header(head.headers, "if-none-match");
                    let status = owed
                        .native(|out| stored.write_encoded(out, is_head, conn, None, inm, coding));
                    stats.native(status);
                    return None;
                }
                Target::Dir(i) => {
                    let rest = match found.params.as_ref() {
                        Some(p) => p.get(MOUNT_REST),
                        None if head.path.ends_with('/') => Some(""),
                        None => None,
                    };
                    match serve_file(ctx, i, rest, head) {
                        Ok(answer) => {
                            let status = owed.native(|out| answer.write(out, is_head, conn));
                            stats.native(status);
                            return None;
                        }
                        Err(NoFile) if ctx.files.mounts[i].fallthrough => {
                            unmatched(ctx, &parts, conn, req.reservation)
                        }
                        Err(NoFile) => Err(404),
                    }
                }
                Target::Js(id) if is_get && ctx.cache.borrow().is_cacheable(id) => {
                    single_flight(ctx, id, head.target, &parts, params, conn)
                }
                Target::Js(id) => {
                    ctx.bridge
                        .dispatch(id, &parts, params, conn, true, req.reservation)
                }
            }
        }
        // A path only a WebSocket route serves, asked for without an upgrade.
        None if is_get && ctx.router.lookup_ws(head.path).is_some() => Err(426),
        None => unmatched(ctx, &parts, conn, req.reservation),
    };
    match dispatched {
        Ok(slot) => {
            if let Some(policy) = ctx.router.compression.for_route(slot.route_id) {
                let accept = header(head.headers, "accept-encoding");
                slot.accept(Scopes::accept(policy, accept));
            }
            // Whether it reached JS or was answered natively is counted where that happens.
            bump(&stats.requests_total);
            owed.queue.push_back(Queued::Js(slot.clone()));
            Some(slot)
        }
        Err(status) => {
            stats.native(status);
            // 503 here is load shedding (maxInFlight): say when to come back.
            let extra: &[u8] = match status {
                503 => b"retry-after: 1\r\n",
                // RFC 9110 §15.5.22: a 426 says what to upgrade to.
                426 => b"upgrade: websocket\r\n",
                _ => b"",
            };
            owed.native(|out| response::simple_with(out.bytes(), status, conn, is_head, extra));
            None
        }
    }
}

/// A WebSocket upgrade on a WebSocket route, its handshake checked: to JS, which accepts (its
/// connection then switches, `Upgrade::Accepted`) or answers it like any request. The
/// connection reads nothing more as HTTP after it (`close`): what follows is the client's
/// frames, or, if JS refuses, nothing worth reading.
pub fn upgrade(
    ctx: &ConnCtx,
    head: &Head<'_, '_>,
    peer: &Peer,
    found: crate::router::Found<'_, '_>,
    route: crate::router::WsRoute,
    asked: &handshake::Upgrade<'_>,
    owed: &mut Owed,
) {
    let Target::Js(id) = found.target else {
        return;
    };
    let parts = parts(head, peer, &[], false);
    let params = found.params.iter().flat_map(|p| p.iter().map(|(_, v)| v));
    // Agreed now, so JS knows (`ws.extensions`) before it accepts.
    let deflate = route
        .compression
        .and_then(|mode| deflate::negotiate(&asked.extensions, mode));
    let parts = RequestParts {
        upgrade: true,
        ws_deflate: deflate.is_some(),
        ..parts
    };
    match ctx
        .bridge
        .dispatch(id, &parts, params, ConnHeader::Close, false, None)
    {
        Ok(slot) => {
            *slot.upgrade.borrow_mut() = Some(Upgrade::Asked(Box::new(Asked {
                accept: handshake::accept_key(asked.key),
                deflate,
                route,
            })));
            bump(&ctx.stats.requests_total);
            owed.queue.push_back(Queued::Js(slot));
        }
        Err(status) => {
            ctx.stats.native(status);
            owed.native(|out| response::simple(out.bytes(), status, ConnHeader::Close, false));
        }
    }
}

/// The native guards (src/guard/) of the JS chain the request would start: its route's, or the
/// unmatched requests' (not a static answer's or a mount's, which run no middleware either).
/// The envelope's guard word, or None when a guard answered (written into `owed`).
fn guarded(
    ctx: &ConnCtx,
    found: Option<&crate::router::Found<'_, '_>>,
    head: &Head<'_, '_>,
    peer: &Peer,
    conn: ConnHeader,
    owed: &mut Owed,
) -> Option<u32> {
    let chain = match found.map(|f| &f.target) {
        Some(Target::Js(id)) => Some(*id),
        Some(_) => return Some(0),
        None if matches!(head.method_code, 1 | 2) && ctx.router.lookup_ws(head.path).is_some() => {
            return Some(0)
        }
        None => None,
    };
    let asked = guard::Asked {
        method_code: head.method_code,
        path: head.path,
        headers: head.headers,
        ip: &peer.ip,
    };
    match ctx.router.guards.check(chain, &asked) {
        Verdict::Pass(word) => Some(word),
        Verdict::Answer(answer) => {
            let is_head = head.method_code == 2;
            let status = owed.native(|out| answer.write(out.bytes(), conn, is_head));
            ctx.stats.native(status);
            None
        }
    }
}

/// The answer `found`'s schemas give this request when it fails them, and whether Rust sends
/// it itself; `None` when the route has no schema or the request passes.
fn check_schema(
    ctx: &ConnCtx,
    found: &crate::router::Found<'_, '_>,
    head: &Head<'_, '_>,
    body: &[u8],
) -> Option<(crate::validate::Rejection, bool)> {
    let schema = ctx.router.schema(&found.target)?;
    let mut decoded = Vec::new();
    if schema.checks_params() {
        for (_, raw) in found.params.iter().flat_map(|p| p.iter()) {
            let mut value = Vec::new();
            // Undecodable: the envelope encoder answers 400 for it, as for any route.
            percent_decode_into(&mut value, raw).ok()?;
            decoded.push(String::from_utf8(value).ok()?);
        }
    }
    let params: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let input = crate::validate::Input {
        params: &params,
        query: head.query,
        headers: head.headers,
        content_type: header(head.headers, "content-type"),
        body,
    };
    schema.check(&input).err().map(|r| (r, schema.native))
}

/// A request no route (or mount) answers: to JS when the app has middleware or a 404 handler
/// to run (`dispatchUnmatched`), else 404 here.
fn unmatched(
    ctx: &ConnCtx,
    parts: &RequestParts<'_, '_>,
    conn: ConnHeader,
    reservation: Option<crate::budget::Reservation>,
) -> Result<Rc<Slot>, u16> {
    if !ctx.dispatch_unmatched {
        return Err(404);
    }
    ctx.bridge
        .dispatch(NO_ROUTE, parts, std::iter::empty(), conn, true, reservation)
}

/// A directory mount's answer to the request, or a miss. `rest` is the path below the mount
/// (`None`: the mount point without its slash, a directory to redirect to).
fn serve_file(
    ctx: &ConnCtx,
    mount: usize,
    rest: Option<&str>,
    head: &Head<'_, '_>,
) -> Result<Answer, NoFile> {
    let mut req = FileRequest {
        cond: Conditions::default(),
        head: head.method_code == 2,
        http10: head.http10,
        policy: ctx.router.compression.app().map(|p| &**p),
    };
    for h in head.headers {
        req.cond.take(b"", h.name.as_bytes(), h.value);
    }
    ctx.files
        .serve_mount(mount, rest, head.path, head.query, &req)
}

/// A miss on a route that caches: the first request for a key goes to JS, the others wait for
/// its answer (the bridge settles them) instead of running the handler again. GET and HEAD
/// only, so there is no body to hold against the budget.
fn single_flight<'p>(
    ctx: &ConnCtx,
    route_id: u32,
    key: &str,
    parts: &RequestParts<'_, '_>,
    params: impl Iterator<Item = &'p str>,
    conn: ConnHeader,
) -> Result<Rc<Slot>, u16> {
    let now = Instant::now();
    let mut cache = ctx.cache.borrow_mut();
    match cache.miss(key, now) {
        Miss::Lead => {
            let slot = ctx
                .bridge
                .dispatch(route_id, parts, params, conn, false, None)?;
            cache.lead(key, slot.id(), now);
            Ok(slot)
        }
        Miss::Follow => {
            let (slot, envelope) = ctx.bridge.hold(route_id, parts, params, conn)?;
            cache.follow(
                key,
                Waiter {
                    slot: slot.clone(),
                    envelope,
                },
            );
            Ok(slot)
        }
    }
}

/// What an envelope carries of a request whose head (and whole body, if any) is read.
fn parts<'a, 'h>(
    head: &'h Head<'a, 'h>,
    peer: &'a Peer,
    body: &'a [u8],
    body_stream: bool,
) -> RequestParts<'a, 'h> {
    RequestParts {
        method: head.method,
        method_code: head.method_code,
        http10: head.http10,
        path: head.path,
        query: head.query,
        peer,
        headers: head.headers,
        body,
        body_stream,
        upgrade: false,
        ws_deflate: false,
        guard: 0,
        verdict: None,
    }
}

pub fn header<'b>(headers: &[httparse::Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}
