//! Server options: their defaults, the reasons for them, and validation, done once at start.

use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::compress::{Coding, Levels, Policy, Types, DEFAULT_THRESHOLD};
use crate::files::hot;
use crate::h1::Limits;
use crate::http2_options::{self, Http2Options};
use crate::tls::{self, TlsOptions};

/// 16 KiB of request line and headers is Node's own default (`--max-http-header-size`).
pub const DEFAULT_MAX_HEADER_SIZE: u32 = 16 * 1024;
/// More headers than this is an attack or a bug, not a browser.
pub const DEFAULT_MAX_HEADERS: u32 = 128;
/// 8 KiB targets: what common proxies accept, so nothing longer reaches us legitimately.
pub const DEFAULT_MAX_URL_LENGTH: u32 = 8 * 1024;
/// 1 MiB bodies, inclusive: fastify's and body-parser's default.
pub const DEFAULT_BODY_LIMIT: u32 = 1024 * 1024;
/// Idle keep-alive connections close after 5 s, as in Node.
pub const DEFAULT_KEEP_ALIVE_MS: u32 = 5_000;
/// A client has 10 s from its first byte to finish the head (slowloris defence).
pub const DEFAULT_HEADERS_TIMEOUT_MS: u32 = 10_000;
/// A client has 30 s from the end of the head to finish the body.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u32 = 30_000;
/// The native response cache holds at most 64 MiB of responses …
pub const DEFAULT_CACHE_MAX_BYTES: u32 = 64 * 1024 * 1024;
/// … and at most this many entries.
pub const DEFAULT_CACHE_MAX_ENTRIES: u32 = 100_000;
/// A JS handler has 30 s to answer before Rust answers 503 for it.
pub const DEFAULT_HANDLER_TIMEOUT_MS: u32 = 30_000;
/// A streamed answer (`res.write`, SSE) may go 2 minutes without JS sending a byte before Rust
/// ends it: long enough for any SSE heartbeat (res.sse() sends one every 15 s by default),
/// short enough that a handler that forgot `res.end()` does not hold its connection forever.
pub const DEFAULT_STREAM_TIMEOUT_MS: u32 = 120_000;
/// Requests waiting on JS at once; past it Rust sheds load with 503 + Retry-After.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 10_000;
/// Bytes of request bodies being read or waiting on JS at once; past it the server stops
/// reading bodies until JS answers (budget.rs): 64 bodies at the default `bodyLimit`.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: u32 = 64 * 1024 * 1024;
/// Requests parsed ahead on one connection before their responses are written.
pub const DEFAULT_MAX_PIPELINED: u32 = 64;
/// Microseconds the JS thread waits for a back-to-back client's next request: longer than that
/// client's round trip on a VM (~30 µs measured), short enough that a wait that catches nothing
/// costs little. See handoff.rs.
pub const DEFAULT_BUSY_POLL_US: u32 = 50;
/// A wait holds the JS thread: never longer than a millisecond.
const MAX_BUSY_POLL_US: u32 = 1000;
/// Connections the kernel queues before the server accepts them: enough for a burst of connects
/// while the server thread is busy. Node's default is 511; the kernel caps either at
/// `net.core.somaxconn`.
pub const DEFAULT_BACKLOG: u32 = 1024;
/// The most `listen(2)` takes (its argument is a C int).
const MAX_BACKLOG: u32 = i32::MAX as u32;
/// How long `close()` waits for in-flight requests before closing connections anyway.
pub const DEFAULT_CLOSE_TIMEOUT_MS: u32 = 10_000;

/// Hard ceilings, so no option can make the server allocate without bound.
const MAX_HEADER_SIZE_CEILING: u32 = 1024 * 1024;
const MAX_HEADERS_CEILING: u32 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverChoice {
    /// io_uring where the kernel allows it, else epoll/kqueue.
    Auto,
    /// epoll/kqueue even where io_uring is available.
    Legacy,
}

