//! The route table: an exact-match map for static paths, then a `matchit` radix tree for paths
//! with `:params` and wildcards. Routes are registered by JS as `(id, method, path)`; a lookup
//! returns the id JS chose and the raw parameter values, in the order they appear in the path.
//! Static responses (`app.static`) live in the same table as GET routes answered by Rust.

use std::collections::HashMap;

use crate::compress::Scopes;
pub use crate::ws::WsRoute;

/// The route id JS receives when no route matched (`dispatchUnmatched`).
pub const NO_ROUTE: u32 = u32::MAX;
/// Marks a static response index in an entry, so JS ids and statics share one table.
const STATIC_BIT: u32 = 1 << 31;
/// Marks a directory mount's index (`files::Mount`), likewise.
const DIR_BIT: u32 = 1 << 30;
/// The catch-all parameter of a mount's pattern: the path below the mount.
pub const MOUNT_REST: &str = "hnrest";

const GET: usize = 1;
const HEAD: usize = 2;
/// WebSocket routes (`app.ws`, registered as method `WS`): a slot no parsed method reaches, so
/// an upgrade finds them (`lookup_ws`) and nothing else does.
const WS: usize = 8;
/// Method codes 1..=7 as in `h1::parse::method_code`; slot 0 is "any other method"; then `WS`.
const METHOD_SLOTS: usize = 9;

#[derive(Clone, Copy)]
struct Entry {
    by_method: [u32; METHOD_SLOTS],
    all: u32,
}

impl Entry {
    const EMPTY: Entry = Entry {
        by_method: [NO_ROUTE; METHOD_SLOTS],
        all: NO_ROUTE,
    };

    /// An explicit route for the method wins; HEAD falls back to GET (RFC 9110 §9.3.2), then
    /// any method falls back to an `all` route.
    fn pick(&self, method_code: u8) -> u32 {
        let code = usize::from(method_code);
        let own = self.by_method.get(code).copied().unwrap_or(NO_ROUTE);
        if own != NO_ROUTE && code != 0 {
            own
        } else if code == HEAD && self.by_method[GET] != NO_ROUTE {
            self.by_method[GET]
        } else {
            self.all
        }
    }
}

pub struct Router {
    exact: HashMap<String, usize>,
    tree: matchit::Router<usize>,
    entries: Vec<Entry>,
    /// Routes whose body is read differently: their own limit, or streamed to JS.
    bodies: HashMap<u32, RouteBody>,
    /// The compression policy of each route (the app's unless the route has its own).
    pub compression: Scopes,
    /// The options of each WebSocket route, by id.
    ws: HashMap<u32, WsRoute>,
    /// The native guards (CORS preflights, rate limits) of each route and unmatched prefix.
    pub(crate) guards: crate::guard::Guards,
    /// Routes with schemas (`{ schema }`), checked before JS runs (`validate/`).
    schemas: HashMap<u32, crate::validate::RouteSchema>,
}

/// How a route takes its request body, when not as the server's options say.
#[derive(Clone, Copy, Default)]
pub struct RouteBody {
    /// Its own body limit (`{ bodyLimit }`).
    pub limit: Option<usize>,
    /// The body goes to JS as it arrives (`{ body: 'stream' }`) instead of whole.
    pub stream: bool,
}

pub enum Target {
    /// A JS route id.
    Js(u32),
    /// An index into the static responses.
    Static(usize),
    /// An index into the directory mounts; `rest` is `None` for the mount point itself without
    /// its trailing slash (the path is then a directory to redirect to).
    Dir(usize),
}

pub struct Found<'r, 'p> {
    pub target: Target,
    pub params: Option<matchit::Params<'r, 'p>>,
}

fn target(id: u32) -> Target {
    if id & STATIC_BIT != 0 {
        Target::Static((id & !STATIC_BIT) as usize)
    } else if id & DIR_BIT != 0 {
        Target::Dir((id & !DIR_BIT) as usize)
    } else {
        Target::Js(id)
    }
}

