//! A CORS preflight answered natively, byte for byte what `js/cors.js` (and the `cors` npm
//! package it follows) writes for the same static options: the same headers, in the same order
//! and spelling, `Vary` merged into one line as the `vary` package merges it.
//!
//! Only preflights are Rust's: an OPTIONS request with `Origin` and
//! `Access-Control-Request-Method`. Any other request (an actual cross-origin request, whose
//! answer needs the handler's) goes on to JS, where the same middleware sets its headers.

use super::Answer;

/// Which origins the options allow, for the forms Rust evaluates (js/cors.js sends only these;
/// a function or a RegExp keeps the middleware in JS).
#[derive(Debug, Clone)]
pub enum Origin {
    /// `'*'` (or a falsy origin, which the `cors` package treats alike): `*`, no `Vary`.
    Any,
    /// One string: always that value, with `Vary: Origin`.
    Fixed(Box<str>),
    /// `true`: the request's origin reflected, with `Vary: Origin`.
    Reflect,
    /// An array of strings: the request's origin reflected when it is one of them.
    List(Box<[Box<str>]>),
}

#[derive(Debug, Clone)]
pub struct Preflight {
    pub origin: Origin,
    pub credentials: bool,
    /// `Access-Control-Allow-Methods`, joined; empty: not sent.
    pub methods: Box<str>,
    /// `Access-Control-Allow-Headers`, joined; None: the request's
    /// `Access-Control-Request-Headers` reflected, with `Vary` for it.
    pub allowed_headers: Option<Box<str>>,
    pub max_age: Option<Box<str>>,
    pub exposed_headers: Option<Box<str>>,
    /// `optionsSuccessStatus`.
    pub status: u16,
    /// `Access-Control-Allow-Private-Network: true` when the preflight asks for it.
    pub private_network: bool,
}

/// What a preflight tells of itself.
pub struct Asked<'a> {
    pub origin: &'a [u8],
    pub request_headers: Option<&'a [u8]>,
    pub private_network: bool,
}

impl Preflight {
    /// Writes `Access-Control-Allow-Origin` as the options decide for `origin` (the request's,
    /// empty when it sent none); returns where `Vary: Origin` belongs when they vary on it.
    fn allow_origin(&self, origin: &[u8], head: &mut Vec<u8>) -> Option<usize> {
        match &self.origin {
            Origin::Any => {
                line(head, "Access-Control-Allow-Origin", b"*");
                return None;
            }
            Origin::Fixed(value) => line(head, "Access-Control-Allow-Origin", value.as_bytes()),
            Origin::Reflect => {
                if !origin.is_empty() {
                    line(head, "Access-Control-Allow-Origin", origin);
                }
            }
            Origin::List(allowed) => {
                if allowed.iter().any(|o| o.as_bytes() == origin) {
                    line(head, "Access-Control-Allow-Origin", origin);
                }
            }
        }
        Some(head.len())
    }

    /// The headers the middleware sets on an actual (not preflight) request's answer, for an
    /// answer a later guard makes (a 429 a browser must be allowed to read).
    pub fn actual(&self, origin: &[u8], head: &mut Vec<u8>) {
        if self.allow_origin(origin, head).is_some() {
            line(head, "Vary", b"Origin");
        }
        if self.credentials {
            line(head, "Access-Control-Allow-Credentials", b"true");
        }
        if let Some(exposed) = &self.exposed_headers {
            line(head, "Access-Control-Expose-Headers", exposed.as_bytes());
        }
    }

    pub fn answer(&self, asked: &Asked<'_>) -> Answer {
        let mut head = Vec::with_capacity(256);
        // `Vary` sits where the `vary` package first set it; later values join that line.
        let mut vary: Vec<&str> = Vec::new();
        let mut vary_at = self.allow_origin(asked.origin, &mut head);
        if vary_at.is_some() {
            vary.push("Origin");
        }
        if self.credentials {
            line(&mut head, "Access-Control-Allow-Credentials", b"true");
        }
        if !self.methods.is_empty() {
            line(
                &mut head,
                "Access-Control-Allow-Methods",
                self.methods.as_bytes(),
            );
        }
        match &self.allowed_headers {
            Some(list) if !list.is_empty() => {
                line(&mut head, "Access-Control-Allow-Headers", list.as_bytes())
            }
            Some(_) => {}
            None => {
                vary_at.get_or_insert(head.len());
                vary.push("Access-Control-Request-Headers");
                if let Some(asked) = asked.request_headers.filter(|h| !h.is_empty()) {
                    line(&mut head, "Access-Control-Allow-Headers", asked);
                }
            }
        }
        if let Some(max_age) = &self.max_age {
            line(&mut head, "Access-Control-Max-Age", max_age.as_bytes());
        }
        if let Some(exposed) = &self.exposed_headers {
            line(
                &mut head,
                "Access-Control-Expose-Headers",
                exposed.as_bytes(),
            );
        }
        if self.private_network && asked.private_network {
            line(&mut head, "Access-Control-Allow-Private-Network", b"true");
        }
        if let Some(at) = vary_at {
            let mut v = Vec::new();
            line(&mut v, "Vary", vary.join(", ").as_bytes());
            head.splice(at..at, v);
        }
        Answer {
            status: self.status,
            head,
            body: Box::default(),
        }
    }
}

