//! Files from disk, answered by Rust: directory mounts (`app.static(prefix, { root })`) without
//! waking JS, and `res.sendFile` / `res.download` answers JS hands over, through the same code.
//! This file owns the walk from a request to an answer: which file (index, extensions,
//! redirect), its validators and preconditions, ranges, and the head; the body stays on disk
//! (an `Outbox` file span, read a chunk at a time as it is written) unless the file is small
//! enough to be kept in memory (`hot.rs`).
//!
//! `path.rs` keeps every open beneath the root, `conditional.rs` and `range.rs` are RFC 9110's
//! rules, `headers.rs` the computed header values.

pub mod conditional;
pub mod headers;
pub mod hot;
pub mod path;
pub mod range;

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::rc::Rc;

use bytes::Bytes;

use crate::compress::{self, Coding, Facts, Policy};
use crate::h1::encode::{self as response, ConnHeader};
use crate::outbox::{FileSpan, Outbox};
use conditional::{Conditions, Validators, Verdict};
use hot::{Entry, Hot, Identity, Key};
use path::{Dotfiles, Refused, Root};
use range::Ranges;

/// How a file is answered; shared by a mount and by a `res.sendFile` call.
#[derive(Clone)]
pub struct FileOptions {
    pub dotfiles: Dotfiles,
    pub etag: bool,
    pub last_modified: bool,
    pub accept_ranges: bool,
    pub follow_symlinks: bool,
    /// Header lines the app set (`name: value\r\n` each): cache-control and the like.
    pub extra: Vec<u8>,
    /// The app chose the Content-Type (else it comes from the extension).
    pub content_type: Option<String>,
    /// `res.download`'s file name, for Content-Disposition.
    pub download: Option<String>,
    /// Compressed under the request's policy when it has one (a mount may turn it off).
    pub compress: bool,
    /// `res.status(n)` before `res.sendFile`: the whole file with that status (no 304, 412 or
    /// ranges: those are for a 200's representation), as Express's send does.
    pub status: Option<u16>,
    /// The app's own `ETag` / `Last-Modified` (`None`: ours), kept as Express keeps them.
    pub etag_value: Option<Vec<u8>>,
    pub last_modified_value: Option<u64>,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            dotfiles: Dotfiles::Ignore,
            etag: true,
            last_modified: true,
            accept_ranges: true,
            follow_symlinks: false,
            extra: Vec::new(),
            content_type: None,
            download: None,
            compress: true,
            status: None,
            etag_value: None,
            last_modified_value: None,
        }
    }
}

/// A directory served under a path prefix.
pub struct Mount {
    pub root: Root,
    pub index: Vec<String>,
    /// A miss goes on to JS (middleware, routes, the app's 404), as serve-static does.
    pub fallthrough: bool,
    /// `/dir` → 301 `/dir/`.
    pub redirect: bool,
    /// Tried in order when the path names no file: `["html"]` serves `/about` from `about.html`.
    pub extensions: Vec<String>,
    /// Serve `x.br`, `x.zst`, `x.gz` beside `x` to clients that accept that coding.
    pub precompressed: bool,
    pub options: FileOptions,
}

/// One request for a file: its conditional and range headers, and what decides compression.
pub struct FileRequest<'a> {
    pub cond: Conditions<'a>,
    /// HEAD: the head of the GET answer, which a HEAD never gets compressed (as Express's
    /// `compression` does).
    pub head: bool,
    /// HTTP/1.0 has no chunked framing: a file too large to compress in memory goes out as is.
    pub http10: bool,
    /// The compression policy that applies (the app's for a mount, the route's for sendFile).
    pub policy: Option<&'a Policy>,
}

/// The path names nothing to serve: 404, or on to JS when the mount falls through.
pub struct NoFile;

/// Everything that serves files on one server thread: the mounts and the hot-file cache.
pub struct Files {
    pub mounts: Vec<Mount>,
    hot: Option<RefCell<Hot>>,
}

