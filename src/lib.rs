//! http-native's native core. `addon` is the Node-API surface (start a server, hand it
//! responses, close it); the request path lives in the modules below, in the order a request
//! meets them.

// Without the addon (the fuzz targets) the server half has no caller.
#![cfg_attr(not(feature = "addon"), allow(dead_code))]

mod acceptor;
#[cfg(feature = "addon")]
mod addon;
mod budget;
mod buffers;
mod cache;
#[cfg(feature = "addon")]
mod session_store;
// Public because the bridge's public items name its types (and native files use it). Not an API.
#[doc(hidden)]
pub mod compress;
mod config;
mod conn;
mod ctx;
mod dispatch;
mod files;
mod guard;
mod h2;
mod http2_options;
mod inject;
mod io;
mod lifecycle;
mod listen;
mod memory;
mod outbox;
mod peer;
mod pipe;
mod protocol;
mod shared;
mod write_queue;
mod wsconn;

// Public only for the fuzz targets (fuzz/): the parsers and codecs that read what clients and JS
// send. Not an API.
#[doc(hidden)]
pub mod bridge;
#[doc(hidden)]
pub mod h1;
#[doc(hidden)]
pub mod router;
mod server;
mod stats;
mod stored;
mod tls;
mod ttl_map;
mod unwind;
// Public because the router (public for the fuzz targets) holds the routes' schemas.
#[doc(hidden)]
pub mod validate;
// Public for the fuzz targets too (WebSocket frames: fuzz/fuzz_targets/ws_frames.rs).
#[doc(hidden)]
pub mod ws;

#[cfg(test)]
mod properties;
