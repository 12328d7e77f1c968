import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bagOfWords, type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Each search result says whether it is relevant (its meaning at least `minRelevance` similar to
 * the query's), and the MCP tools answer "no relevant memory" instead of filling their limit with
 * noise. The model is a deterministic OpenAI-compatible stand-in (bag of words): a query that shares
 * no word with a memory has next to no similarity to it, one that shares its words a high one.
 */
let fake: FakeEmbeddings;
let server: TestServer;
let key: string;

const MEMORIES = ['The user is allergic to peanuts', 'The standup moved to half past ten', 'The dog is called Biscuit'];

beforeAll(async () => {
  fake = await startFakeEmbeddings({ dimension: 256 });
  server = await startTestServer({
    auth: 'keys',
    config: { embedder: 'openai', openai: { baseUrl: fake.baseUrl, model: 'relevance', dimension: 256 } },
  });
  key = await server.createKey({ userId: 'alice' });
  for (const content of MEMORIES) await post('/v1/memories', { content });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

async function post(path: string, body: unknown): Promise<any> {
  const response = await fetch(new URL(path, server.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBeLessThan(300);
  return response.json();
}

describe('relevance of search results', () => {
  it('marks results of an unrelated query not relevant, and leaves them out when asked', async () => {
    const all = await post('/v1/search', { query: 'capital of France', limit: 3 });
    // Ranking still fills the limit; every result says it is not relevant, and why.
    expect(all.results).toHaveLength(3);
    for (const result of all.results) {
      expect(result.relevant).toBe(false);
      expect(result.explanation.relevance.minRelevance).toBe(0.1);
      expect(result.explanation.relevance.similarity).toBeLessThan(0.1);
    }
    expect((await post('/v1/search', { query: 'capital of France', relevantOnly: true })).results).toEqual([]);
  });

  it('marks the matching memory relevant, and follows a request’s own threshold', async () => {
    const found = await post('/v1/search', { query: 'is the dog called Biscuit', limit: 3 });
    expect(found.results[0].memory.content).toBe('The dog is called Biscuit');
    expect(found.results[0].relevant).toBe(true);
    expect(found.results[0].explanation.relevance.similarity).toBeGreaterThan(0.5);
    const lenient = await post('/v1/search', { query: 'capital of France', minRelevance: -1, relevantOnly: true });
    expect(lenient.results).toHaveLength(3);
    // Keyword mode has no query vector: a word match is the evidence.
    const keyword = await post('/v1/search', { query: 'peanuts', mode: 'keyword' });
    expect(keyword.results.map((r: any) => [r.relevant, r.explanation.relevance.similarity])).toEqual([[true, null]]);
  });

  it('puts a relevant result before one whose meaning is unlike the query, whatever their fused ranks', async () => {
    // Bob's store: a memory that shares the query's words but, by its (supplied) vector, nothing of
    // its meaning, and one that shares no word but all of its meaning. Fusion ranks the word match
    // first (keyword rank 1 and vector rank 2, against vector rank 1 alone).
    const query = 'regatta schedule';
    const meaning = bagOfWords(query, 256);
    const j = meaning.indexOf(0);
    const unlike = meaning.map((_, i) => (i === j ? 1 : 0));
    const bob = await server.createKey({ userId: 'bob' });
    const as = (body: unknown) => ({
      method: 'POST',
      headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    for (const memory of [
      { content: 'The regatta schedule is pinned in the office kitchen', embedding: unlike },
      { content: 'Boat races on the lake every Saturday in June', embedding: meaning },
    ]) {
      expect((await fetch(new URL('/v1/memories', server.url), as(memory))).status).toBe(201);
    }
    const found: any = await (await fetch(new URL('/v1/search', server.url), as({ query, limit: 2 }))).json();
    expect(found.results.map((r: any) => [r.memory.content.split(' ')[0], r.relevant])).toEqual([
      ['Boat', true],
      ['The', false],
    ]);
    // The word match kept its higher fused score; what moved it down is its relevance, explained.
    expect(found.results[1].score).toBeGreaterThan(found.results[0].score);
    expect(found.results[1].explanation.relevance.similarity).toBeCloseTo(0, 6);
  });

  it('MCP retrieve_memory and search_memory answer "no relevant memory" instead of noise', async () => {
    const client = new Client({ name: 'relevance-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL('/mcp', server.url), {
        requestInit: { headers: { authorization: `Bearer ${key}` } },
      }),
    );
    try {
      const none = await client.callTool({ name: 'retrieve_memory', arguments: { query: 'capital of France' } });
      expect((none.content as { text: string }[])[0]?.text).toBe('No relevant memory for "capital of France".');
      expect(none.structuredContent).toMatchObject({ count: 0, memories: [] });
      const one = await client.callTool({ name: 'retrieve_memory', arguments: { query: 'what is my dog called' } });
      const recalled = one.structuredContent as { count: number; memories: { content: string }[] };
      expect(recalled.memories[0]?.content).toBe('The dog is called Biscuit');
      // The standup memory shares no word with the question: left out (the stand-in model counts "is").
      expect(recalled.memories.map((m) => m.content)).not.toContain('The standup moved to half past ten');
      const search = await client.callTool({ name: 'search_memory', arguments: { query: 'capital of France' } });
      expect((search.content as { text: string }[])[0]?.text).toMatch(/^No relevant memory for "capital of France"/);
      const lenient = await client.callTool({
        name: 'search_memory',
        arguments: { query: 'capital of France', minRelevance: -1 },
      });
      expect(lenient.structuredContent).toMatchObject({ count: 3 });
    } finally {
      await client.close();
    }
  });
});