impl Router {
    /// Builds the table from JS routes and the paths of static responses (index = position).
    /// `Err` names the route that could not be added.
    pub fn new<'a>(
        routes: impl IntoIterator<Item = (u32, &'a str, &'a str)>,
        statics: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, String> {
        let mut router = Router {
            exact: HashMap::new(),
            tree: matchit::Router::new(),
            entries: Vec::new(),
            bodies: HashMap::new(),
            compression: Scopes::default(),
            ws: HashMap::new(),
            guards: Default::default(),
            schemas: HashMap::new(),
        };
        // matchit owns one value per pattern, so patterns map to entries here.
        let mut pattern_entry: HashMap<String, usize> = HashMap::new();
        let statics = statics.into_iter().enumerate().map(|(i, path)| {
            let id = u32::try_from(i).map_or(NO_ROUTE, |i| i | STATIC_BIT);
            (id, "GET", path, true)
        });
        let routes = routes.into_iter().map(|(id, m, p)| (id, m, p, false));
        for (id, method, path, is_static_response) in routes.chain(statics) {
            if id == NO_ROUTE
                || (id & STATIC_BIT != 0) != is_static_response
                || (!is_static_response && id & DIR_BIT != 0)
            {
                return Err(format!("route id {id} is reserved"));
            }
            if is_static_response && path.contains([':', '*']) {
                return Err(format!("static path {path:?} cannot have parameters"));
            }
            let slot = method_slot(method)
                .ok_or_else(|| format!("unsupported method {method:?} for route {path:?}"))?;
            if !path.starts_with('/') && path != "*" {
                return Err(format!("route path {path:?} must start with '/'"));
            }
            let pattern = to_matchit(path)?;
            let is_static = !path.contains([':', '*']);
            let index = if is_static {
                *router.exact.entry(path.to_string()).or_insert_with(|| {
                    router.entries.push(Entry::EMPTY);
                    router.entries.len() - 1
                })
            } else if let Some(&i) = pattern_entry.get(&pattern) {
                i
            } else {
                let i = router.entries.len();
                router
                    .tree
                    .insert(pattern.clone(), i)
                    .map_err(|e| format!("route {path:?} conflicts with another route: {e}"))?;
                router.entries.push(Entry::EMPTY);
                pattern_entry.insert(pattern, i);
                i
            };
            let entry = &mut router.entries[index];
            let target = match slot {
                Some(s) => &mut entry.by_method[s],
                None => &mut entry.all,
            };
            if *target != NO_ROUTE && *target != id {
                return Err(format!("route {method} {path:?} is registered twice"));
            }
            *target = id;
        }
        Ok(router)
    }

    /// Serves directory mount `index` under `prefix` (GET, and HEAD through it): the prefix
    /// itself, the prefix with its slash, and every path below it. JS routes on more specific
    /// paths below the prefix still win; the same path twice is an error.
    pub fn mount(&mut self, index: usize, prefix: &str) -> Result<(), String> {
        if !prefix.starts_with('/') || prefix.contains([':', '*', '{', '}']) {
            return Err(format!(
                "mount path {prefix:?} must start with '/' and have no parameters"
            ));
        }
        let id = u32::try_from(index)
            .ok()
            .filter(|i| i & (STATIC_BIT | DIR_BIT) == 0)
            .ok_or("too many mounts")?
            | DIR_BIT;
        let base = prefix.trim_end_matches('/');
        let mut indices = Vec::with_capacity(3);
        for path in [base.to_string(), format!("{base}/")] {
            if path.is_empty() {
                continue;
            }
            let i = *self.exact.entry(path.clone()).or_insert_with(|| {
                self.entries.push(Entry::EMPTY);
                self.entries.len() - 1
            });
            indices.push((path, i));
        }
        let i = self.entries.len();
        self.tree
            .insert(format!("{base}/{{*{MOUNT_REST}}}"), i)
            .map_err(|e| format!("static directory {prefix:?} conflicts with a route: {e}"))?;
        self.entries.push(Entry::EMPTY);
        indices.push((prefix.to_string(), i));
        for (path, i) in indices {
            let target = &mut self.entries[i].by_method[GET];
            if *target != NO_ROUTE {
                return Err(format!(
                    "static directory {prefix:?} overlaps route GET {path:?}"
                ));
            }
            *target = id;
        }
        Ok(())
    }

    /// Says how JS route `id` takes its body.
    pub fn set_body(&mut self, id: u32, body: RouteBody) {
        self.bodies.insert(id, body);
    }

    /// How what `target` routes to takes its body, if not the server's way.
    pub fn body(&self, target: &Target) -> Option<RouteBody> {
        match target {
            Target::Js(id) if !self.bodies.is_empty() => self.bodies.get(id).copied(),
            _ => None,
        }
    }

    /// Gives JS route `id` its compiled schemas.
    pub fn set_schema(&mut self, id: u32, schema: crate::validate::RouteSchema) {
        self.schemas.insert(id, schema);
    }

