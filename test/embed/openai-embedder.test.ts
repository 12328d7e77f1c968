import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngramError } from '../../src/core/errors.js';
import { normalise } from '../../src/embed/embedder.js';
import { type OpenAiConfigInput, OpenAiEmbedder } from '../../src/embed/openai/index.js';
import { createEmbedder } from '../../src/embed/registry.js';

const KEY = 'sk-test-SECRET-0123456789';
const DIM = 6;

interface Seen {
  authorization: string | undefined;
  model: string;
  input: string[];
}

/** Scripted behaviour for the next requests; when empty the server answers normally. */
type Fault = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

/** Deterministic, deliberately not unit-length vector for a text. */
function vectorFor(text: string): number[] {
  return Array.from({ length: DIM }, (_, i) => ((text.charCodeAt(i % Math.max(text.length, 1)) || 7) % 13) + i + 1);
}

function expectedVector(text: string): Float32Array {
  return normalise(Float32Array.from(vectorFor(text)));
}

/** A local server that speaks the OpenAI embeddings wire format. */
class FakeOpenAi {
  readonly server: Server = createServer((req, res) => void this.#handle(req, res));
  readonly seen: Seen[] = [];
  faults: Fault[] = [];
  /** Answer with `data` in reverse order (still with correct `index`), as servers may. */
  reverse = false;

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { model: string; input: string[] };
    this.seen.push({ authorization: req.headers.authorization, model: body.model, input: body.input });
    const fault = this.faults.shift();
    if (fault === 'hang') return;
    if (fault) {
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers }).end(fault.body ?? '');
      return;
    }
    const data = body.input.map((text, index) => ({ object: 'embedding', index, embedding: vectorFor(text) }));
    if (this.reverse) data.reverse();
    const payload = { object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  }
}

const fake = new FakeOpenAi();

beforeAll(async () => {
  fake.server.listen(0, '127.0.0.1');
  await once(fake.server, 'listening');
});

afterAll(async () => {
  fake.server.closeAllConnections();
  await new Promise((resolve) => fake.server.close(resolve));
});

afterEach(() => {
  fake.seen.length = 0;
  fake.faults = [];
  fake.reverse = false;
});

function embedder(config: Partial<OpenAiConfigInput> = {}): OpenAiEmbedder {
  return new OpenAiEmbedder({ baseUrl: fake.baseUrl, apiKey: KEY, model: 'test-model', ...config });
}

async function failure(promise: Promise<unknown>): Promise<EngramError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngramError);
  return error as EngramError;
}

