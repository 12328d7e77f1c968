import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ config: { limits: { maxBodyBytes: 4_096, rateLimitPerMinute: 8 } } });
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

describe('request limits', () => {
  it('answers 413 with a stable code for a body over the limit, and stores nothing', async () => {
    const response = await add('x'.repeat(10_000));
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
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
