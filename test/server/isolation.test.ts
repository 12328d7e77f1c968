import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let aliceKey: string;
let bobKey: string;
let adminKey: string;
let aliceMemoryId: string;
const SECRET = 'Alice hides the spare key under the blue flowerpot';

async function call(path: string, key: string | null, init: RequestInit & { user?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  if (key) headers.set('authorization', `Bearer ${key}`);
  if (init.user) headers.set('x-user-id', init.user);
  const response = await fetch(`${server.url}${path}`, { ...init, headers });
  const text = await response.text();
  return { status: response.status, text };
}

beforeAll(async () => {
  server = await startTestServer({ embeddings: 'test', auth: 'keys' });
  aliceKey = await server.createKey({ userId: 'alice' });
  bobKey = await server.createKey({ userId: 'bob' });
  adminKey = await server.createKey({ admin: true });
  const added = await call('/v1/memories', aliceKey, {
    method: 'POST',
    body: JSON.stringify({ content: SECRET, category: 'secrets' }),
  });
  expect(added.status).toBe(201);
  aliceMemoryId = JSON.parse(added.text).memory.id;
});
afterAll(async () => {
  await server?.close();
});

describe('tenant isolation over REST', () => {
  it('requires a valid key', async () => {
    expect((await call('/v1/memories', null)).status).toBe(401);
    expect((await call('/v1/memories', 'engram_not-a-real-key')).status).toBe(401);
    const bad = await call('/v1/memories', 'engram_not-a-real-key');
    expect(JSON.parse(bad.text).error.code).toBe('unauthorized');
  });

  it("never shows Alice's memory to Bob's key, by any route", async () => {
    const attempts = [
      call(`/v1/memories/${aliceMemoryId}`, bobKey),
      call(`/v1/memories/${aliceMemoryId}/history`, bobKey),
      call(`/v1/memories/${aliceMemoryId}`, bobKey, { method: 'PATCH', body: JSON.stringify({ content: 'hijacked' }) }),
      call(`/v1/memories/${aliceMemoryId}`, bobKey, { method: 'DELETE' }),
    ];
    for (const result of await Promise.all(attempts)) {
      expect(result.status).toBe(404);
      expect(result.text).not.toContain('flowerpot');
    }
    const reads = await Promise.all([
      call('/v1/memories', bobKey),
      call('/v1/search', bobKey, { method: 'POST', body: JSON.stringify({ query: 'spare key flowerpot' }) }),
      call('/v1/search', bobKey, {
        method: 'POST',
        body: JSON.stringify({ query: 'spare key flowerpot', mode: 'keyword' }),
      }),
      call('/v1/categories', bobKey),
      call('/v1/export', bobKey),
    ]);
    for (const result of reads) {
      expect(result.status).toBe(200);
      expect(result.text).not.toContain('flowerpot');
      expect(result.text).not.toContain(aliceMemoryId);
      expect(result.text).not.toContain('secrets');
    }
  });

  it('refuses a user-bound key that asks for another user', async () => {
    const viaHeader = await call('/v1/memories', bobKey, { user: 'alice' });
    expect(viaHeader.status).toBe(403);
    expect(viaHeader.text).not.toContain('flowerpot');
    const purge = await call('/v1/users/alice', bobKey, { method: 'DELETE' });
    expect(purge.status).toBe(403);
    const stillThere = await call(`/v1/memories/${aliceMemoryId}`, aliceKey);
    expect(JSON.parse(stillThere.text).content).toBe(SECRET);
  });

  it('lets an admin key act for a user chosen by X-User-ID', async () => {
    const asAlice = await call(`/v1/memories/${aliceMemoryId}`, adminKey, { user: 'alice' });
    expect(asAlice.status).toBe(200);
    const asBob = await call(`/v1/memories/${aliceMemoryId}`, adminKey, { user: 'bob' });
    expect(asBob.status).toBe(404);
  });

  it('stops accepting a revoked key', async () => {
    const temp = await server.createKey({ userId: 'carol' });
    expect((await call('/v1/memories', temp)).status).toBe(200);
    const id = server.deps.keys.list().find((k) => k.userId === 'carol')?.id as string;
    await server.deps.keys.revoke(id);
    expect((await call('/v1/memories', temp)).status).toBe(401);
  });
});
