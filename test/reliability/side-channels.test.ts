import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config.js';
import { connectRedis } from '../../src/shared/redis.js';
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The timing attack on shared caches, run as an attacker would. Alice stores a secret and runs a
 * search; Bob, with a key of his own, sends many guesses (one of them right) and reads how fast
 * each was answered. The model behind the server is an OpenAI-compatible stand-in that takes at
 * least DELAY_MS per request, so a guess answered faster than that was answered from a cache —
 * whatever the machine's speed, since a busy machine only adds time. Every guess must reach the
 * model: none can be told apart by its latency. A control (Bob repeating his own query, which
 * his own cache answers without asking the model) shows that a cache hit would be seen.
 */
const DELAY_MS = 30;
const SECRET = 'The garage door code is 140';
const ALICE_QUERY = 'when is my appointment with the oncologist';
const guesses = (right: string, template: (n: number) => string): string[] => {
  const all = Array.from({ length: 40 }, (_, i) => template(100 + i * 3));
  all.splice(17, 0, right);
  return all;
};
const codeGuesses = guesses(SECRET, (n) => `The garage door code is ${n}`);
const queryGuesses = guesses(ALICE_QUERY, (n) => `when is my appointment with the dentist ${n}`);

function embedderConfig(fake: FakeEmbeddings, model: string): ConfigInput {
  return { embedder: 'openai', openai: { baseUrl: fake.baseUrl, model, dimension: 32 } };
}

async function rest(server: TestServer, key: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(new URL(path, server.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return (await response.json()) as Record<string, unknown>;
}

/** The embedding time the server reports for a REST search. */
async function restEmbedMs(server: TestServer, key: string, query: string): Promise<number> {
  const body = await rest(server, key, '/v1/search', { query, limit: 3 });
  return (body.timings as { embedMs: number }).embedMs;
}

/** Alice's secret and recent query, on `server`. */
async function aliceActs(server: TestServer, alice: string): Promise<void> {
  await rest(server, alice, '/v1/memories', { content: SECRET });
  await restEmbedMs(server, alice, ALICE_QUERY);
}

/** Each guess must have reached the model: not one answered in less than the model's own time. */
function expectNoOracle(fake: FakeEmbeddings, timings: Map<string, number>): void {
  const fastest = Math.min(...timings.values());
  expect(fastest, `fastest of ${timings.size} guesses`).toBeGreaterThanOrEqual(DELAY_MS * 0.9);
  for (const right of [SECRET, ALICE_QUERY]) {
    if (timings.has(right)) {
      // Alice's request and the attacker's guess each reached the model.
      expect(fake.seen.filter((text) => text === right).length).toBeGreaterThanOrEqual(2);
    }
  }
}

describe('no cross-user timing oracle through the embedding cache', () => {
  let fake: FakeEmbeddings;
  let server: TestServer;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    fake = await startFakeEmbeddings({ delayMs: DELAY_MS });
    server = await startTestServer({ auth: 'keys', config: embedderConfig(fake, 'oracle-rest') });
    alice = await server.createKey({ userId: 'alice' });
    bob = await server.createKey({ userId: 'bob' });
    await aliceActs(server, alice);
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  it('REST: no guess at another user’s memory or query is answered faster (timings.embedMs)', async () => {
    const timings = new Map<string, number>();
    for (const guess of [...codeGuesses, ...queryGuesses]) timings.set(guess, await restEmbedMs(server, bob, guess));
    expectNoOracle(fake, timings);
    // Control: a guess Bob repeats is answered by his own cache — the model is not asked again — so a
    // hit would have been seen as an answer without the model's time. (No upper bound on its time:
    // a busy machine may slow anything down; only the lower bound above is safe.)
    const asked = fake.seen.length;
    await restEmbedMs(server, bob, codeGuesses[0] as string);
    expect(fake.seen.length).toBe(asked);
  });

  it('MCP: no guess is answered faster, timed by the client around each tool call', async () => {
    // Another attacker, whose own cache has none of the guesses yet.
    const mallory = await server.createKey({ userId: 'mallory' });
    const client = new Client({ name: 'attacker', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL('/mcp', server.url), {
        requestInit: { headers: { authorization: `Bearer ${mallory}` } },
      }),
    );
    const call = async (query: string): Promise<number> => {
      const started = performance.now();
      const result = (await client.callTool({ name: 'retrieve_memory', arguments: { query } })) as CallToolResult;
      const ms = performance.now() - started;
      expect(result.isError).toBeFalsy();
      return ms;
    };
    try {
      const timings = new Map<string, number>();
      for (const guess of [...codeGuesses, ...queryGuesses]) timings.set(guess, await call(guess));
      expectNoOracle(fake, timings);
      // Control: a repeated guess is answered by Mallory's own cache; the model is not asked again.
      const asked = fake.seen.length;
      await call(codeGuesses[0] as string);
      expect(fake.seen.length).toBe(asked);
    } finally {
      await client.close();
    }
  });
});

const redisUrl = process.env.ENGRAM_TEST_REDIS_URL;
const HOW = 'set ENGRAM_TEST_REDIS_URL (scripts/services.sh start) to run it';
if (!redisUrl) console.warn(`Redis embedding-cache side-channel test skipped: ${HOW}`);

(redisUrl ? describe : describe.skip)(
  `no cross-user timing oracle through the Redis cache replicas share${redisUrl ? '' : ` (skipped: ${HOW})`}`,
  () => {
    let fake: FakeEmbeddings;
    const servers: TestServer[] = [];

    beforeAll(async () => {
      fake = await startFakeEmbeddings({ delayMs: DELAY_MS });
      // A model name of its own, so that vectors left in Redis by an earlier run cannot answer.
      const model = `oracle-redis-${Date.now()}`;
      for (let i = 0; i < 2; i++) {
        const redis = await connectRedis(redisUrl as string);
        servers.push(
          await startTestServer({
            auth: 'keys',
            redis,
            config: { ...embedderConfig(fake, model), redis: { url: redisUrl as string } },
          }),
        );
      }
    });
    afterAll(async () => {
      for (const server of servers) await server.close();
      await fake?.close();
    });

    it('a guess on one replica at what a user stored or searched on another reaches the model', async () => {
      const [a, b] = servers as [TestServer, TestServer];
      await aliceActs(a, await a.createKey({ userId: 'alice' }));
      const bob = await b.createKey({ userId: 'bob' });
      const timings = new Map<string, number>();
      for (const guess of [...codeGuesses, ...queryGuesses]) timings.set(guess, await restEmbedMs(b, bob, guess));
      expectNoOracle(fake, timings);

      // Control: the same user on the other replica is answered from Redis: the model is not asked.
      const carol = await a.createKey({ userId: 'carol' });
      await restEmbedMs(a, carol, 'what did carol search');
      await new Promise((resolve) => setTimeout(resolve, 200)); // the cache writes without waiting
      const carolOnB = await b.createKey({ userId: 'carol' });
      const asked = fake.seen.length;
      await restEmbedMs(b, carolOnB, 'what did carol search');
      expect(fake.seen.length).toBe(asked);
    });
  },
);
