//! The per-route native guards: middleware whose work Rust does in dispatch, just before a
//! request would go to JS, so JS never wakes for what they answer. `cors()` with static options
//! answers preflights (cors.rs); `rateLimit()` keyed by the peer's IP counts and answers 429
//! (rate_limit.rs). js/router.js decides at listen() which routes (and which unmatched
//! prefixes) a guard covers: those where it runs before any ordinary middleware could, so
//! answering here is exactly what the JS chain would have done.

pub mod cors;
#[cfg(feature = "addon")]
pub mod napi;
pub mod rate_limit;

use std::collections::HashMap;
use std::time::Instant;

use crate::h1::encode::{self as response, ConnHeader};

pub enum Guard {
    Cors(cors::Preflight),
    RateLimit(rate_limit::Native),
}

/// What the guards of a request's chain decided.
pub enum Verdict {
    /// On to JS, with the envelope's guard word (0, or an allowed request's rate-limit count).
    Pass(u32),
    /// Answered here.
    Answer(Answer),
}

/// A whole answer a guard composed: its header lines (each ending in CRLF) and body; Rust's own
/// Content-Length, Date and Connection follow, as for every answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: Vec<u8>,
    pub body: Box<[u8]>,
}

impl Answer {
    /// Returns the status written.
    pub fn write(&self, out: &mut Vec<u8>, conn: ConnHeader, head_only: bool) -> u16 {
        response::status_line(out, self.status);
        out.extend_from_slice(&self.head);
        response::finish(out, self.status, conn, &self.body, head_only);
        self.status
    }
}

/// What a guard looks at in a request.
pub struct Asked<'a, 'b> {
    pub method_code: u8,
    pub path: &'a str,
    pub headers: &'a [httparse::Header<'b>],
    pub ip: &'a str,
}

#[derive(Default)]
pub struct Guards {
    list: Vec<Guard>,
    /// A route's guards in chain order (indexes into `list`).
    routes: HashMap<u32, Box<[usize]>>,
    /// The guards of requests no route matched, each under its middleware prefix ("" for all).
    unmatched: Vec<(Box<str>, usize)>,
}

impl Guards {
    pub fn new(list: Vec<Guard>) -> Self {
        Guards {
            list,
            ..Guards::default()
        }
    }

    /// Every index must be one of `list`'s (checked: JS builds them).
    pub fn set_route(&mut self, route: u32, guards: &[u32]) -> Result<(), String> {
        let ids = self.ids(guards)?;
        self.routes.insert(route, ids);
        Ok(())
    }

    pub fn add_unmatched(&mut self, prefix: &str, guard: u32) -> Result<(), String> {
        let id = self.ids(&[guard])?[0];
        self.unmatched.push((prefix.into(), id));
        Ok(())
    }

