import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    embeddings: 'test',
    config: { limits: { maxBodyBytes: 4_096, rateLimitPerMinute: 8 } },
  });
});
afterAll(async () => {
  await server?.close();
});

const add = (content: string, user = 'limits') =>
  fetch(`${server.url}/v1/memories`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify({ content }),
  });

/** A request sent as given (fetch would normalise the path), on its own connection. */
function raw(path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: hostname, port, path, headers: { 'x-user-id': 'limits' }, agent: false },
      (incoming) => {
        let body = '';
        incoming.on('data', (chunk: Buffer) => {
          body += chunk.toString('utf8');
        });
        incoming.on('end', () =>
          resolve({ status: incoming.statusCode ?? 0, type: incoming.headers['content-type'], body }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('request limits', () => {
  it('answers a request line over 16 KiB with 431 and the JSON envelope (headers_too_large)', async () => {
    const response = await raw(`/v1/memories?category=${'x'.repeat(20_000)}`);
    expect(response.status).toBe(431);
    expect(response.type).toBe('application/json');
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'headers_too_large' } });
  });

  it('answers a path the adapter cannot read (a backslash) with 400 invalid_request, not an empty body', async () => {
    const response = await raw('/v1/memories\\..\\x');
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it('answers 413 with a stable code for a body over the limit, and stores nothing', async () => {
    const response = await add('x'.repeat(10_000));
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('answers 413 payload_too_large for a batch, a query or a content over its size limit, storing nothing', async () => {
    // The default body limit (1 MiB) lets these through to validation.
    const roomy = await startTestServer({ embeddings: 'test' });
    const post = (path: string, body: unknown) =>
      fetch(`${roomy.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'sizes' },
        body: JSON.stringify(body),
      });
    const cases = [
      ['/v1/memories', { memories: Array.from({ length: 1_001 }, () => ({ content: 'a' })) }, /memories/],
      ['/v1/search', { query: 'q'.repeat(4_097) }, /query/],
    ] as const;
    for (const [path, body, field] of cases) {
      const response = await post(path, body);
      expect(response.status, path).toBe(413);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('payload_too_large');
      expect(error.message).toMatch(field);
    }
    // A number over its maximum is still a plain invalid request.
    expect((await post('/v1/search', { query: 'garden', limit: 5_000 })).status).toBe(400);
    const listed = await fetch(`${roomy.url}/v1/memories`, { headers: { 'x-user-id': 'sizes' } });
    expect(((await listed.json()) as { items: unknown[] }).items).toEqual([]);
    await roomy.close();
  });

  it('answers 429 with Retry-After once a client exceeds its rate, and keeps serving health', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 12; i++) {
      const response = await fetch(`${server.url}/v1/memories`, { headers: { 'x-user-id': 'limits' } });
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get('retry-after');
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      } else {
        await response.text();
      }
    }
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe('embedding queue back-pressure', () => {
  let busy: TestServer;
  beforeAll(async () => {
    // Room for one 8-text batch at a time and no waiting: concurrent batches beyond it are refused.
    busy = await startTestServer({
      embeddings: 'test',
      config: { embed: { queueSize: 8, queueWaitMs: 0, cacheSize: 0 } },
    });
  });
  afterAll(async () => {
    await busy?.close();
  });

  it('refuses batches that find the queue full with 503 overloaded and Retry-After, storing nothing of them', async () => {
    const batch = (n: number) =>
      Array.from({ length: 8 }, (_, i) => ({
        content: `request ${n} note ${i}: ${'the garden needs water '.repeat(20)}`,
      }));
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, n) =>
        fetch(`${busy.url}/v1/memories`, {
          method: 'POST',
          // One user per request: a user's own writes are serialised by the service anyway.
          headers: { 'content-type': 'application/json', 'x-user-id': `flood-${n}` },
          body: JSON.stringify({ memories: batch(n) }),
        }),
      ),
    );
    const accepted = responses.filter((r) => r.status === 201);
    const refused = responses.filter((r) => r.status === 503);
    expect(accepted.length + refused.length).toBe(12);
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const response of refused) {
      expect(response.headers.get('retry-after')).toBe('5');
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('overloaded');
    }
    await Promise.all(accepted.map((r) => r.text()));

    for (const [n, response] of responses.entries()) {
      const list = await fetch(`${busy.url}/v1/memories`, { headers: { 'x-user-id': `flood-${n}` } });
      const stored = ((await list.json()) as { items: unknown[] }).items;
      expect(stored).toHaveLength(response.status === 201 ? 8 : 0);
    }

    const metrics = await (await fetch(`${busy.url}/metrics`)).text();
    expect(metrics).toContain(`engram_embed_rejected_total ${refused.length}`);
    expect(metrics).toContain('engram_embed_queue_capacity_texts 8');
    expect(metrics).toMatch(/engram_embed_queue_texts\{state="admitted"\} 0/);
  });
});
