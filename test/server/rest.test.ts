import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

async function call(path: string, init: RequestInit & { user?: string; key?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  if (init.user) headers.set('x-user-id', init.user);
  if (init.key) headers.set('authorization', `Bearer ${init.key}`);
  const response = await fetch(`${server.url}${path}`, { ...init, headers });
  const text = await response.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (export)
  }
  return { status: response.status, body, headers: response.headers };
}

const post = (path: string, body: unknown, user = 'alice') =>
  call(path, { method: 'POST', body: JSON.stringify(body), user });

beforeAll(async () => {
  server = await startTestServer({ embeddings: 'test' });
});
afterAll(async () => {
  await server?.close();
});

describe('REST /v1 in local mode', () => {
  it('stores a memory once and flags an exact duplicate', async () => {
    const first = await post('/v1/memories', {
      content: 'Alice is allergic to peanuts',
      category: 'health',
      tags: ['food'],
    });
    expect(first.status).toBe(201);
    expect(first.body.duplicate).toBe(false);
    expect(first.body.memory).toMatchObject({ userId: 'alice', category: 'health', tags: ['food'], source: 'api' });
    const again = await post('/v1/memories', { content: '  Alice is allergic   to peanuts ' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, memory: { id: first.body.memory.id } });
  });

  it('adds a batch and finds it by hybrid search with an explanation', async () => {
    const batch = await post('/v1/memories', {
      memories: [
        { content: 'Alice adopted a golden retriever puppy named Biscuit', category: 'pets' },
        { content: 'Alice works as a nurse at the city hospital', category: 'work' },
        { content: 'Alice prefers tea over coffee in the morning', category: 'preferences' },
      ],
    });
    expect(batch.status).toBe(201);
    expect(batch.body.results).toHaveLength(3);
    const search = await post('/v1/search', { query: 'what is the name of her dog?', limit: 3 });
    expect(search.status).toBe(200);
    const top = search.body.results[0];
    expect(top.memory.content).toContain('Biscuit');
    expect(top.explanation.mode).toBe('hybrid');
    expect(top.explanation.vector.rank).toBeGreaterThanOrEqual(1);
    expect(typeof top.score).toBe('number');
    const keyword = await post('/v1/search', { query: 'nurse hospital', mode: 'keyword' });
    expect(keyword.body.results[0].memory.content).toContain('nurse');
    expect(keyword.body.results[0].explanation).toMatchObject({ mode: 'keyword', vector: null });
  });

  it('lifts an answer turn that misses the query words through its session context, and says so', async () => {
    const turns = [
      'Alice: Do you remember the name of the Italian place near the station?',
      'Bob: Trattoria Lucia, we had the truffle pasta there.',
      'Alice: Right! And the weather forecast says rain tomorrow.',
    ];
    const other = { content: 'Bob: My sister moved to Lisbon last spring.', sessionId: 'chat-2' };
    const added = await post('/v1/memories', {
      memories: [...turns.map((content) => ({ content, sessionId: 'chat-1' })), other],
    });
    expect(added.status).toBe(201);
    const answerId = added.body.results[1].memory.id;
    const questionId = added.body.results[0].memory.id;

    const search = await post('/v1/search', { query: 'Italian place near the station', limit: 5 });
    const answer = search.body.results.find((r: { memory: { id: string } }) => r.memory.id === answerId);
    expect(answer.explanation.context.from).toContainEqual({ id: questionId, offset: -1 });
    expect(answer.explanation.context.boost).toBeGreaterThan(0);
    expect(search.body.timings.contextMs).toBeGreaterThanOrEqual(0);

    const without = await post('/v1/search', { query: 'Italian place near the station', mode: 'keyword', limit: 5 });
    expect(without.body.results.map((r: { memory: { id: string } }) => r.memory.id)).not.toContain(answerId);
  });

  it('lists with filters and pages with a cursor', async () => {
    for (let i = 0; i < 5; i++)
      await post('/v1/memories', { content: `list item ${i}`, category: 'paging', tags: [`t${i % 2}`] }, 'lister');
    const page1 = await call('/v1/memories?category=paging&limit=2', { user: 'lister' });
    expect(page1.body.items.map((m: any) => m.content)).toEqual(['list item 4', 'list item 3']);
    const page2 = await call(`/v1/memories?category=paging&limit=2&cursor=${page1.body.nextCursor}`, {
      user: 'lister',
    });
    const page3 = await call(`/v1/memories?category=paging&limit=2&cursor=${page2.body.nextCursor}`, {
      user: 'lister',
    });
    expect(page2.body.items.map((m: any) => m.content)).toEqual(['list item 2', 'list item 1']);
    expect(page3.body.items.map((m: any) => m.content)).toEqual(['list item 0']);
    expect(page3.body.nextCursor).toBeNull();
    const tagged = await call('/v1/memories?tags=t1', { user: 'lister' });
    expect(tagged.body.items.map((m: any) => m.content).sort()).toEqual(['list item 1', 'list item 3']);
    const categories = await call('/v1/categories', { user: 'lister' });
    expect(categories.body.categories).toEqual([{ category: 'paging', count: 5 }]);
  });

  it('counts memories per category and per UTC day in one call (/v1/stats)', async () => {
    // A memory added three days ago, carried in by an import that keeps its createdAt.
    await post('/v1/memories', { content: 'Gus planted tulips by the gate', category: 'garden' }, 'gus');
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const lines = String((await call('/v1/export', { user: 'gus' })).body)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .filter((line) => line.type === 'memory')
      .map((line) => JSON.stringify({ ...line, memory: { ...line.memory, createdAt: threeDaysAgo } }));
    const imported = await call('/v1/import', {
      method: 'POST',
      body: `${lines.join('\n')}\n`,
      user: 'hal',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(imported.body).toMatchObject({ imported: 1, errors: [] });
    await post('/v1/memories', { content: 'Hal fixed the fence', category: 'home' }, 'hal');
    await post('/v1/memories', { content: 'Hal left the shed open', expiresAt: '2001-01-01T00:00:00Z' }, 'hal');

    const stats = await call('/v1/stats?days=5', { user: 'hal' });
    expect(stats.status).toBe(200);
    const day = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().slice(0, 10);
    expect(stats.body).toEqual({
      memories: 2,
      categories: [
        { category: 'garden', count: 1 },
        { category: 'home', count: 1 },
      ],
      addedPerDay: [4, 3, 2, 1, 0].map((n) => ({ day: day(n * 86_400_000), count: n === 3 || n === 0 ? 1 : 0 })),
    });
    // The window only bounds the days; the default is 14.
    const short = await call('/v1/stats?days=1', { user: 'hal' });
    expect(short.body).toMatchObject({ memories: 2, addedPerDay: [{ day: day(0), count: 1 }] });
    expect((await call('/v1/stats', { user: 'hal' })).body.addedPerDay).toHaveLength(14);
    expect((await call('/v1/stats', { user: 'nobody-here' })).body).toMatchObject({ memories: 0, categories: [] });
    for (const days of ['0', '367', 'many'])
      expect((await call(`/v1/stats?days=${days}`, { user: 'hal' })).status).toBe(400);
  });

  it('updates with history, deletes, and keeps the history', async () => {
    const added = await post('/v1/memories', { content: 'Bob lives in Berlin' }, 'bob');
    const id = added.body.memory.id;
    const updated = await call(`/v1/memories/${id}`, {
      method: 'PATCH',
      body: JSON.stringify({ content: 'Bob lives in Munich', tags: ['moved'] }),
      user: 'bob',
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ content: 'Bob lives in Munich', tags: ['moved'] });
    const found = await post('/v1/search', { query: 'Munich', mode: 'keyword' }, 'bob');
    expect(found.body.results.map((r: any) => r.memory.id)).toEqual([id]);
    const deleted = await call(`/v1/memories/${id}`, { method: 'DELETE', user: 'bob' });
    expect(deleted.status).toBe(200);
    expect((await call(`/v1/memories/${id}`, { user: 'bob' })).status).toBe(404);
    const history = await call(`/v1/memories/${id}/history`, { user: 'bob' });
    expect(history.body.history.map((h: any) => h.event)).toEqual(['add', 'update', 'delete']);
    expect(history.body.history[1].before.content).toBe('Bob lives in Berlin');
    expect(history.body.history[1].after.content).toBe('Bob lives in Munich');
    expect((await post('/v1/search', { query: 'Munich', mode: 'keyword' }, 'bob')).body.results).toEqual([]);
  });

  it('a PATCH with the current values changes nothing: same updatedAt, no history entry', async () => {
    const added = await post(
      '/v1/memories',
      { content: 'Hank plays jazz piano', tags: ['music'], metadata: { a: 1, b: 2 } },
      'hank',
    );
    const id = added.body.memory.id;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const same = await call(`/v1/memories/${id}`, {
      method: 'PATCH',
      body: JSON.stringify({
        content: 'Hank plays jazz piano',
        tags: ['music'],
        metadata: { b: 2, a: 1 },
        pinned: false,
      }),
      user: 'hank',
    });
    expect(same.status).toBe(200);
    expect(same.body).toEqual(added.body.memory);
    const history = await call(`/v1/memories/${id}/history`, { user: 'hank' });
    expect(history.body.history.map((h: any) => h.event)).toEqual(['add']);
  });

  it('stores content again when its only copy has expired, instead of pointing at the hidden one', async () => {
    const old = await post('/v1/memories', { content: 'Ivy is in room 12', expiresAt: '2001-01-01T00:00:00Z' }, 'ivy');
    expect(old.status).toBe(201);
    const again = await post('/v1/memories', { content: 'Ivy is in room 12' }, 'ivy');
    expect(again.status).toBe(201);
    expect(again.body.duplicate).toBe(false);
    expect(again.body.memory.id).not.toBe(old.body.memory.id);
    expect((await call(`/v1/memories/${again.body.memory.id}`, { user: 'ivy' })).body.expiresAt).toBeNull();
  });

  it('exports JSONL and imports it into another user without duplicates', async () => {
    await post('/v1/memories', { content: 'Carol plays the cello', metadata: { instrument: 'cello' } }, 'carol');
    await post('/v1/memories', { content: 'Carol runs marathons' }, 'carol');
    const exported = await call('/v1/export', { user: 'carol' });
    expect(exported.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = String(exported.body)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.filter((l) => l.type === 'memory')).toHaveLength(2);
    const body = String(exported.body);
    const imported = await call('/v1/import', {
      method: 'POST',
      body,
      user: 'dave',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(imported.body).toMatchObject({ imported: 2, duplicates: 0, errors: [] });
    const again = await call('/v1/import', {
      method: 'POST',
      body: `${body}not json\n`,
      user: 'dave',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(again.body.imported).toBe(0);
    expect(again.body.duplicates).toBe(2);
    expect(again.body.errors).toHaveLength(1);
    const list = await call('/v1/memories?metadata={"instrument":"cello"}', { user: 'dave' });
    expect(list.body.items.map((m: any) => m.content)).toEqual(['Carol plays the cello']);
    const history = await call(`/v1/memories/${list.body.items[0].id}/history`, { user: 'dave' });
    expect(history.body.history.map((h: any) => [h.event, h.actor, h.reason])).toEqual([
      ['add', 'local (imported by local)', 'imported'],
    ]);
  });

  it('purges one user and nobody else', async () => {
    await post('/v1/memories', { content: 'erin memory one' }, 'erin');
    await post('/v1/memories', { content: 'frank memory one' }, 'frank');
    const purged = await call('/v1/users/erin', { method: 'DELETE', user: 'erin' });
    expect(purged.body).toEqual({ userId: 'erin', purged: 1 });
    expect((await call('/v1/memories', { user: 'erin' })).body.items).toEqual([]);
    expect((await call('/v1/memories', { user: 'frank' })).body.items).toHaveLength(1);
  });

  it('rejects bad input with stable error codes and stores nothing', async () => {
    const before = (await call('/v1/memories?limit=1000', { user: 'grace' })).body.items.length;
    const empty = await post('/v1/memories', { content: '   ' }, 'grace');
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('invalid_request');
    expect(empty.body.error.message).toContain('content');
    const wrongType = await post('/v1/memories', { content: 'x', tags: 'not-an-array' }, 'grace');
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error.message).toContain('tags');
    const batch = await post('/v1/memories', { memories: [{ content: 'fine' }, { content: '' }] }, 'grace');
    expect(batch.status).toBe(400);
    const malformed = await call('/v1/memories', { method: 'POST', body: '{"content": ', user: 'grace' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('invalid_request');
    const badUser = await call('/v1/memories', { user: '../etc' });
    expect(badUser.status).toBe(400);
    const missing = await call('/v1/memories/00000000-0000-7000-8000-000000000000', { user: 'grace' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect((await call('/v1/nope')).status).toBe(404);
    const after = (await call('/v1/memories?limit=1000', { user: 'grace' })).body.items.length;
    expect(after).toBe(before);
  });

  it('refuses web origins of other hosts while no keys are configured (DNS rebinding)', async () => {
    const foreign = await call('/v1/memories', { user: 'alice', headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('forbidden');
    const local = await call('/v1/memories', { user: 'alice', headers: { origin: 'http://localhost:3000' } });
    expect(local.status).toBe(200);
  });

  it('serves health, readiness, metrics and an OpenAPI document', async () => {
    expect((await call('/health')).body).toEqual({ status: 'ok' });
    const ready = await call('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.embedder.ok).toBe(true);
    const metrics = await call('/metrics');
    expect(metrics.body).toContain('engram_http_request_duration_seconds_bucket');
    expect(metrics.body).toContain('engram_store_memories');
    expect(metrics.body).toMatch(/engram_memories_added_total\{source="api"\} [1-9]/);
    expect(metrics.body).toMatch(/engram_memories_duplicate_total [1-9]/);
    expect(metrics.body).toMatch(/engram_search_duration_seconds_count\{mode="hybrid"\} [1-9]/);
    const doc = await call('/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/memories',
        '/v1/memories/{id}',
        '/v1/memories/{id}/history',
        '/v1/search',
        '/v1/categories',
        '/v1/users/{id}',
        '/v1/export',
        '/v1/import',
      ]),
    );
    expect(
      doc.body.paths['/v1/search'].post.requestBody.content['application/json'].schema.properties.query,
    ).toBeDefined();
  });
});
