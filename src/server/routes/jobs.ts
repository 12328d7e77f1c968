import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { jobViewSchema } from '../../jobs/index.js';
import type { AppEnv, ServerDeps } from '../request-context.js';
import { errorResponses } from './shared.js';

const idParam = z.object({
  id: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: 'id', in: 'path' } }),
});

export function jobRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  const { jobs } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/jobs/{id}',
      summary: "A background job's status, and its result once it succeeded (another user's job is 404)",
      tags: ['jobs'],
      request: { params: idParam },
      responses: {
        200: { content: { 'application/json': { schema: jobViewSchema } }, description: 'the job' },
        ...errorResponses,
      },
    }),
    async (c) => c.json(await jobs.get(c.get('caller').userId, c.req.valid('param').id), 200),
  );
}
