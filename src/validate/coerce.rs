//! Params, query and headers as JSON for their schemas: strings on the wire, turned into the
//! scalar types each schema declares (Fastify's coercion), and shaped as JS shapes them (`req.query`
//! by node's querystring, `req.headers` by node's rules), so Rust checks exactly the values the
//! handler will see. Which fields to coerce, and to what, is decided once in JS from the schema
//! (js/schema.js `coercionPlan`); this file only applies that plan, as js/schema.js does.

use serde_json::{Map, Number, Value};

/// node's `querystring.parse` stops at 1000 pairs by default (`maxKeys`): Rust stops there too,
/// so it checks the same object `req.query` holds.
pub const MAX_QUERY_PAIRS: usize = 1000;

/// A type a string may be coerced to, as a schema's `type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    String,
    Integer,
    Number,
    Boolean,
    Null,
}

impl Scalar {
    pub fn from_name(name: &str) -> Option<Scalar> {
        Some(match name {
            "string" => Scalar::String,
            "integer" => Scalar::Integer,
            "number" => Scalar::Number,
            "boolean" => Scalar::Boolean,
            "null" => Scalar::Null,
            _ => return None,
        })
    }
}

/// How one field is coerced: the scalar types its schema allows, in the schema's order, and
/// whether it is an array of them (a repeated query key, or one value wrapped as Fastify does).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub types: Vec<Scalar>,
    pub array: bool,
}

