import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/client/engram-client.js';
import { EngramError, errorFromResponse } from '../../src/core/errors.js';
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The HTTP client (what the bot and CLI use against a remote server) rebuilds the server's error:
 * the same code, message and details as a local call would throw, and the delay the server asked
 * for — not every 4xx as `invalid_request`.
 */
let fake: FakeEmbeddings;
let server: TestServer;

beforeAll(async () => {
  fake = await startFakeEmbeddings();
  server = await startTestServer({
    auth: 'keys',
    config: {
      embedder: 'openai',
      openai: { baseUrl: fake.baseUrl, model: 'client', dimension: 32 },
      limits: { userMaxMemories: 1, rateLimitPerMinute: 4 },
    },
  });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const failure = async (work: Promise<unknown>): Promise<EngramError> => {
  const error = await work.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EngramError);
  return error as EngramError;
};

describe('HttpClient errors', () => {
  it('a per-user limit comes back as quota_exceeded naming the limit', async () => {
    const client = new HttpClient(server.url, await server.createKey({ admin: true }));
    await client.remember('alice', 'the first fact');
    const error = await failure(client.remember('alice', 'one fact too many'));
    expect(error.code).toBe('quota_exceeded');
    expect(error.details).toMatchObject({ limit: 'limits.userMaxMemories' });
  });

  it('a wrong key comes back as unauthorized', async () => {
    const error = await failure(new HttpClient(server.url, 'egm_not_a_key').search('alice', 'fact', 5));
    expect(error.code).toBe('unauthorized');
  });

  it('a key bound to another user comes back as forbidden, not invalid_request', async () => {
    const client = new HttpClient(server.url, await server.createKey({ userId: 'alice' }));
    const error = await failure(client.search('carol', 'fact', 5));
    expect(error.code).toBe('forbidden');
  });

  it('the rate limit comes back as rate_limited with the delay the server asked for', async () => {
    const client = new HttpClient(server.url, await server.createKey({ admin: true }));
    let error: EngramError | null = null;
    for (let i = 0; i < 10 && error === null; i++) {
      error = await client.search('bob', `question ${i}`, 5).then(
        () => null,
        (caught: unknown) => caught as EngramError,
      );
    }
    expect(error?.code).toBe('rate_limited');
    expect(error?.details?.retryAfterSeconds).toBeGreaterThan(0);
  });
});

describe('errorFromResponse', () => {
  it('keeps the body’s code, message and details when they fit the status', () => {
    const body = JSON.stringify({ error: { code: 'payload_too_large', message: 'too big', details: { limit: 'X' } } });
    const error = errorFromResponse(413, body);
    expect([error.code, error.message, error.details]).toEqual(['payload_too_large', 'too big', { limit: 'X' }]);
  });

  it('falls back to the status when the body is not Engram’s (a proxy page) or names another status’s code', () => {
    expect(errorFromResponse(502, '<html>Bad Gateway</html>').code).toBe('unavailable');
    expect(errorFromResponse(502, JSON.stringify({ error: { code: 'llm_output_invalid', message: 'x' } })).code).toBe(
      'llm_output_invalid',
    );
    expect(errorFromResponse(504, '<html>Gateway Timeout</html>', '7')).toMatchObject({
      code: 'unavailable',
      details: { retryAfterSeconds: 7 },
    });
    expect(errorFromResponse(403, JSON.stringify({ error: { code: 'not_found', message: 'x' } })).code).toBe(
      'forbidden',
    );
    expect(errorFromResponse(418, '').code).toBe('invalid_request');
  });
});
