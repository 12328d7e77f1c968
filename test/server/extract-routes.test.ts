/**
 * Extraction over the wire: `POST /v1/memories/extract` (sync and `?async=true`), the MCP
 * `extract_memories` tool through the real SDK client, and the metrics — with the scripted
 * OpenAI-compatible server as the LLM.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/jobs/index.js';
import { type FakeLlm, type ScriptedReply, startFakeLlm } from '../helpers/fake-llm.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let llm: FakeLlm;
let server: TestServer;
let plain: TestServer;
let alice: string;
let bob: string;

const facts = (...contents: string[]): ScriptedReply => ({
  toolCalls: [{ name: 'record_facts', arguments: { facts: contents.map((content) => ({ content })) } }],
});

beforeAll(async () => {
  llm = await startFakeLlm();
  server = await startTestServer({
    embeddings: 'test',
    auth: 'keys',
    config: { llm: { provider: 'openai', baseUrl: llm.baseUrl, model: 'scripted', maxRetries: 0 } },
  });
  plain = await startTestServer({ embeddings: 'test' });
  alice = await server.createKey({ userId: 'alice' });
  bob = await server.createKey({ userId: 'bob' });
});
afterAll(async () => {
  await server?.close();
  await plain?.close();
  await llm?.close();
});

const post = (base: string, path: string, key: string | null, body: unknown) =>
  fetch(new URL(path, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  });

describe('POST /v1/memories/extract', () => {
  it('stores the extracted facts and says what happened to each', async () => {
    llm.script(facts('Lives in Paris', 'Has a cat named Miso'));
    const response = await post(server.url, '/v1/memories/extract', alice, {
      messages: [{ role: 'user', content: 'I live in Paris with my cat Miso.' }],
      tags: ['chat'],
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { decisions: { action: string; fact: string; memory: { id: string } }[] };
    expect(body.decisions.map((d) => [d.action, d.fact])).toEqual([
      ['add', 'Lives in Paris'],
      ['add', 'Has a cat named Miso'],
    ]);
    const list = await fetch(new URL('/v1/memories', server.url), { headers: { authorization: `Bearer ${alice}` } });
    const items = ((await list.json()) as { items: { content: string; tags: string[] }[] }).items;
    expect(items.map((m) => m.content).sort()).toEqual(['Has a cat named Miso', 'Lives in Paris']);
    expect(items.every((m) => m.tags.includes('chat'))).toBe(true);
    // Bob's key sees none of it.
    const bobs = await fetch(new URL('/v1/memories', server.url), { headers: { authorization: `Bearer ${bob}` } });
    expect(((await bobs.json()) as { items: unknown[] }).items).toEqual([]);
  });

  it('an unusable reply is a 502 llm_output_invalid and stores nothing; bad input is a 400 before any LLM call', async () => {
    llm.script({ content: 'no JSON here' });
    const bad = await post(server.url, '/v1/memories/extract', bob, { messages: [{ content: 'I like jazz' }] });
    expect(bad.status).toBe(502);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('llm_output_invalid');

    const calls = llm.requests.length;
    const invalid = await post(server.url, '/v1/memories/extract', bob, { messages: [] });
    expect(invalid.status).toBe(400);
    expect(llm.requests.length).toBe(calls);
    const bobs = await fetch(new URL('/v1/memories', server.url), { headers: { authorization: `Bearer ${bob}` } });
    expect(((await bobs.json()) as { items: unknown[] }).items).toEqual([]);
  });

  it('?async=true answers 202 with a job that ends with the same result', async () => {
    llm.script(facts('Plays the cello'));
    const response = await post(server.url, '/v1/memories/extract?async=true', bob, {
      messages: [{ content: 'I play the cello on weekends' }],
    });
    expect(response.status).toBe(202);
    const { job } = (await response.json()) as { job: JobView };
    expect(job.kind).toBe('extract');
    let done: JobView = job;
    for (let i = 0; i < 400 && done.status !== 'succeeded' && done.status !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const polled = await fetch(new URL(`/v1/jobs/${job.id}`, server.url), {
        headers: { authorization: `Bearer ${bob}` },
      });
      done = (await polled.json()) as JobView;
    }
    expect(done.status).toBe('succeeded');
    expect(done.result).toMatchObject({ decisions: [{ action: 'add', fact: 'Plays the cello' }] });
  });

  it('is refused with a clear message on a server without an LLM', async () => {
    const response = await post(plain.url, '/v1/memories/extract', null, { messages: [{ content: 'x' }] });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('ENGRAM_LLM_PROVIDER');
  });
});

describe('MCP extract_memories and metrics', () => {
  it('extracts through the real MCP client and counts decisions and rejected output in /metrics', async () => {
    const client = new Client({ name: 'engram-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL('/mcp', server.url), {
        requestInit: { headers: { authorization: `Bearer ${alice}` } },
      }),
    );
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((tool) => tool.name)).toContain('extract_memories');
      llm.script(facts('Lives in Berlin'), {
        toolCalls: [
          {
            name: 'decide',
            arguments: { decisions: [{ fact: 'f1', action: 'update', target: 'm1', reason: 'moved' }] },
          },
        ],
      });
      const result = (await client.callTool({
        name: 'extract_memories',
        arguments: { messages: [{ content: 'I moved to Berlin last week' }] },
      })) as CallToolResult;
      expect(result.isError).toBeFalsy();
      const text = (result.content[0] as { text: string }).text;
      expect(text).toMatch(/"Lives in Berlin" replaced memory \S+ \("Lives in Paris"\)/);
    } finally {
      await client.close();
    }
    const metrics = await (await fetch(new URL('/metrics', server.url))).text();
    expect(metrics).toMatch(/engram_extract_decisions_total\{action="update",by="model"\} 1/);
    expect(metrics).toMatch(/engram_extract_decisions_total\{action="add",by="rule"\} 3/);
    expect(metrics).toMatch(/engram_extract_output_problems_total\{problem="extract_malformed_json"\} 1/);
  });
});
