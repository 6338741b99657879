//! The server thread: builds the monoio runtime (io_uring, or the legacy epoll/kqueue driver
//! when io_uring is missing, forbidden or not wanted), binds, accepts, and shuts down.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use monoio::io::Canceller;
use monoio::net::TcpListener;

use std::cell::RefCell;

use crate::acceptor::{Acceptor, Inbox};
use crate::bridge::{Bridge, Lone, Mailbox, TICK};
use crate::budget::Budget;
use crate::cache::Cache;
use crate::config::{Config, DriverChoice, DEFAULT_CLOSE_TIMEOUT_MS};
use crate::ctx::ConnCtx;
use crate::files::Files;
use crate::lifecycle::Lifecycle;
use crate::listen;
use crate::memory;
use crate::protocol;
use crate::router::Router;
use crate::stats::Stats;
use crate::stored::Stored;
use crate::unwind::spawn_contained;

/// io_uring submission queue depth; monoio's default too.
const URING_ENTRIES: u32 = 1024;
/// After an abort, how long connection tasks get to notice it and drop their sockets.
const ABORT_GRACE: Duration = Duration::from_millis(200);

pub struct Started {
    pub addr: SocketAddr,
    pub driver: &'static str,
    pub thread: JoinHandle<()>,
}

/// What the server thread is started with.
pub struct Setup {
    pub config: Config,
    pub router: Router,
    pub statics: Vec<Stored>,
    pub files: Files,
    pub to_js: Box<dyn Fn(Vec<u8>) + Send>,
    pub mailbox: Arc<Mailbox>,
    pub stats: Arc<Stats>,
    pub lone: Lone,
    /// This server's place among those sharing its response cache (`bridge/cache_group.rs`).
    pub cache_group: crate::bridge::cache_group::Membership,
    /// With `balance: 'acceptor'`: the threads of this listen(), this one's inbox, and whether
    /// this one accepts for all (it binds; the others bind nothing).
    pub handoff: Option<Handoff>,
    /// `inject()`'s jobs, taken by a task of this thread (`inject/`).
    pub inject: Arc<crate::inject::Inbox>,
}

pub struct Handoff {
    pub acceptor: Arc<Acceptor>,
    pub inbox: Arc<Inbox>,
    pub accepts: bool,
}

/// Starts the server thread and waits until it listens (or failed to).
pub fn start(setup: Setup) -> std::io::Result<Started> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("http-native".into())
        .spawn(move || run_thread(setup, ready_tx))?;
    match ready_rx.recv() {
        Ok(Ok((addr, driver))) => Ok(Started {
            addr,
            driver,
            thread,
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(std::io::Error::other(
                "the server thread exited before listening",
            ))
        }
    }
}

/// Ring flags for a ring that one thread drives. By default the kernel interrupts the thread
/// (an IPI) to run each completion's task work the moment data arrives; cooperative task running
/// defers that work to the thread's next entry into the kernel, which it makes anyway to wait
/// or submit. Wake-heavy traffic (one request per connection at a time) pays that IPI per
/// request, which made io_uring costlier than epoll per request on a 2-core VM.
#[cfg(target_os = "linux")]
fn tuned_uring() -> io_uring::Builder {
    let mut builder = io_uring::IoUring::builder();
    builder.setup_coop_taskrun().setup_single_issuer();
    builder
}

