//! Route schemas (`{ schema: { params, query, headers, body } }`) checked before JS runs: each
//! part a JSON Schema compiled once at start by the `jsonschema` crate (no `$ref` is fetched:
//! its network and file resolvers are compiled out). A request that fails gets 400 (415 for a
//! body that is not JSON) with the issues in the body, the same answer js/schema.js gives; Rust
//! writes it itself when no middleware runs before the route, else it hands it to JS in the
//! envelope so the middleware runs first (docs/bridge.md, "Schema verdict").

pub mod coerce;
mod issues;
mod spec;

use jsonschema::Validator;
use serde_json::{Map, Value};

pub use coerce::{Field, Scalar};
pub use issues::{Issue, Rejection, MAX_ISSUES};
pub use spec::{CoerceSpec, SchemaPartSpec, SchemaSpec};

/// Where in the request a value was found, as the answer's `in` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Params,
    Query,
    Headers,
    Body,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Params => "params",
            Part::Query => "query",
            Part::Headers => "headers",
            Part::Body => "body",
        }
    }
}

/// One part's schema as JS sends it: the JSON Schema's text and its coercion plan.
pub struct PartSpec<'a> {
    pub schema: &'a str,
    pub coerce: Vec<Field>,
}

/// The schemas of one route, compiled.
pub struct RouteSchema {
    /// The route's parameter names, in the order Rust matches their values.
    param_names: Vec<String>,
    params: Option<Checked>,
    query: Option<Checked>,
    headers: Option<Checked>,
    body: Option<Validator>,
    /// Answer a failing request here (no middleware runs before the route), rather than hand
    /// the answer to JS.
    pub native: bool,
}

struct Checked {
    validator: Validator,
    coerce: Vec<Field>,
}

/// The parts of a request a schema looks at.
pub struct Input<'a, 'h, 'p> {
    /// Percent-decoded, in path order.
    pub params: &'a [&'p str],
    pub query: Option<&'a str>,
    pub headers: &'a [httparse::Header<'h>],
    pub content_type: Option<&'a [u8]>,
    pub body: &'a [u8],
}

impl RouteSchema {
    /// Compiles a route's schemas; `Err` says which part is not a usable JSON Schema.
    pub fn new(
        param_names: Vec<String>,
        params: Option<PartSpec<'_>>,
        query: Option<PartSpec<'_>>,
        headers: Option<PartSpec<'_>>,
        body: Option<&str>,
        native: bool,
    ) -> Result<RouteSchema, String> {
        let checked = |part: Part, spec: Option<PartSpec<'_>>| {
            spec.map(|s| {
                Ok::<_, String>(Checked {
                    validator: compile(part, s.schema)?,
                    coerce: s.coerce,
                })
            })
            .transpose()
        };
        Ok(RouteSchema {
            param_names,
            params: checked(Part::Params, params)?,
            query: checked(Part::Query, query)?,
            headers: checked(Part::Headers, headers)?,
            body: body.map(|b| compile(Part::Body, b)).transpose()?,
            native,
        })
    }

    /// Whether the params schema needs the parameters (the caller decodes them only then).
    pub fn checks_params(&self) -> bool {
        self.params.is_some()
    }

    /// `Ok` when the request passes every part's schema; else the answer it gets.
    pub fn check(&self, input: &Input<'_, '_, '_>) -> Result<(), Rejection> {
        let mut found = Vec::new();
        if let Some(c) = &self.params {
            let object = self
                .param_names
                .iter()
                .zip(input.params)
                .map(|(name, value)| (name.clone(), Value::String(value.to_string())))
                .collect();
            c.check(Part::Params, object, &mut found);
        }
        if let Some(c) = &self.query {
            c.check(
                Part::Query,
                coerce::query(input.query.unwrap_or("")),
                &mut found,
            );
        }
        if let Some(c) = &self.headers {
            c.check(Part::Headers, coerce::headers(input.headers), &mut found);
        }
        if let Some(validator) = &self.body {
            check_body(validator, input, &mut found)?;
        }
        if found.is_empty() {
            Ok(())
        } else {
            Err(Rejection::bad_request(found))
        }
    }
}

