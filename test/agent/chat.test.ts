import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLlm, startFakeLlm } from '../helpers/fake-llm.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** POST /v1/chat: the memory agent over a real server, with the scripted OpenAI-compatible LLM. */
let llm: FakeLlm;
let server: TestServer;
let plain: TestServer;

const chat = (target: TestServer, body: unknown, user = 'alice') =>
  fetch(new URL('/v1/chat', target.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  llm = await startFakeLlm();
  // The real model: the agent's search for 'allergies' finds 'Alice is allergic to peanuts'.
  server = await startTestServer({
    config: { llm: { provider: 'openai', baseUrl: llm.baseUrl, model: 'scripted', maxRetries: 0, maxSteps: 3 } },
  });
  plain = await startTestServer({ embeddings: 'test' });
  await server.deps.service.add(
    'alice',
    { content: 'Alice is allergic to peanuts', category: 'health', infer: false },
    { name: 't', source: 'api' },
  );
  await server.deps.service.add(
    'bob',
    { content: 'Bob is allergic to shellfish', infer: false },
    { name: 't', source: 'api' },
  );
}, 60_000);
afterAll(async () => {
  await server?.close();
  await plain?.close();
  await llm?.close();
});

describe('POST /v1/chat', () => {
  it('looks things up with tools and answers with its sources', async () => {
    llm.script(
      { toolCalls: [{ name: 'search_memory', arguments: { query: 'allergies' } }] },
      { content: 'You are allergic to peanuts.' },
    );
    const response = await chat(server, { messages: [{ role: 'user', content: 'What am I allergic to?' }] });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      message: { content: string };
      tools: { name: string; ok: boolean }[];
      sources: { kind: string; text: string }[];
    };
    expect(body.message.content).toBe('You are allergic to peanuts.');
    expect(body.tools).toEqual([{ name: 'search_memory', arguments: { query: 'allergies' }, ok: true }]);
    expect(body.sources.map((source) => source.text)).toContain('Alice is allergic to peanuts');
    // The model saw the tool's result — Alice's memory, never Bob's.
    const toolMessage = llm.requests.at(-1)?.messages.find((message) => message.role === 'tool');
    expect(toolMessage?.content).toContain('peanuts');
    expect(toolMessage?.content).not.toContain('shellfish');
  });

  it('streams deltas, tool events and the answer as server-sent events', async () => {
    llm.script(
      { toolCalls: [{ name: 'store_memory', arguments: { content: 'Alice moved to Porto', category: 'home' } }] },
      // The server has an LLM, so the stored memory goes through extraction: facts, then a decision.
      { toolCalls: [{ name: 'record_facts', arguments: { facts: [{ content: 'Alice moved to Porto' }] } }] },
      { toolCalls: [{ name: 'decide', arguments: { decisions: [{ fact: 'f1', action: 'add', reason: 'new' }] } }] },
      { content: 'Noted: you moved to Porto.' },
    );
    const response = await chat(server, { messages: [{ role: 'user', content: 'I moved to Porto.' }], stream: true });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((match) => ({
      event: match[1],
      data: JSON.parse(match[2] as string) as Record<string, unknown>,
    }));
    expect(events.map((event) => event.event)).toContain('tool');
    expect(
      events
        .filter((event) => event.event === 'delta')
        .map((event) => event.data.text)
        .join(''),
    ).toBe('Noted: you moved to Porto.');
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { text: 'Noted: you moved to Porto.' } });
    const stored = await server.deps.service.search('alice', { query: 'Porto', mode: 'keyword' });
    expect(stored.results[0]?.memory).toMatchObject({ content: 'Alice moved to Porto', category: 'home' });
  });

  it('answers malformed or unknown tool calls with an error the model reads, and still finishes', async () => {
    llm.script(
      {
        toolCalls: [
          { name: 'search_memory', arguments: '{"query": ' },
          { name: 'rm_rf', arguments: {} },
        ],
      },
      { toolCalls: [{ name: 'kb_read', arguments: { path: '../../keys.json' } }] },
      { content: 'Sorry, I could not look that up.' },
    );
    const response = await chat(server, { messages: [{ role: 'user', content: 'break things' }] });
    const body = (await response.json()) as { message: { content: string }; tools: { name: string; ok: boolean }[] };
    expect(body.message.content).toBe('Sorry, I could not look that up.');
    expect(body.tools.map((tool) => [tool.name, tool.ok])).toEqual([
      ['search_memory', false],
      ['rm_rf', false],
      ['kb_read', false],
    ]);
    const toolMessages = (llm.requests.at(-1)?.messages ?? []).filter((message) => message.role === 'tool');
    expect(toolMessages.map((message) => message.content)).toEqual([
      expect.stringContaining('not valid JSON'),
      expect.stringContaining('no tool named rm_rf'),
      expect.stringContaining('not a note path'),
    ]);
  });

  it('stops calling tools after maxSteps and makes the model answer', async () => {
    const loop = { toolCalls: [{ name: 'search_memory', arguments: { query: 'again' } }] };
    llm.script(loop, loop, loop, { content: 'Enough searching.' });
    const response = await chat(server, { messages: [{ role: 'user', content: 'search forever' }] });
    expect(((await response.json()) as { message: { content: string } }).message.content).toBe('Enough searching.');
    expect(llm.requests.at(-1)?.tools).toBeUndefined();
  });

  it('says clearly when no LLM is configured, or when it fails', async () => {
    const none = await chat(plain, { messages: [{ role: 'user', content: 'hi' }] });
    expect(none.status).toBe(503);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unavailable');

    llm.script({ status: 500 });
    const failed = await chat(server, { messages: [{ role: 'user', content: 'hi' }] });
    expect(failed.status).toBe(503);
    const bad = await chat(server, { messages: [{ role: 'assistant', content: 'hi' }] });
    expect(bad.status).toBe(400);
  });

  it('counts LLM tokens and calls in /metrics', async () => {
    const metrics = await (await fetch(new URL('/metrics', server.url))).text();
    expect(
      Number(/^engram_llm_tokens_total\{kind="prompt",model="scripted"\} (\d+)/m.exec(metrics)?.[1]),
    ).toBeGreaterThan(0);
    expect(
      Number(/^engram_llm_requests_total\{outcome="failed",model="scripted"\} (\d+)/m.exec(metrics)?.[1]),
    ).toBeGreaterThanOrEqual(1);
  });
});
