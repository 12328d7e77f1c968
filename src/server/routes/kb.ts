import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { EngramError } from '../../core/errors.js';
import { categorySchema, LIMITS, tagSchema } from '../../core/schemas.js';
import type { KnowledgeBase } from '../../kb/index.js';
import { kbHitSchema, noteSchema, noteSummarySchema } from '../../kb/schemas.js';
import type { AppEnv, ServerDeps } from '../request-context.js';
import { errorResponses, json } from './shared.js';

export const newNoteSchema = z.strictObject({
  body: z
    .string()
    .min(1)
    .max(LIMITS.contentChars * 10),
  title: z.string().max(120).optional(),
  category: categorySchema.optional(),
  tags: z.array(tagSchema).max(LIMITS.tags).optional(),
  /** An origin identifier: sending the same one again returns the first note instead of a copy. */
  sourceId: z.string().min(1).max(200).optional(),
  /** What made it, for the frontmatter (default: the interface it arrived through). */
  source: z.enum(['telegram', 'api', 'mcp', 'cli']).optional(),
  /** When it was written (a forwarded message's date; it names the file): default now. */
  createdAt: z.iso
    .datetime({ offset: true })
    .transform((value) => new Date(value).toISOString())
    .optional(),
});
/** An edit: the fields to change, at least one; the rest keep their values. */
export const noteChangeSchema = z
  .strictObject({
    body: newNoteSchema.shape.body.optional(),
    /** Empty: the body's first line, as for a new note. */
    title: z.string().max(120).optional(),
    category: categorySchema.optional(),
    tags: z.array(tagSchema).max(LIMITS.tags).optional(),
  })
  .refine((value) => Object.keys(value).length > 0, 'give at least one field to change');
const pathQuery = z.object({ path: z.string().min(1).max(512) });
const writtenSchema = z.object({ note: noteSchema, commit: z.string().nullable(), memoryIds: z.array(z.string()) });
const statusSchema = z.object({
  enabled: z.boolean().openapi({ description: 'ENGRAM_KB_ENABLED' }),
  available: z.boolean().openapi({ description: 'the knowledge base is open: its routes answer' }),
  reason: z.string().nullable().openapi({ description: 'why it is not available' }),
});

/** Why there is no knowledge base, or null when there is one. */
function whyUnavailable(deps: ServerDeps): string | null {
  if (deps.kb) return null;
  return deps.config.kb.enabled
    ? 'the knowledge base could not be opened (is `git` installed?); see the server log'
    : 'the knowledge base is turned off (ENGRAM_KB_ENABLED=false)';
}

/** The knowledge base or a 503 saying why there is none. */
export function requireKb(deps: ServerDeps): KnowledgeBase {
  if (!deps.kb) throw new EngramError('unavailable', whyUnavailable(deps) as string);
  return deps.kb;
}

export function kbRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/kb/status',
      summary: 'Whether the server has a knowledge base, and why not (so a client can say so instead of failing)',
      tags: ['knowledge base'],
      responses: { 200: json(statusSchema, 'the status'), ...errorResponses },
    }),
    (c) => {
      const reason = whyUnavailable(deps);
      return c.json({ enabled: deps.config.kb.enabled, available: reason === null, reason }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/kb/notes',
      summary: "List the caller's knowledge-base notes, newest first",
      tags: ['knowledge base'],
      request: { query: z.object({ category: z.string().max(64).optional() }) },
      responses: { 200: json(z.object({ items: z.array(noteSummarySchema) }), 'the notes'), ...errorResponses },
    }),
    (c) => c.json({ items: requireKb(deps).list(c.get('caller').userId, c.req.valid('query')) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/kb/notes',
      summary: 'Write a note: committed to the git repository and indexed as memories',
      tags: ['knowledge base'],
      request: { body: { required: true, ...json(newNoteSchema, 'the note') } },
      responses: {
        201: json(writtenSchema, 'written'),
        200: json(writtenSchema, 'a note with this sourceId existed; nothing written'),
        ...errorResponses,
      },
    }),
    async (c) => {
      const caller = c.get('caller');
      const { source, ...input } = c.req.valid('json');
      const { created, ...result } = await requireKb(deps).create(caller.userId, {
        ...input,
        source: source ?? caller.actor.source,
      });
      return c.json(result, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/kb/note',
      summary: 'Read one note (frontmatter fields and markdown body)',
      tags: ['knowledge base'],
      request: { query: pathQuery },
      responses: { 200: json(noteSchema, 'the note'), ...errorResponses },
    }),
    async (c) => c.json(await requireKb(deps).read(c.get('caller').userId, c.req.valid('query').path), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/kb/note',
      summary: 'Edit one note in place (same path): committed and indexed afresh',
      tags: ['knowledge base'],
      request: { query: pathQuery, body: { required: true, ...json(noteChangeSchema, 'the fields to change') } },
      responses: { 200: json(writtenSchema, 'written (commit null: nothing changed)'), ...errorResponses },
    }),
    async (c) => {
      const { path } = c.req.valid('query');
      return c.json(await requireKb(deps).update(c.get('caller').userId, path, c.req.valid('json')), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/kb/note',
      summary: 'Delete one note: the file (committed) and the memories indexing it',
      tags: ['knowledge base'],
      request: { query: pathQuery },
      responses: { 200: json(z.object({ deleted: z.string() }), 'deleted'), ...errorResponses },
    }),
    async (c) => {
      const { path } = c.req.valid('query');
      await requireKb(deps).delete(c.get('caller').userId, path);
      return c.json({ deleted: path }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/kb/search',
      summary: "Search the caller's notes (hybrid memory search over their sections)",
      tags: ['knowledge base'],
      request: {
        body: {
          required: true,
          ...json(
            z.strictObject({
              query: z.string().min(1).max(LIMITS.queryChars),
              limit: z.number().int().min(1).max(50).default(5),
            }),
            'the query',
          ),
        },
      },
      responses: { 200: json(z.object({ results: z.array(kbHitSchema) }), 'matching sections'), ...errorResponses },
    }),
    async (c) => {
      const { query, limit } = c.req.valid('json');
      return c.json({ results: await requireKb(deps).search(c.get('caller').userId, query, limit) }, 200);
    },
  );
}
