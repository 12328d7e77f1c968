import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { memorySchema, searchSchema } from '../../core/schemas.js';
import type { AppEnv, ServerDeps } from '../request-context.js';
import { errorResponses, filterFromQuery, filterQuerySchema, json } from './shared.js';

const explanationSchema = z
  .object({
    mode: z.enum(['hybrid', 'vector', 'keyword']),
    keyword: z
      .object({
        rank: z.number(),
        score: z.number(),
        coverage: z
          .number()
          .optional()
          .openapi({ description: 'share of the query (idf-weighted) the memory covers; SQLite store' }),
      })
      .nullable(),
    vector: z.object({ rank: z.number(), similarity: z.number() }).nullable(),
    fusion: z
      .object({ method: z.literal('rrf'), k: z.number(), keywordWeight: z.number(), vectorWeight: z.number() })
      .nullable(),
    context: z
      .object({
        boost: z.number().openapi({ description: 'score lent by matching neighbours in the same session' }),
        from: z
          .array(z.object({ id: z.string(), offset: z.number() }))
          .openapi({ description: 'some lenders; offset -1 = the memory just before this one' }),
      })
      .nullable(),
    recency: z
      .object({
        factor: z.number().openapi({ description: 'the score was multiplied by this' }),
        ageDays: z.number().openapi({ description: 'age by eventAt, else createdAt' }),
      })
      .optional()
      .openapi({ description: 'recency decay, when turned on (ENGRAM_SEARCH_RECENCY_HALF_LIFE_DAYS)' }),
    relevance: z
      .object({
        similarity: z
          .number()
          .nullable()
          .openapi({ description: 'cosine similarity to the query; null in keyword mode' }),
        minRelevance: z.number().openapi({ description: 'the threshold in force' }),
      })
      .optional(),
  })
  .openapi('SearchExplanation');

const searchResponseSchema = z.object({
  results: z.array(
    z.object({
      memory: memorySchema,
      score: z.number(),
      relevant: z
        .boolean()
        .openapi({ description: 'similar enough to the query (minRelevance); keyword mode: always' }),
      explanation: explanationSchema,
    }),
  ),
  timings: z.object({
    embedMs: z.number(),
    keywordMs: z.number(),
    vectorMs: z.number(),
    contextMs: z.number(),
    totalMs: z.number(),
  }),
});

export function searchRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  const { service } = deps;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/search',
      summary: 'Search memories (hybrid keyword + vector by default); each result explains its rank',
      tags: ['search'],
      request: { body: { required: true, content: { 'application/json': { schema: searchSchema } } } },
      responses: {
        200: { content: { 'application/json': { schema: searchResponseSchema } }, description: 'results, best first' },
        ...errorResponses,
      },
    }),
    async (c) => {
      return c.json(await service.search(c.get('caller').userId, c.req.valid('json')), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/categories',
      summary: 'Categories in use, with counts',
      tags: ['search'],
      request: { query: filterQuerySchema.omit({ category: true }) },
      responses: {
        200: {
          content: {
            'application/json': {
              schema: z.object({ categories: z.array(z.object({ category: z.string(), count: z.number() })) }),
            },
          },
          description: 'categories sorted by name',
        },
        ...errorResponses,
      },
    }),
    async (c) =>
      c.json(
        { categories: await service.categories(c.get('caller').userId, filterFromQuery(c.req.valid('query'))) },
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/stats',
      summary: 'The caller’s memories at a glance: how many, per category, and added per UTC day',
      tags: ['search'],
      request: {
        query: z.object({
          days: z.coerce
            .number()
            .int()
            .min(1)
            .max(366)
            .optional()
            .openapi({ description: 'days of adds to count, today included (default 14)' }),
        }),
      },
      responses: {
        200: json(
          z.object({
            memories: z.number(),
            categories: z.array(z.object({ category: z.string(), count: z.number() })),
            addedPerDay: z.array(z.object({ day: z.string().openapi({ example: '2026-12-03' }), count: z.number() })),
          }),
          'counts of the memories that are neither expired nor superseded',
        ),
        ...errorResponses,
      },
    }),
    async (c) => c.json(await service.stats(c.get('caller').userId, c.req.valid('query').days ?? 14), 200),
  );
}
