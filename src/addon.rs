//! The Node-API surface, and nothing else: start a server, hand it responses, close it.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{
    ErrorStrategy, ThreadSafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::{JsBuffer, JsFunction, JsObject};
use napi_derive::napi;

use crate::bridge::{Lone, Mailbox};
use crate::cache::CacheOp;
use crate::config::{Config, Options, DEFAULT_CLOSE_TIMEOUT_MS};
use crate::router::Router;
use crate::server;
use crate::stats::{get, Stats};
use crate::stored::Stored;

#[napi(object)]
pub struct RouteSpec {
    pub id: u32,
    pub method: String,
    pub path: String,
    /// This route's own body limit, overriding the server's.
    pub body_limit: Option<u32>,
}

/// A response known at start (`app.static`), answered by Rust alone.
#[napi(object)]
pub struct StaticSpec {
    pub path: String,
    pub status: Option<u32>,
    pub headers: Vec<Vec<String>>,
    pub body: Buffer,
}

#[napi]
pub struct NativeServer {
    mailbox: Arc<Mailbox>,
    stats: Arc<Stats>,
    lone: Lone,
    thread: Option<JoinHandle<()>>,
    port: u32,
    host: String,
    driver: String,
}

#[napi]
impl NativeServer {
    /// Binds and starts serving; throws on invalid options, routes or a failed bind.
    #[napi(factory)]
    pub fn start(
        options: Options,
        routes: Vec<RouteSpec>,
        on_batch: JsFunction,
        statics: Option<Vec<StaticSpec>>,
    ) -> Result<NativeServer> {
        let env_driver = std::env::var("HTTP_NATIVE_DRIVER").ok();
        let config = Config::from_options(options, env_driver.as_deref()).map_err(invalid)?;
        let statics = statics.unwrap_or_default();
        let mut router = Router::new(
            routes
                .iter()
                .map(|r| (r.id, r.method.as_str(), r.path.as_str())),
            statics.iter().map(|s| s.path.as_str()),
        )
        .map_err(invalid)?;
        for route in &routes {
            if let Some(limit) = route.body_limit {
                router.set_body_limit(route.id, limit as usize);
            }
        }
        let statics = statics
            .iter()
            .map(stored_static)
            .collect::<Result<Vec<_>>>()?;

        // One call per batch. Fatal strategy: JS (js/bridge.js) catches everything itself, so an
        // exception escaping onBatch is a bug that must not pass silently.
        let tsfn: ThreadsafeFunction<Vec<u8>, ErrorStrategy::Fatal> = on_batch
            .create_threadsafe_function(0, |ctx: ThreadSafeCallContext<Vec<u8>>| {
                // The batch's memory becomes the Buffer's: no copy.
                Ok(vec![ctx.env.create_buffer_with_data(ctx.value)?.into_raw()])
            })?;
        let to_js = Box::new(move |batch: Vec<u8>| {
            tsfn.call(batch, ThreadsafeFunctionCallMode::NonBlocking);
        });

        let mailbox = Arc::new(Mailbox::default());
        let stats = Arc::new(Stats::default());
        let lone = Lone {
            busy_poll: config.busy_poll,
            ..Lone::default()
        };
        let started = server::start(server::Setup {
            config,
            router,
            statics,
            to_js,
            mailbox: mailbox.clone(),
            stats: stats.clone(),
            lone: lone.clone(),
        })
        .map_err(listen_error)?;
        Ok(NativeServer {
            mailbox,
            stats,
            lone,
            thread: Some(started.thread),
            port: u32::from(started.addr.port()),
            host: started.addr.ip().to_string(),
            driver: started.driver.to_string(),
        })
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
        let wait = answered.wait && may_wait == Some(true) && !self.lone.busy_poll.is_zero();
        self.mailbox.push_answered(answered);
        if !wait {
            return Ok(None);
        }
        match self.lone.handoff.wait(self.lone.busy_poll) {
            // The batch's memory becomes the Buffer's, as for the threadsafe function's batches.
            Some(next) => Ok(Some(env.create_buffer_with_data(next)?.into_raw())),
            None => Ok(None),
        }
    }

    /// Drops cached responses whose path is `pattern`, or whose key starts with `prefix` for a
    /// `prefix*` pattern. In force for every request read after this returns.
    #[napi]
    pub fn cache_invalidate(&self, pattern: String) {
        self.mailbox.cache_op(CacheOp::Invalidate(pattern));
    }

    #[napi]
    pub fn cache_clear(&self) {
        self.mailbox.cache_op(CacheOp::Clear);
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
    pub fn close(&mut self, timeout_ms: Option<u32>) -> AsyncTask<Join> {
        let timeout = timeout_ms.unwrap_or(DEFAULT_CLOSE_TIMEOUT_MS);
        self.mailbox
            .request_shutdown(Duration::from_millis(u64::from(timeout)));
        // "Stop accepting at once": return only when the listener is closed.
        self.mailbox
            .wait_until_not_accepting(Duration::from_secs(1));
        AsyncTask::new(Join(self.thread.take()))
    }
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

fn stored_static(spec: &StaticSpec) -> Result<Stored> {
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
    Ok(Stored::new(status, headers.into_iter(), &spec.body))
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