    fn ids(&self, guards: &[u32]) -> Result<Box<[usize]>, String> {
        guards
            .iter()
            .map(|&g| {
                let g = g as usize;
                (g < self.list.len())
                    .then_some(g)
                    .ok_or_else(|| format!("guard {g} is not one of the {}", self.list.len()))
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Runs the guards of `route`'s chain (`None`, no route matched: those of the unmatched
    /// prefixes covering the path) in order, as the JS chain would run them.
    pub fn check(&self, route: Option<u32>, req: &Asked<'_, '_>) -> Verdict {
        let mut run = Run {
            req,
            word: 0,
            now: None,
            cors: Vec::new(),
        };
        let stop = match route {
            None => self
                .unmatched
                .iter()
                .filter(|(prefix, _)| under_prefix(req.path, prefix))
                .find_map(|&(_, g)| run.guard(&self.list[g])),
            Some(route) => match self.routes.get(&route) {
                Some(ids) => ids.iter().find_map(|&g| run.guard(&self.list[g])),
                None => None,
            },
        };
        match stop {
            Some(Stop::Answer(mut answer)) => {
                // The CORS headers an earlier cors() set on this answer, as it would in JS.
                if !run.cors.is_empty() {
                    run.cors.extend_from_slice(&answer.head);
                    answer.head = run.cors;
                }
                Verdict::Answer(answer)
            }
            Some(Stop::ToJs) | None => Verdict::Pass(run.word),
        }
    }
}

/// Why the guards of a chain stopped before its end.
enum Stop {
    Answer(Answer),
    /// What follows is JS's to decide (an OPTIONS that is not a preflight the guard can answer:
    /// the middleware answers it in JS, and nothing after it runs).
    ToJs,
}

/// One request's walk through its guards.
struct Run<'r, 'a, 'b> {
    req: &'r Asked<'a, 'b>,
    word: u32,
    now: Option<Instant>,
    /// The header lines cors() sets on an actual request's answer.
    cors: Vec<u8>,
}

impl Run<'_, '_, '_> {
    fn guard(&mut self, guard: &Guard) -> Option<Stop> {
        match guard {
            Guard::Cors(cors) => {
                if self.req.method_code == 7 {
                    return Some(match preflight_of(self.req) {
                        Some(asked) => Stop::Answer(cors.answer(&asked)),
                        None => Stop::ToJs,
                    });
                }
                let mut origins = self
                    .req
                    .headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("origin"));
                let origin = origins.next().map_or(&b""[..], |h| h.value);
                if origins.next().is_some() || !origin.is_ascii() {
                    // Repeated (node joins them into the value JS decides on) or past ASCII (JS
                    // re-encodes what it echoes): JS's to answer.
                    return Some(Stop::ToJs);
                }
                cors.actual(origin, &mut self.cors);
            }
            Guard::RateLimit(limiter) => {
                let now = *self.now.get_or_insert_with(Instant::now);
                match limiter.check(self.req.ip, now) {
                    Ok(word) => self.word = word,
                    Err(answer) => return Some(Stop::Answer(answer)),
                }
            }
        }
        None
    }
}

/// A CORS preflight: OPTIONS with `Origin` and `Access-Control-Request-Method`. One `Origin` and
/// at most one `Access-Control-Request-Headers`: node joins repeated ones into one value, which
/// the JS middleware then sees, so a request repeating them goes to JS to be answered the same.
fn preflight_of<'a>(req: &Asked<'a, '_>) -> Option<cors::Asked<'a>> {
    let (mut origin, mut origins, mut method, mut asked_headers, mut private) =
        (None, 0, false, None, false);
    let mut asked_count = 0;
    for h in req.headers {
        let name = h.name;
        if name.eq_ignore_ascii_case("origin") {
            origin = Some(h.value);
            origins += 1;
        } else if name.eq_ignore_ascii_case("access-control-request-method") {
            method = true;
        } else if name.eq_ignore_ascii_case("access-control-request-headers") {
            asked_headers = Some(h.value);
            asked_count += 1;
        } else if name.eq_ignore_ascii_case("access-control-request-private-network") {
            // js/cors.js compares the value exactly, as Chrome sends it.
            private = h.value == b"true";
        }
    }
    // Bytes past ASCII: JS decodes and re-encodes what it echoes; left to it to echo the same.
    let ascii = |v: Option<&[u8]>| v.is_none_or(|v| v.is_ascii());
    if origins != 1 || !method || asked_count > 1 || !ascii(origin) || !ascii(asked_headers) {
        return None;
    }
    Some(cors::Asked {
        origin: origin?,
        request_headers: asked_headers,
        private_network: private,
    })
}

