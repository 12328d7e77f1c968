import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * One user's bulk work cannot starve another's, judged by the order in which texts reach the model
 * (an OpenAI-compatible stand-in taking 15 ms a request), not by timing: Bob's batch, sent just
 * after Alice's much larger one, reaches the model between her pieces instead of after all of them.
 */
let fake: FakeEmbeddings;
let server: TestServer;

beforeAll(async () => {
  fake = await startFakeEmbeddings({ delayMs: 15 });
  server = await startTestServer({
    auth: 'keys',
    config: {
      embedder: 'openai',
      // Pieces of 10 texts: a request is cut into calls of the embedder's batch size.
      openai: { baseUrl: fake.baseUrl, model: 'fair', dimension: 32, batchSize: 10 },
      embed: { cacheSize: 0 },
    },
  });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

async function addBatch(key: string, prefix: string, count: number): Promise<number> {
  const response = await fetch(new URL('/v1/memories', server.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      memories: Array.from({ length: count }, (_, i) => ({ content: `${prefix} item ${i}`, infer: false })),
    }),
  });
  await response.text();
  return response.status;
}

describe('fair embedding between users', () => {
  it('serves another user’s batch between the pieces of a large one, not after it', async () => {
    const alice = await server.createKey({ userId: 'alice' });
    const bob = await server.createKey({ userId: 'bob' });
    const flood = addBatch(alice, 'alice', 1_000); // 100 pieces of 10, ≥ 1.5 s of model time
    // Bob arrives once Alice's batch has reached the model.
    while (fake.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await addBatch(bob, 'bob', 20)).toBe(201);
    expect(await flood).toBe(201);

    const owners = fake.requests.map((texts) => (texts[0]?.startsWith('bob') ? 'bob' : 'alice'));
    const bobCalls = owners.flatMap((owner, i) => (owner === 'bob' ? [i] : []));
    expect(bobCalls).toHaveLength(2);
    // Bob's two pieces take turns with Alice's, and he did not wait for her batch: most of it came after
    // him (on a busy machine his request may reach the server late, so no exact position is asserted).
    expect((bobCalls[1] as number) - (bobCalls[0] as number)).toBeLessThanOrEqual(3);
    expect(owners.slice((bobCalls[1] as number) + 1).filter((owner) => owner === 'alice').length).toBeGreaterThan(40);
    // Every text reached the model once, each user's in order.
    const aliceTexts = fake.requests.flat().filter((text) => text.startsWith('alice'));
    expect(aliceTexts).toEqual(Array.from({ length: 1_000 }, (_, i) => `alice item ${i}`));
  }, 60_000);
});

describe('queries beside bulk work', () => {
  let held: FakeEmbeddings;
  let queued: TestServer;
  let queryArrived: () => void;
  const arrived = new Promise<void>((resolve) => {
    queryArrived = resolve;
  });
  beforeAll(async () => {
    // Alice's pieces are held at the model until Bob's query reaches it: if the query had to wait
    // for a call of hers to finish, it would never arrive (and the test would time out).
    held = await startFakeEmbeddings({
      hold: (input) => {
        if (input.some((text) => text.startsWith('what did'))) queryArrived();
        return input.some((text) => text.startsWith('alice')) ? arrived : undefined;
      },
    });
    queued = await startTestServer({
      auth: 'keys',
      config: {
        embedder: 'openai',
        openai: { baseUrl: held.baseUrl, model: 'fair', dimension: 32, batchSize: 10 },
        embed: { cacheSize: 0 },
      },
    });
  });
  afterAll(async () => {
    queryArrived();
    await queued?.close();
    await held?.close();
  });

  it('sends a search’s query to the model while another user’s pieces hold every call', async () => {
    const alice = await queued.createKey({ userId: 'alice' });
    const bob = await queued.createKey({ userId: 'bob' });
    const flood = fetch(new URL('/v1/memories', queued.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        memories: Array.from({ length: 100 }, (_, i) => ({ content: `alice item ${i}`, infer: false })),
      }),
    });
    // Both calls the queue makes at once are Alice's, and the model is holding them.
    while (held.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const search = await fetch(new URL('/v1/search', queued.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'what did I plant in the garden?' }),
    });
    expect(search.status).toBe(200);
    // The query reached the model third, before any more of Alice's pieces.
    expect(held.requests[2]).toEqual(['what did I plant in the garden?']);
    expect((await flood).status).toBe(201);
  }, 30_000);
});
