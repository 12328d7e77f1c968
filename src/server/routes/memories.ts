import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import {
  addMemorySchema,
  decisionSchema,
  deletedMemorySchema,
  historyEntrySchema,
  LIMITS,
  listSchema,
  memorySchema,
  parseInput,
  updateMemorySchema,
} from '../../core/schemas.js';
import { jobViewSchema } from '../../jobs/index.js';
import type { AppEnv, ServerDeps } from '../request-context.js';
import { asyncQuery, errorResponses, filterFromQuery, filterQuerySchema, json } from './shared.js';

const addResultSchema = z.object({
  memory: memorySchema,
  duplicate: z.boolean(),
  merged: z.boolean(),
  decisions: z.array(decisionSchema).optional().openapi({ description: 'with an LLM: what happened to each fact' }),
});
const batchSchema = z.strictObject({ memories: z.array(addMemorySchema).min(1).max(LIMITS.batch) });
const page = <S extends z.ZodType>(item: S) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
/** Cursor paging of a list route: `?limit=&cursor=`. */
const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(LIMITS.pageSize).optional(),
  cursor: z.string().max(512).optional(),
});
const idParam = z.object({
  id: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: 'id', in: 'path' } }),
});

export function memoryRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  const { service, jobs } = deps;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memories',
      summary:
        'Add one memory, or a batch of up to 1,000 as {"memories": [...]}; with ?async=true, as a background job',
      tags: ['memories'],
      request: {
        query: asyncQuery,
        body: { required: true, ...json(z.union([batchSchema, addMemorySchema]), 'a memory or a batch') },
      },
      responses: {
        201: json(z.union([addResultSchema, z.object({ results: z.array(addResultSchema) })]), 'stored'),
        200: json(z.union([addResultSchema, z.object({ results: z.array(addResultSchema) })]), 'all duplicates'),
        202: {
          ...json(z.object({ job: jobViewSchema }), 'accepted as a job (`GET` the Location header for its outcome)'),
          headers: z.object({ Location: z.string().openapi({ description: '/v1/jobs/{id}' }) }),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const caller = c.get('caller');
      const body = c.req.valid('json');
      const batch = 'memories' in body;
      if (c.req.valid('query').async === 'true') {
        const memories = batch ? body.memories : [body];
        const job = await jobs.enqueue('add', caller.userId, { memories, single: !batch }, caller.actor);
        c.header('Location', `/v1/jobs/${job.id}`);
        return c.json({ job }, 202);
      }
      const results = await service.addMany(caller.userId, batch ? body.memories : [body], caller.actor);
      const status = results.some((result) => !result.duplicate) ? 201 : 200;
      return batch ? c.json({ results }, status) : c.json(results[0] as z.infer<typeof addResultSchema>, status);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/memories',
      summary: 'List memories, newest first, with filters and cursor paging',
      tags: ['memories'],
      request: {
        query: filterQuerySchema.extend(pageQuery.shape),
      },
      responses: {
        200: json(page(memorySchema), 'one page'),
        ...errorResponses,
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const input = parseInput(listSchema, {
        limit: query.limit,
        cursor: query.cursor,
        filter: filterFromQuery(query),
      });
      return c.json(await service.list(c.get('caller').userId, input), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/memories/{id}',
      summary: 'Get one memory',
      tags: ['memories'],
      request: { params: idParam },
      responses: { 200: json(memorySchema, 'the memory'), ...errorResponses },
    }),
    async (c) => c.json(await service.get(c.get('caller').userId, c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/memories/{id}',
      summary: 'Change a memory (recorded in its history; new content is re-embedded)',
      tags: ['memories'],
      request: { params: idParam, body: { required: true, ...json(updateMemorySchema, 'fields to change') } },
      responses: { 200: json(memorySchema, 'the memory after the change'), ...errorResponses },
    }),
    async (c) => {
      const caller = c.get('caller');
      return c.json(
        await service.update(caller.userId, c.req.valid('param').id, c.req.valid('json'), caller.actor),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/memories/{id}',
      summary: 'Delete a memory (its history is kept)',
      tags: ['memories'],
      request: { params: idParam },
      responses: { 200: json(z.object({ deleted: memorySchema }), 'the memory as it was'), ...errorResponses },
    }),
    async (c) => {
      const caller = c.get('caller');
      return c.json({ deleted: await service.delete(caller.userId, c.req.valid('param').id, caller.actor) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/memories/{id}/history',
      summary: "A memory's change log, oldest first",
      tags: ['memories'],
      request: { params: idParam },
      responses: {
        200: json(z.object({ history: z.array(historyEntrySchema) }), 'history entries'),
        ...errorResponses,
      },
    }),
    async (c) => c.json({ history: await service.history(c.get('caller').userId, c.req.valid('param').id) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memories/{id}/restore',
      summary: 'Restore a deleted memory as it was before its deletion (same id; a `restore` history entry)',
      tags: ['memories'],
      request: { params: idParam },
      responses: { 200: json(memorySchema, 'the memory, back'), ...errorResponses },
    }),
    async (c) => {
      const caller = c.get('caller');
      return c.json(await service.restore(caller.userId, c.req.valid('param').id, caller.actor), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memories/{id}/forget',
      summary: 'Erase a memory for good, current or deleted: it, its vector and its history (it cannot be restored)',
      tags: ['memories'],
      request: { params: idParam },
      responses: { 200: json(z.object({ forgotten: z.string() }), 'the id of the memory erased'), ...errorResponses },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      await service.forget(c.get('caller').userId, id);
      return c.json({ forgotten: id }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/deleted-memories',
      summary: 'Deleted memories that can be restored, most recently deleted first, with cursor paging',
      tags: ['memories'],
      request: {
        query: pageQuery,
      },
      responses: {
        200: json(page(deletedMemorySchema), 'one page'),
        ...errorResponses,
      },
    }),
    async (c) => c.json(await service.deleted(c.get('caller').userId, c.req.valid('query')), 200),
  );
}