/// Timeouts; `None` disables one (an option set to 0).
#[derive(Clone, Debug)]
pub struct Timeouts {
    pub keep_alive: Option<Duration>,
    pub headers: Option<Duration>,
    pub request: Option<Duration>,
    pub handler: Option<Duration>,
    pub stream: Option<Duration>,
}

/// Where and how the listening socket binds (listen.rs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// `None` when no host was given: every interface, as node and Express do (`[::]`
    /// dual-stack, or `0.0.0.0` where IPv6 is unavailable). A host names exactly one address.
    pub host: Option<IpAddr>,
    pub port: u16,
    pub backlog: i32,
    /// SO_REUSEPORT: other sockets that set it too may bind the same address (node:cluster
    /// workers, several processes), and the kernel spreads connections between them.
    pub reuse_port: bool,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: Listen,
    /// No listening socket: the server answers only `inject()`'s in-memory connections.
    pub socketless: bool,
    pub driver: DriverChoice,
    pub dispatch_unmatched: bool,
    pub limits: Limits,
    pub timeouts: Timeouts,
    pub cache_max_bytes: usize,
    pub cache_max_entries: usize,
    /// The hot-file cache (`files/hot.rs`): `(max file size, max bytes)`, `None` when off.
    pub file_cache: Option<(usize, usize)>,
    pub max_in_flight: usize,
    pub max_in_flight_bytes: usize,
    pub max_pipelined: usize,
    /// How long JS waits for the next request of a client that sends them back to back
    /// (handoff.rs); zero never waits.
    pub busy_poll: Duration,
    /// The app's compression (`None`: off); routes may have their own (addon.rs).
    pub compression: Option<Policy>,
    /// TLS termination (`tls/`); shared with `NativeServer` for `setSecureContext`.
    pub tls: Option<Arc<tls::Settings>>,
    /// HTTP/2 (`h2/`), `None` when off.
    pub http2: Option<http2_options::Settings>,
    /// Test hook: a request for exactly this path makes its connection task panic. Set only by
    /// the `HTTP_NATIVE_TEST_PANIC_PATH` environment variable, for the test that proves a panic
    /// stays contained.
    pub test_panic_path: Option<String>,
}

/// Options as JS passes them to `NativeServer.start` (see docs/bridge.md); `None` takes the
/// default.
#[cfg_attr(feature = "addon", napi_derive::napi(object))]
#[derive(Default, Debug)]
pub struct Options {
    /// Servers started with the same name share their response cache (`ioThreads`, `serve()`).
    pub cache_group: Option<String>,
    /// Servers started with the same name (`balance: 'acceptor'`) share one accepting thread:
    /// the first binds and hands connections to the least loaded (`acceptor.rs`).
    pub acceptor: Option<String>,
    pub host: Option<String>,
    pub port: u32,
    /// Bind nothing: a server for `inject()` alone (`inject/`), which does not keep the process
    /// alive while no inject is running.
    pub socketless: Option<bool>,
    pub backlog: Option<u32>,
    pub reuse_port: Option<bool>,
    pub driver: Option<String>,
    pub dispatch_unmatched: Option<bool>,
    pub max_header_size: Option<u32>,
    pub max_headers: Option<u32>,
    pub max_url_length: Option<u32>,
    pub body_limit: Option<u32>,
    pub keep_alive_timeout: Option<u32>,
    pub headers_timeout: Option<u32>,
    pub request_timeout: Option<u32>,
    pub cache_max_bytes: Option<u32>,
    pub cache_max_entries: Option<u32>,
    /// 0 (with `file_cache_max_file_size` 0) keeps no file in memory.
    pub file_cache_max_bytes: Option<u32>,
    pub file_cache_max_file_size: Option<u32>,
    pub handler_timeout: Option<u32>,
    pub stream_timeout: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub max_in_flight_bytes: Option<u32>,
    pub max_pipelined: Option<u32>,
    /// Microseconds.
    pub busy_poll: Option<u32>,
    /// The app's compression; absent or `enabled: false` is off.
    pub compression: Option<CompressionSpec>,
    /// Certificates and TLS options: the port speaks HTTPS.
    pub tls: Option<TlsOptions>,
    /// HTTP/2: over TLS by ALPN, else with prior knowledge (h2c).
    pub http2: Option<Http2Options>,
}