type Ready = mpsc::Sender<std::io::Result<(SocketAddr, &'static str)>>;

fn run_thread(setup: Setup, ready: Ready) {
    #[cfg(target_os = "linux")]
    {
        use monoio::{FusionDriver, FusionRuntime, LegacyDriver, RuntimeBuilder};
        let built = match setup.config.driver {
            DriverChoice::Legacy => RuntimeBuilder::<LegacyDriver>::new()
                .enable_timer()
                .build()
                .map(FusionRuntime::from),
            // FusionDriver probes io_uring and falls back to epoll when the kernel lacks it or
            // a seccomp profile (containers) forbids it.
            DriverChoice::Auto => RuntimeBuilder::<FusionDriver>::new()
                .with_entries(URING_ENTRIES)
                .uring_builder(tuned_uring())
                .enable_timer()
                .build()
                // Kernels before 6.0 refuse those flags: the plain ring then.
                .or_else(|_| {
                    RuntimeBuilder::<FusionDriver>::new()
                        .with_entries(URING_ENTRIES)
                        .enable_timer()
                        .build()
                }),
        };
        let mut rt = match built {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let driver = match rt {
            FusionRuntime::Uring(_) => "io_uring",
            FusionRuntime::Legacy(_) => "epoll",
        };
        rt.block_on(serve(setup, ready, driver));
    }
    #[cfg(not(target_os = "linux"))]
    {
        let built = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build();
        let mut rt = match built {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        rt.block_on(serve(setup, ready, "kqueue"));
    }
}

async fn serve(setup: Setup, ready: Ready, driver: &'static str) {
    let Setup {
        config,
        router,
        statics,
        files,
        to_js,
        mailbox,
        stats,
        lone,
        cache_group,
        handoff,
        inject,
    } = setup;
    // A thread that an acceptor hands connections to binds nothing: it serves where that one
    // listens.
    let handed = handoff.as_ref().filter(|h| !h.accepts);
    let (listener, addr) = match handed {
        // Answers inject() alone: no address, and nothing to accept.
        None if config.socketless => (None, SocketAddr::from(([0, 0, 0, 0], 0))),
        Some(h) => {
            let addr = *h.acceptor.addr.lock().unwrap_or_else(|e| e.into_inner());
            match addr {
                Some(addr) => (None, addr),
                None => {
                    let _ = ready.send(Err(std::io::Error::other(
                        "the accepting thread is not listening",
                    )));
                    return;
                }
            }
        }
        // Registered with this thread's driver, so converted here rather than bound by the caller.
        None => match listen::bind(&config.listen)
            .and_then(TcpListener::from_std)
            .and_then(|l| Ok((l.local_addr()?, l)))
        {
            Ok((addr, l)) => (Some(l), addr),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        },
    };
    if let Some(h) = &handoff {
        if h.accepts {
            *h.acceptor.addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(addr);
        }
    }
    mailbox.set_accepting(true);
    let _ = ready.send(Ok((addr, driver)));

    let handler_timeout = config.timeouts.handler;
    let files = Rc::new(files);
    let bridge = Rc::new(Bridge::new(
        to_js,
        config.max_in_flight,
        &config.timeouts,
        stats.clone(),
        lone,
        files.clone(),
        cache_group,
    ));
    let life = Rc::new(Lifecycle::default());
    let cache = Cache::new(
        config.cache_max_bytes,
        config.cache_max_entries,
        handler_timeout,
        stats.clone(),
    );
    let budget = Budget::new(config.max_in_flight_bytes, stats.clone());
    let ctx = Rc::new(ConnCtx {
        router,
        statics,
        files,
        cache: RefCell::new(cache),
        mailbox: mailbox.clone(),
        stats,
        bridge: bridge.clone(),
        life: life.clone(),
        limits: config.limits,
        timeouts: config.timeouts,
        dispatch_unmatched: config.dispatch_unmatched,
        max_pipelined: config.max_pipelined,
        budget,
        test_panic_path: config.test_panic_path,
        buffers: Default::default(),
        tls: config.tls.clone(),
        http2: config.http2.clone(),
    });

    spawn_contained(&bridge, {
        let bridge = bridge.clone();
        async move { bridge.run_flusher().await }
    });
    let grace = Rc::new(std::cell::Cell::new(None));
    spawn_contained(&bridge, {
        let (ctx, life, grace) = (ctx.clone(), life.clone(), grace.clone());
        async move {
            loop {
                let mail = mailbox.receive().await;
                ctx.bridge.settle(mail.posts, &mut ctx.cache.borrow_mut());
                if let Some(timeout) = mail.shutdown {
                    grace.set(Some(timeout));
                    ctx.bridge.set_closing();
                    life.begin_shutdown();
                }
            }
        }
    });

    // The server's clock: handler timeouts, long waits on JS, connection read and write
    // deadlines, and single-flight waiters whose leader never answers (they go to JS themselves).
    spawn_contained(&bridge, {
        let ctx = ctx.clone();
        async move {
            let mut idle_trim = memory::IdleTrim::default();
            loop {
                monoio::time::sleep(TICK).await;
                let now = monoio::time::Instant::now();
                let served = ctx.stats.requests_total.load(Ordering::Relaxed);
                if idle_trim.tick(served, now) {
                    memory::trim();
                }
                ctx.bridge.tick(now);
                ctx.life.check_deadlines(now, ctx.timeouts.request);
                let stale = ctx.cache.borrow_mut().abandon_stale_flights(now);
                for waiter in stale {
                    ctx.bridge.release(&waiter.slot, &waiter.envelope);
                }
            }
        }
    });

    spawn_contained(&bridge, crate::inject::serve_inbox(inject, ctx.clone()));

    if let Some(h) = &handoff {
        spawn_contained(&bridge, {
            let (inbox, ctx, bridge) = (h.inbox.clone(), ctx.clone(), bridge.clone());
            async move {
                loop {
                    for (socket, peer) in inbox.receive().await {
                        // Registered with this thread's driver here, where it will be served.
                        if let Ok(stream) = monoio::net::TcpStream::from_std(socket) {
                            let _ = stream.set_nodelay(true);
                            spawn_contained(&bridge, protocol::serve(stream, peer, ctx.clone()));
                        }
                    }
                }
            }
        });
    }

    let accept_key = life.key();
    let mut canceller = Canceller::new();
    while let Some(listener) = &listener {
        let accept = listener.cancelable_accept(canceller.handle());
        let mut accept = std::pin::pin!(accept);
        let accepted = monoio::select! {
            accepted = &mut accept => accepted,
            _ = life.until_shutdown(accept_key) => {
                // Cancelled, not dropped: on io_uring the accept may already have taken a
                // connection, and dropping that result would leak its socket (a client left
                // connected to nobody). Such a late connection is closed instead.
                canceller = std::mem::take(&mut canceller).cancel();
                drop(accept.await);
                break;
            }
        };
        match (accepted, &handoff) {
            (Ok(first), None) => {
                for (stream, peer) in std::iter::once(first).chain(listen::accept_waiting(listener))
                {
                    let _ = stream.set_nodelay(true);
                    set_cloexec(&stream);
                    spawn_contained(&bridge, protocol::serve(stream, peer, ctx.clone()));
                }
            }
            (Ok((first, peer)), Some(h)) => {
                let first = into_std(first);
                set_cloexec(&first);
                for (socket, peer) in
                    std::iter::once((first, peer)).chain(listen::accept_waiting_std(listener))
                {
                    match h.acceptor.pick() {
                        Some(inbox) => inbox.push(socket, peer),
                        None => drop(socket),
                    }
                }
            }
            // Out of descriptors or memory: back off instead of spinning; the connections
            // already open keep being served.
            (Err(e), _) => {
                eprintln!("http-native: accept failed: {e}");
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    if listener.is_none() {
        life.until_shutdown(accept_key).await;
    }
    if let Some(h) = &handoff {
        // Connections handed over from now on, or waiting, are closed: this thread is draining.
        h.inbox.close();
    }
    drop(canceller);
    drop(listener);
    ctx.mailbox.set_accepting(false);

    let timeout = grace
        .get()
        .unwrap_or(Duration::from_millis(u64::from(DEFAULT_CLOSE_TIMEOUT_MS)));
    monoio::select! {
        _ = life.until_drained() => {},
        _ = monoio::time::sleep(timeout) => {},
    }
    // Grace is over: connections still waiting on JS or on a slow reader are dropped now.
    life.abort();
    monoio::select! {
        _ = life.until_drained() => {},
        _ = monoio::time::sleep(ABORT_GRACE) => {},
    }
    // What the last connections told JS (a WebSocket's end, a request abandoned) goes now, before
    // the thread ends and `close()` resolves: JS then hears every end before its own cleanup.
    bridge.flush_now();
    // Release the JS callback here rather than whenever the runtime drops its tasks: once it is
    // gone nothing of this server keeps Node's event loop alive.
    bridge.detach();
}

/// An accepted socket out of this thread's driver, to be handed to another thread.
#[cfg(unix)]
fn into_std(stream: monoio::net::TcpStream) -> std::net::TcpStream {
    use std::os::fd::{FromRawFd, IntoRawFd};
    // SAFETY: `into_raw_fd` gives up the runtime's ownership of the descriptor (deregistered
    // from the legacy driver's poller; io_uring holds no registration for it), so the std
    // stream is its only owner.
    unsafe { std::net::TcpStream::from_raw_fd(stream.into_raw_fd()) }
}

/// io_uring's accept (as monoio issues it) does not set close-on-exec, so a child process spawned
/// by the app would inherit every client socket and keep it open after we close ours.
#[cfg(unix)]
fn set_cloexec(stream: &impl std::os::fd::AsRawFd) {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let _ = fcntl(stream.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
}

#[cfg(not(unix))]
fn set_cloexec<T>(_stream: &T) {}
