//! The Node-API surface, and nothing else: start a server, hand it responses, close it (also
//! when the JS environment that started it goes away).

use std::ffi::c_void;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{
    ErrorStrategy, ThreadSafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::{sys, JsBuffer, JsFunction, JsObject};
use napi_derive::napi;

use crate::acceptor::Acceptor;
use crate::bridge::cache_group::CacheGroup;
use crate::bridge::{Lone, Mailbox};
use crate::cache::CacheOp;
use crate::compress::{Policy, Scopes};
use crate::config::{CompressionSpec, Config, Options, DEFAULT_CLOSE_TIMEOUT_MS};
use crate::files::path::{Dotfiles, Root};
use crate::files::{FileOptions, Files, Mount};
use crate::h1::encode as response;
use crate::router::{RouteBody, Router, WsRoute};
use crate::server;
use crate::stats::{bump, get, Stats};
use crate::stored::Stored;

#[napi(object)]
pub struct RouteSpec {
    pub id: u32,
    pub method: String,
    pub path: String,
    /// This route's own body limit, overriding the server's.
    pub body_limit: Option<u32>,
    /// The body goes to JS as it arrives, in data records (`{ body: 'stream' }`).
    pub body_stream: Option<bool>,
    /// This route's own compression (`{ compression }`), overriding the app's; absent: the app's.
    pub compression: Option<CompressionSpec>,
    /// A WebSocket route's options (method `WS`, `app.ws`).
    pub ws: Option<WsSpec>,
    /// The route's schemas (`{ schema }`), checked before JS runs (`validate/`).
    pub schema: Option<crate::validate::SchemaSpec>,
}

/// `app.ws` options as js/ws-options.js normalizes them.
#[napi(object)]
pub struct WsSpec {
    pub max_payload: u32,
    /// 0: never.
    pub idle_timeout_ms: u32,
    /// 0 off, 1 shared, 2 dedicated (`ws::deflate::Mode`).
    pub compression: u32,
    /// 0: no bound.
    pub max_backpressure: u32,
    pub close_on_backpressure_limit: bool,
    pub send_pings: bool,
}

fn ws_route(spec: &WsSpec) -> WsRoute {
    use crate::ws::deflate::Mode;
    WsRoute {
        max_payload: (spec.max_payload as usize).max(1),
        idle_timeout: (spec.idle_timeout_ms > 0)
            .then(|| std::time::Duration::from_millis(u64::from(spec.idle_timeout_ms))),
        compression: match spec.compression {
            1 => Some(Mode::Shared),
            2 => Some(Mode::Dedicated),
            _ => None,
        },
        max_backpressure: spec.max_backpressure as usize,
        close_on_limit: spec.close_on_backpressure_limit,
        send_pings: spec.send_pings,
    }
}

/// A response known at start (`app.static`), answered by Rust alone.
#[napi(object)]
pub struct StaticSpec {
    pub path: String,
    pub status: Option<u32>,
    pub headers: Vec<Vec<String>>,
    pub body: Buffer,
}

/// A directory served under a path prefix (`app.static(prefix, { root })`), by Rust alone.
#[napi(object)]
pub struct DirSpec {
    pub prefix: String,
    pub root: String,
    pub index: Option<Vec<String>>,
    /// `ignore` | `deny` | `allow`.
    pub dotfiles: Option<String>,
    pub fallthrough: Option<bool>,
    pub redirect: Option<bool>,
    pub etag: Option<bool>,
    pub last_modified: Option<bool>,
    pub accept_ranges: Option<bool>,
    pub precompressed: Option<bool>,
    pub follow_symlinks: Option<bool>,
    pub extensions: Option<Vec<String>>,
    /// `false`: never compressed here, whatever the app's `compression` says.
    pub compression: Option<bool>,
    /// `[name, value]` pairs on every answer (cache-control and the like).
    pub headers: Option<Vec<Vec<String>>>,
}

#[napi]
pub struct NativeServer {
    mailbox: Arc<Mailbox>,
    stats: Arc<Stats>,
    lone: Lone,
    teardown: Arc<Teardown>,
    /// Until close(): what stops the server if its environment is torn down first.
    cleanup_hook: Option<CleanupHook>,
    port: u32,
    host: String,
    driver: String,
    /// The server's TLS settings, for `setSecureContext`.
    tls: Option<Arc<crate::tls::Settings>>,
    /// The servers sharing this one's response cache: invalidations reach them all.
    cache_group: Arc<CacheGroup>,
    /// `inject()`'s jobs for the server thread.
    inject: Arc<crate::inject::Inbox>,
}

#[napi]
impl NativeServer {
    /// Binds and starts serving; throws on invalid options, routes or a failed bind.
    #[napi(factory)]
    pub fn start(
        env: Env,
        options: Options,
        routes: Vec<RouteSpec>,
        on_batch: JsFunction,
        statics: Option<Vec<StaticSpec>>,
        dirs: Option<Vec<DirSpec>>,
        guards: Option<crate::guard::napi::GuardsSpec>,
    ) -> Result<NativeServer> {
        let env_driver = std::env::var("HTTP_NATIVE_DRIVER").ok();
        let cache_group = CacheGroup::named(options.cache_group.as_deref());
        let acceptor = options.acceptor.as_deref().map(Acceptor::named);
        let config = Config::from_options(options, env_driver.as_deref()).map_err(invalid)?;
        let socketless = config.socketless;
        let statics = statics.unwrap_or_default();
        let mut router = Router::new(
            routes
                .iter()
                .map(|r| (r.id, r.method.as_str(), r.path.as_str())),
            statics.iter().map(|s| s.path.as_str()),
        )
        .map_err(invalid)?;
        let mut compression = Scopes::new(config.compression.clone());
        for route in &routes {
            let stream = route.body_stream.unwrap_or(false);
            if route.body_limit.is_some() || stream {
                let limit = route.body_limit.map(|l| l as usize);
                router.set_body(route.id, RouteBody { limit, stream });
            }
            if let Some(schema) = &route.schema {
                let compiled = schema.compile(stream).map_err(|e| {
                    invalid(format!("route {} {:?}: {e}", route.method, route.path))
                })?;
                router.set_schema(route.id, compiled);
            }
            if let Some(ws) = &route.ws {
                if route.method != "WS" {
                    return Err(invalid(format!(
                        "route {:?}: ws options on a {} route",
                        route.path, route.method
                    )));
                }
                router.set_ws(route.id, ws_route(ws));
            } else if route.method == "WS" {
                return Err(invalid(format!(
                    "WebSocket route {:?} without its options",
                    route.path
                )));
            }
            if let Some(spec) = &route.compression {
                let policy = spec
                    .policy()
                    .map_err(|e| invalid(format!("route {:?}: {e}", route.path)))?;
                compression.set_route(route.id, policy);
            }
        }
        let statics = statics
            .iter()
            .map(|s| stored_static(s, compression.app()))
            .collect::<Result<Vec<_>>>()?;
        let dirs = dirs.unwrap_or_default();
        let mut mounts = Vec::with_capacity(dirs.len());
        for (i, dir) in dirs.iter().enumerate() {
            router.mount(i, &dir.prefix).map_err(invalid)?;
            mounts.push(mount(dir)?);
        }
        let files = Files::new(mounts, config.file_cache);
        router.compression = compression;
        if let Some(spec) = guards {
            router.guards = crate::guard::napi::guards(spec).map_err(invalid)?;
        }

        // One call per batch. Fatal strategy: JS (js/bridge.js) catches everything itself, so an
        // exception escaping onBatch is a bug that must not pass silently.
        let mut tsfn: ThreadsafeFunction<Vec<u8>, ErrorStrategy::Fatal> = on_batch
            .create_threadsafe_function(0, |ctx: ThreadSafeCallContext<Vec<u8>>| {
                // The batch's memory becomes the Buffer's: no copy.
                Ok(vec![ctx.env.create_buffer_with_data(ctx.value)?.into_raw()])
            })?;
        if socketless {
            // Only inject() reaches a socketless server, and each inject keeps the process alive
            // with its own callback until answered: idle, the server must not (a test runner
            // exits once its tests are done, without a close()).
            tsfn.unref(&env)?;
        }
        let to_js = Box::new(move |batch: Vec<u8>| {
            tsfn.call(batch, ThreadsafeFunctionCallMode::NonBlocking);
        });

        let mailbox = Arc::new(Mailbox::default());
        let stats = Arc::new(Stats::default());
        let lone = Lone {
            busy_poll: config.busy_poll,
            ..Lone::default()
        };
        let tls = config.tls.clone();
        let membership = cache_group.join(&mailbox);
        let handoff = acceptor.map(|acceptor| {
            let (inbox, accepts) = acceptor.join(stats.clone());
            server::Handoff {
                acceptor,
                inbox,
                accepts,
            }
        });
        let inject = Arc::new(crate::inject::Inbox::default());
        let started = server::start(server::Setup {
            config,
            router,
            statics,
            files,
            to_js,
            mailbox: mailbox.clone(),
            stats: stats.clone(),
            lone: lone.clone(),
            cache_group: membership,
            handoff,
            inject: inject.clone(),
        })
        .map_err(listen_error)?;
        let teardown = Arc::new(Teardown {
            mailbox: mailbox.clone(),
            thread: Mutex::new(Some(started.thread)),
        });
        // Added after the threadsafe function, so it runs before that function's own cleanup
        // (node runs them in reverse order): the server thread is gone before its callback is.
        let cleanup_hook = match CleanupHook::add(&env, &teardown) {
            Ok(hook) => hook,
            Err(e) => {
                teardown.stop_now();
                return Err(e);
            }
        };
        Ok(NativeServer {
            mailbox,
            stats,
            lone,
            teardown,
            cleanup_hook: Some(cleanup_hook),
            port: u32::from(started.addr.port()),
            host: started.addr.ip().to_string(),
            driver: started.driver.to_string(),
            tls,
            cache_group,
            inject,
        })
    }

    /// Serves `request` (one HTTP/1.1 request, head and body) over an in-memory connection
    /// from `ip`: `on_data(chunk)` gets the answer's bytes as the server writes them, then
    /// `null` (docs/bridge.md, "inject"). No socket is involved.
    #[napi]
    pub fn inject(
        &self,
        request: Buffer,
        ip: String,
        on_data: JsFunction,
    ) -> Result<crate::inject::napi::InjectHandle> {
        let (job, handle) = crate::inject::napi::job(request.to_vec(), ip, on_data)?;
        self.inject.post(job);
        Ok(handle)
    }

    /// Replaces the certificates and TLS options for handshakes from now on; connections
    /// already open keep theirs. Throws (changing nothing) on invalid options.
    #[napi]
    pub fn set_secure_context(&self, options: crate::tls::TlsOptions) -> Result<()> {
        let tls = self.tls.as_ref().ok_or_else(|| {
            invalid("setSecureContext: the server was not started with tls".into())
        })?;
        tls.replace(&options).map_err(invalid)
    }

    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.port
    }

    #[napi(getter)]
    pub fn host(&self) -> String {
        self.host.clone()
    }

    #[napi(getter)]
    pub fn driver(&self) -> String {
        self.driver.clone()
    }

    /// Hands a batch of response records to the server thread, after writing those it offered
    /// to JS straight to their sockets (direct.rs). Copies what it hands over, so JS may reuse
    /// the buffer as soon as this returns.
    ///
    /// When JS wrote the answer of a client that sends requests back to back, and `may_wait`,
    /// waits up to `busyPoll` for that client's next request and returns its batch (handoff.rs):
    /// JS then handles it at once, without going back to sleep in the event loop.
    #[napi]
    pub fn respond(
        &self,
        env: Env,
        batch: JsBuffer,
        may_wait: Option<bool>,
    ) -> Result<Option<JsBuffer>> {
        let data = batch.into_value()?;
        let answered = self.lone.offers.answer(&data, &self.stats);
        let wait = answered.wait
            && may_wait == Some(true)
            && !self.lone.busy_poll.is_zero()
            && self.lone.handoff.should_wait();
        self.mailbox
            .push_answered(answered, self.cache_group.epoch());
        if !wait {
            return Ok(None);
        }
        bump(&self.stats.bridge_waited);
        match self.lone.handoff.wait(self.lone.busy_poll) {
            // The batch's memory becomes the Buffer's, as for the threadsafe function's batches.
            Some(next) => Ok(Some(env.create_buffer_with_data(next)?.into_raw())),
            None => Ok(None),
        }
    }

    /// Drops cached responses whose path is `pattern`, or whose key starts with `prefix` for a
    /// `prefix*` pattern, on every server of this one's cache group. In force for every request
    /// read after this returns.
    #[napi]
    pub fn cache_invalidate(&self, pattern: String) {
        self.cache_group.apply(&CacheOp::Invalidate(pattern));
    }

    #[napi]
    pub fn cache_clear(&self) {
        self.cache_group.apply(&CacheOp::Clear);
    }

    /// Counters since start (docs/bridge.md, "Stats").
    #[napi]
    pub fn stats(&self, env: Env) -> Result<JsObject> {
        let s = &*self.stats;
        let group = |pairs: &[(&str, &std::sync::atomic::AtomicU64)]| -> Result<JsObject> {
            let mut obj = env.create_object()?;
            for (name, counter) in pairs {
                obj.set_named_property(name, env.create_double(get(counter) as f64)?)?;
            }
            Ok(obj)
        };
        let mut out = env.create_object()?;
        out.set_named_property(
            "connections",
            group(&[
                ("open", &s.connections_open),
                ("total", &s.connections_total),
            ])?,
        )?;
        out.set_named_property(
            "requests",
            group(&[
                ("total", &s.requests_total),
                ("native", &s.requests_native),
                ("js", &s.requests_js),
            ])?,
        )?;
        out.set_named_property(
            "cache",
            group(&[
                ("hits", &s.cache_hits),
                ("misses", &s.cache_misses),
                ("entries", &s.cache_entries),
                ("bytes", &s.cache_bytes),
                ("evictions", &s.cache_evictions),
                ("notModified", &s.cache_not_modified),
            ])?,
        )?;
        out.set_named_property(
            "bridge",
            group(&[
                ("calls", &s.bridge_calls),
                ("requests", &s.bridge_requests),
                ("direct", &s.bridge_direct),
                ("polled", &s.bridge_polled),
                ("waited", &s.bridge_waited),
            ])?,
        )?;
        out.set_named_property(
            "bodies",
            group(&[("bytes", &s.body_bytes), ("waiting", &s.body_waiting)])?,
        )?;
        out.set_named_property(
            "ws",
            group(&[
                ("open", &s.ws_open),
                ("total", &s.ws_total),
                ("messagesIn", &s.ws_messages_in),
                ("messagesOut", &s.ws_messages_out),
                ("bytesIn", &s.ws_bytes_in),
                ("bytesOut", &s.ws_bytes_out),
                ("published", &s.ws_published),
                ("dropped", &s.ws_dropped),
            ])?,
        )?;
        out.set_named_property(
            "tls",
            group(&[
                ("handshakes", &s.tls_handshakes),
                ("failures", &s.tls_failures),
            ])?,
        )?;
        out.set_named_property(
            "h2",
            group(&[
                ("connections", &s.h2_connections),
                ("streams", &s.h2_streams),
            ])?,
        )?;
        let [r1, r2, r3, r4, r5] = &s.responses;
        out.set_named_property(
            "responses",
            group(&[
                ("1xx", r1),
                ("2xx", r2),
                ("3xx", r3),
                ("4xx", r4),
                ("5xx", r5),
            ])?,
        )?;
        Ok(out)
    }

    /// Stops accepting now; resolves once in-flight requests are answered (or `timeout_ms`
    /// passed) and the server thread has exited.
    #[napi]
    pub fn close(&mut self, env: Env, timeout_ms: Option<u32>) -> AsyncTask<Join> {
        if let Some(hook) = self.cleanup_hook.take() {
            hook.remove(&env);
        }
        let timeout = timeout_ms.unwrap_or(DEFAULT_CLOSE_TIMEOUT_MS);
        self.mailbox
            .request_shutdown(Duration::from_millis(u64::from(timeout)));
        // "Stop accepting at once": return only when the listener is closed.
        self.mailbox
            .wait_until_not_accepting(Duration::from_secs(1));
        AsyncTask::new(Join(self.teardown.take_thread()))
    }
}