/// One header line. Values come from the client only where the `cors` package echoes them
/// (Origin, Access-Control-Request-Headers): httparse already refused control characters in
/// them, so they cannot split the head.
fn line(head: &mut Vec<u8>, name: &str, value: &[u8]) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight(origin: Origin) -> Preflight {
        Preflight {
            origin,
            credentials: false,
            methods: "GET,HEAD,PUT,PATCH,POST,DELETE".into(),
            allowed_headers: None,
            max_age: None,
            exposed_headers: None,
            status: 204,
            private_network: false,
        }
    }

    fn asked(origin: &'static str, headers: Option<&'static str>) -> Asked<'static> {
        Asked {
            origin: origin.as_bytes(),
            request_headers: headers.map(str::as_bytes),
            private_network: false,
        }
    }

    fn head(answer: &Answer) -> String {
        String::from_utf8(answer.head.clone()).unwrap()
    }

    #[test]
    fn defaults_are_the_cors_packages() {
        let a = preflight(Origin::Any).answer(&asked("https://a.example", Some("x-a")));
        assert_eq!(a.status, 204);
        assert_eq!(
            head(&a),
            "Access-Control-Allow-Origin: *\r\n\
             Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n\
             Vary: Access-Control-Request-Headers\r\n\
             Access-Control-Allow-Headers: x-a\r\n"
        );
    }

    #[test]
    fn a_list_reflects_only_its_origins_and_varies_once() {
        let p = Preflight {
            credentials: true,
            max_age: Some("600".into()),
            exposed_headers: Some("x-total".into()),
            ..preflight(Origin::List(vec!["https://a.example".into()].into()))
        };
        let yes = p.answer(&asked("https://a.example", None));
        assert_eq!(
            head(&yes),
            "Access-Control-Allow-Origin: https://a.example\r\n\
             Vary: Origin, Access-Control-Request-Headers\r\n\
             Access-Control-Allow-Credentials: true\r\n\
             Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n\
             Access-Control-Max-Age: 600\r\n\
             Access-Control-Expose-Headers: x-total\r\n"
        );
        let no = p.answer(&asked("https://evil.example", None));
        assert!(!head(&no).contains("Allow-Origin"));
        assert!(head(&no).starts_with("Vary: Origin, Access-Control-Request-Headers\r\n"));
    }

    #[test]
    fn fixed_origin_configured_headers_and_private_network() {
        let p = Preflight {
            allowed_headers: Some("Content-Type,Authorization".into()),
            private_network: true,
            status: 200,
            ..preflight(Origin::Fixed("https://app.example".into()))
        };
        let mut q = asked("https://other.example", Some("x-ignored"));
        q.private_network = true;
        let a = p.answer(&q);
        assert_eq!(a.status, 200);
        assert_eq!(
            head(&a),
            "Access-Control-Allow-Origin: https://app.example\r\n\
             Vary: Origin\r\n\
             Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n\
             Access-Control-Allow-Headers: Content-Type,Authorization\r\n\
             Access-Control-Allow-Private-Network: true\r\n"
        );
        q.private_network = false;
        assert!(!head(&p.answer(&q)).contains("Private-Network"));
    }

    #[test]
    fn actual_requests_get_the_origin_headers() {
        let p = Preflight {
            credentials: true,
            exposed_headers: Some("x-total".into()),
            ..preflight(Origin::List(vec!["https://a.example".into()].into()))
        };
        let mut head = Vec::new();
        p.actual(b"https://a.example", &mut head);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "Access-Control-Allow-Origin: https://a.example\r\nVary: Origin\r\n\
             Access-Control-Allow-Credentials: true\r\nAccess-Control-Expose-Headers: x-total\r\n"
        );
        let mut head = Vec::new();
        preflight(Origin::Any).actual(b"", &mut head);
        assert_eq!(head, b"Access-Control-Allow-Origin: *\r\n");
    }

    #[test]
    fn reflect_without_an_origin_sends_none() {
        let a = preflight(Origin::Reflect).answer(&asked("", None));
        assert!(head(&a).starts_with("Vary: Origin, Access-Control-Request-Headers\r\n"));
    }
}
