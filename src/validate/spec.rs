//! Route schemas as JS sends them to `NativeServer.start` (js/schema.js builds them; layout in
//! docs/bridge.md), and their compilation.

use super::{Field, PartSpec, RouteSchema, Scalar};

/// A route's `schema` option, as JSON Schema texts with their coercion plans.
#[cfg_attr(feature = "addon", napi_derive::napi(object))]
#[derive(Default, Debug)]
pub struct SchemaSpec {
    /// The route's parameter names in path order (Rust matches values by position).
    pub param_names: Vec<String>,
    pub params: Option<SchemaPartSpec>,
    pub query: Option<SchemaPartSpec>,
    pub headers: Option<SchemaPartSpec>,
    /// The body's JSON Schema; bodies are always JSON, so nothing is coerced.
    pub body: Option<String>,
    /// No ordinary middleware runs before the route: Rust answers a failing request itself.
    pub native: bool,
}

/// One string-valued part (params, query, headers): its JSON Schema text and coercion plan.
#[cfg_attr(feature = "addon", napi_derive::napi(object))]
#[derive(Default, Debug)]
pub struct SchemaPartSpec {
    pub schema: String,
    pub coerce: Vec<CoerceSpec>,
}

/// One field to coerce: its name, the scalar types its schema allows in order, and whether it is
/// an array of them.
#[cfg_attr(feature = "addon", napi_derive::napi(object))]
#[derive(Default, Debug)]
pub struct CoerceSpec {
    pub name: String,
    pub types: Vec<String>,
    pub array: bool,
}

impl SchemaSpec {
    /// The compiled schemas; `Err` names the part and what is wrong with it.
    pub fn compile(&self, streams_body: bool) -> Result<RouteSchema, String> {
        if streams_body && self.body.is_some() {
            return Err("schema.body cannot check a streamed body ({ body: 'stream' })".into());
        }
        RouteSchema::new(
            self.param_names.clone(),
            part(&self.params)?,
            part(&self.query)?,
            part(&self.headers)?,
            self.body.as_deref(),
            self.native,
        )
    }
}

fn part(spec: &Option<SchemaPartSpec>) -> Result<Option<PartSpec<'_>>, String> {
    let Some(p) = spec else {
        return Ok(None);
    };
    let coerce = p.coerce.iter().map(field).collect::<Result<_, _>>()?;
    Ok(Some(PartSpec {
        schema: p.schema.as_str(),
        coerce,
    }))
}

fn field(spec: &CoerceSpec) -> Result<Field, String> {
    let types = spec
        .types
        .iter()
        .map(|t| Scalar::from_name(t).ok_or_else(|| format!("cannot coerce to type {t:?}")))
        .collect::<Result<_, _>>()?;
    Ok(Field {
        name: spec.name.clone(),
        types,
        array: spec.array,
    })
}
