import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { decisionSchema, extractSchema } from '../../core/schemas.js';
import { jobViewSchema } from '../../jobs/index.js';
import type { AppEnv, ServerDeps } from '../request-context.js';
import { asyncQuery, errorJson, errorResponses, json } from './shared.js';

const extractResultSchema = z.object({
  decisions: z.array(decisionSchema),
  problem: z
    .object({ stage: z.enum(['extract', 'decide']), kind: z.string(), message: z.string() })
    .nullable()
    .openapi({
      description: '`no_facts` when nothing was worth remembering; `decide` when decisions fell back to add',
    }),
});

export function extractRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  const { service, jobs } = deps;
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/memories/extract',
      summary:
        'Extract the facts worth remembering from a conversation with the LLM and consolidate them (add / update / noop)',
      tags: ['memories'],
      request: { query: asyncQuery, body: { required: true, ...json(extractSchema, 'the conversation') } },
      responses: {
        200: json(extractResultSchema, 'what happened to each fact'),
        202: {
          ...json(z.object({ job: jobViewSchema }), 'accepted as a job (`GET` the Location header for its outcome)'),
          headers: z.object({ Location: z.string().openapi({ description: '/v1/jobs/{id}' }) }),
        },
        ...errorResponses,
        502: errorJson("the LLM's reply was unusable even after repair (`llm_output_invalid`; retrying may help)"),
        503: errorJson('the LLM is unreachable (`unavailable`)'),
      },
    }),
    async (c) => {
      const caller = c.get('caller');
      const body = c.req.valid('json');
      if (c.req.valid('query').async === 'true') {
        const job = await jobs.enqueue('extract', caller.userId, body, caller.actor);
        c.header('Location', `/v1/jobs/${job.id}`);
        return c.json({ job }, 202);
      }
      return c.json(await service.extract(caller.userId, body, caller.actor), 200);
    },
  );
}
