import type { HttpBindings } from '@hono/node-server';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import { EngramError } from '../../core/errors.js';
import { exportUser, importUser } from '../../core/transfer.js';
import { isAdmin } from '../auth.js';
import type { AppEnv, ServerDeps } from '../request-context.js';
import { errorResponses, json } from './shared.js';

const meSchema = z.object({
  userId: z.string().openapi({ description: 'the user whose memories this request reads and writes' }),
  admin: z.boolean().openapi({ description: 'an admin key, or local mode without keys' }),
  boundToUser: z.boolean().openapi({ description: 'a user-bound key: it always acts as `userId` and nobody else' }),
  key: z
    .object({ id: z.string(), name: z.string() })
    .nullable()
    .openapi({ description: 'the key presented; null in local mode' }),
});

export function userRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  const { service } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/me',
      summary: 'Who the caller is: the user this request acts for, whether it may administer, and which key it used',
      tags: ['users'],
      responses: { 200: json(meSchema, 'the caller'), ...errorResponses },
    }),
    (c) => {
      const caller = c.get('caller');
      const { userId, principal } = caller;
      const record = principal && deps.keys.list().find((key) => key.id === principal.keyId);
      return c.json(
        {
          userId,
          admin: isAdmin(caller),
          boundToUser: principal?.kind === 'user',
          key: record ? { id: record.id, name: record.name } : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/users/{id}',
      summary:
        'Purge a user: every memory, vector and history entry, and their knowledge-base notes (a user key may purge only its own user)',
      tags: ['users'],
      request: {
        params: z.object({
          id: z
            .string()
            .max(128)
            .openapi({ param: { name: 'id', in: 'path' } }),
        }),
      },
      responses: {
        200: {
          content: { 'application/json': { schema: z.object({ userId: z.string(), purged: z.number() }) } },
          description: 'how many memories were removed',
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const caller = c.get('caller');
      const { id } = c.req.valid('param');
      if (caller.principal?.kind === 'user' && caller.principal.userId !== id) {
        throw new EngramError('forbidden', 'this key is bound to another user');
      }
      // Notes first: their files go (one commit), so a restart cannot index them back.
      await deps.kb?.purgeUser(id);
      return c.json({ userId: id, purged: await service.purgeUser(id) }, 200);
    },
  );

  // A streamed body does not fit the typed handler, so the route is registered for the docs separately.
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/v1/export',
    summary: "Export the caller's memories, vectors and history as JSONL",
    tags: ['users'],
    responses: {
      200: { content: { 'application/x-ndjson': { schema: z.string() } }, description: 'one JSON object per line' },
      ...errorResponses,
    },
  });
  app.get('/v1/export', (c) => {
    const { userId } = c.get('caller');
    c.header('Content-Type', 'application/x-ndjson; charset=utf-8');
    c.header('Content-Disposition', `attachment; filename="engram-${userId}.jsonl"`);
    return stream(
      c,
      async (out) => {
        for await (const line of exportUser(service, userId)) await out.write(line);
      },
      async (error, out) => {
        // Headers are gone already: abort the body so the client sees a failed transfer, not a short file.
        deps.logger.error({ err: error, userId }, 'export failed mid-stream');
        out.abort();
        // Cut the connection without the final chunk, so clients see a broken transfer.
        (c.env as Partial<HttpBindings> | undefined)?.outgoing?.destroy();
      },
    );
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/import',
      summary: "Import JSONL (as produced by /v1/export) into the caller's memories; duplicates are skipped",
      tags: ['users'],
      request: { body: { required: true, content: { 'application/x-ndjson': { schema: z.string() } } } },
      responses: {
        200: {
          content: {
            'application/json': {
              schema: z.object({
                imported: z.number(),
                duplicates: z.number(),
                history: z.number(),
                errors: z.array(z.object({ line: z.number(), message: z.string() })),
              }),
            },
          },
          description: 'what was imported; bad lines are listed by number and skipped',
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const caller = c.get('caller');
      const text = await c.req.text();
      return c.json(await importUser(service, caller.userId, text.split('\n'), caller.actor), 200);
    },
  );
}
