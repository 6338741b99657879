// Handlers typed from route schemas (index.d.ts `SchemaRequest`): JSON Schemas written inline (no
// `as const` needed) and Standard Schemas (zod, valibot, arktype). Only type-checked, by
// types.test.js: every line must compile, every `@ts-expect-error` line must not.
import { createApp } from 'http-native';
import type { InferSchema, SchemaRequest } from 'http-native';
import { z } from 'zod';
import * as v from 'valibot';
import { type } from 'arktype';

const app = createApp();

app.get(
  '/items/:id',
  {
    schema: {
      params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
      query: {
        type: 'object',
        properties: {
          limit: { type: 'integer' },
          sort: { enum: ['asc', 'desc'] },
          tags: { type: 'array', items: { type: 'string' } },
          exact: { type: ['boolean', 'null'] },
        },
        required: ['limit'],
      },
      headers: { type: 'object', properties: { 'X-Count': { type: 'integer' } }, required: ['X-Count'] },
    },
  },
  (req, res) => {
    const id: number = req.params.id;
    const limit: number = req.query.limit;
    const sort: 'asc' | 'desc' | undefined = req.query.sort;
    const tags: string[] | undefined = req.query.tags;
    const exact: boolean | null | undefined = req.query.exact;
    const count: number = req.headers['x-count'];
    // @ts-expect-error: limit is a number, not a string
    const wrong: string = req.query.limit;
    // @ts-expect-error: an optional property may be undefined
    const sure: string[] = req.query.tags;
    res.json({ id, limit, sort, tags, exact, count, wrong, sure, path: req.path });
  },
);

app.post(
  '/users',
  { bodyLimit: 1024, schema: { body: z.object({ name: z.string(), age: z.number().int().default(0) }) } },
  async (req, res) => {
    const name: string = req.body.name;
    const age: number = req.body.age;
    // @ts-expect-error: zod's output has no such field
    req.body.email;
    res.status(201).json({ name, age });
  },
);

app.put('/v/:id', { schema: { body: v.object({ email: v.string() }), params: type({ id: 'string' }) } }, (req, res) => {
  const email: string = req.body.email;
  const id: string = req.params.id;
  res.json({ email, id });
});

// Routes without a schema keep the untyped request.
app.get('/plain', (req, res) => {
  const q: string | string[] | undefined = req.query.x;
  res.json({ q, body: req.body });
});

type Point = InferSchema<{
  type: 'object';
  properties: { x: { type: 'number' }; y: { type: 'number' }; label: { const: 'p' } };
  required: ['x', 'y'];
}>;
const p: Point = { x: 1, y: 2 };
const labelled: Point = { x: 1, y: 2, label: 'p' };
// @ts-expect-error: y is required
const partial: Point = { x: 1 };
type ZodReq = SchemaRequest<{ query: z.ZodObject<{ page: z.ZodNumber }> }>;
const page = (req: ZodReq): number => req.query.page;
export { p, labelled, partial, page };