/// A `compression` option as JS normalized it (js/options.js), for the app or one route. Absent
/// fields take the defaults of `compress::Policy`.
#[cfg_attr(feature = "addon", napi_derive::napi(object))]
#[derive(Default, Debug, Clone)]
pub struct CompressionSpec {
    /// False turns compression off (a route opting out of the app's).
    pub enabled: bool,
    /// Bytes; shorter bodies go out unencoded.
    pub threshold: Option<u32>,
    /// `br`, `zstd`, `gzip` in the server's order of preference.
    pub encodings: Option<Vec<String>>,
    pub gzip_level: Option<u32>,
    pub brotli_level: Option<u32>,
    pub zstd_level: Option<u32>,
    /// Media type patterns (`text/*`, `application/json`, `*/*+json`) replacing the default list.
    pub types: Option<Vec<String>>,
}

impl CompressionSpec {
    /// The policy this spec describes; `None` when it turns compression off.
    pub fn policy(&self) -> Result<Option<Policy>, String> {
        if !self.enabled {
            return Ok(None);
        }
        let defaults = Levels::default();
        let levels = Levels {
            gzip: ranged(
                "compression level gzip",
                self.gzip_level,
                defaults.gzip,
                1,
                9,
            )? as u32,
            brotli: ranged(
                "compression level br",
                self.brotli_level,
                defaults.brotli,
                0,
                11,
            )? as u32,
            zstd: ranged(
                "compression level zstd",
                self.zstd_level,
                defaults.zstd as u32,
                1,
                19,
            )? as i32,
        };
        let encodings = match &self.encodings {
            None => Coding::COMPRESSED.to_vec(),
            Some(names) => names
                .iter()
                .map(|n| {
                    Coding::from_token(n.as_bytes())
                        .filter(|c| *c != Coding::Identity)
                        .ok_or_else(|| {
                            format!("compression encodings: {n:?} is not 'br', 'zstd' or 'gzip'")
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let types = match &self.types {
            None => Types::Default,
            Some(list) => Types::only(list),
        };
        let threshold = self.threshold.map_or(DEFAULT_THRESHOLD, |t| t as usize);
        Ok(Some(Policy::new(&encodings, threshold, levels, types)))
    }
}

impl Config {
    /// Validates `opts`. `env_driver` is `HTTP_NATIVE_DRIVER`, which can force legacy too.
    pub fn from_options(opts: Options, env_driver: Option<&str>) -> Result<Config, String> {
        let port =
            u16::try_from(opts.port).map_err(|_| format!("port {} is out of range", opts.port))?;
        let host = match opts.host {
            None => None,
            // The first address the resolver gives, as node's dns.lookup() does for listen().
            Some(host) => Some(
                (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| format!("cannot resolve host {host:?}: {e}"))?
                    .next()
                    .ok_or_else(|| format!("host {host:?} resolves to no address"))?
                    .ip(),
            ),
        };
        let listen = Listen {
            host,
            port,
            backlog: ranged("backlog", opts.backlog, DEFAULT_BACKLOG, 1, MAX_BACKLOG)? as i32,
            reuse_port: opts.reuse_port.unwrap_or(false),
        };

        let driver = match (opts.driver.as_deref(), env_driver) {
            (Some("legacy"), _) | (_, Some("legacy")) => DriverChoice::Legacy,
            (None | Some("auto"), _) => DriverChoice::Auto,
            (Some(other), _) => {
                return Err(format!("driver must be 'auto' or 'legacy', not {other:?}"))
            }
        };

        let max_header_size = ranged(
            "maxHeaderSize",
            opts.max_header_size,
            DEFAULT_MAX_HEADER_SIZE,
            256,
            MAX_HEADER_SIZE_CEILING,
        )?;
        let limits = Limits {
            max_header_size,
            max_headers: ranged(
                "maxHeaders",
                opts.max_headers,
                DEFAULT_MAX_HEADERS,
                1,
                MAX_HEADERS_CEILING,
            )?,
            max_url_length: ranged(
                "maxUrlLength",
                opts.max_url_length,
                DEFAULT_MAX_URL_LENGTH,
                16,
                MAX_HEADER_SIZE_CEILING,
            )?,
            body_limit: opts.body_limit.unwrap_or(DEFAULT_BODY_LIMIT) as usize,
        };
        let timeouts = Timeouts {
            keep_alive: millis(opts.keep_alive_timeout, DEFAULT_KEEP_ALIVE_MS),
            headers: millis(opts.headers_timeout, DEFAULT_HEADERS_TIMEOUT_MS),
            request: millis(opts.request_timeout, DEFAULT_REQUEST_TIMEOUT_MS),
            handler: millis(opts.handler_timeout, DEFAULT_HANDLER_TIMEOUT_MS),
            stream: millis(opts.stream_timeout, DEFAULT_STREAM_TIMEOUT_MS),
        };
        let compression = match &opts.compression {
            Some(spec) => spec.policy()?,
            None => None,
        };
        let http2 = match &opts.http2 {
            Some(spec) => http2_options::Settings::from_options(spec)?,
            None => None,
        };
        let alpn: &[&[u8]] = if http2.is_some() {
            &[b"h2", b"http/1.1"]
        } else {
            &[b"http/1.1"]
        };
        let tls = match &opts.tls {
            Some(spec) => Some(Arc::new(tls::Settings::new(spec, alpn)?)),
            None => None,
        };
        Ok(Config {
            tls,
            http2,
            compression,
            listen,
            socketless: opts.socketless.unwrap_or(false),
            driver,
            dispatch_unmatched: opts.dispatch_unmatched.unwrap_or(false),
            limits,
            timeouts,
            cache_max_bytes: opts.cache_max_bytes.unwrap_or(DEFAULT_CACHE_MAX_BYTES) as usize,
            cache_max_entries: opts.cache_max_entries.unwrap_or(DEFAULT_CACHE_MAX_ENTRIES) as usize,
            file_cache: match (
                opts.file_cache_max_file_size
                    .map_or(hot::DEFAULT_MAX_FILE, |n| n as usize),
                opts.file_cache_max_bytes
                    .map_or(hot::DEFAULT_MAX_BYTES, |n| n as usize),
            ) {
                (0, _) | (_, 0) => None,
                sizes => Some(sizes),
            },
            max_in_flight: ranged(
                "maxInFlight",
                opts.max_in_flight,
                DEFAULT_MAX_IN_FLIGHT,
                1,
                u32::MAX,
            )?,
            max_in_flight_bytes: ranged(
                "maxInFlightBytes",
                opts.max_in_flight_bytes,
                DEFAULT_MAX_IN_FLIGHT_BYTES,
                1,
                u32::MAX,
            )?,
            max_pipelined: ranged(
                "maxPipelined",
                opts.max_pipelined,
                DEFAULT_MAX_PIPELINED,
                1,
                65_536,
            )?,
            busy_poll: Duration::from_micros(ranged(
                "busyPoll",
                opts.busy_poll,
                DEFAULT_BUSY_POLL_US,
                0,
                MAX_BUSY_POLL_US,
            )? as u64),
            test_panic_path: std::env::var("HTTP_NATIVE_TEST_PANIC_PATH")
                .ok()
                .filter(|p| !p.is_empty()),
        })
    }
}

fn ranged(
    name: &str,
    value: Option<u32>,
    default: u32,
    min: u32,
    max: u32,
) -> Result<usize, String> {
    let v = value.unwrap_or(default);
    if !(min..=max).contains(&v) {
        return Err(format!("{name} must be between {min} and {max}, not {v}"));
    }
    Ok(v as usize)
}

fn millis(value: Option<u32>, default: u32) -> Option<Duration> {
    match value.unwrap_or(default) {
        0 => None,
        ms => Some(Duration::from_millis(u64::from(ms))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::from_options(
            Options {
                port: 0,
                ..Default::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(
            c.listen,
            Listen {
                host: None,
                port: 0,
                backlog: 1024,
                reuse_port: false
            }
        );
        assert_eq!(c.driver, DriverChoice::Auto);
        assert_eq!(c.limits.max_header_size, 16 * 1024);
        assert_eq!(c.limits.body_limit, 1024 * 1024);
        assert_eq!(c.timeouts.keep_alive, Some(Duration::from_secs(5)));
    }

    #[test]
    fn driver_choice_and_validation() {
        let opts = || Options {
            port: 0,
            ..Default::default()
        };
        assert_eq!(
            Config::from_options(opts(), Some("legacy")).unwrap().driver,
            DriverChoice::Legacy
        );
        let legacy = Options {
            driver: Some("legacy".into()),
            ..opts()
        };
        assert_eq!(
            Config::from_options(legacy, None).unwrap().driver,
            DriverChoice::Legacy
        );
        assert!(Config::from_options(
            Options {
                driver: Some("x".into()),
                ..opts()
            },
            None
        )
        .is_err());
        assert!(Config::from_options(
            Options {
                port: 70000,
                ..opts()
            },
            None
        )
        .is_err());
        assert!(Config::from_options(
            Options {
                max_headers: Some(0),
                ..opts()
            },
            None
        )
        .is_err());
        assert!(Config::from_options(
            Options {
                backlog: Some(0),
                ..opts()
            },
            None
        )
        .is_err());
        let off = Options {
            keep_alive_timeout: Some(0),
            ..opts()
        };
        assert_eq!(
            Config::from_options(off, None).unwrap().timeouts.keep_alive,
            None
        );
    }

    #[test]
    fn compression_spec() {
        let on = CompressionSpec {
            enabled: true,
            ..Default::default()
        };
        let p = on.policy().unwrap().unwrap();
        assert_eq!(p.encodings(), &Coding::COMPRESSED);
        assert_eq!(p.threshold(), DEFAULT_THRESHOLD);
        assert!(CompressionSpec::default().policy().unwrap().is_none());
        let custom = CompressionSpec {
            enabled: true,
            threshold: Some(0),
            encodings: Some(vec!["gzip".into(), "br".into()]),
            gzip_level: Some(9),
            ..Default::default()
        };
        let p = custom.policy().unwrap().unwrap();
        assert_eq!(p.encodings(), &[Coding::Gzip, Coding::Brotli]);
        assert_eq!((p.threshold(), p.level(Coding::Gzip)), (0, 9));
        for bad in [
            CompressionSpec {
                encodings: Some(vec!["deflate".into()]),
                ..on.clone()
            },
            CompressionSpec {
                brotli_level: Some(12),
                ..on.clone()
            },
            CompressionSpec {
                zstd_level: Some(0),
                ..on.clone()
            },
        ] {
            assert!(bad.policy().is_err(), "{bad:?}");
        }
        let opts = Options {
            compression: Some(on),
            ..Default::default()
        };
        assert!(Config::from_options(opts, None)
            .unwrap()
            .compression
            .is_some());
    }

    #[test]
    fn an_explicit_host_is_one_exact_address() {
        let host = |h: &str| {
            Config::from_options(
                Options {
                    host: Some(h.into()),
                    port: 0,
                    ..Default::default()
                },
                None,
            )
            .unwrap()
            .listen
            .host
            .unwrap()
        };
        assert_eq!(host("0.0.0.0").to_string(), "0.0.0.0");
        assert_eq!(host("::").to_string(), "::");
        assert_eq!(host("::1").to_string(), "::1");
        assert_eq!(host("127.0.0.1").to_string(), "127.0.0.1");
        assert!(host("localhost").is_loopback());
    }
}
