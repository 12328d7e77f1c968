import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('/v1/admin/keys', () => {
  let server: TestServer;
  let adminKey: string;
  let aliceKey: string;
  const call = (key: string, method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    server = await startTestServer({ embeddings: 'test', auth: 'keys' });
    adminKey = await server.createKey({ admin: true });
    aliceKey = await server.createKey({ userId: 'alice' });
  });
  afterAll(() => server.close());

  it('refuses user keys', async () => {
    for (const [method, path] of [
      ['GET', '/v1/admin/keys'],
      ['GET', '/v1/admin/users'],
      ['POST', '/v1/admin/keys'],
      ['DELETE', '/v1/admin/keys/x'],
    ] as const) {
      const response = await call(aliceKey, method, path, method === 'POST' ? { userId: 'alice' } : undefined);
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
  });

  it('lists every user with memories, with counts, to an admin key only', async () => {
    await call(aliceKey, 'POST', '/v1/memories', {
      memories: [{ content: 'Alice rows on Sundays' }, { content: 'Alice owns a red bike' }],
    });
    const daveKey = await server.createKey({ userId: 'dave' });
    await call(daveKey, 'POST', '/v1/memories', { content: 'Dave collects stamps' });
    const response = await call(adminKey, 'GET', '/v1/admin/users');
    expect(response.status).toBe(200);
    const { users } = (await response.json()) as { users: { userId: string; memories: number; lastAddedAt: string }[] };
    const byId = new Map(users.map((user) => [user.userId, user]));
    expect(byId.get('alice')?.memories).toBe(2);
    expect(byId.get('dave')?.memories).toBe(1);
    expect(Date.parse(byId.get('dave')?.lastAddedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(users.map((user) => user.userId)).toEqual([...users.map((user) => user.userId)].sort());
  });

  it('creates a key shown once, lists keys without secrets, and revokes', async () => {
    const created = await call(adminKey, 'POST', '/v1/admin/keys', { userId: 'carol', name: 'carol laptop' });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const { key, record } = (await created.json()) as { key: string; record: { id: string; userId: string } };
    expect(key).toMatch(/^engram_/);
    expect(record).toMatchObject({ userId: 'carol', name: 'carol laptop', admin: false, revokedAt: null });

    // The new key works, and only for carol.
    expect((await call(key, 'POST', '/v1/memories', { content: 'Carol owns a kayak' })).status).toBe(201);
    const listed = (await (await call(key, 'GET', '/v1/memories')).json()) as { items: { userId: string }[] };
    expect(listed.items.map((m) => m.userId)).toEqual(['carol']);

    const keys = await (await call(adminKey, 'GET', '/v1/admin/keys')).text();
    expect(keys).toContain('carol laptop');
    expect(keys).not.toContain(key);
    expect(keys).not.toMatch(/"hash"/);

    const revoked = await call(adminKey, 'DELETE', `/v1/admin/keys/${record.id}`);
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revoked: { revokedAt: string | null } }).revoked.revokedAt).not.toBeNull();
    expect((await call(key, 'GET', '/v1/memories')).status).toBe(401);
    expect((await call(adminKey, 'DELETE', `/v1/admin/keys/${record.id}`)).status).toBe(404);
  });

  it('rejects a request that is neither admin nor bound to a user, or both', async () => {
    for (const body of [{}, { admin: true, userId: 'dave' }, { userId: '../etc' }]) {
      const response = await call(adminKey, 'POST', '/v1/admin/keys', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
  });
});