/// Stops a server whose JS environment is torn down without close() (a worker thread terminated
/// or exiting): otherwise its thread outlives the environment, accepting connections no handler
/// will ever answer.
struct Teardown {
    mailbox: Arc<Mailbox>,
    /// Taken by whichever comes first, close() or the cleanup hook.
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Teardown {
    fn take_thread(&self) -> Option<JoinHandle<()>> {
        self.thread.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// No grace: no JS is left to answer the requests in flight. Joined before returning, so
    /// nothing of the server runs once the environment is gone.
    fn stop_now(&self) {
        self.mailbox.request_shutdown(Duration::ZERO);
        if let Some(thread) = self.take_thread() {
            let _ = thread.join();
        }
    }
}

/// `Teardown::stop_now` registered as a Node-API environment cleanup hook
/// (`napi_add_env_cleanup_hook`, N-API 3, so within the crate's `napi4` feature). Registered by
/// hand rather than through napi-rs's `Env::add_env_cleanup_hook`, whose removal never frees the
/// hook's data: every listen()/close() would leak it.
struct CleanupHook(*const Teardown);

impl CleanupHook {
    fn add(env: &Env, teardown: &Arc<Teardown>) -> Result<CleanupHook> {
        let data = Arc::into_raw(teardown.clone());
        // SAFETY: `env` is the live environment of this call; `data` stays valid until the hook
        // runs or is removed, each of which releases it exactly once.
        let status = unsafe {
            sys::napi_add_env_cleanup_hook(env.raw(), Some(run_cleanup_hook), data as *mut c_void)
        };
        if status != sys::Status::napi_ok {
            // SAFETY: not registered, so nothing else will release this reference.
            drop(unsafe { Arc::from_raw(data) });
            return Err(Error::from_reason(format!(
                "http-native: cannot register an environment cleanup hook (napi status {status})"
            )));
        }
        Ok(CleanupHook(data))
    }

    /// After close(), which stops the server itself.
    fn remove(self, env: &Env) {
        // SAFETY: the same (function, data) pair `add` registered in this environment.
        let status = unsafe {
            sys::napi_remove_env_cleanup_hook(
                env.raw(),
                Some(run_cleanup_hook),
                self.0 as *mut c_void,
            )
        };
        if status == sys::Status::napi_ok {
            // SAFETY: the hook will never run, so its reference is released here, once.
            drop(unsafe { Arc::from_raw(self.0) });
        }
    }
}

unsafe extern "C" fn run_cleanup_hook(data: *mut c_void) {
    // SAFETY: the reference `CleanupHook::add` made; node runs a hook at most once, and never
    // after its removal.
    let teardown = unsafe { Arc::from_raw(data as *const Teardown) };
    teardown.stop_now();
}

/// Joins the server thread on libuv's thread pool, so the JS thread keeps answering the
/// in-flight requests the server thread is waiting for.
pub struct Join(Option<JoinHandle<()>>);

impl Task for Join {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        match self.0.take().map(JoinHandle::join) {
            Some(Err(_)) => Err(Error::from_reason(
                "http-native: the server thread panicked",
            )),
            _ => Ok(()),
        }
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

fn mount(spec: &DirSpec) -> Result<Mount> {
    let root = Root::open(std::path::Path::new(&spec.root))
        .map_err(|e| invalid(format!("static directory {:?}: {e}", spec.root)))?;
    let dotfiles = match spec.dotfiles.as_deref() {
        None => Dotfiles::Ignore,
        Some(d) => Dotfiles::parse(d).ok_or_else(|| {
            invalid(format!(
                "static directory {:?}: bad dotfiles {d:?}",
                spec.prefix
            ))
        })?,
    };
    let mut extra = Vec::new();
    for pair in spec.headers.iter().flatten() {
        let [name, value] = pair.as_slice() else {
            return Err(invalid(format!(
                "static directory {:?}: headers must be [name, value] pairs",
                spec.prefix
            )));
        };
        if !response::header_is_safe(name.as_bytes(), value.as_bytes()) {
            return Err(invalid(format!(
                "static directory {:?}: invalid header {name:?}",
                spec.prefix
            )));
        }
        extra.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    Ok(Mount {
        root,
        index: spec
            .index
            .clone()
            .unwrap_or_else(|| vec!["index.html".into()]),
        fallthrough: spec.fallthrough.unwrap_or(true),
        redirect: spec.redirect.unwrap_or(true),
        extensions: spec.extensions.clone().unwrap_or_default(),
        precompressed: spec.precompressed.unwrap_or(false),
        options: FileOptions {
            dotfiles,
            etag: spec.etag.unwrap_or(true),
            last_modified: spec.last_modified.unwrap_or(true),
            accept_ranges: spec.accept_ranges.unwrap_or(true),
            follow_symlinks: spec.follow_symlinks.unwrap_or(false),
            extra,
            content_type: None,
            download: None,
            compress: spec.compression.unwrap_or(true),
            ..FileOptions::default()
        },
    })
}

/// `app.static` answers compress under the app's policy.
fn stored_static(spec: &StaticSpec, policy: Option<&Arc<Policy>>) -> Result<Stored> {
    let status = u16::try_from(spec.status.unwrap_or(200))
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| invalid(format!("static {:?}: invalid status", spec.path)))?;
    let mut headers = Vec::with_capacity(spec.headers.len());
    for pair in &spec.headers {
        match pair.as_slice() {
            [name, value] => headers.push((name.as_bytes(), value.as_bytes())),
            _ => {
                return Err(invalid(format!(
                    "static {:?}: headers must be [name, value] pairs",
                    spec.path
                )))
            }
        }
    }
    Ok(Stored::with_policy(
        status,
        headers.into_iter(),
        &spec.body,
        policy,
    ))
}

fn invalid(reason: String) -> Error {
    Error::new(Status::InvalidArg, reason)
}

/// Messages shaped like Node's (`listen EADDRINUSE: address already in use`), so JS can give
/// the error the `code` users test for.
fn listen_error(e: std::io::Error) -> Error {
    let code = match e.kind() {
        std::io::ErrorKind::AddrInUse => "EADDRINUSE",
        std::io::ErrorKind::AddrNotAvailable => "EADDRNOTAVAIL",
        std::io::ErrorKind::PermissionDenied => "EACCES",
        _ => "EIO",
    };
    Error::from_reason(format!("listen {code}: {e}"))
}
