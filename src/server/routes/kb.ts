import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { EngramError } from '../../core/errors.js';
import { categorySchema, LIMITS, tagSchema } from '../../core/schemas.js';
import type { KnowledgeBase } from '../../kb/index.js';
import { kbHitSchema, noteSchema, noteSummarySchema } from '../../kb/schemas.js';
import type { AppEnv, ServerDeps } from '../context.js';
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
const pathQuery = z.object({ path: z.string().min(1).max(512) });

/** The knowledge base or a 503 saying why there is none. */
export function requireKb(deps: ServerDeps): KnowledgeBase {
  if (!deps.kb) {
    throw new EngramError(
      'unavailable',
      deps.config.kb.enabled
        ? 'the knowledge base could not be opened (is `git` installed?); see the server log'
        : 'the knowledge base is turned off (ENGRAM_KB_ENABLED=false)',
    );
  }
  return deps.kb;
}

export function kbRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
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
        201: json(
          z.object({ note: noteSchema, commit: z.string().nullable(), memoryIds: z.array(z.string()) }),
          'written',
        ),
        200: json(
          z.object({ note: noteSchema, commit: z.string().nullable(), memoryIds: z.array(z.string()) }),
          'a note with this sourceId existed; nothing written',
        ),
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