describe('OpenAiEmbedder', () => {
  it('detects the dimension in init() and sends the key as a Bearer token', async () => {
    const e = embedder();
    expect(e.model).toBe('openai:test-model');

    await e.init();

    expect(e.dimension).toBe(DIM);
    expect(fake.seen).toHaveLength(1);
    expect(fake.seen[0]).toMatchObject({ authorization: `Bearer ${KEY}`, model: 'test-model' });
  });

  it('takes the dimension from config without probing, and sends no auth header without a key', async () => {
    const e = embedder({ dimension: DIM, apiKey: undefined });
    await e.init();
    expect(fake.seen).toHaveLength(0);

    await e.embed(['hello']);
    expect(fake.seen[0]?.authorization).toBeUndefined();
  });

  it('splits large inputs into batches and returns unit vectors in input order', async () => {
    const e = embedder({ dimension: DIM, batchSize: 3 });
    fake.reverse = true;
    const texts = ['one', 'two', 'three', 'four', 'five', 'six', 'seven'];

    const vectors = await e.embed(texts);

    expect(fake.seen.map((s) => s.input)).toEqual([texts.slice(0, 3), texts.slice(3, 6), texts.slice(6)]);
    expect(vectors).toHaveLength(texts.length);
    vectors.forEach((vector, i) => {
      const want = expectedVector(texts[i] as string);
      for (const [j, x] of vector.entries()) expect(x).toBeCloseTo(want[j] as number, 6);
    });
  });

  it('sends a space for an empty string, which OpenAI would reject', async () => {
    const e = embedder({ dimension: DIM });
    const [vector] = await e.embed(['']);
    expect(fake.seen[0]?.input).toEqual([' ']);
    expect(vector).toHaveLength(DIM);
  });

  it('retries after a 503 and then succeeds', async () => {
    const e = embedder({ dimension: DIM });
    fake.faults = [{ status: 503, body: '{"error":{"message":"loading model"}}' }];

    const [vector] = await e.embed(['retry me']);

    expect(fake.seen).toHaveLength(2);
    expect(Array.from(vector as Float32Array)).toEqual(Array.from(expectedVector('retry me')));
  });

  it('honours Retry-After on a 429', async () => {
    const e = embedder({ dimension: DIM });
    fake.faults = [{ status: 429, headers: { 'retry-after': '0' } }];

    await e.embed(['slow down']);

    expect(fake.seen).toHaveLength(2);
  });

  it('gives up after maxRetries with an unavailable error that never contains the key', async () => {
    const e = embedder({ dimension: DIM, maxRetries: 3 });
    const echo = JSON.stringify({ error: { message: `upstream rejected key ${KEY}` } });
    // retry-after-ms: the SDK's own backoff (0.5 s, 1 s, 2 s) would only slow the test down.
    fake.faults = Array.from({ length: 10 }, () => ({ status: 500, body: echo, headers: { 'retry-after-ms': '1' } }));

    const error = await failure(e.embed(['doomed']));

    expect(error.code).toBe('unavailable');
    expect(error.status).toBe(503);
    expect(fake.seen).toHaveLength(4);
    expect(error.message).toContain('HTTP 500');
    expect(error.message).toContain('4 attempts');
    expect(error.message).not.toContain(KEY);
    expect(JSON.stringify({ ...error, cause: String(error.cause) })).not.toContain(KEY);
  });

  it('does not retry a 401', async () => {
    const e = embedder({ dimension: DIM });
    fake.faults = [{ status: 401, body: '{"error":{"message":"Incorrect API key provided"}}' }];

    const error = await failure(e.embed(['nope']));

    expect(fake.seen).toHaveLength(1);
    expect(error.code).toBe('unavailable');
    expect(error.message).toContain('Incorrect API key provided');
  });

  it('times out a request that never answers', async () => {
    const e = embedder({ dimension: DIM, timeoutMs: 150, maxRetries: 1 });
    fake.faults = ['hang', 'hang'];

    const error = await failure(e.embed(['hello?']));

    expect(error.code).toBe('unavailable');
    expect(error.message).toContain('no response within 150 ms');
    expect(fake.seen).toHaveLength(2);
  });

  it('maps a refused connection to unavailable without leaking the key', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    // No retries: each would wait out the SDK's backoff, and the mapping is the same on the last attempt.
    const e = new OpenAiEmbedder({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: KEY, model: 'm', maxRetries: 0 });

    const error = await failure(e.init());

    expect(error.code).toBe('unavailable');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain(KEY);
    expect(e.dimension).toBe(0);
  });

  it('rejects a malformed response without retrying', async () => {
    const e = embedder({ dimension: DIM });
    fake.faults = [{ status: 200, body: '{"object":"list","data":[]}' }];

    const error = await failure(e.embed(['a']));

    expect(error.message).toContain('expected 1 embeddings, got 0');
    expect(fake.seen).toHaveLength(1);
  });

  it('refuses vectors whose length differs from the configured dimension', async () => {
    const e = embedder({ dimension: DIM + 1 });
    const error = await failure(e.embed(['a']));
    expect(error.message).toContain(`got a ${DIM}-d embedding`);
  });

  it('rejects a key with a line break at config time, without echoing it', () => {
    const bad = `${KEY}\nX-Injected: 1`;
    expect(() => createEmbedder('openai', { baseUrl: fake.baseUrl, model: 'm', apiKey: bad })).toThrow(
      expect.objectContaining({ code: 'invalid_request', message: expect.not.stringContaining(KEY) }),
    );
  });
});