/// Express's prefix rule, as js/router.js's `underPrefix`: "/api" covers "/api" and "/api/x",
/// not "/apix"; "" covers everything.
fn under_prefix(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || (path.starts_with(prefix)
            && (path.len() == prefix.len() || path.as_bytes()[prefix.len()] == b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_on_segment_boundaries() {
        assert!(under_prefix("/api", "/api"));
        assert!(under_prefix("/api/x", "/api"));
        assert!(!under_prefix("/apix", "/api"));
        assert!(under_prefix("/anything", ""));
    }

    fn header<'a>(name: &'a str, value: &'a [u8]) -> httparse::Header<'a> {
        httparse::Header { name, value }
    }

    #[test]
    fn only_a_real_preflight_is_one() {
        let asked = |method_code, headers: &[httparse::Header<'_>]| {
            preflight_of(&Asked {
                method_code,
                path: "/",
                headers,
                ip: "::1",
            })
            .is_some()
        };
        let origin = header("Origin", b"https://a.example");
        let method = header("access-control-request-method", b"PUT");
        assert!(asked(7, &[origin, method]));
        assert!(!asked(7, &[origin]), "no Access-Control-Request-Method");
        assert!(!asked(7, &[method]), "no Origin");
        assert!(
            !asked(7, &[origin, origin, method]),
            "two Origins: JS's to join"
        );
        let utf8 = header("origin", "https://é.example".as_bytes());
        assert!(!asked(7, &[utf8, method]), "past ASCII: JS's to echo");
    }

    #[test]
    fn guards_run_in_chain_order() {
        let counter = std::sync::Arc::new(rate_limit::Counter::new(
            std::time::Duration::from_secs(60),
            crate::ttl_map::Bounds {
                max_entries: 100,
                max_bytes: 1 << 20,
            },
        ));
        let limiter = rate_limit::Native {
            counter,
            limit: 1,
            window_secs: 60,
            status: 429,
            content_type: "text/plain; charset=utf-8".into(),
            body: (*b"slow down").into(),
            headers: false,
        };
        let cors = cors::Preflight {
            origin: cors::Origin::Any,
            credentials: false,
            methods: "GET".into(),
            allowed_headers: Some(String::new().into()),
            max_age: None,
            exposed_headers: None,
            status: 204,
            private_network: false,
        };
        let mut guards = Guards::new(vec![Guard::Cors(cors), Guard::RateLimit(limiter)]);
        guards.set_route(1, &[0, 1]).unwrap();
        guards.add_unmatched("/api", 1).unwrap();
        assert!(guards.set_route(2, &[5]).is_err());
        let preflight = [
            header("origin", b"https://a.example"),
            header("access-control-request-method", b"GET"),
        ];
        let req = |method_code, path, headers| Asked {
            method_code,
            path,
            headers,
            ip: "10.0.0.1",
        };
        // The preflight is answered before the limiter counts it.
        for _ in 0..3 {
            let Verdict::Answer(a) = guards.check(Some(1), &req(7, "/r", &preflight)) else {
                panic!("preflight not answered");
            };
            assert_eq!(a.status, 204);
        }
        let Verdict::Pass(word) = guards.check(Some(1), &req(1, "/r", &[])) else {
            panic!("first request refused");
        };
        assert_eq!(word & rate_limit::MAX_NATIVE_LIMIT, 1);
        let origin = [header("origin", b"https://a.example")];
        let Verdict::Answer(a) = guards.check(Some(1), &req(1, "/r", &origin)) else {
            panic!("second request allowed");
        };
        assert_eq!((a.status, &*a.body), (429, &b"slow down"[..]));
        assert_eq!(
            a.head,
            b"Access-Control-Allow-Origin: *\r\ncontent-type: text/plain; charset=utf-8\r\n",
            "cors() ran before the limiter"
        );
        // An OPTIONS that is not a preflight is the JS middleware's: the limiter does not count it.
        assert!(matches!(
            guards.check(Some(1), &req(7, "/r", &origin)),
            Verdict::Pass(0)
        ));
        // Unmatched requests: only under the prefix (and the limiter's count is shared).
        assert!(matches!(
            guards.check(None, &req(1, "/other", &[])),
            Verdict::Pass(0)
        ));
        assert!(matches!(
            guards.check(None, &req(1, "/api/x", &[])),
            Verdict::Answer(_)
        ));
        assert!(matches!(
            guards.check(Some(3), &req(1, "/api/x", &[])),
            Verdict::Pass(0)
        ));
    }
}
