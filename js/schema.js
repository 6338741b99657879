'use strict';
// The route option `schema: { params, query, headers, body }`: each part a JSON Schema or a
// Standard Schema (zod, valibot, arktype: anything with '~standard'). Checked once at
// registration (`routeSchema`), compiled at listen() (`compileSchema`) into what each side runs:
//
// - Every JSON Schema, and the JSON Schema a Standard Schema exposes (`~standard.jsonSchema`),
//   goes to Rust (src/validate/), which checks requests before JS runs: a failing request costs no
//   JS when no middleware runs before the route, else Rust hands its answer to JS in the envelope
//   and the step below sends it once that middleware ran.
// - The step (`schemaStep`), the first thing of the route's chain, coerces params/query/headers
//   as Rust did (the handler sees what Rust checked), and runs the Standard Schemas, which stay
//   authoritative (a refinement or a transform has no JSON Schema): their output replaces the
//   part, and their issues get the same 400 answer Rust gives.
//
// Params, query and headers are strings on the wire: a field whose JSON Schema declares integer,
// number, boolean or null (or an array of them) is coerced to it first, as Fastify does. Which
// fields, and to what, is decided here once (`coercionPlan`) and applied by both sides.
const { HN_ERR_SCHEMA } = require('./errors');
const { mediaType } = require('./body');

const PARTS = ['params', 'query', 'headers', 'body'];
const SCALARS = new Set(['string', 'integer', 'number', 'boolean', 'null']);
// The JSON Schema dialect asked of Standard Schemas; src/validate/ reads every draft from 4 on.
const JSON_SCHEMA_TARGET = 'draft-2020-12';
// At most this many issues in an answer (src/validate/issues.rs MAX_ISSUES, for the same reasons).
const MAX_ISSUES = 10;
// The messages src/validate/ gives for a body a JSON body schema cannot read.
const BODY_REQUIRED = 'a JSON body is required';
const BODY_NOT_JSON = 'the body is not valid JSON';
const UNSUPPORTED_TYPE = 'the body must be application/json';
const JSON_TYPE = 'application/json; charset=utf-8';
// A number as JSON writes one: the grammar src/validate/coerce.rs accepts, nothing looser.
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

// The `schema` route option, checked at registration: `{ part: { json?, standard? } }`.
function routeSchema(option, where) {
  if (typeof option !== 'object' || option === null || Array.isArray(option)) {
    throw new HN_ERR_SCHEMA(`${where}: "schema" must be an object of { params, query, headers, body }`);
  }
  const parts = {};
  for (const [part, value] of Object.entries(option)) {
    if (!PARTS.includes(part)) {
      throw new HN_ERR_SCHEMA(`${where}: unknown schema part "${part}" (known: ${PARTS.join(', ')})`);
    }
    if (value === undefined) continue;
    parts[part] = schemaPart(value, `${where} schema.${part}`);
  }
  return parts;
}

function schemaPart(value, where) {
  const standard = value !== null && (typeof value === 'object' || typeof value === 'function') ? value['~standard'] : undefined;
  if (standard !== undefined) {
    if (typeof standard !== 'object' || standard === null || typeof standard.validate !== 'function') {
      throw new HN_ERR_SCHEMA(`${where}: '~standard' without a validate() function is not a Standard Schema`);
    }
    return { standard, json: exposedJsonSchema(value, standard) };
  }
  if (typeof value === 'boolean') return { standard: null, json: value };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HN_ERR_SCHEMA(`${where}: expected a JSON Schema object or a Standard Schema (zod, valibot, arktype), got ${typeof value}`);
  }
  try {
    JSON.stringify(value);
  } catch (err) {
    throw new HN_ERR_SCHEMA(`${where}: a JSON Schema must be JSON: ${err.message}`, { cause: err });
  }
  return { standard: null, json: value };
}

// The JSON Schema of what a Standard Schema accepts (Standard JSON Schema: zod 4.2+, arktype;
// zod 4's own toJSONSchema() before that), or undefined when it has none or cannot say (a zod
// date, a custom type): JS alone checks it then.
function exposedJsonSchema(schema, standard) {
  const converter = standard.jsonSchema;
  let convert;
  if (converter !== undefined && converter !== null && typeof converter.input === 'function') {
    convert = () => converter.input({ target: JSON_SCHEMA_TARGET });
  } else if (standard.vendor === 'zod' && typeof schema.toJSONSchema === 'function') {
    convert = () => schema.toJSONSchema({ io: 'input', target: JSON_SCHEMA_TARGET });
  } else {
    return undefined;
  }
  try {
    const json = convert();
    return typeof json === 'object' && json !== null ? withoutFormats(json) : undefined;
  } catch {
    return undefined;
  }
}

// Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
const SUBSCHEMA = ['items', 'not', 'if', 'then', 'else', 'additionalProperties', 'contains', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties', 'additionalItems'];
const SUBSCHEMA_LIST = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items'];
const SUBSCHEMA_MAP = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];

// A Standard Schema's JSON Schema without `format`: Rust asserts formats, and its idea of an email
// or a date-time need not be the library's, which checks its own in JS. Rust may only ever refuse
// less than the library would.
function withoutFormats(schema) {
  if (!isObject(schema)) return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'format') continue;
    if (SUBSCHEMA_MAP.includes(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, withoutFormats(sub)]));
    } else if (SUBSCHEMA_LIST.includes(key) && Array.isArray(value)) {
      out[key] = value.map(withoutFormats);
    } else if (SUBSCHEMA.includes(key)) {
      out[key] = withoutFormats(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

// At listen(): the spec Rust compiles (src/validate/spec.rs), or null when no part has a JSON
// Schema, and the step the route's chain starts with. `native`: no ordinary middleware runs before
// the route, so Rust answers failing requests itself.
function compileSchema(parts, paramNames, native) {
  const spec = { paramNames, native };
  let toRust = false;
  const plans = {};
  const standard = [];
  for (const part of PARTS) {
    const p = parts[part];
    if (p === undefined) continue;
    if (p.standard !== null) standard.push([part, p.standard]);
    if (p.json === undefined) continue;
    toRust = true;
    if (part === 'body') {
      spec.body = JSON.stringify(p.json);
      continue;
    }
    const json = part === 'headers' ? lowerCaseNames(p.json) : p.json;
    const plan = coercionPlan(json);
    if (plan.length > 0) plans[part] = plan;
    spec[part] = { schema: JSON.stringify(json), coerce: plan };
  }
  // A body checked only here (a Standard Schema with no JSON Schema) must be JSON, as Rust
  // requires of the body it checks.
  const bodyInJs = parts.body !== undefined && parts.body.json === undefined;
  return { spec: toRust ? spec : null, step: schemaStep(plans, standard, bodyInJs, toRust && !native) };
}

// Header names arrive lower-cased: so are a headers schema's property names (Fastify's rule).
function lowerCaseNames(schema) {
  if (typeof schema !== 'object' || schema === null) return schema;
  const out = { ...schema };
  if (isObject(schema.properties)) {
    out.properties = {};
    for (const [name, sub] of Object.entries(schema.properties)) out.properties[name.toLowerCase()] = sub;
  }
  if (Array.isArray(schema.required)) out.required = schema.required.map((n) => (typeof n === 'string' ? n.toLowerCase() : n));
  return out;
}

// Which top-level properties to coerce, and to what: [{ name, types, array }] for each property
// whose schema declares scalar types other than string (or an array of them), looking through
// anyOf/oneOf (zod's optional and nullable).
function coercionPlan(schema) {
  const plan = [];
  if (!isObject(schema) || !isObject(schema.properties)) return plan;
  for (const [name, sub] of Object.entries(schema.properties)) {
    const types = declaredTypes(sub);
    let field = null;
    if (types.includes('array')) {
      const items = isObject(sub) ? sub.items : undefined;
      field = { name, types: declaredTypes(items).filter((t) => SCALARS.has(t)), array: true };
    } else {
      const scalars = types.filter((t) => SCALARS.has(t));
      if (scalars.length > 0 && !scalars.includes('string')) field = { name, types: scalars, array: false };
    }
    if (field !== null) plan.push(field);
  }
  return plan;
}

function declaredTypes(schema) {
  if (!isObject(schema)) return [];
  const types = [];
  if (typeof schema.type === 'string') types.push(schema.type);
  else if (Array.isArray(schema.type)) types.push(...schema.type.filter((t) => typeof t === 'string'));
  for (const branch of [...asArray(schema.anyOf), ...asArray(schema.oneOf)]) {
    for (const t of declaredTypes(branch)) if (!types.includes(t)) types.push(t);
  }
  return types;
}

// The plan applied to one string (src/validate/coerce.rs `scalar`, the same rules): the first
// declared type the text reads as, else the text unchanged for the schema to refuse.
function coerceScalar(text, types) {
  if (types.length === 0 || types.includes('string')) return text;
  for (const t of types) {
    if ((t === 'integer' || t === 'number') && JSON_NUMBER.test(text)) {
      const n = Number(text);
      if (t === 'number' || Number.isInteger(n)) return n;
    } else if (t === 'boolean' && (text === 'true' || text === 'false')) {
      return text === 'true';
    } else if (t === 'null' && text === '') {
      return null;
    }
  }
  return text;
}

// The plan applied to a part's object, in place (Fastify coerces in place too).
function coerceObject(object, plan) {
  for (const { name, types, array } of plan) {
    if (!Object.hasOwn(object, name)) continue;
    const value = object[name];
    const one = (v) => (typeof v === 'string' ? coerceScalar(v, types) : v);
    if (Array.isArray(value)) object[name] = value.map(one);
    else object[name] = array ? [one(value)] : one(value);
  }
}

// The first function of a route with a schema. Its place in the chain is the route boundary.
// `verdicts`: Rust may have handed over its answer (middleware runs before the route).
function schemaStep(plans, standard, bodyInJs, verdicts) {
  const planned = Object.entries(plans);
  return function schema(req, res, next) {
    const verdict = verdicts ? rustVerdict(req) : null;
    if (verdict !== null) {
      res.status(verdict.status).set('content-type', JSON_TYPE).send(verdict.body);
      return undefined;
    }
    for (const [part, plan] of planned) coerceObject(req[part], plan);
    if (standard.length === 0) {
      next();
      return undefined;
    }
    const issues = [];
    if (bodyInJs) {
      const status = bodyIssue(req, issues);
      if (status === 415) {
        answer(res, 415, 'Unsupported Media Type', [{ in: 'body', path: '', message: UNSUPPORTED_TYPE }]);
        return undefined;
      }
    }
    const results = [];
    let pending = false;
    for (const [part, schema] of standard) {
      if (part === 'body' && issues.length > 0) continue;
      const result = schema.validate(req[part]);
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') pending = true;
      results.push([part, result]);
    }
    const finish = () => {
      const outputs = [];
      for (const [part, result] of results) {
        if (result.issues !== undefined) {
          for (const issue of result.issues) issues.push({ in: part, path: pointer(issue.path), message: String(issue.message) });
        } else {
          outputs.push([part, result.value]);
        }
      }
      if (issues.length > 0) {
        answer(res, 400, 'Bad Request', issues.slice(0, MAX_ISSUES));
        return;
      }
      for (const [part, value] of outputs) {
        // Unlisted headers stay: middleware and npm code read them.
        if (part === 'headers') Object.assign(req.headers, value);
        else req[part] = value;
      }
      next();
    };
    if (!pending) {
      finish();
      return undefined;
    }
    // A throw in finish() (a setter) or a rejected validate() takes the error path.
    return Promise.all(results.map(([, r]) => r)).then((settled) => {
      for (let i = 0; i < settled.length; i++) results[i][1] = settled[i];
      finish();
    });
  };
}

// The body a Standard Schema without a JSON Schema checks must be JSON, as Rust requires: 415
// for another media type, an issue for none or one that does not parse.
function bodyIssue(req, issues) {
  const hasBody = req._bodyStart !== req._bodyEnd;
  const type = mediaType(req._firstHeader('content-type'));
  const json = type === 'application/json' || type.endsWith('+json');
  if (hasBody && !json) return 415;
  if (!hasBody) {
    issues.push({ in: 'body', path: '', message: BODY_REQUIRED });
    return 400;
  }
  try {
    void req.body;
  } catch (err) {
    issues.push({ in: 'body', path: '', message: `${BODY_NOT_JSON}: ${(err.cause || err).message}` });
    return 400;
  }
  return 0;
}

// Rust's answer for a request that failed a JSON Schema, when middleware had to run first: u32
// status then the JSON body, between the params and the headers (docs/bridge.md, "Schema
// verdict"); null when there is none.
function rustVerdict(req) {
  const buf = req._buf;
  const start = req._start;
  let pos = req._bodyEnd;
  for (let i = buf[start + 7]; i > 0; i--) pos += 4 + buf.readUInt32LE(pos);
  const headers = start + buf.readUInt32LE(start + 32);
  if (pos === headers) return null;
  return { status: buf.readUInt32LE(pos), body: buf.subarray(pos + 4, headers) };
}

// Spelled as src/validate/issues.rs spells it: JSON.stringify, keys in this order.
function answer(res, status, error, issues) {
  res.status(status).set('content-type', JSON_TYPE).send(JSON.stringify({ error, issues }));
}

// A Standard Schema issue's path as a JSON Pointer (RFC 6901), as Rust's issues give it.
function pointer(path) {
  if (path === undefined || path.length === 0) return '';
  let out = '';
  for (const segment of path) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    out += `/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;
  }
  return out;
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asArray(value) {
  return Array.isArray(value) ? value : [];
}

module.exports = { routeSchema, compileSchema };
