//! TLS termination with rustls: the server's certificates and options, replaceable while it
//! serves (`config.rs`); the encrypted transport a connection runs over (`stream.rs`); the
//! accept step, which tells a plain-HTTP client it reached the HTTPS port and bounds the
//! handshake (`accept.rs`).

pub mod accept;
pub mod config;
pub mod stream;

pub use config::{Settings, TlsOptions};
