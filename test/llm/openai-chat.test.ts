import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAiChat } from '../../src/llm/index.js';
import { type FakeLlm, startFakeLlm } from '../helpers/fake-llm.js';

/** The OpenAI-compatible chat client against a scripted server speaking the real wire format. */
let llm: FakeLlm;
const model = (options: Partial<ConstructorParameters<typeof OpenAiChat>[0]> = {}) =>
  new OpenAiChat({
    baseUrl: llm.baseUrl,
    model: 'test-model',
    timeoutMs: 2_000,
    maxRetries: 2,
    concurrency: 2,
    temperature: 0,
    ...options,
  });

beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(async () => {
  await llm?.close();
});

describe('OpenAI-compatible chat', () => {
  it('sends messages and tools, and reads content, tool calls and token usage', async () => {
    const chat = model();
    llm.script({ toolCalls: [{ name: 'search_memory', arguments: { query: 'bike' } }] });
    const result = await chat.chat({
      messages: [{ role: 'user', content: 'where is my bike?' }],
      tools: [{ name: 'search_memory', description: 'search', parameters: { type: 'object', properties: {} } }],
    });
    expect(result.content).toBeNull();
    expect(result.toolCalls).toEqual([
      { id: expect.any(String), name: 'search_memory', arguments: '{"query":"bike"}' },
    ]);
    expect(llm.requests.at(-1)).toMatchObject({
      model: 'test-model',
      tools: [{ function: { name: 'search_memory' } }],
    });
    expect(chat.stats.promptTokens).toBeGreaterThan(0);
    expect(chat.stats.requests).toBe(1);
  });

  it('streams text as it comes and assembles tool calls split across chunks', async () => {
    const chat = model();
    llm.script({
      content: 'The bike is in the basement.',
      toolCalls: [{ name: 'kb_read', arguments: { path: 'topics/a/b.md' } }],
    });
    const deltas: string[] = [];
    let done = null;
    for await (const chunk of chat.stream({ messages: [{ role: 'user', content: 'bike?' }] })) {
      if (chunk.type === 'delta') deltas.push(chunk.text);
      else done = chunk.result;
    }
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.join('')).toBe('The bike is in the basement.');
    expect(done).toMatchObject({
      content: 'The bike is in the basement.',
      toolCalls: [{ name: 'kb_read', arguments: '{"path":"topics/a/b.md"}' }],
    });
    expect(done?.usage.completionTokens).toBeGreaterThan(0);
  });

  it('retries a 500 and a 429, then succeeds', async () => {
    const chat = model();
    llm.script({ status: 500 }, { status: 429 }, { content: 'third time lucky' });
    const result = await chat.chat({ messages: [{ role: 'user', content: 'hi' }] });
    expect(result.content).toBe('third time lucky');
    expect(llm.remaining()).toBe(0);
  });

  it('gives up after its retries with an unavailable error, and counts the failure', async () => {
    const chat = model({ maxRetries: 1 });
    llm.script({ status: 500 }, { status: 500 });
    await expect(chat.chat({ messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('HTTP 500'),
    });
    expect(chat.stats.failures).toBe(1);
  });

  it('times out a slow endpoint, and reports malformed replies as errors', async () => {
    const slow = model({ timeoutMs: 200, maxRetries: 0 });
    llm.script({ delayMs: 1_000, content: 'too late' });
    await expect(slow.chat({ messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
      code: 'unavailable',
    });

    const chat = model({ maxRetries: 0 });
    llm.script({ raw: '{"choices": [' });
    await expect(chat.chat({ messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
      code: 'unavailable',
    });
    llm.script({ raw: '{"choices": []}' });
    await expect(chat.chat({ messages: [{ role: 'user', content: 'hi' }] })).rejects.toThrow(/no choices/);
    await new Promise((resolve) => setTimeout(resolve, 900)); // let the slow reply drain
  });
});