/// A file answer, ready to write: the head without its per-request lines (Date, Connection),
/// and the body's pieces.
pub struct Answer {
    status: u16,
    /// The status line and headers; for a `simple` answer, only extra header lines.
    head: Vec<u8>,
    body: Vec<Piece>,
    /// No file: the server's own short answer for the status (`response::simple`), the same
    /// as every other error Rust writes.
    simple: bool,
}

enum Piece {
    Own(Vec<u8>),
    Shared(Bytes),
    Span(Rc<monoio::fs::File>, u64, u64, Option<(Coding, i32)>),
}

/// How the bytes served relate to the resource: encoded (a precompressed sibling, or compressed
/// here), and whether the answer varies by Accept-Encoding at all.
#[derive(Clone, Copy)]
struct Encoding {
    coding: Coding,
    vary: bool,
}

impl Encoding {
    const NONE: Encoding = Encoding {
        coding: Coding::Identity,
        vary: false,
    };

    fn lines(self, head: &mut Vec<u8>) {
        if self.coding != Coding::Identity {
            line(head, b"content-encoding", self.coding.token().as_bytes());
        }
        if self.vary {
            head.extend_from_slice(b"vary: Accept-Encoding\r\n");
        }
    }
}

/// The file name suffix of a precompressed sibling.
fn suffix(coding: Coding) -> &'static str {
    match coding {
        Coding::Brotli => ".br",
        Coding::Zstd => ".zst",
        Coding::Gzip => ".gz",
        Coding::Identity => "",
    }
}

/// Where the bytes of a file come from.
enum Source {
    Memory(Bytes),
    Disk(Rc<monoio::fs::File>),
    /// On disk, compressed as it is written (its length unknown until then).
    Encoded(Rc<monoio::fs::File>, Coding, i32),
}

impl Source {
    /// Bytes `a..=b` as a body piece.
    fn piece(&self, (a, b): (u64, u64)) -> Piece {
        match self {
            Source::Memory(bytes) => Piece::Shared(bytes.slice(a as usize..=b as usize)),
            Source::Disk(file) => Piece::Span(file.clone(), a, b - a + 1, None),
            Source::Encoded(file, coding, level) => {
                Piece::Span(file.clone(), a, b - a + 1, Some((*coding, *level)))
            }
        }
    }
}

impl Files {
    /// `hot`: `(max file size, max total bytes)` of the in-memory cache, `None` for none.
    pub fn new(mounts: Vec<Mount>, hot: Option<(usize, usize)>) -> Files {
        Files {
            mounts,
            hot: hot.map(|(file, total)| RefCell::new(Hot::new(file, total))),
        }
    }

