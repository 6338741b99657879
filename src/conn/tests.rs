//! The connection against its invariants without a socket where it can be: the cached path
//! allocates nothing, and a connection that ends takes back what JS was offered.

use super::*;
use crate::bridge::{Bridge, Mailbox};
use crate::budget::Budget;
use crate::cache::Cache;
use crate::config::{Config, Options};
use crate::lifecycle::Lifecycle;
use crate::router::Router;
use crate::stats::Stats;
use crate::stored::Stored;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

/// Counts this thread's heap allocations, to prove the cached path makes none.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the only addition is a thread-local counter that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: `ptr` came from this allocator with `layout`, as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn ctx() -> ConnCtx {
    ctx_with(Default::default())
}

fn ctx_with(offers: Arc<crate::bridge::direct::Offers>) -> ConnCtx {
    let config = Config::from_options(Options::default(), None).unwrap();
    let stats = Arc::new(Stats::default());
    let files = Rc::new(crate::files::Files::new(Vec::new(), None));
    let mailbox = Arc::new(Mailbox::default());
    let cache_group = crate::bridge::cache_group::CacheGroup::named(None).join(&mailbox);
    ConnCtx {
        files: files.clone(),
        router: Router::new([(1, "GET", "/hot")], ["/static"]).unwrap(),
        statics: vec![Stored::new(200, std::iter::empty(), b"static body")],
        cache: RefCell::new(Cache::new(1 << 20, 100, None, stats.clone())),
        mailbox,
        bridge: Rc::new(Bridge::new(
            Box::new(|_| {}),
            100,
            &crate::config::Timeouts {
                handler: None,
                stream: None,
                ..config.timeouts
            },
            stats.clone(),
            crate::bridge::Lone {
                offers,
                ..Default::default()
            },
            files.clone(),
            cache_group,
        )),
        budget: Budget::new(1 << 20, stats.clone()),
        stats,
        life: Rc::new(Lifecycle::default()),
        limits: config.limits,
        timeouts: config.timeouts,
        dispatch_unmatched: false,
        max_pipelined: 64,
        test_panic_path: None,
        buffers: Default::default(),
        tls: None,
        http2: None,
    }
}

/// Runs every request in `input` through `next_request` `rounds` times, clearing the output
/// before each round as a connection does after each write; returns allocations made.
/// `owed` keeps the last round's responses.
fn serve_rounds(ctx: &ConnCtx, input: &[u8], rounds: usize, owed: &mut Owed) -> u64 {
    let peer = Peer::plain("127.0.0.1:1".parse().unwrap());
    let before = allocations();
    for _ in 0..rounds {
        owed.out.clear();
        let mut pos = 0;
        while pos < input.len() {
            let mut incoming = Incoming::default();
            let mut close = false;
            match next_request(ctx, &input[pos..], &mut incoming, &peer, owed, &mut close) {
                Step::Done(n) => pos += n,
                _ => panic!("request did not complete"),
            }
        }
        assert!(
            owed.queue.is_empty(),
            "answered natively, not queued for JS"
        );
    }
    allocations() - before
}

#[test]
fn cached_and_static_responses_allocate_nothing_per_request() {
    let ctx = ctx();
    let headers: [(&[u8], &[u8]); 1] = [(b"content-type", b"application/json")];
    let stored = Stored::new(200, headers.into_iter(), br#"{"hot":true}"#);
    ctx.cache
        .borrow_mut()
        .insert("/hot?x=1", stored, Duration::from_secs(60), Instant::now());
    let etag = {
        let mut owed = Owed::default();
        serve_rounds(
            &ctx,
            b"GET /hot?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
            1,
            &mut owed,
        );
        let text = String::from_utf8(owed.out.take_bytes()).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("etag: "))
            .unwrap()
            .to_string();
        line["etag: ".len()..].to_string()
    };
    // A pipelined burst of 16 mixed cached/static/conditional/HEAD requests.
    let mut burst = Vec::new();
    for i in 0..16 {
        let req = match i % 4 {
            0 => "GET /hot?x=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: bench\r\n\r\n".to_string(),
            1 => "HEAD /hot?x=1 HTTP/1.1\r\nHost: h\r\n\r\n".to_string(),
            2 => format!("GET /hot?x=1 HTTP/1.1\r\nHost: h\r\nIf-None-Match: {etag}\r\n\r\n"),
            _ => "GET /static HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n".to_string(),
        };
        burst.extend_from_slice(req.as_bytes());
    }
    let mut owed = Owed::default();
    serve_rounds(&ctx, &burst, 2, &mut owed); // warm-up: `out` grows, the Date is formatted
    assert_eq!(serve_rounds(&ctx, &burst, 1000, &mut owed), 0);
    assert_eq!(crate::stats::get(&ctx.stats.requests_js), 0);
    assert_eq!(crate::stats::get(&ctx.stats.cache_not_modified), 4 * 1002);
}

