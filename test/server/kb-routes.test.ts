import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The knowledge base over REST, with user-bound keys: notes stay with their owner. */
let server: TestServer;
let alice: string;
let bob: string;

const call = (key: string, method: string, path: string, body?: unknown) =>
  fetch(new URL(path, server.url), {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });

beforeAll(async () => {
  server = await startTestServer({ embeddings: 'test', auth: 'keys' });
  alice = await server.createKey({ userId: 'alice' });
  bob = await server.createKey({ userId: 'bob' });
}, 60_000);
afterAll(async () => {
  await server?.close();
});

describe('/v1/kb', () => {
  it('writes, lists, reads, searches and deletes a note, for its owner only', async () => {
    const created = await call(alice, 'POST', '/v1/kb/notes', {
      body: '# Bike\n\n## Maintenance\nChain oiled every 300 km.\n\n## Lock\nThe code is on the fridge.',
      category: 'bike',
      tags: ['cycling'],
      sourceId: 'client-1',
    });
    expect(created.status).toBe(201);
    const { note, commit, memoryIds } = (await created.json()) as {
      note: { path: string; owner: string; source: string };
      commit: string;
      memoryIds: string[];
    };
    expect(note).toMatchObject({ owner: 'alice', source: 'api' });
    expect(note.path).toMatch(/^topics\/bike\/\d{4}-\d{2}-\d{2}-bike\.md$/);
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(memoryIds).toHaveLength(2);

    const retried = await call(alice, 'POST', '/v1/kb/notes', { body: 'anything', sourceId: 'client-1' });
    expect(retried.status).toBe(200);
    expect(((await retried.json()) as { note: { path: string } }).note.path).toBe(note.path);

    const list = (await (await call(alice, 'GET', '/v1/kb/notes?category=bike')).json()) as {
      items: { path: string }[];
    };
    expect(list.items.map((item) => item.path)).toEqual([note.path]);
    const read = (await (await call(alice, 'GET', `/v1/kb/note?path=${encodeURIComponent(note.path)}`)).json()) as {
      body: string;
    };
    expect(read.body).toContain('Chain oiled every 300 km.');
    const search = (await (
      await call(alice, 'POST', '/v1/kb/search', { query: 'how often to oil the chain' })
    ).json()) as {
      results: { heading: string }[];
    };
    expect(search.results[0]?.heading).toBe('Bike › Maintenance');
    const kbMemories = (await (await call(alice, 'GET', '/v1/memories?source=kb')).json()) as { items: unknown[] };
    expect(kbMemories.items).toHaveLength(2);

    // Bob's key: nothing of Alice's, through any route.
    expect(((await (await call(bob, 'GET', '/v1/kb/notes')).json()) as { items: unknown[] }).items).toEqual([]);
    expect((await call(bob, 'GET', `/v1/kb/note?path=${encodeURIComponent(note.path)}`)).status).toBe(404);
    expect((await call(bob, 'DELETE', `/v1/kb/note?path=${encodeURIComponent(note.path)}`)).status).toBe(404);
    const bobSearch = (await (await call(bob, 'POST', '/v1/kb/search', { query: 'chain oil' })).json()) as {
      results: unknown[];
    };
    expect(bobSearch.results).toEqual([]);

    const deleted = await call(alice, 'DELETE', `/v1/kb/note?path=${encodeURIComponent(note.path)}`);
    expect(deleted.status).toBe(200);
    expect((await call(alice, 'GET', `/v1/kb/note?path=${encodeURIComponent(note.path)}`)).status).toBe(404);
    expect(((await (await call(alice, 'GET', '/v1/memories?source=kb')).json()) as { items: unknown[] }).items).toEqual(
      [],
    );
  }, 30_000);

  it("refuses to delete or forget one section of a note (409 naming the note); the note's own delete still drops them", async () => {
    const created = (await (
      await call(alice, 'POST', '/v1/kb/notes', {
        body: '# Boat\n\n## Mooring\nBerth 14 on the east pontoon.\n\n## Engine\nOil changed in April.',
        category: 'boat',
      })
    ).json()) as { note: { path: string }; memoryIds: string[] };
    const { path } = created.note;
    const [section] = created.memoryIds as [string];
    const encoded = encodeURIComponent(section);

    for (const [method, route] of [
      ['DELETE', `/v1/memories/${encoded}`],
      ['POST', `/v1/memories/${encoded}/forget`],
    ] as const) {
      const refused = await call(alice, method, route);
      expect(refused.status).toBe(409);
      const { error } = (await refused.json()) as { error: { code: string; message: string; details: unknown } };
      expect(error.code).toBe('conflict');
      expect(error.details).toEqual({ notePath: path });
      expect(error.message).toContain(path);
    }
    // Nothing went: the section is still there and found.
    expect((await call(alice, 'GET', `/v1/memories/${encoded}`)).status).toBe(200);
    const search = (await (await call(alice, 'POST', '/v1/kb/search', { query: 'which berth' })).json()) as {
      results: { memoryId: string }[];
    };
    expect(search.results.map((hit) => hit.memoryId)).toContain(section);
    // Another user's id stays not found, not a conflict that would reveal the note.
    expect((await call(bob, 'DELETE', `/v1/memories/${encoded}`)).status).toBe(404);

    // Deleting the note drops all its sections.
    expect((await call(alice, 'DELETE', `/v1/kb/note?path=${encodeURIComponent(path)}`)).status).toBe(200);
    for (const id of created.memoryIds) {
      expect((await call(alice, 'GET', `/v1/memories/${encodeURIComponent(id)}`)).status).toBe(404);
    }
  }, 30_000);

  it('edits a note in place for its owner only, and refuses an empty or invalid edit', async () => {
    const created = (await (
      await call(alice, 'POST', '/v1/kb/notes', { title: 'Car', body: 'Tyres changed in October.', category: 'car' })
    ).json()) as { note: { path: string } };
    const at = `/v1/kb/note?path=${encodeURIComponent(created.note.path)}`;

    const edited = await call(alice, 'PATCH', at, { body: 'Tyres changed in November.', tags: ['winter'] });
    expect(edited.status).toBe(200);
    const written = (await edited.json()) as {
      note: { path: string; title: string; tags: string[]; body: string };
      commit: string;
      memoryIds: string[];
    };
    expect(written.note).toMatchObject({ path: created.note.path, title: 'Car', tags: ['winter'] });
    expect(written.note.body).toBe('Tyres changed in November.');
    expect(written.commit).toMatch(/^[0-9a-f]{40}$/);
    const read = (await (await call(alice, 'GET', at)).json()) as { body: string };
    expect(read.body).toBe('Tyres changed in November.');
    const found = (await (
      await call(alice, 'POST', '/v1/kb/search', { query: 'when were the tyres changed' })
    ).json()) as {
      results: { text: string }[];
    };
    expect(found.results[0]?.text).toBe('Tyres changed in November.');

    expect((await call(bob, 'PATCH', at, { body: 'Bob was here.' })).status).toBe(404);
    for (const body of [{}, { body: '' }, { category: '../escape' }, { owner: 'bob' }]) {
      const refused = await call(alice, 'PATCH', at, body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    expect((await call(alice, 'PATCH', '/v1/kb/note?path=..%2Fkeys.md', { body: 'x' })).status).toBe(400);
    expect(((await (await call(alice, 'GET', at)).json()) as { body: string }).body).toBe('Tyres changed in November.');
  }, 30_000);

  it('says whether the knowledge base is there', async () => {
    const status = await call(alice, 'GET', '/v1/kb/status');
    expect(status.status).toBe(200);
    expect(await status.json()).toEqual({ enabled: true, available: true, reason: null });
  });

  it('rejects paths that could leave the repository with 400, and bad notes with a clear error', async () => {
    for (const path of ['../../keys.json', '/etc/passwd', 'topics/../../../keys.md', 'topics/a/b.txt']) {
      const response = await call(alice, 'GET', `/v1/kb/note?path=${encodeURIComponent(path)}`);
      expect(response.status, path).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    const bad = await call(alice, 'POST', '/v1/kb/notes', { body: 'x', category: '../escape' });
    expect(bad.status).toBe(400);
    const empty = await call(alice, 'POST', '/v1/kb/notes', { body: '   ' });
    expect(empty.status).toBe(400);
  });
});

describe('/v1/kb with the knowledge base turned off', () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer({ embeddings: 'test', config: { kb: { enabled: false } } });
  }, 60_000);
  afterAll(async () => {
    await off?.close();
  });

  it('says it is off and why, while the note routes answer 503', async () => {
    const status = await fetch(new URL('/v1/kb/status', off.url));
    expect(status.status).toBe(200);
    expect(await status.json()).toEqual({
      enabled: false,
      available: false,
      reason: 'the knowledge base is turned off (ENGRAM_KB_ENABLED=false)',
    });
    const notes = await fetch(new URL('/v1/kb/notes', off.url));
    expect(notes.status).toBe(503);
    expect(((await notes.json()) as { error: { code: string } }).error.code).toBe('unavailable');
  });
});
