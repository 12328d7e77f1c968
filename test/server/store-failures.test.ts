import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A store that cannot serve is answered honestly: 503 `unavailable` with `Retry-After` (not 500),
 * without freezing the event loop, and `/ready` says so until the store can write again.
 * Real SQLite throughout: another connection holds the write lock, or damages the full-text index.
 */
let fake: FakeEmbeddings | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  await fake?.close();
  server = undefined;
  fake = undefined;
});

async function start(): Promise<TestServer> {
  fake = await startFakeEmbeddings();
  server = await startTestServer({
    // A short lock wait: the behaviour under test is the same at 1 s as at the default 5 s.
    config: {
      embedder: 'openai',
      openai: { baseUrl: fake.baseUrl, model: 'failures', dimension: 32 },
      sqlite: { busyTimeoutMs: 1_000 },
    },
  });
  return server;
}

const add = (s: TestServer, content: string) =>
  fetch(new URL('/v1/memories', s.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content }),
  });

async function readyStatus(s: TestServer): Promise<number> {
  const response = await fetch(new URL('/ready', s.url));
  await response.text();
  return response.status;
}

/** Polls /ready (cached for 2 s) until it answers `status`, for up to 15 s. */
async function readyBecomes(s: TestServer, status: number): Promise<number> {
  const end = Date.now() + 15_000;
  let last = await readyStatus(s);
  while (last !== status && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    last = await readyStatus(s);
  }
  return last;
}

describe('a store that cannot serve', () => {
  it('answers a write behind another process’s lock with 503 and Retry-After, keeps the event loop free, and turns /ready', async () => {
    const s = await start();
    expect((await add(s, 'before the lock')).status).toBe(201);
    expect(await readyBecomes(s, 200)).toBe(200);

    const other = new Database(join(s.dataDir, 'engram.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      const order: string[] = [];
      const write = add(s, 'behind the lock').then((response) => {
        order.push('write');
        return response;
      });
      // While the write waits for the lock, the server still answers.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const health = await fetch(new URL('/health', s.url));
      order.push('health');
      expect(health.status).toBe(200);
      const refused = await write;
      expect(order).toEqual(['health', 'write']);
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unavailable');
      expect(await readyBecomes(s, 503)).toBe(503);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await readyBecomes(s, 200)).toBe(200);
    expect((await add(s, 'after the lock')).status).toBe(201);
  }, 60_000);

  it('answers a search on a damaged full-text index with 503 and Retry-After, not 500', async () => {
    const s = await start();
    for (let i = 0; i < 60; i++) expect((await add(s, `the garden shed holds rake number ${i}`)).status).toBe(201);
    const other = new Database(join(s.dataDir, 'engram.db'));
    other.unsafeMode(true); // lets this connection write the index's own tables
    other.exec("UPDATE memories_fts_data SET block = x'0000000000' WHERE id > 10");
    other.close();
    const response = await fetch(new URL('/v1/search', s.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'garden rake', mode: 'keyword' }),
    });
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unavailable');
  }, 60_000);
});
