import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Per-user limits (ENGRAM_USER_MAX_MEMORIES, ENGRAM_USER_MAX_BYTES) on a real server: one user
 * reaching theirs is refused with 429 `quota_exceeded` naming the limit, stores nothing of the
 * refused write, and leaves every other user alone. The model is a fast OpenAI-compatible stand-in.
 */
let fake: FakeEmbeddings;
let server: TestServer;
let alice: string;
let bob: string;

beforeAll(async () => {
  fake = await startFakeEmbeddings();
  server = await startTestServer({
    auth: 'keys',
    config: {
      embedder: 'openai',
      openai: { baseUrl: fake.baseUrl, model: 'limits', dimension: 32 },
      limits: { userMaxMemories: 5, userMaxBytes: 300 },
    },
  });
  alice = await server.createKey({ userId: 'alice' });
  bob = await server.createKey({ userId: 'bob' });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

async function call(key: string, method: string, path: string, body?: unknown) {
  const response = await fetch(new URL(path, server.url), {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const count = async (key: string) => (await call(key, 'GET', '/v1/memories?limit=100')).body.items.length as number;

describe('per-user limits', () => {
  it('refuses the memory past ENGRAM_USER_MAX_MEMORIES with 429 quota_exceeded, atomically, for that user only', async () => {
    for (let i = 0; i < 4; i++)
      expect((await call(alice, 'POST', '/v1/memories', { content: `fact ${i}` })).status).toBe(201);
    // A batch that would cross the limit stores nothing of itself.
    const batch = await call(alice, 'POST', '/v1/memories', {
      memories: [{ content: 'fact 4' }, { content: 'fact 5' }],
    });
    expect(batch.status).toBe(429);
    expect(batch.body.error.code).toBe('quota_exceeded');
    expect(batch.body.error.message).toMatch(/ENGRAM_USER_MAX_MEMORIES/);
    expect(batch.body.error.details).toMatchObject({ limit: 'limits.userMaxMemories', max: 5, current: 4 });
    expect(await count(alice)).toBe(4);
    expect((await call(alice, 'POST', '/v1/memories', { content: 'fact 4' })).status).toBe(201);
    expect((await call(alice, 'POST', '/v1/memories', { content: 'fact 5' })).status).toBe(429);
    // The same content again is still a duplicate, not a refusal: nothing new would be stored.
    expect((await call(alice, 'POST', '/v1/memories', { content: 'fact 4' })).body.duplicate).toBe(true);
    // Bob is not affected.
    expect((await call(bob, 'POST', '/v1/memories', { content: 'bob fact' })).status).toBe(201);

    // Deleting makes room again.
    const first = (await call(alice, 'GET', '/v1/memories?limit=100')).body.items[0].id as string;
    expect((await call(alice, 'DELETE', `/v1/memories/${first}`)).status).toBe(200);
    expect((await call(alice, 'POST', '/v1/memories', { content: 'fact 6' })).status).toBe(201);
  });

  it('refuses content past ENGRAM_USER_MAX_BYTES, on add and on an update that grows it', async () => {
    const big = 'x'.repeat(200);
    const added = await call(bob, 'POST', '/v1/memories', { content: big });
    expect(added.status).toBe(201);
    const over = await call(bob, 'POST', '/v1/memories', { content: 'y'.repeat(101) });
    expect(over.status).toBe(429);
    expect(over.body.error.message).toMatch(/ENGRAM_USER_MAX_BYTES/);
    const grown = await call(bob, 'PATCH', `/v1/memories/${added.body.memory.id}`, { content: 'z'.repeat(301) });
    expect(grown.status).toBe(429);
    expect((await call(bob, 'GET', `/v1/memories/${added.body.memory.id}`)).body.content).toBe(big);
    // Shrinking is always allowed.
    expect((await call(bob, 'PATCH', `/v1/memories/${added.body.memory.id}`, { content: 'short' })).status).toBe(200);
  });

  it('refuses a knowledge-base note that would cross a limit, leaving no note behind', async () => {
    const carol = await server.createKey({ userId: 'carol' });
    const body = Array.from({ length: 6 }, (_, i) => `## Part ${i}\ntext ${i}`).join('\n');
    const note = await call(carol, 'POST', '/v1/kb/notes', { title: 'Six parts', body });
    expect(note.status).toBe(429);
    expect(note.body.error.code).toBe('quota_exceeded');
    expect((await call(carol, 'GET', '/v1/kb/notes')).body.items).toEqual([]);
    expect(await count(carol)).toBe(0);
  });
});