    /// The schemas of what `target` routes to, if it has any.
    pub fn schema(&self, target: &Target) -> Option<&crate::validate::RouteSchema> {
        match target {
            Target::Js(id) if !self.schemas.is_empty() => self.schemas.get(id),
            _ => None,
        }
    }

    /// Makes JS route `id` (method `WS`) a WebSocket route with these options.
    pub fn set_ws(&mut self, id: u32, route: WsRoute) {
        self.ws.insert(id, route);
    }

    /// Whether any route is a WebSocket route: requests pay for the upgrade checks only then.
    pub fn has_ws(&self) -> bool {
        !self.ws.is_empty()
    }

    /// The WebSocket route for `path`, with its id, options and parameters.
    pub fn lookup_ws<'r, 'p>(&'r self, path: &'p str) -> Option<(Found<'r, 'p>, WsRoute)> {
        if !self.has_ws() {
            return None;
        }
        let found = self.find(path, |entry| entry.by_method[WS])?;
        let Target::Js(id) = found.target else {
            return None;
        };
        Some((found, *self.ws.get(&id)?))
    }

    pub fn lookup<'r, 'p>(&'r self, method_code: u8, path: &'p str) -> Option<Found<'r, 'p>> {
        self.find(path, |entry| entry.pick(method_code))
    }

    fn find<'r, 'p>(
        &'r self,
        path: &'p str,
        pick: impl Fn(&Entry) -> u32,
    ) -> Option<Found<'r, 'p>> {
        if let Some(&i) = self.exact.get(path) {
            let id = pick(&self.entries[i]);
            if id != NO_ROUTE {
                return Some(Found {
                    target: target(id),
                    params: None,
                });
            }
        }
        let m = self.tree.at(path).ok()?;
        let id = pick(&self.entries[*m.value]);
        (id != NO_ROUTE).then_some(Found {
            target: target(id),
            params: Some(m.params),
        })
    }
}

/// `Some(None)` is ALL; `Some(Some(slot))` a method slot.
fn method_slot(method: &str) -> Option<Option<usize>> {
    if method == "ALL" {
        return Some(None);
    }
    if method == "WS" {
        return Some(Some(WS));
    }
    match crate::h1::parse::method_code(method) {
        0 => None,
        code => Some(Some(usize::from(code))),
    }
}

/// Express-style to matchit syntax: `:id` → `{id}`, `*rest` → `{*rest}`, a bare trailing `*`
/// → `{*wildcard}`, and literal braces escaped.
fn to_matchit(path: &str) -> Result<String, String> {
    let mut out = String::with_capacity(path.len() + 8);
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b':' | b'*' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                let name = &path[start..end];
                if b == b':' {
                    if name.is_empty() {
                        return Err(format!(
                            "route {path:?}: ':' must be followed by a parameter name"
                        ));
                    }
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                } else {
                    if end != bytes.len() {
                        return Err(format!("route {path:?}: a wildcard must end the path"));
                    }
                    out.push_str("{*");
                    out.push_str(if name.is_empty() { "wildcard" } else { name });
                    out.push('}');
                }
                i = end;
                continue;
            }
            b'{' => out.push_str("{{"),
            b'}' => out.push_str("}}"),
            _ => {
                // A run of literal bytes, copied as the text it is: pushing byte by byte would
                // re-encode every byte of a UTF-8 character as a character of its own.
                let end = path[i..]
                    .find([':', '*', '{', '}'])
                    .map_or(path.len(), |n| i + n);
                out.push_str(&path[i..end]);
                i = end;
                continue;
            }
        }
        i += 1;
    }
    Ok(out)
}

/// A percent-encoded value that is malformed or does not decode to UTF-8.
#[derive(Debug, PartialEq, Eq)]
pub struct BadEncoding;

/// Appends the percent-decoded `raw` to `out`. Fails, leaving `out` as it was, on a malformed
/// escape or when the result is not UTF-8 (Express's decodeURIComponent throws on both).
pub fn percent_decode_into(out: &mut Vec<u8>, raw: &str) -> Result<(), BadEncoding> {
    let start = out.len();
    if !raw.contains('%') {
        out.extend_from_slice(raw.as_bytes());
        return Ok(());
    }
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|&b| (b as char).to_digit(16));
            let lo = bytes.get(i + 2).and_then(|&b| (b as char).to_digit(16));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => {
                    out.truncate(start);
                    return Err(BadEncoding);
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if std::str::from_utf8(&out[start..]).is_err() {
        out.truncate(start);
        return Err(BadEncoding);
    }
    Ok(())
}

