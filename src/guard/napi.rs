//! The Node-API side of the guards: the specs js/router.js compiles at listen() into `Guards`,
//! and `RateLimitCounter`, one per `rateLimit()`: the counter its native guards share with every
//! server of the app, and that JS counts through (`hit`) when the key is its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::cors::{Origin, Preflight};
use super::rate_limit::{Counter, Native, MAX_NATIVE_LIMIT, MAX_NATIVE_WINDOW_SECS};
use super::{Guard, Guards};
use crate::ttl_map::Bounds;

/// Keys a counter keeps when `rateLimit()` sets no bound: distinct clients within one window on
/// a busy server. Past it the windows ending soonest are dropped (those clients start afresh),
/// rather than memory growing with every address an attacker can use.
const DEFAULT_MAX_KEYS: u32 = 100_000;
/// Bytes a counter keeps by default: 100,000 IPv6 keys of ~40 bytes plus the map's bookkeeping
/// (`ttl_map::ENTRY_OVERHEAD`) come to about 23 MiB; 32 MiB leaves room for longer keys.
const DEFAULT_MAX_BYTES: f64 = 32.0 * 1024.0 * 1024.0;

/// What `start()` is given: every native guard, then which chains run which.
#[napi(object, object_to_js = false)]
pub struct GuardsSpec {
    pub list: Vec<GuardSpec>,
    pub routes: Vec<RouteGuards>,
    pub unmatched: Vec<PrefixGuard>,
}

/// One guard: exactly one of the two.
#[napi(object, object_to_js = false)]
pub struct GuardSpec {
    pub cors: Option<CorsSpec>,
    pub rate_limit: Option<RateLimitSpec>,
}

#[napi(object, object_to_js = false)]
pub struct RouteGuards {
    pub route: u32,
    pub guards: Vec<u32>,
}

#[napi(object, object_to_js = false)]
pub struct PrefixGuard {
    /// "" for every path.
    pub prefix: String,
    pub guard: u32,
}

/// `cors()` options as js/cors.js normalizes them (strings already joined).
#[napi(object, object_to_js = false)]
pub struct CorsSpec {
    /// `any`, `fixed` (origins[0]), `reflect`, `list`.
    pub origin: String,
    pub origins: Vec<String>,
    pub credentials: bool,
    pub methods: String,
    pub allowed_headers: Option<String>,
    pub max_age: Option<String>,
    pub exposed_headers: Option<String>,
    pub status: u32,
    pub private_network: bool,
}

#[napi(object, object_to_js = false)]
pub struct RateLimitSpec {
    pub counter: External<Arc<Counter>>,
    pub limit: u32,
    pub window_secs: u32,
    pub status: u32,
    pub content_type: String,
    pub body: Buffer,
    pub headers: bool,
}

pub fn guards(spec: GuardsSpec) -> std::result::Result<Guards, String> {
    let list = spec
        .list
        .into_iter()
        .map(guard)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut guards = Guards::new(list);
    for r in &spec.routes {
        guards.set_route(r.route, &r.guards)?;
    }
    for u in &spec.unmatched {
        guards.add_unmatched(&u.prefix, u.guard)?;
    }
    Ok(guards)
}

fn status(s: u32) -> std::result::Result<u16, String> {
    u16::try_from(s)
        .ok()
        .filter(|s| (200..=599).contains(s))
        .ok_or_else(|| format!("guard status {s} is not 200-599"))
}

fn guard(spec: GuardSpec) -> std::result::Result<Guard, String> {
    match (spec.cors, spec.rate_limit) {
        (Some(c), None) => {
            let origin = match c.origin.as_str() {
                "any" => Origin::Any,
                "reflect" => Origin::Reflect,
                "fixed" => Origin::Fixed(
                    c.origins
                        .first()
                        .ok_or("fixed origin missing")?
                        .as_str()
                        .into(),
                ),
                "list" => Origin::List(c.origins.iter().map(|o| o.as_str().into()).collect()),
                other => return Err(format!("unknown cors origin kind {other:?}")),
            };
            Ok(Guard::Cors(Preflight {
                origin,
                credentials: c.credentials,
                methods: c.methods.into(),
                allowed_headers: c.allowed_headers.map(Into::into),
                max_age: c.max_age.map(Into::into),
                exposed_headers: c.exposed_headers.map(Into::into),
                status: status(c.status)?,
                private_network: c.private_network,
            }))
        }
        (None, Some(r)) => {
            if r.limit > MAX_NATIVE_LIMIT || r.window_secs > MAX_NATIVE_WINDOW_SECS {
                return Err("rate limit over what a native guard carries".into());
            }
            Ok(Guard::RateLimit(Native {
                counter: Arc::clone(&r.counter),
                limit: r.limit,
                window_secs: r.window_secs,
                status: status(r.status)?,
                content_type: r.content_type.into(),
                body: r.body.to_vec().into(),
                headers: r.headers,
            }))
        }
        _ => Err("a guard is either cors or rateLimit".into()),
    }
}

/// One `rateLimit()`'s counts, in native memory, bounded.
#[napi]
pub struct RateLimitCounter {
    counter: Arc<Counter>,
}

#[napi]
impl RateLimitCounter {
    /// `shared`: a name under which every counter of this process made with it is one (the
    /// same `rateLimit()` loaded by each worker of `serve()`); the first one's bounds hold.
    #[napi(constructor)]
    pub fn new(
        window_ms: f64,
        max_keys: Option<u32>,
        max_bytes: Option<f64>,
        shared: Option<String>,
    ) -> Result<Self> {
        let max_keys = max_keys.unwrap_or(DEFAULT_MAX_KEYS);
        let max_bytes = max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        // JS checked them; this keeps a bad call from panicking in Duration::from_millis.
        if !(window_ms >= 1.0 && window_ms <= u32::MAX as f64) || max_keys == 0 || max_bytes < 1.0 {
            return Err(Error::new(
                Status::InvalidArg,
                "RateLimitCounter: bad windowMs, maxKeys or maxBytes".to_string(),
            ));
        }
        let make = || {
            Ok::<_, Error>(Arc::new(Counter::new(
                Duration::from_millis(window_ms as u64),
                Bounds {
                    max_entries: max_keys as usize,
                    max_bytes: max_bytes as usize,
                },
            )))
        };
        let counter = crate::shared::shared(shared.as_deref(), make)?;
        Ok(RateLimitCounter { counter })
    }

    /// Counts a request for `key`: `[count in this window, ms until it ends]`.
    #[napi]
    pub fn hit(&self, key: String) -> Vec<u32> {
        let hit = self.counter.hit(&key, Instant::now());
        let reset = u32::try_from(hit.reset.as_millis()).unwrap_or(u32::MAX);
        vec![hit.count, reset]
    }

    #[napi]
    pub fn decrement(&self, key: String) {
        self.counter.decrement(&key, Instant::now());
    }

    #[napi]
    pub fn reset_key(&self, key: String) {
        self.counter.reset_key(&key, Instant::now());
    }

    #[napi]
    pub fn reset_all(&self) {
        self.counter.clear();
    }

    /// What a native guard's spec carries to share these counts.
    #[napi]
    pub fn handle(&self) -> External<Arc<Counter>> {
        External::new(self.counter.clone())
    }
}