impl Checked {
    fn check(&self, part: Part, mut object: Map<String, Value>, found: &mut Vec<Issue>) {
        coerce::apply(&mut object, &self.coerce);
        collect(&self.validator, part, &Value::Object(object), found);
    }
}

/// The body: JSON (`application/json` or `+json`), present, parsed, then checked. Another media
/// type is 415, an empty or malformed body one 400 issue.
fn check_body(
    validator: &Validator,
    input: &Input<'_, '_, '_>,
    found: &mut Vec<Issue>,
) -> Result<(), Rejection> {
    let json = input.content_type.is_some_and(is_json_type);
    if !input.body.is_empty() && !json {
        return Err(Rejection::unsupported_type());
    }
    if input.body.is_empty() {
        found.push(Issue::new(Part::Body, String::new(), BODY_REQUIRED.into()));
        return Ok(());
    }
    match serde_json::from_slice::<Value>(input.body) {
        Ok(value) => collect(validator, Part::Body, &value, found),
        Err(e) => found.push(Issue::new(
            Part::Body,
            String::new(),
            format!("{BODY_NOT_JSON}: {e}"),
        )),
    }
    Ok(())
}

/// The message of a route with a body schema that got no body (js/schema.js says the same).
pub const BODY_REQUIRED: &str = "a JSON body is required";
/// The start of the message for a body that does not parse as JSON.
pub const BODY_NOT_JSON: &str = "the body is not valid JSON";

/// `application/json` or any `+json` type, parameters and case aside (js/body.js's rule).
pub fn is_json_type(content_type: &[u8]) -> bool {
    let end = content_type
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(content_type.len());
    let media = content_type[..end].trim_ascii().to_ascii_lowercase();
    media == b"application/json" || media.ends_with(b"+json")
}

fn collect(validator: &Validator, part: Part, value: &Value, found: &mut Vec<Issue>) {
    let room = MAX_ISSUES.saturating_sub(found.len());
    for error in validator.iter_errors(value).take(room) {
        let path = error.instance_path().as_str().to_owned();
        // Masked: the message does not echo the client's value back (it may be long, or a
        // secret in a header).
        found.push(Issue::new(part, path, error.masked().to_string()));
    }
}