    /// The answer of mount `index` for `rest` (the request path below the mount, still
    /// percent-encoded, no leading slash; `None` for the mount point without its slash).
    /// `path` and `query` are the request's, for a redirect.
    pub fn serve_mount(
        &self,
        index: usize,
        rest: Option<&str>,
        path: &str,
        query: Option<&str>,
        req: &FileRequest<'_>,
    ) -> Result<Answer, NoFile> {
        let mount = &self.mounts[index];
        let opts = &mount.options;
        let Some(rest) = rest else {
            return if mount.redirect {
                Ok(Answer::redirect(path, query))
            } else {
                Err(NoFile)
            };
        };
        let (rel, trailing) = match path::relative(rest, opts.dotfiles) {
            Ok(found) => found,
            Err(Refused::Bad) => return Ok(Answer::status(400)),
            Err(Refused::Denied) => return Ok(Answer::status(403)),
            Err(Refused::Missing) => return Err(NoFile),
        };
        let join = |name: &str| {
            if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            }
        };
        let mut candidates: Vec<String> = Vec::new();
        if trailing {
            candidates.extend(mount.index.iter().map(|name| join(name)));
        } else {
            candidates.push(rel.clone());
            candidates.extend(mount.extensions.iter().map(|ext| format!("{rel}.{ext}")));
        }
        for (i, candidate) in candidates.iter().enumerate() {
            let mut enc = Encoding::NONE;
            if mount.precompressed {
                enc.vary = true;
                if let Some(answer) = self.sibling(index, candidate, req) {
                    return Ok(answer);
                }
            }
            let key: Key = (index as u32, candidate.clone());
            if let Some(answer) = self.hot_answer(&key, &mount.root, candidate, opts, req, enc) {
                return Ok(answer);
            }
            let file = match mount.root.open_file(candidate, opts.follow_symlinks) {
                Ok(file) => file,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EACCES) => return Ok(Answer::status(403)),
                    _ => continue,
                },
            };
            let Ok(meta) = file.metadata() else { continue };
            if meta.is_dir() {
                // Only the path itself can be a directory worth redirecting to.
                if i == 0 && !trailing && mount.redirect {
                    return Ok(Answer::redirect(path, query));
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            return Ok(self.answer(key, file, meta, opts, req, enc));
        }
        Err(NoFile)
    }

    /// A precompressed sibling of `rel` in the best coding the client accepts that exists on
    /// disk (its q-values first, then brotli, zstd, gzip), served with the original's type.
    fn sibling(&self, index: usize, rel: &str, req: &FileRequest<'_>) -> Option<Answer> {
        let accept = req.cond.accept_encoding?;
        let mount = &self.mounts[index];
        let mut opts = mount.options.clone();
        opts.content_type = opts
            .content_type
            .or_else(|| Some(headers::content_type(rel)));
        let mut left = Coding::COMPRESSED.to_vec();
        loop {
            // The best of those left; a missing sibling leaves the rest to compete again.
            let coding = compress::negotiate(&left, Some(accept));
            if coding == Coding::Identity {
                return None;
            }
            left.retain(|&c| c != coding);
            let path = format!("{rel}{}", suffix(coding));
            let enc = Encoding { coding, vary: true };
            let key: Key = (index as u32, path.clone());
            if let Some(answer) = self.hot_answer(&key, &mount.root, &path, &opts, req, enc) {
                return Some(answer);
            }
            let Ok(file) = mount.root.open_file(&path, opts.follow_symlinks) else {
                continue;
            };
            if let Ok(meta) = file.metadata() {
                if meta.is_file() {
                    return Some(self.answer(key, file, meta, &opts, req, enc));
                }
            }
        }
    }

    /// The answer to `res.sendFile(path, { root })`: `path` absolute, or relative to `root`
    /// (then checked like a mount's). A path that names no regular file is 404.
    pub fn serve_path(
        &self,
        path: &str,
        root: Option<&str>,
        opts: &FileOptions,
        req: &FileRequest<'_>,
    ) -> Answer {
        let opened = match root {
            Some(root) => {
                let rel = match path::relative(path.trim_start_matches('/'), opts.dotfiles) {
                    Ok((rel, _)) => rel,
                    Err(Refused::Bad) => return Answer::status(400),
                    Err(Refused::Denied) => return Answer::status(403),
                    Err(Refused::Missing) => return Answer::status(404),
                };
                Root::open(std::path::Path::new(root))
                    .and_then(|root| root.open_file(&rel, opts.follow_symlinks))
            }
            None => {
                if !path.starts_with('/') || path.contains('\0') {
                    return Answer::status(400);
                }
                if path::has_dot_segment(path) {
                    match opts.dotfiles {
                        Dotfiles::Allow => {}
                        Dotfiles::Deny => return Answer::status(403),
                        Dotfiles::Ignore => return Answer::status(404),
                    }
                }
                path::open_nonblocking(std::path::Path::new(path))
            }
        };
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => return Answer::status(403),
            Err(_) => return Answer::status(404),
        };
        match file.metadata() {
            Ok(meta) if meta.is_file() => {
                let key: Key = (u32::MAX, format!("{}\0{path}", root.unwrap_or("")));
                self.answer(key, file, meta, opts, req, Encoding::NONE)
            }
            _ => Answer::status(404),
        }
    }

    /// A kept copy of the file at `rel` under `root`, when it is still the file on disk.
    fn hot_answer(
        &self,
        key: &Key,
        root: &Root,
        rel: &str,
        opts: &FileOptions,
        req: &FileRequest<'_>,
        enc: Encoding,
    ) -> Option<Answer> {
        let mut hot = self.hot.as_ref()?.borrow_mut();
        if hot.is_empty() {
            return None;
        }
        hot.get(key, || std::fs::metadata(root.real.join(rel)).ok())?;
        Some(kept(&mut hot, key, opts, req, enc))
    }

    fn answer(
        &self,
        key: Key,
        mut file: File,
        meta: std::fs::Metadata,
        opts: &FileOptions,
        req: &FileRequest<'_>,
        mut enc: Encoding,
    ) -> Answer {
        let validators = Validators::of(&meta);
        if let Some(hot) = &self.hot {
            let mut hot = hot.borrow_mut();
            if hot.fits(meta.len(), &key) {
                // Small: read once (a short read from the page cache), then served from memory.
                let mut body = Vec::with_capacity(meta.len() as usize);
                if file.read_to_end(&mut body).is_err() || body.len() as u64 != meta.len() {
                    return Answer::status(500);
                }
                let entry = Entry::new(Identity::of(&meta), validators, Bytes::from(body));
                hot.insert(key.clone(), entry);
                return kept(&mut hot, &key, opts, req, enc);
            }
        }
        let ctype = content_type(&key, opts);
        let Ok(file) = monoio::fs::File::from_std(file) else {
            return Answer::status(500);
        };
        let file = Rc::new(file);
        let coding = compression(&mut enc, &ctype, meta.len(), opts, req);
        if coding != Coding::Identity && !req.http10 {
            // Too large to keep: compressed as it is written, in a chunked body.
            let level = req.policy.map_or(0, |p| p.level(coding));
            enc.coding = coding;
            let source = Source::Encoded(file, coding, level);
            return respond(
                &ctype,
                source,
                meta.len(),
                &weak(&validators),
                opts,
                req,
                enc,
            );
        }
        respond(
            &ctype,
            Source::Disk(file),
            meta.len(),
            &validators,
            opts,
            req,
            enc,
        )
    }
}