/// `text` as the first of `types` it reads as; unchanged (a string, which the schema then
/// refuses with its own message) when none fits. A type list that allows strings keeps strings.
pub fn scalar(text: &str, types: &[Scalar]) -> Value {
    if types.is_empty() || types.contains(&Scalar::String) {
        return Value::String(text.to_owned());
    }
    for t in types {
        let value = match t {
            Scalar::Integer => number(text).filter(is_integral),
            Scalar::Number => number(text),
            Scalar::Boolean => match text {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            Scalar::Null => text.is_empty().then_some(Value::Null),
            Scalar::String => None,
        };
        if let Some(v) = value {
            return v;
        }
    }
    Value::String(text.to_owned())
}

fn is_integral(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// A number written as JSON writes one (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`), and
/// nothing looser: no spaces, hex, `Infinity` or empty string. js/schema.js uses the same grammar.
fn number(text: &str) -> Option<Value> {
    if !is_json_number(text.as_bytes()) {
        return None;
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    let f: f64 = text.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

fn is_json_number(b: &[u8]) -> bool {
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Applies `plan` to `object` in place: each planned field present is coerced; an array field
/// given one value becomes a one-element array.
pub fn apply(object: &mut Map<String, Value>, plan: &[Field]) {
    for field in plan {
        let Some(value) = object.get_mut(&field.name) else {
            continue;
        };
        let coerce = |v: &Value| match v {
            Value::String(s) => scalar(s, &field.types),
            other => other.clone(),
        };
        *value = match (&*value, field.array) {
            (Value::Array(items), _) => Value::Array(items.iter().map(coerce).collect()),
            (v, true) => Value::Array(vec![coerce(v)]),
            (v, false) => coerce(v),
        };
    }
}

/// A raw query string as `querystring.parse` reads it: `&`-separated pairs, the first `=` splits
/// a pair, `+` is a space, valid `%XX` escapes decoded (invalid ones kept), bytes that are not
/// UTF-8 replaced; a repeated key collects its values in an array.
pub fn query(raw: &str) -> Map<String, Value> {
    let mut object = Map::new();
    for pair in raw
        .split('&')
        .filter(|p| !p.is_empty())
        .take(MAX_QUERY_PAIRS)
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = unescape(key);
        let value = Value::String(unescape(value));
        match object.get_mut(&key) {
            None => {
                object.insert(key, value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                object.insert(key, Value::Array(vec![first, value]));
            }
        }
    }
    object
}

fn unescape(text: &str) -> String {
    if !text.contains(['%', '+']) {
        return text.to_owned();
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |at: usize| b.get(at).and_then(|&c| (c as char).to_digit(16));
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// node:http keeps the first value of these when they repeat instead of joining them (the same
/// list as js/request.js).
const FIRST_VALUE_WINS: [&str; 18] = [
    "age",
    "authorization",
    "content-length",
    "content-type",
    "etag",
    "expires",
    "from",
    "host",
    "if-modified-since",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "proxy-authorization",
    "referer",
    "retry-after",
    "server",
    "user-agent",
];

/// Request headers as `req.headers` holds them: names lower-cased, repeats joined with `, `
/// (`cookie` with `; `), `set-cookie` an array, the first value kept for the fields above.
pub fn headers(list: &[httparse::Header<'_>]) -> Map<String, Value> {
    let mut object = Map::new();
    for h in list {
        let name = h.name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(h.value).into_owned();
        match object.get_mut(&name) {
            None if name == "set-cookie" => {
                object.insert(name, Value::Array(vec![Value::String(value)]));
            }
            None => {
                object.insert(name, Value::String(value));
            }
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(Value::String(prev)) => {
                if name == "cookie" {
                    prev.push_str("; ");
                    prev.push_str(&value);
                } else if !FIRST_VALUE_WINS.contains(&name.as_str()) {
                    prev.push_str(", ");
                    prev.push_str(&value);
                }
            }
            Some(_) => {}
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_follow_the_declared_types_in_order() {
        use Scalar::*;
        assert_eq!(scalar("42", &[Integer]), json!(42));
        assert_eq!(scalar("-0", &[Integer]), json!(0));
        assert_eq!(scalar("1e3", &[Integer]), json!(1000.0));
        assert_eq!(scalar("1.5", &[Integer]), json!("1.5"));
        assert_eq!(scalar("1.5", &[Integer, Number]), json!(1.5));
        assert_eq!(scalar("true", &[Boolean]), json!(true));
        assert_eq!(scalar("1", &[Boolean]), json!("1"));
        assert_eq!(scalar("", &[Integer, Null]), json!(null));
        assert_eq!(scalar("42", &[String, Integer]), json!("42"));
        assert_eq!(scalar("42", &[]), json!("42"));
        for loose in [
            "", " 1", "0x10", "Infinity", "1.", ".5", "01", "+1", "1e", "--1", "NaN",
        ] {
            assert_eq!(scalar(loose, &[Number]), json!(loose), "{loose:?}");
        }
        assert_eq!(
            scalar("123456789012345678901234567890", &[Number]),
            json!(1.2345678901234568e29)
        );
    }

    #[test]
    fn query_is_read_as_querystring_parse_reads_it() {
        let q = query("a=1&b=x+y&a=2&c&=e&d=%41%zz%&&f=caf%C3%A9&g=%FF");
        assert_eq!(
            Value::Object(q),
            json!({ "a": ["1", "2"], "b": "x y", "c": "", "": "e", "d": "A%zz%", "f": "café", "g": "\u{FFFD}" })
        );
        let many = "k=v&".repeat(MAX_QUERY_PAIRS + 5);
        assert_eq!(query(&many)["k"].as_array().unwrap().len(), MAX_QUERY_PAIRS);
    }

    #[test]
    fn plans_coerce_fields_and_wrap_arrays() {
        let mut q = query("n=5&tags=1&ids=1&ids=x&flag=false&s=7");
        let plan = [
            Field {
                name: "n".into(),
                types: vec![Scalar::Integer],
                array: false,
            },
            Field {
                name: "tags".into(),
                types: vec![Scalar::Integer],
                array: true,
            },
            Field {
                name: "ids".into(),
                types: vec![Scalar::Integer],
                array: true,
            },
            Field {
                name: "flag".into(),
                types: vec![Scalar::Boolean],
                array: false,
            },
            Field {
                name: "absent".into(),
                types: vec![Scalar::Integer],
                array: false,
            },
        ];
        apply(&mut q, &plan);
        assert_eq!(
            Value::Object(q),
            json!({ "n": 5, "tags": [1], "ids": [1, "x"], "flag": false, "s": "7" })
        );
    }

    #[test]
    fn headers_are_shaped_as_node_shapes_them() {
        let list = [
            httparse::Header {
                name: "X-A",
                value: b"1",
            },
            httparse::Header {
                name: "x-a",
                value: b"2",
            },
            httparse::Header {
                name: "Cookie",
                value: b"a=1",
            },
            httparse::Header {
                name: "cookie",
                value: b"b=2",
            },
            httparse::Header {
                name: "Host",
                value: b"one",
            },
            httparse::Header {
                name: "host",
                value: b"two",
            },
            httparse::Header {
                name: "Set-Cookie",
                value: b"s=1",
            },
        ];
        assert_eq!(
            Value::Object(headers(&list)),
            json!({ "x-a": "1, 2", "cookie": "a=1; b=2", "host": "one", "set-cookie": ["s=1"] })
        );
    }
}