fn compile(part: Part, text: &str) -> Result<Validator, String> {
    let schema: Value =
        serde_json::from_str(text).map_err(|e| format!("schema.{}: not JSON: {e}", part.name()))?;
    // `format` is asserted (Fastify's ajv-formats does it too: `format: 'email'` means it); JS
    // takes it out of the JSON Schemas Standard Schemas expose, whose library checks its own.
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| format!("schema.{} is not a usable JSON Schema: {e}", part.name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(schema: &Value, coerce: Vec<Field>) -> Option<PartSpec<'static>> {
        Some(PartSpec {
            schema: Box::leak(schema.to_string().into_boxed_str()),
            coerce,
        })
    }

    fn field(name: &str, t: Scalar) -> Field {
        Field {
            name: name.into(),
            types: vec![t],
            array: false,
        }
    }

    fn route() -> RouteSchema {
        RouteSchema::new(
            vec!["id".into()],
            spec(
                &json!({ "type": "object", "properties": { "id": { "type": "integer", "minimum": 1 } } }),
                vec![field("id", Scalar::Integer)],
            ),
            spec(
                &json!({ "type": "object", "properties": { "limit": { "type": "integer", "maximum": 100 } }, "required": ["limit"] }),
                vec![field("limit", Scalar::Integer)],
            ),
            spec(
                &json!({ "type": "object", "properties": { "x-key": { "type": "string", "minLength": 3 } }, "required": ["x-key"] }),
                vec![],
            ),
            Some(
                &json!({ "type": "object", "properties": { "tags": { "type": "array", "items": { "type": "string" } } }, "required": ["tags"] })
                    .to_string(),
            ),
            true,
        )
        .unwrap()
    }

    fn input<'a>(
        params: &'a [&'a str],
        query: &'a str,
        headers: &'a [httparse::Header<'a>],
        body: &'a [u8],
    ) -> Input<'a, 'a, 'a> {
        Input {
            params,
            query: Some(query),
            headers,
            content_type: Some(b"application/json; charset=utf-8"),
            body,
        }
    }

    const KEY: [httparse::Header<'static>; 1] = [httparse::Header {
        name: "X-Key",
        value: b"abcd",
    }];

    #[test]
    fn a_request_within_every_schema_passes() {
        let r = route();
        assert!(r
            .check(&input(&["7"], "limit=10", &KEY, br#"{"tags":["a"]}"#))
            .is_ok());
    }

    #[test]
    fn every_failing_part_is_listed_with_its_json_pointer() {
        let r = route();
        let rejection = r
            .check(&input(&["0"], "limit=x", &[], br#"{"tags":["a",2]}"#))
            .unwrap_err();
        assert_eq!(rejection.status, 400);
        let body: Value = serde_json::from_slice(&rejection.body).unwrap();
        assert_eq!(body["error"], "Bad Request");
        let places: Vec<(String, String)> = body["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["in"].as_str().unwrap().into(),
                    i["path"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            places,
            [
                ("params".into(), "/id".into()),
                ("query".into(), "/limit".into()),
                ("headers".into(), "".into()),
                ("body".into(), "/tags/1".into()),
            ]
        );
        // Messages do not echo the client's values.
        assert!(!String::from_utf8_lossy(&rejection.body).contains("\"x\""));
    }

    #[test]
    fn bodies_must_be_json() {
        let r = route();
        let mut req = input(&["7"], "limit=1", &KEY, b"tags=a");
        req.content_type = Some(b"application/x-www-form-urlencoded");
        assert_eq!(r.check(&req).unwrap_err().status, 415);
        req.content_type = Some(b"Application/Vnd.Api+JSON");
        let bad = r.check(&req).unwrap_err();
        assert_eq!(bad.status, 400);
        assert!(String::from_utf8_lossy(&bad.body).contains(BODY_NOT_JSON));
        let empty = r.check(&input(&["7"], "limit=1", &KEY, b"")).unwrap_err();
        assert!(String::from_utf8_lossy(&empty.body).contains(BODY_REQUIRED));
    }

    #[test]
    fn formats_are_asserted() {
        let r = RouteSchema::new(
            vec![],
            None,
            None,
            None,
            Some(&json!({ "type": "string", "format": "email" }).to_string()),
            true,
        )
        .unwrap();
        assert!(r.check(&input(&[], "", &[], br#""a@b.co""#)).is_ok());
        assert!(r.check(&input(&[], "", &[], br#""nope""#)).is_err());
    }

    #[test]
    fn issues_are_bounded() {
        let r = RouteSchema::new(
            vec![],
            None,
            None,
            None,
            Some(&json!({ "type": "array", "items": { "type": "string" } }).to_string()),
            true,
        )
        .unwrap();
        let many = serde_json::to_vec(&vec![1; 1000]).unwrap();
        let rejection = r.check(&input(&[], "", &[], &many)).unwrap_err();
        let body: Value = serde_json::from_slice(&rejection.body).unwrap();
        assert_eq!(body["issues"].as_array().unwrap().len(), MAX_ISSUES);
    }

    #[test]
    fn schemas_that_are_not_usable_are_refused_and_nothing_is_fetched() {
        let none = || None::<PartSpec<'static>>;
        let bad = |body: &str| RouteSchema::new(vec![], none(), none(), none(), Some(body), true);
        assert!(bad("{").is_err());
        assert!(bad(r#"{ "type": "nope" }"#).is_err());
        let remote = bad(r#"{ "$ref": "https://example.com/schema.json" }"#);
        assert!(remote.is_err(), "a remote $ref must not resolve");
        assert!(
            bad(r##"{ "$defs": { "a": { "type": "string" } }, "$ref": "#/$defs/a" }"##).is_ok()
        );
    }
}
