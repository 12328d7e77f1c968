import { afterEach, describe, expect, it } from 'vitest';
import { EngramError } from '../../src/core/errors.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${(server as TestServer).url}${path}`, { headers: { 'x-user-id': 'alice', ...headers } });

describe('auth mode auto on loopback', () => {
  it('requires keys once one was created, and stays locked after the last key is revoked', async () => {
    server = await startTestServer({ embeddings: 'test', auth: 'auto' });
    expect((await get('/v1/memories')).status).toBe(200);
    const key = await server.createKey({ userId: 'alice' });
    expect((await get('/v1/memories')).status).toBe(401);
    expect((await get('/v1/memories', { authorization: `Bearer ${key}` })).status).toBe(200);
    for (const record of server.deps.keys.list()) await server.deps.keys.revoke(record.id);
    expect((await get('/v1/memories')).status).toBe(401);
    expect((await get('/v1/memories', { authorization: `Bearer ${key}` })).status).toBe(401);
  });
});

describe('GET /v1/me', () => {
  it('says whom each kind of caller acts for, and whether it may administer', async () => {
    server = await startTestServer({ embeddings: 'test', auth: 'auto' });
    const me = async (headers: Record<string, string> = {}) => {
      const response = await get('/v1/me', headers);
      return { status: response.status, body: await response.json() };
    };
    // Local mode (no key created yet): X-User-ID picks the user, and the caller may administer.
    expect(await me()).toEqual({
      status: 200,
      body: { userId: 'alice', admin: true, boundToUser: false, key: null },
    });
    const userKey = await server.createKey({ userId: 'bob' });
    const adminKey = await server.createKey({ admin: true });
    const [bobRecord, adminRecord] = server.deps.keys.list();
    // A user-bound key is its user, and nobody else.
    expect(await me({ authorization: `Bearer ${userKey}`, 'x-user-id': 'bob' })).toEqual({
      status: 200,
      body: { userId: 'bob', admin: false, boundToUser: true, key: { id: bobRecord?.id, name: bobRecord?.name } },
    });
    expect((await me({ authorization: `Bearer ${userKey}` })).status).toBe(403);
    expect(await me({ authorization: `Bearer ${adminKey}`, 'x-user-id': 'carol' })).toEqual({
      status: 200,
      body: { userId: 'carol', admin: true, boundToUser: false, key: { id: adminRecord?.id, name: adminRecord?.name } },
    });
    // Once keys exist, no key is no caller.
    expect((await me()).status).toBe(401);
  });
});

describe('rate limits', () => {
  it('counts one key as one client however the header is spelled, and unknown tokens by address', async () => {
    server = await startTestServer({ embeddings: 'test', auth: 'keys', config: { limits: { rateLimitPerMinute: 3 } } });
    const key = await server.createKey({ userId: 'alice' });
    const spellings = [`Bearer ${key}`, `bearer  ${key}`, `BEARER ${key} `, `Bearer\t${key}`];
    const statuses = [];
    for (const authorization of spellings) statuses.push((await get('/v1/memories', { authorization })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const bogus = [];
    for (let i = 0; i < 4; i++)
      bogus.push((await get('/v1/memories', { authorization: `Bearer engram_fake${i}` })).status);
    expect(bogus).toEqual([401, 401, 401, 429]);
  });
});

describe('errors and readiness', () => {
  it('hides the text of internal errors (it may name paths) and keeps the stable code', async () => {
    server = await startTestServer({ embeddings: 'test' });
    server.deps.service.store.list = async () => {
      throw new EngramError('internal', 'cannot parse /srv/secret/data/memory/user_bob/memories.json');
    };
    const response = await get('/v1/memories');
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text).error.code).toBe('internal');
    expect(text).not.toContain('/srv/secret');
    expect(text).not.toContain('user_bob');
  });

  it('reports not ready when the embedder fails, even with a warm cache', async () => {
    server = await startTestServer({ embeddings: 'test' });
    await server.deps.service.search('alice', { query: 'readiness probe' });
    server.deps.service.embedder.embed = async () => {
      throw new EngramError('unavailable', 'model worker died');
    };
    const response = await fetch(`${server.url}/ready`);
    expect(response.status).toBe(503);
    expect(((await response.json()) as { checks: { embedder: { ok: boolean } } }).checks.embedder.ok).toBe(false);
  });

  it('aborts an export that fails mid-stream instead of ending a short file with 200', async () => {
    server = await startTestServer({ embeddings: 'test' });
    const actor = { name: 'test', source: 'api' } as const;
    // Export reads history 200 memories at a time: the second read fails, after the first 200 went out.
    const contents = Array.from({ length: 250 }, (_, i) => ({ content: `memory number ${i}` }));
    await server.deps.service.addMany('alice', contents, actor);
    const historyMany = server.deps.service.store.historyMany.bind(server.deps.service.store);
    let calls = 0;
    server.deps.service.store.historyMany = async (userId, ids) => {
      if (++calls === 2) throw new Error('disk read failed');
      return historyMany(userId, ids);
    };
    const response = await get('/v1/export');
    await expect(response.text()).rejects.toThrow();
  });
});
