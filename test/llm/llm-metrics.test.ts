import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateObject } from '../../src/llm/index.js';
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A real server with ENGRAM_LLM_PROVIDER=anthropic: /v1/chat works, and /metrics shows calls, tokens, structured outputs and cost. */
let api: FakeAnthropic;
let server: TestServer;
const MODEL = 'claude-metrics';

const scrape = async () => (await fetch(new URL('/metrics', server.url))).text();
const value = (metrics: string, series: string): number => {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
};

beforeAll(async () => {
  api = await startFakeAnthropic();
  server = await startTestServer({
    embeddings: 'test',
    config: {
      llm: {
        provider: 'anthropic',
        baseUrl: api.baseUrl,
        apiKey: 'sk-ant-metrics',
        model: MODEL,
        maxRetries: 0,
        maxSteps: 2,
        pricePromptPerMTok: 3,
        priceCompletionPerMTok: 15,
      },
    },
  });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await api?.close();
});

describe('LLM metrics', () => {
  it('answers /v1/chat through Anthropic, and counts requests, tokens and cost', async () => {
    const before = await scrape();
    expect(value(before, `engram_llm_requests_total{outcome="ok",model="${MODEL}"}`)).toBe(0);
    expect(value(before, `engram_llm_cost_usd_total{model="${MODEL}"}`)).toBe(0);

    api.script({ toolCalls: [{ name: 'search_memory', input: { query: 'bike' } }] }, { text: 'I do not know.' });
    const response = await fetch(new URL('/v1/chat', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Where is my bike?' }] }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { message: { content: string } }).message.content).toBe('I do not know.');

    const after = await scrape();
    const prompt = value(after, `engram_llm_tokens_total{kind="prompt",model="${MODEL}"}`);
    const completion = value(after, `engram_llm_tokens_total{kind="completion",model="${MODEL}"}`);
    expect(prompt).toBeGreaterThan(0);
    expect(completion).toBeGreaterThan(0);
    expect(value(after, `engram_llm_requests_total{outcome="ok",model="${MODEL}"}`)).toBe(2);
    expect(value(after, `engram_llm_cost_usd_total{model="${MODEL}"}`)).toBeCloseTo(
      (prompt * 3 + completion * 15) / 1_000_000,
      12,
    );

    api.script({ status: 500 });
    await fetch(new URL('/v1/chat', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(value(await scrape(), `engram_llm_requests_total{outcome="failed",model="${MODEL}"}`)).toBe(1);
  });

  it('counts structured outputs by result', async () => {
    const llm = server.deps.llm;
    if (!llm) throw new Error('the server has no LLM');
    const series = (result: string) => `engram_llm_structured_outputs_total{result="${result}",model="${MODEL}"}`;
    const before = await scrape();
    for (const result of ['ok', 'repaired', 'rejected']) expect(value(before, series(result))).toBe(0);

    const ask = () =>
      generateObject(llm, {
        messages: [{ role: 'user', content: 'Alice is 34' }],
        schema: z.object({ name: z.string(), age: z.number() }),
        name: 'save_person',
        description: 'Save a person',
      });
    api.script(
      { toolCalls: [{ name: 'save_person', input: { name: 'Alice', age: 34 } }] },
      { text: '```json\n{"name": "Alice", "age": 34,}\n```' },
      { text: 'no idea' },
    );
    await ask();
    await ask();
    await ask();
    const after = await scrape();
    expect(value(after, series('ok'))).toBe(1);
    expect(value(after, series('repaired'))).toBe(1);
    expect(value(after, series('rejected'))).toBe(1);
  });
});