/// The answer from the kept entry for `key` (present): compressed when the policy says so,
/// each coding made once and kept with the entry.
fn kept(
    hot: &mut Hot,
    key: &Key,
    opts: &FileOptions,
    req: &FileRequest<'_>,
    mut enc: Encoding,
) -> Answer {
    let ctype = content_type(key, opts);
    let entry = hot.peek(key).expect("entry present");
    let (len, validators) = (entry.body.len() as u64, entry.validators.clone());
    let coding = compression(&mut enc, &ctype, len, opts, req);
    if coding != Coding::Identity {
        let level = req.policy.map_or(0, |p| p.level(coding));
        let variant = hot.variant(key, coding, |body| compress::compress(coding, level, body));
        if let Some(variant) = variant {
            enc.coding = coding;
            let len = variant.len() as u64;
            return respond(
                &ctype,
                Source::Memory(variant),
                len,
                &weak(&validators),
                opts,
                req,
                enc,
            );
        }
    }
    let body = hot.peek(key).expect("entry present").body.clone();
    respond(
        &ctype,
        Source::Memory(body),
        len,
        &validators,
        opts,
        req,
        enc,
    )
}

/// The type of the file `key` names: the app's choice, else from its extension.
fn content_type(key: &Key, opts: &FileOptions) -> String {
    match &opts.content_type {
        Some(t) => t.clone(),
        None => headers::content_type(key.1.rsplit('\0').next().unwrap_or(&key.1)),
    }
}

