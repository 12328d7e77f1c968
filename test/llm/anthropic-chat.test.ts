import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnthropicChat, type ChatMessage } from '../../src/llm/index.js';
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.js';

/** The Anthropic provider through the official SDK, against a scripted server speaking the Messages API wire format. */
let api: FakeAnthropic;
const KEY = 'sk-ant-test-0123456789abcdef';
const model = (options: Partial<ConstructorParameters<typeof AnthropicChat>[0]> = {}) =>
  new AnthropicChat({
    baseUrl: api.baseUrl,
    apiKey: KEY,
    model: 'claude-test',
    timeoutMs: 2_000,
    maxRetries: 2,
    concurrency: 2,
    ...options,
  });
const search = { name: 'search_memory', description: 'search', parameters: { type: 'object', properties: {} } };

beforeAll(async () => {
  api = await startFakeAnthropic();
});
afterAll(async () => {
  await api?.close();
});

describe('Anthropic chat', () => {
  it('sends system messages as `system`, reads the text and counts tokens', async () => {
    const chat = model();
    api.script({ text: 'Hello, Alice.' });
    const result = await chat.chat({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'hi, I am Alice' },
      ],
    });
    expect(result).toMatchObject({ content: 'Hello, Alice.', toolCalls: [] });
    const sent = api.requests.at(-1);
    expect(sent).toMatchObject({
      model: 'claude-test',
      system: 'You are terse.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi, I am Alice' }] }],
      headers: { apiKey: KEY },
    });
    expect(sent?.max_tokens).toBeGreaterThan(0);
    expect(result.usage.promptTokens).toBeGreaterThan(0);
    expect(result.usage.completionTokens).toBeGreaterThan(0);
    expect(chat.stats).toMatchObject({
      requests: 1,
      failures: 0,
      promptTokens: result.usage.promptTokens,
      completionTokens: result.usage.completionTokens,
    });
  });

  it('round-trips a tool call: tool_use out, tool_result back in the next user turn', async () => {
    const chat = model();
    api.script({ text: 'Let me look.', toolCalls: [{ name: 'search_memory', input: { query: 'bike' } }] });
    const first = await chat.chat({
      messages: [{ role: 'user', content: 'where is my bike?' }],
      tools: [search],
      toolChoice: 'required',
    });
    expect(first.content).toBe('Let me look.');
    expect(first.toolCalls).toEqual([{ id: expect.any(String), name: 'search_memory', arguments: '{"query":"bike"}' }]);
    expect(api.requests.at(-1)).toMatchObject({
      tools: [{ name: 'search_memory', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any' },
    });

    api.script({ text: 'In the basement.' });
    const history: ChatMessage[] = [
      { role: 'user', content: 'where is my bike?' },
      { role: 'assistant', content: first.content, toolCalls: first.toolCalls },
      { role: 'tool', toolCallId: first.toolCalls[0]?.id ?? '', content: '1. The bike is in the basement' },
    ];
    const second = await chat.chat({ messages: history, tools: [search] });
    expect(second.content).toBe('In the basement.');
    // The fake refuses unanswered tool_use ids and non-alternating roles, as the API does.
    expect(api.requests.at(-1)?.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'where is my bike?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me look.' },
          { type: 'tool_use', id: first.toolCalls[0]?.id, name: 'search_memory', input: { query: 'bike' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: first.toolCalls[0]?.id, content: '1. The bike is in the basement' },
        ],
      },
    ]);
  });

  it('streams text as it comes and assembles a tool call from input_json_delta pieces', async () => {
    const chat = model();
    api.script({
      text: 'The bike is in the basement.',
      toolCalls: [{ name: 'kb_read', input: { path: 'topics/a/b.md' } }],
    });
    const deltas: string[] = [];
    let done = null;
    for await (const chunk of chat.stream({ messages: [{ role: 'user', content: 'bike?' }], tools: [search] })) {
      if (chunk.type === 'delta') deltas.push(chunk.text);
      else done = chunk.result;
    }
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.join('')).toBe('The bike is in the basement.');
    expect(done).toMatchObject({
      content: 'The bike is in the basement.',
      toolCalls: [{ id: expect.stringMatching(/^toolu_/), name: 'kb_read', arguments: '{"path":"topics/a/b.md"}' }],
    });
    expect(done?.usage.promptTokens).toBeGreaterThan(0);
    expect(done?.usage.completionTokens).toBeGreaterThan(1);
    expect(chat.stats.completionTokens).toBe(done?.usage.completionTokens);
  });

  it('retries a 429, then succeeds', async () => {
    const chat = model();
    api.script({ status: 429 }, { text: 'second time lucky' });
    const result = await chat.chat({ messages: [{ role: 'user', content: 'hi' }] });
    expect(result.content).toBe('second time lucky');
    expect(api.remaining()).toBe(0);
    expect(chat.stats).toMatchObject({ requests: 1, failures: 0 });
  });

  it('gives up after its retries of a 500 with unavailable, counts the failure and never shows the key', async () => {
    const chat = model({ maxRetries: 1 });
    // A misbehaving proxy that echoes the key it was sent.
    api.script({ status: 500, message: `upstream rejected key ${KEY}` }, { status: 500, message: `bad key ${KEY}` });
    const error = await chat.chat({ messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'unavailable', message: expect.stringContaining('HTTP 500') });
    expect((error as Error).message).not.toContain(KEY);
    expect((error as Error).message).toContain('[redacted]');
    expect(api.remaining()).toBe(0);
    expect(chat.stats).toMatchObject({ requests: 1, failures: 1 });
  });

  it('times out a slow endpoint with unavailable, and a failed stream too', async () => {
    const slow = model({ timeoutMs: 200, maxRetries: 0 });
    api.script({ delayMs: 1_000, text: 'too late' });
    const started = Date.now();
    await expect(slow.chat({ messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
      code: 'unavailable',
    });
    expect(Date.now() - started).toBeLessThan(900);

    api.script({ status: 500 });
    const stream = slow.stream({ messages: [{ role: 'user', content: 'hi' }] });
    await expect(
      (async () => {
        for await (const _chunk of stream) {
          // drain
        }
      })(),
    ).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('HTTP 500') });
    expect(slow.stats.failures).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 900)); // let the slow reply drain
  });
});
