/**
 * Property-based fuzzing of a real server (sqlite and json stores) over REST, over MCP tools through
 * the official SDK client (Streamable HTTP) and raw POSTs to /mcp, with the generators `npm run fuzz`
 * uses (bench/fuzz/). For every generated request: no 5xx and no crash, every rejection a 4xx whose
 * JSON envelope names a known code mapped to that status (or a JSON-RPC / SDK error code for MCP),
 * and the store — every watched user's export, the keys, the notes — unchanged by a rejection.
 * Seeds are fixed; fast-check prints the seed, path and shrunk request of a failure.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_CONFIG, Fuzzer, type Outcome, summarize } from '../../bench/fuzz/harness.js';
import {
  FUZZ_USER,
  type FuzzRequest,
  fuzzRequest,
  rawMcpRequest,
  restRequest,
  toolCall,
} from '../../bench/fuzz/requests.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const problemsOf = (outcome: Outcome) => outcome.problems.join('; ');

for (const store of ['sqlite', 'json'] as const) {
  describe(`fuzzing a ${store} server`, () => {
    let server: TestServer;
    let fuzzer: Fuzzer;

    beforeAll(async () => {
      server = await startTestServer({ embeddings: 'test', store, config: FUZZ_CONFIG });
      fuzzer = new Fuzzer(server.url, server.deps);
      await fuzzer.connect();
    });
    afterAll(async () => {
      await fuzzer?.close();
      await server?.close();
    });

    const property = (requests: fc.Arbitrary<FuzzRequest>) =>
      fc.asyncProperty(requests, async (request) => {
        const outcome = await fuzzer.run(request);
        expect(problemsOf(outcome)).toBe('');
        if (outcome.rejected) {
          expect(outcome.status).toBeGreaterThanOrEqual(400);
          expect(outcome.status).toBeLessThan(500);
          expect(outcome.code).toEqual(expect.any(String));
        }
      });

    it('answers REST requests with 2xx or a 4xx carrying a stable code, and rejections change nothing', async () => {
      await fc.assert(property(restRequest), { numRuns: store === 'sqlite' ? 150 : 60, seed: 101 });
      // Some requests got through and some were refused: the properties saw both sides.
      expect(Object.keys(fuzzer.tally.byStatus).some((status) => Number(status) < 300)).toBe(true);
      expect(fuzzer.tally.rejectedChecked).toBeGreaterThan(0);
    });

    it('answers MCP tool calls through the SDK client with results or coded tool errors', async () => {
      await fc.assert(property(toolCall), { numRuns: store === 'sqlite' ? 80 : 30, seed: 202 });
      expect(fuzzer.tally.byCode['mcp:-32602'] ?? 0).toBeGreaterThan(0);
    });

    it('answers raw /mcp requests (bad JSON-RPC, sessions, content types) with 4xx JSON-RPC errors', async () => {
      await fc.assert(property(rawMcpRequest), { numRuns: store === 'sqlite' ? 40 : 20, seed: 303 });
      expect(Object.keys(fuzzer.tally.byCode).some((code) => code.startsWith('jsonrpc:'))).toBe(true);
    });

    it('keeps serving its users after the fuzzing: health, a store and a search', async () => {
      const health = await fetch(new URL('/health', server.url));
      expect(health.status).toBe(200);
      const headers = { 'content-type': 'application/json', 'x-user-id': FUZZ_USER };
      const added = await fetch(new URL('/v1/memories', server.url), {
        method: 'POST',
        headers,
        body: JSON.stringify({ content: 'After the storm the user repotted the basil.', infer: false }),
      });
      expect(added.status).toBe(201);
      const found = await fetch(new URL('/v1/search', server.url), {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: 'repotted basil', mode: 'keyword' }),
      });
      const { results } = (await found.json()) as { results: { memory: { content: string } }[] };
      expect(results[0]?.memory.content).toBe('After the storm the user repotted the basil.');
      expect(fuzzer.tally.crashes, summarize(fuzzer.tally)).toBe(0);
    });
  });
}

it('keeps a mixed stream of requests within the oracle on one sqlite server (the npm run fuzz mix)', async () => {
  const server = await startTestServer({ embeddings: 'test', config: FUZZ_CONFIG });
  const fuzzer = new Fuzzer(server.url, server.deps);
  try {
    await fuzzer.connect();
    for (const request of fc.sample(fuzzRequest, { numRuns: 100, seed: 404 })) await fuzzer.run(request);
    expect(fuzzer.tally.violations, summarize(fuzzer.tally)).toBe(0);
    expect(fuzzer.tally.storeChanges).toBe(0);
    expect(fuzzer.tally.total).toBe(100);
  } finally {
    await fuzzer.close();
    await server.close();
  }
});
