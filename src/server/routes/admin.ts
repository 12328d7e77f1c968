/**
 * Admin routes (admin keys, or local mode): the store's users, and key management — list,
 * create (the key is returned once), revoke.
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { KeyRecord } from '../../auth/key-store.js';
import { EngramError } from '../../core/errors.js';
import { isAdmin } from '../auth.js';
import type { AppEnv, Caller, ServerDeps } from '../request-context.js';
import { errorResponses, json } from './shared.js';

const keyViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  admin: z.boolean(),
  userId: z.string().nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
/** A key as clients see it: never its hash. */
const view = ({ hash: _hash, ...rest }: KeyRecord): z.infer<typeof keyViewSchema> => rest;

const createKeySchema = z
  .strictObject({
    name: z.string().min(1).max(100).optional(),
    admin: z.boolean().optional(),
    userId: z.string().min(1).max(128).optional(),
  })
  .refine((value) => (value.admin === true) !== (value.userId !== undefined), {
    message: 'give exactly one of admin: true or userId',
  });

function requireAdmin(caller: Caller): void {
  if (!isAdmin(caller)) throw new EngramError('forbidden', 'key management needs an admin key');
}

const userSummarySchema = z.object({
  userId: z.string(),
  memories: z.number().int(),
  lastAddedAt: z.string().openapi({ description: 'when their newest memory was added' }),
});

export function adminRoutes(app: OpenAPIHono<AppEnv>, deps: ServerDeps): void {
  const { keys } = deps;
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/admin/users',
      summary: 'List every user with at least one memory (admin), by id, with their memory count',
      tags: ['admin'],
      responses: { 200: json(z.object({ users: z.array(userSummarySchema) }), 'every user'), ...errorResponses },
    }),
    async (c) => {
      requireAdmin(c.get('caller'));
      return c.json({ users: await deps.service.store.users() }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/admin/keys',
      summary: 'List API keys (admin), revoked ones included; never the secrets',
      tags: ['admin'],
      responses: { 200: json(z.object({ keys: z.array(keyViewSchema) }), 'every key'), ...errorResponses },
    }),
    (c) => {
      requireAdmin(c.get('caller'));
      return c.json({ keys: keys.list().map(view) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/admin/keys',
      summary: 'Create an API key (admin): an admin key, or one bound to a user; the key is in this response only',
      tags: ['admin'],
      request: { body: { required: true, ...json(createKeySchema, 'the key to create') } },
      responses: {
        201: json(z.object({ key: z.string(), record: keyViewSchema }), 'the new key, shown once'),
        ...errorResponses,
      },
    }),
    async (c) => {
      requireAdmin(c.get('caller'));
      const created = await keys.create(c.req.valid('json'));
      c.header('Cache-Control', 'no-store');
      return c.json({ key: created.key, record: view(created.record) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/admin/keys/{id}',
      summary: 'Revoke an API key (admin); it stops working at the next request, on every replica',
      tags: ['admin'],
      request: {
        params: z.object({
          id: z
            .string()
            .max(64)
            .openapi({ param: { name: 'id', in: 'path' } }),
        }),
      },
      responses: { 200: json(z.object({ revoked: keyViewSchema }), 'the key, revoked'), ...errorResponses },
    }),
    async (c) => {
      requireAdmin(c.get('caller'));
      return c.json({ revoked: view(await keys.revoke(c.req.valid('param').id)) }, 200);
    },
  );
}
