//! The answer to a request that fails its route's schemas: 400 (or 415) with
//! `{ "error": "Bad Request", "issues": [ { "in", "path", "message" } ] }`, byte for byte what
//! js/schema.js sends (its key order, JSON.stringify's spelling), so a client cannot tell which
//! side answered.

use super::Part;
use crate::h1::encode::{self, ConnHeader};

/// At most this many issues are listed: enough to fix a request, and a hostile body with a
/// million wrong items costs neither the time to find them all nor an answer that size.
pub const MAX_ISSUES: usize = 10;

pub struct Issue {
    part: Part,
    /// A JSON Pointer (RFC 6901) into the part: `""` for the part itself.
    path: String,
    message: String,
}

impl Issue {
    pub fn new(part: Part, path: String, message: String) -> Issue {
        Issue {
            part,
            path,
            message,
        }
    }
}

/// What a failing request is answered: its status and its JSON body.
pub struct Rejection {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Rejection {
    pub fn bad_request(issues: Vec<Issue>) -> Rejection {
        let mut body = br#"{"error":"Bad Request","issues":["#.to_vec();
        for (i, issue) in issues.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(br#"{"in":""#);
            body.extend_from_slice(issue.part.name().as_bytes());
            body.extend_from_slice(br#"","path":"#);
            string(&mut body, &issue.path);
            body.extend_from_slice(br#","message":"#);
            string(&mut body, &issue.message);
            body.push(b'}');
        }
        body.extend_from_slice(b"]}");
        Rejection { status: 400, body }
    }

    /// A body in a media type the route's JSON body schema cannot read.
    pub fn unsupported_type() -> Rejection {
        let mut issue =
            br#"{"error":"Unsupported Media Type","issues":[{"in":"body","path":"","message":"#
                .to_vec();
        string(&mut issue, UNSUPPORTED_TYPE);
        issue.extend_from_slice(b"}]}");
        Rejection {
            status: 415,
            body: issue,
        }
    }

    /// The whole HTTP answer.
    pub fn write(&self, out: &mut Vec<u8>, conn: ConnHeader, head: bool) {
        encode::status_line(out, self.status);
        out.extend_from_slice(b"content-type: application/json; charset=utf-8\r\n");
        encode::finish(out, self.status, conn, &self.body, head);
    }
}

/// The 415's message (js/schema.js says the same).
pub const UNSUPPORTED_TYPE: &str = "the body must be application/json";

/// A JSON string as JSON.stringify spells it (serde_json escapes the same characters the same
/// way: `"`, `\`, and controls as `\n`-style or `\u00xx`).
fn string(out: &mut Vec<u8>, text: &str) {
    // Writing to a Vec cannot fail, and a str always serializes.
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_spelled_as_json_stringify_spells_it() {
        let r = Rejection::bad_request(vec![Issue::new(
            Part::Query,
            "/a~1b/0".into(),
            "say \"hi\"\n\u{1}é".into(),
        )]);
        assert_eq!(r.status, 400);
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            r#"{"error":"Bad Request","issues":[{"in":"query","path":"/a~1b/0","message":"say \"hi\"\n\u0001é"}]}"#
        );
        let u = Rejection::unsupported_type();
        assert_eq!(u.status, 415);
        let v: serde_json::Value = serde_json::from_slice(&u.body).unwrap();
        assert_eq!(v["issues"][0]["message"], UNSUPPORTED_TYPE);
    }
}