/// Whether this file answer is compressed here, and in which coding (`Identity`: not). Sets
/// `enc.vary` when the answer depends on Accept-Encoding at all. A precompressed sibling and a
/// Range request (ranges are of the unencoded bytes) are not compressed.
fn compression(
    enc: &mut Encoding,
    ctype: &str,
    len: u64,
    opts: &FileOptions,
    req: &FileRequest<'_>,
) -> Coding {
    let Some(policy) = req.policy else {
        return Coding::Identity;
    };
    if enc.coding != Coding::Identity || !opts.compress {
        return Coding::Identity;
    }
    let facts = Facts {
        content_type: Some(ctype.as_bytes()),
        encoded: false,
        no_transform: opts
            .extra
            .windows(12)
            .any(|w| w.eq_ignore_ascii_case(b"no-transform")),
    };
    let status = opts.status.unwrap_or(200);
    if !policy.varies(status, &facts) {
        return Coding::Identity;
    }
    enc.vary = true;
    if opts.status.is_none() && opts.accept_ranges && req.cond.range.is_some() {
        return Coding::Identity;
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    // A HEAD gets the head the GET would (RFC 9110 §9.3.2), coding included: the kept
    // variant is made once either way, and a large file's is only announced.
    if !policy.applies(status, false, &facts, Some(len)) {
        return Coding::Identity;
    }
    policy.negotiate(req.cond.accept_encoding)
}

/// The validators of an encoded variant: a weak ETag (the bytes differ from the file's, the
/// content does not), so If-Range never resumes a range across codings.
fn weak(v: &Validators) -> Validators {
    Validators {
        etag: if v.etag.is_empty() {
            Box::default()
        } else {
            compress::weaken_etag(&v.etag).into_owned().into()
        },
        modified: v.modified,
    }
}

/// The answer for one version of a file: 412 or 304 by the preconditions, else 200, 206 or
/// 416 by the ranges.
fn respond(
    ctype: &str,
    source: Source,
    len: u64,
    v: &Validators,
    opts: &FileOptions,
    req: &FileRequest<'_>,
    enc: Encoding,
) -> Answer {
    let shown = v.shown(
        if opts.etag {
            opts.etag_value.as_deref()
        } else {
            Some(&[][..])
        },
        if opts.last_modified {
            opts.last_modified_value.map(Some)
        } else {
            Some(None)
        },
    );
    let v = &shown;
    let verdict = match opts.status {
        Some(_) => Verdict::Proceed,
        None => conditional::evaluate(&req.cond, v),
    };
    match verdict {
        Verdict::Failed => return Answer::status(412),
        Verdict::NotModified => {
            let mut head = Vec::with_capacity(128 + opts.extra.len());
            response::status_line(&mut head, 304);
            validator_lines(&mut head, v);
            enc.lines(&mut head);
            head.extend_from_slice(&opts.extra);
            return Answer {
                status: 304,
                head,
                body: Vec::new(),
                simple: false,
            };
        }
        Verdict::Proceed => {}
    }
    let ranges = if opts.status.is_none()
        && opts.accept_ranges
        && conditional::range_applies(&req.cond, v)
    {
        range::parse(req.cond.range, len)
    } else {
        Ranges::Whole
    };
    let content_type = ctype;
    let status = match ranges {
        Ranges::Whole => opts.status.unwrap_or(200),
        Ranges::Partial(_) => 206,
        Ranges::Unsatisfiable => 416,
    };
    let mut head = Vec::with_capacity(256 + opts.extra.len());
    response::status_line(&mut head, status);
    if opts.accept_ranges {
        head.extend_from_slice(b"accept-ranges: bytes\r\n");
    }
    validator_lines(&mut head, v);
    enc.lines(&mut head);
    head.extend_from_slice(&opts.extra);
    if let Some(name) = &opts.download {
        line(
            &mut head,
            b"content-disposition",
            headers::attachment(name).as_bytes(),
        );
    }
    let mut body = Vec::new();
    match ranges {
        Ranges::Unsatisfiable => {
            line(
                &mut head,
                b"content-range",
                format!("bytes */{len}").as_bytes(),
            );
            head.extend_from_slice(b"content-length: 0\r\n");
        }
        Ranges::Whole => {
            line(&mut head, b"content-type", content_type.as_bytes());
            if matches!(source, Source::Encoded(..)) {
                head.extend_from_slice(b"transfer-encoding: chunked\r\n");
            } else {
                length(&mut head, len);
            }
            if len > 0 {
                body.push(source.piece((0, len - 1)));
            }
        }
        Ranges::Partial(ranges) if ranges.len() == 1 => {
            let (a, b) = ranges[0];
            line(&mut head, b"content-type", content_type.as_bytes());
            line(
                &mut head,
                b"content-range",
                format!("bytes {a}-{b}/{len}").as_bytes(),
            );
            length(&mut head, b - a + 1);
            body.push(source.piece((a, b)));
        }
        Ranges::Partial(ranges) => {
            let boundary = range::boundary();
            line(
                &mut head,
                b"content-type",
                format!("multipart/byteranges; boundary={boundary}").as_bytes(),
            );
            let mut total = 0u64;
            for (i, &(a, b)) in ranges.iter().enumerate() {
                let mut part = range::part_header(&boundary, content_type.as_bytes(), (a, b), len);
                if i == 0 {
                    // The first delimiter needs no CRLF before it.
                    part.drain(..2);
                }
                total += part.len() as u64 + (b - a + 1);
                body.push(Piece::Own(part));
                body.push(source.piece((a, b)));
            }
            let closing = range::closing(&boundary);
            total += closing.len() as u64;
            body.push(Piece::Own(closing));
            length(&mut head, total);
        }
    }
    Answer {
        status,
        head,
        body,
        simple: false,
    }
}

fn validator_lines(head: &mut Vec<u8>, v: &Validators) {
    if !v.etag.is_empty() {
        line(head, b"etag", &v.etag);
    }
    if let Some(date) = v.last_modified_header() {
        line(head, b"last-modified", date.as_bytes());
    }
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn length(out: &mut Vec<u8>, len: u64) {
    out.extend_from_slice(b"content-length: ");
    response::push_u64(out, len);
    out.extend_from_slice(b"\r\n");
}

impl Answer {
    /// An answer with no file: 400, 403, 404, 412, 500.
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            head: Vec::new(),
            body: Vec::new(),
            simple: true,
        }
    }

    /// 301 to the directory's URL with its trailing slash. Leading slashes are collapsed, so
    /// `//evil.example` can never become a protocol-relative Location.
    fn redirect(path: &str, query: Option<&str>) -> Answer {
        let mut location = format!("/{}/", path.trim_start_matches('/'));
        if let Some(q) = query {
            location.push('?');
            location.push_str(q);
        }
        let mut head = Vec::with_capacity(96 + location.len());
        response::status_line(&mut head, 301);
        line(&mut head, b"location", location.as_bytes());
        let text = format!("Redirecting to {location}").into_bytes();
        line(&mut head, b"content-type", b"text/plain; charset=utf-8");
        length(&mut head, text.len() as u64);
        Answer {
            status: 301,
            head,
            body: vec![Piece::Own(text)],
            simple: false,
        }
    }

    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// Writes the answer (the head only for HEAD) and returns its status.
    pub fn write(self, out: &mut Outbox, head_only: bool, conn: ConnHeader) -> u16 {
        let bytes = out.bytes();
        if self.simple {
            response::simple_with(bytes, self.status, conn, head_only, &self.head);
            return self.status;
        }
        bytes.extend_from_slice(&self.head);
        bytes.extend_from_slice(b"date: ");
        response::with_date(|d| bytes.extend_from_slice(d));
        bytes.extend_from_slice(b"\r\n");
        response::conn_header(bytes, conn);
        bytes.extend_from_slice(b"\r\n");
        if !head_only {
            for piece in self.body {
                match piece {
                    Piece::Own(own) => out.bytes().extend_from_slice(&own),
                    Piece::Shared(shared) => out.body(&shared),
                    Piece::Span(file, offset, len, encode) => out.file(FileSpan {
                        file,
                        offset,
                        len,
                        encode,
                    }),
                }
            }
        }
        self.status
    }
}
