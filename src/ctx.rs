//! What every connection of one server shares: the routes and the native answers (statics,
//! cache), the bridge to JS, limits and timeouts, the body budget, buffers. Built once by
//! `server.rs`; read by the protocol (`conn/`) and by dispatch.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::bridge::{Bridge, Mailbox, ResponseCache};
use crate::budget::Budget;
use crate::buffers::BufferPool;
use crate::config::Timeouts;
use crate::files::Files;
use crate::h1::Limits;
use crate::lifecycle::Lifecycle;
use crate::router::Router;
use crate::stats::Stats;
use crate::stored::Stored;

pub struct ConnCtx {
    pub router: Router,
    /// `app.static` responses, indexed by `Target::Static`.
    pub statics: Vec<Stored>,
    /// Directory mounts (`Target::Dir`) and the hot-file cache; the bridge shares it for
    /// `res.sendFile` answers.
    pub files: Rc<Files>,
    pub cache: RefCell<ResponseCache>,
    pub mailbox: Arc<Mailbox>,
    pub stats: Arc<Stats>,
    pub bridge: Rc<Bridge>,
    pub life: Rc<Lifecycle>,
    pub limits: Limits,
    pub timeouts: Timeouts,
    pub dispatch_unmatched: bool,
    pub max_pipelined: usize,
    /// Request bodies being read or waiting on JS (`maxInFlightBytes`).
    pub budget: Rc<Budget>,
    /// See `Config::test_panic_path`.
    pub test_panic_path: Option<String>,
    /// Read and output buffers, lent to connections while they have work.
    pub buffers: BufferPool,
    /// TLS termination: every connection starts with a handshake.
    pub tls: Option<std::sync::Arc<crate::tls::Settings>>,
    /// HTTP/2, when on.
    pub http2: Option<crate::http2_options::Settings>,
}