/// A compressed variant of a cached or static answer is made once, by the first request that
/// takes it; every later hit on it (conditional ones included) allocates nothing either.
#[test]
fn compressed_variants_are_made_once_then_allocate_nothing() {
    use crate::compress::Policy;
    let mut ctx = ctx();
    let policy = Arc::new(Policy::default());
    let css = b"body { color: red; margin: 0 }\n".repeat(100);
    let headers: [(&[u8], &[u8]); 1] = [(b"content-type", b"text/css")];
    ctx.statics = vec![Stored::with_policy(
        200,
        headers.into_iter(),
        &css,
        Some(&policy),
    )];
    let json = br#"{"hot":true,"padding":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#.repeat(40);
    let headers: [(&[u8], &[u8]); 1] = [(b"content-type", b"application/json")];
    let stored = Stored::with_policy(200, headers.into_iter(), &json, Some(&policy));
    ctx.cache
        .borrow_mut()
        .insert("/hot?x=1", stored, Duration::from_secs(60), Instant::now());
    let mut burst = Vec::new();
    for i in 0..16 {
        let req = match i % 4 {
            0 => "GET /hot?x=1 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n",
            1 => "GET /hot?x=1 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: zstd, gzip;q=0.5\r\n\r\n",
            2 => "GET /static HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n",
            _ => {
                "GET /static HTTP/1.1\r\nHost: h\r\nAccept-Encoding: br\r\nIf-None-Match: *\r\n\r\n"
            }
        };
        burst.extend_from_slice(req.as_bytes());
    }
    let mut owed = Owed::default();
    serve_rounds(&ctx, &burst, 2, &mut owed); // warm-up: the variants are made
    let text = String::from_utf8_lossy(&owed.out.take_bytes()).into_owned();
    for coding in ["br", "zstd", "gzip"] {
        assert!(
            text.contains(&format!("content-encoding: {coding}\r\n")),
            "{coding}"
        );
    }
    assert!(text.contains("HTTP/1.1 304 Not Modified\r\nvary: Accept-Encoding\r\netag: W/\""));
    let cached = ctx
        .stats
        .cache_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        cached as usize > json.len(),
        "the variants count against the cache bound"
    );
    serve_rounds(&ctx, &burst, 1, &mut owed); // `out` grows again after being taken
    assert_eq!(serve_rounds(&ctx, &burst, 1000, &mut owed), 0);
}

/// However a connection ends (an abort drops it while its wait holds the slot, outside the
/// queue), JS must no longer write to its socket once it is gone: the descriptor may be
/// another connection's by then.
#[cfg(unix)]
#[test]
fn a_connection_that_ends_takes_back_what_js_was_offered() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    let offers = Arc::new(crate::bridge::direct::Offers::default());
    let ctx = Rc::new(ctx_with(offers.clone()));
    let (ours, mut client) = UnixStream::pair().unwrap();
    let peer = Rc::new(Peer::plain("127.0.0.1:1".parse().unwrap()));
    let mut conn = Conn::new(ctx.clone(), peer, Some(ours.as_raw_fd()));
    conn.buf = ctx.buffers.take();
    conn.buf
        .extend_from_slice(b"GET /hot HTTP/1.1\r\nHost: h\r\n\r\n");
    conn.process(&ctx);
    let Some(Queued::Js(slot)) = conn.owed.queue.pop_front() else {
        panic!("the request went to JS");
    };
    assert!(slot.is_offered(), "a lone request is offered to JS");
    let mut answer = Vec::new();
    crate::bridge::records::encode_response(&mut answer, slot.id(), 200, &[], 0, b"", b"late");
    drop(conn);

    let stats = Stats::default();
    assert_eq!(&*offers.answer(&answer, &stats).rest, &answer[..]);
    drop(ours);
    let mut wire = Vec::new();
    client.read_to_end(&mut wire).unwrap();
    assert!(wire.is_empty(), "nothing was written to the socket");
}
