//! `listen({ http2 })`: the HTTP/2 settings, their defaults and the reasons for them, checked
//! once at start. A leaf, as `config.rs` is: the protocol code (`h2/`) reads them.

/// Streams one connection may have open at once: RFC 9113 §6.5.2 recommends no fewer than 100,
/// and it bounds what one connection can ask of JS at a time.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;
/// Each stream's receive window: 1 MiB, so an upload is not held to 64 KiB per round trip (the
/// protocol's default), while one stream's unread body stays bounded.
pub const DEFAULT_INITIAL_WINDOW_SIZE: u32 = 1024 * 1024;
/// The decoded header list a request may have: the same 16 KiB as `maxHeaderSize` over
/// HTTP/1.1 by default; past it (an HPACK bomb, a CONTINUATION flood) the request is refused
/// before it is buffered whole.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;
/// The protocol's own default and smallest allowed frame size.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16 * 1024;
/// `listen({ http2 })` as JS normalized it.
#[cfg_attr(feature = "addon", napi_derive::napi(object))]
#[derive(Default, Debug, Clone)]
pub struct Http2Options {
    pub enabled: bool,
    pub max_concurrent_streams: Option<u32>,
    pub initial_window_size: Option<u32>,
    pub max_header_list_size: Option<u32>,
    pub max_frame_size: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub max_concurrent_streams: u32,
    pub initial_window_size: u32,
    pub max_header_list_size: u32,
    pub max_frame_size: u32,
}

impl Settings {
    /// `None` when HTTP/2 is off.
    pub fn from_options(opts: &Http2Options) -> Result<Option<Settings>, String> {
        if !opts.enabled {
            return Ok(None);
        }
        let in_range = |name: &str, v: Option<u32>, default: u32, min: u32, max: u32| {
            let v = v.unwrap_or(default);
            if (min..=max).contains(&v) {
                Ok(v)
            } else {
                Err(format!("http2.{name} must be from {min} to {max}, got {v}"))
            }
        };
        Ok(Some(Settings {
            max_concurrent_streams: in_range(
                "maxConcurrentStreams",
                opts.max_concurrent_streams,
                DEFAULT_MAX_CONCURRENT_STREAMS,
                1,
                u32::MAX,
            )?,
            // RFC 9113 §6.5.2: windows up to 2^31-1, frames from 2^14 to 2^24-1.
            initial_window_size: in_range(
                "initialWindowSize",
                opts.initial_window_size,
                DEFAULT_INITIAL_WINDOW_SIZE,
                1,
                (1 << 31) - 1,
            )?,
            max_header_list_size: in_range(
                "maxHeaderListSize",
                opts.max_header_list_size,
                DEFAULT_MAX_HEADER_LIST_SIZE,
                256,
                1 << 24,
            )?,
            max_frame_size: in_range(
                "maxFrameSize",
                opts.max_frame_size,
                DEFAULT_MAX_FRAME_SIZE,
                1 << 14,
                (1 << 24) - 1,
            )?,
        }))
    }
}