/// One spelling for every way of writing the same request target, for matching cache keys
/// against invalidation patterns: in the path, escapes the router would decode to the same
/// parameter are decoded (`/x/%31` and `/x/1`, `/p/%C3%A9` and `/p/é`), except those of `/`,
/// `?`, `#` and `%` themselves, which change what the target means and keep their escape (in
/// upper case). The query is kept as sent. A target whose decoding is not UTF-8 is its own
/// canonical form. Allocates only when the path has a `%`.
pub fn canonical_target(target: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let path_end = target.find('?').unwrap_or(target.len());
    let path = &target[..path_end];
    if !path.contains('%') {
        return Cow::Borrowed(target);
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(target.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => (*hi as char)
                .to_digit(16)
                .zip((*lo as char).to_digit(16))
                .map(|(hi, lo)| (hi * 16 + lo) as u8),
            _ => None,
        };
        match escaped {
            Some(b @ (b'/' | b'?' | b'#' | b'%')) => {
                out.push(b'%');
                out.extend_from_slice(format!("{b:02X}").as_bytes());
                i += 3;
            }
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out.extend_from_slice(&target.as_bytes()[path_end..]);
    match String::from_utf8(out) {
        Ok(canonical) => Cow::Owned(canonical),
        Err(_) => Cow::Borrowed(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new(
            [
                (1, "GET", "/"),
                (2, "GET", "/users/:id"),
                (3, "POST", "/users/:id"),
                (4, "GET", "/users/me"),
                (5, "ALL", "/any"),
                (6, "GET", "/files/*path"),
                (7, "GET", "/a/:x/b/:y"),
                (8, "HEAD", "/head-only"),
                (9, "GET", "/static/*"),
                (10, "DELETE", "/users/me"),
            ],
            ["/robots.txt"],
        )
        .unwrap()
    }

    fn ids(r: &Router, method: u8, path: &str) -> Option<(u32, Vec<String>)> {
        r.lookup(method, path).map(|f| {
            let params = f
                .params
                .map(|p| p.iter().map(|(_, v)| v.to_string()).collect())
                .unwrap_or_default();
            let id = match f.target {
                Target::Js(id) => id,
                Target::Static(i) => 1000 + i as u32,
                Target::Dir(i) => 2000 + i as u32,
            };
            (id, params)
        })
    }

    #[test]
    fn exact_then_tree_with_params_in_order() {
        let r = router();
        assert_eq!(ids(&r, 1, "/"), Some((1, vec![])));
        assert_eq!(ids(&r, 1, "/users/me"), Some((4, vec![])));
        assert_eq!(ids(&r, 1, "/users/42"), Some((2, vec!["42".into()])));
        assert_eq!(ids(&r, 3, "/users/42"), Some((3, vec!["42".into()])));
        // An exact path registered for another method still falls through to a param route.
        assert_eq!(ids(&r, 3, "/users/me"), Some((3, vec!["me".into()])));
        assert_eq!(ids(&r, 5, "/users/me"), Some((10, vec![])));
        assert_eq!(
            ids(&r, 1, "/a/1/b/2"),
            Some((7, vec!["1".into(), "2".into()]))
        );
        assert_eq!(
            ids(&r, 1, "/files/x/y.txt"),
            Some((6, vec!["x/y.txt".into()]))
        );
        assert_eq!(ids(&r, 1, "/static/a/b"), Some((9, vec!["a/b".into()])));
        assert_eq!(ids(&r, 1, "/nope"), None);
        assert_eq!(ids(&r, 4, "/"), None);
    }

    #[test]
    fn head_falls_back_to_get_and_all_takes_every_method() {
        let r = router();
        assert_eq!(ids(&r, 2, "/"), Some((1, vec![])));
        assert_eq!(ids(&r, 2, "/users/7"), Some((2, vec!["7".into()])));
        assert_eq!(ids(&r, 2, "/head-only"), Some((8, vec![])));
        assert_eq!(ids(&r, 1, "/head-only"), None);
        for m in 0..8 {
            assert_eq!(ids(&r, m, "/any"), Some((5, vec![])));
        }
    }

    #[test]
    fn statics_answer_get_and_head_only() {
        let r = router();
        assert_eq!(ids(&r, 1, "/robots.txt"), Some((1000, vec![])));
        assert_eq!(ids(&r, 2, "/robots.txt"), Some((1000, vec![])));
        assert_eq!(ids(&r, 3, "/robots.txt"), None);
    }

    #[test]
    fn mounts_take_their_prefix_and_everything_below() {
        let mut r = Router::new(
            [(1, "GET", "/assets/special"), (2, "POST", "/assets/up")],
            [],
        )
        .unwrap();
        r.mount(0, "/assets").unwrap();
        assert_eq!(ids(&r, 1, "/assets"), Some((2000, vec![])));
        assert_eq!(ids(&r, 1, "/assets/"), Some((2000, vec![])));
        assert_eq!(
            ids(&r, 2, "/assets/a/b.css"),
            Some((2000, vec!["a/b.css".into()]))
        );
        assert_eq!(ids(&r, 1, "/assets/special"), Some((1, vec![])));
        assert_eq!(ids(&r, 3, "/assets/up"), Some((2, vec![])));
        assert_eq!(ids(&r, 3, "/assets/x"), None);
        assert!(r.mount(1, "/assets/").is_err());
        let mut root = Router::new([(1, "GET", "/api/:x")], []).unwrap();
        root.mount(0, "/").unwrap();
        assert_eq!(ids(&root, 1, "/"), Some((2000, vec![])));
        assert_eq!(
            ids(&root, 1, "/index.html"),
            Some((2000, vec!["index.html".into()]))
        );
        assert_eq!(ids(&root, 1, "/api/1"), Some((1, vec!["1".into()])));
        let mut clash = Router::new([(1, "GET", "/files/*")], []).unwrap();
        assert!(clash.mount(0, "/files").is_err());
        assert!(clash.mount(0, "/x/:id").is_err());
    }

    #[test]
    fn rejects_bad_routes() {
        let none: [&str; 0] = [];
        assert!(Router::new([(1, "GET", "/a/:")], none).is_err());
        assert!(Router::new([(1, "GET", "/a/*b/c")], none).is_err());
        assert!(Router::new([(1, "FETCH", "/a")], none).is_err());
        assert!(Router::new([(1, "GET", "a")], none).is_err());
        assert!(Router::new([(1, "GET", "/a"), (2, "GET", "/a")], none).is_err());
        assert!(Router::new([(1, "GET", "/a/:x"), (2, "GET", "/a/:y")], none).is_err());
        assert!(Router::new([(1, "GET", "/a")], ["/a"]).is_err());
        assert!(Router::new([(1 << 31, "GET", "/a")], none).is_err());
        assert!(Router::new([], ["/a/:x"]).is_err());
    }

    #[test]
    fn non_ascii_literals_match_as_sent() {
        let r = Router::new([(1, "GET", "/p/é/:id"), (2, "GET", "/café")], []).unwrap();
        assert_eq!(ids(&r, 1, "/p/é/7"), Some((1, vec!["7".into()])));
        assert_eq!(ids(&r, 1, "/café"), Some((2, vec![])));
    }

    #[test]
    fn braces_are_literal() {
        let r = Router::new([(1, "GET", "/{x}/:id")], []).unwrap();
        assert_eq!(ids(&r, 1, "/{x}/3"), Some((1, vec!["3".into()])));
    }

    #[test]
    fn canonical_targets() {
        let c = |t: &str| canonical_target(t).into_owned();
        assert_eq!(c("/x/1"), "/x/1");
        assert_eq!(c("/x/%31"), "/x/1");
        assert_eq!(c("/p/%C3%A9?q=%31"), "/p/é?q=%31");
        assert_eq!(c("/p/é"), "/p/é");
        assert_eq!(c("/a%2fb/%2F/%3f%25%23"), "/a%2Fb/%2F/%3F%25%23");
        assert_eq!(c("/bad%zz/%4"), "/bad%zz/%4");
        assert_eq!(c("/notutf8/%FF"), "/notutf8/%FF");
        assert!(matches!(
            canonical_target("/plain?x=%31"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn percent_decoding() {
        let dec = |s: &str| {
            let mut out = b"keep".to_vec();
            percent_decode_into(&mut out, s).map(|_| String::from_utf8(out[4..].to_vec()).unwrap())
        };
        assert_eq!(dec("caf%C3%A9").unwrap(), "café");
        assert_eq!(dec("%2541").unwrap(), "%41");
        assert_eq!(dec("a+b%20c").unwrap(), "a+b c");
        assert!(dec("%FF").is_err());
        assert!(dec("%4").is_err());
        assert!(dec("%zz").is_err());
        let mut out = b"keep".to_vec();
        assert!(percent_decode_into(&mut out, "%C3").is_err());
        assert_eq!(out, b"keep");
    }
}
