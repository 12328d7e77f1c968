import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AnthropicChat, type ChatModel, generateObject, OpenAiChat } from '../../src/llm/index.js';
import { parseJsonLenient } from '../../src/llm/structured.js';
import { type FakeAnthropic, startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { type FakeLlm, startFakeLlm } from '../helpers/fake-llm.js';

/**
 * generateObject against both providers, each through its SDK and a scripted server in its own
 * wire format: the same cases, so a user gets the same result whichever provider they run.
 */
let openai: FakeLlm;
let anthropic: FakeAnthropic;

beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startFakeLlm(), startFakeAnthropic()]);
});
afterAll(async () => {
  await Promise.all([openai?.close(), anthropic?.close()]);
});

interface Provider {
  name: string;
  model(): ChatModel;
  /** The model calls the forced tool with this input. */
  tool(input: Record<string, unknown>): void;
  /** The model ignores the tool and answers in text. */
  text(text: string): void;
  fail(status: number): void;
  /** What the provider's server was last asked: the tool's JSON Schema and the forced choice. */
  lastAsk(): { parameters: Record<string, unknown> | undefined; forced: string | undefined };
}

const common = { model: 'test-model', timeoutMs: 2_000, maxRetries: 0, concurrency: 2 };
const providers: Provider[] = [
  {
    name: 'openai',
    model: () => new OpenAiChat({ ...common, baseUrl: openai.baseUrl, temperature: 0 }),
    tool: (input) => openai.script({ toolCalls: [{ name: 'save_person', arguments: input }] }),
    text: (text) => openai.script({ content: text }),
    fail: (status) => openai.script({ status }),
    lastAsk: () => {
      const request = openai.requests.at(-1);
      const choice = request?.tool_choice;
      return {
        parameters: request?.tools?.[0]?.function.parameters,
        forced: typeof choice === 'object' && choice.type === 'function' ? choice.function.name : undefined,
      };
    },
  },
  {
    name: 'anthropic',
    model: () => new AnthropicChat({ ...common, baseUrl: anthropic.baseUrl, apiKey: 'sk-ant-test' }),
    tool: (input) => anthropic.script({ toolCalls: [{ name: 'save_person', input }] }),
    text: (text) => anthropic.script({ text }),
    fail: (status) => anthropic.script({ status }),
    lastAsk: () => {
      const request = anthropic.requests.at(-1);
      return {
        parameters: request?.tools?.[0]?.input_schema,
        forced: request?.tool_choice?.type === 'tool' ? request.tool_choice.name : undefined,
      };
    },
  },
];

const Person = z.object({
  name: z.string().min(1),
  age: z.number().int().min(0),
  tags: z.array(z.string()).default([]),
});
const ask = (model: ChatModel) =>
  generateObject(model, {
    messages: [{ role: 'user', content: 'Alice is 34 and likes climbing.' }],
    schema: Person,
    name: 'save_person',
    description: 'Save the person the user describes',
  });

describe.each(providers)('generateObject ($name)', (provider) => {
  it('asks through one forced tool with the schema as JSON Schema, and returns the typed value', async () => {
    const model = provider.model();
    provider.tool({ name: 'Alice', age: 34, tags: ['climbing'] });
    const result = await ask(model);
    expect(result).toEqual({
      ok: true,
      value: { name: 'Alice', age: 34, tags: ['climbing'] },
      repaired: false,
      usage: { promptTokens: expect.any(Number), completionTokens: expect.any(Number) },
    });
    if (result.ok) expect(result.usage.promptTokens).toBeGreaterThan(0);
    const sent = provider.lastAsk();
    expect(sent.forced).toBe('save_person');
    expect(sent.parameters).toMatchObject({
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer' }, tags: { type: 'array' } },
      required: expect.arrayContaining(['name', 'age']),
    });
    expect(sent.parameters).not.toHaveProperty('$schema');
  });

  it('reads a reply in a ```json fence amid prose, marked repaired', async () => {
    const model = provider.model();
    provider.text('Sure! Here it is:\n```json\n{"name": "Alice", "age": 34}\n```\nAnything else?');
    expect(await ask(model)).toMatchObject({ ok: true, value: { name: 'Alice', age: 34, tags: [] }, repaired: true });
  });

  it('repairs trailing commas, without touching commas inside strings', async () => {
    const model = provider.model();
    provider.text('{"name": "Smith, Alice,", "age": 34, "tags": ["a", "b",],}');
    expect(await ask(model)).toMatchObject({
      ok: true,
      value: { name: 'Smith, Alice,', age: 34, tags: ['a', 'b'] },
      repaired: true,
    });
  });

  it('rejects JSON of the wrong shape as schema_mismatch, with what the model sent', async () => {
    const model = provider.model();
    provider.tool({ name: 'Alice', age: 'thirty-four' });
    const result = await ask(model);
    expect(result).toMatchObject({
      ok: false,
      error: { kind: 'schema_mismatch', raw: expect.stringContaining('thirty-four') },
    });
    if (!result.ok) expect(result.error.message).toMatch(/age/);
  });

  it('rejects text that is not JSON as malformed_json, and an empty reply as no_output', async () => {
    const model = provider.model();
    provider.text('Alice is thirty-four years old.');
    expect(await ask(model)).toMatchObject({
      ok: false,
      error: { kind: 'malformed_json', raw: 'Alice is thirty-four years old.' },
    });
    provider.text('');
    expect(await ask(model)).toMatchObject({ ok: false, error: { kind: 'no_output', raw: null } });
    expect(model.stats.structured).toEqual({ ok: 0, repaired: 0, rejected: 2 });
  });

  it('rejects with unavailable when the endpoint fails, and counts no structured outcome', async () => {
    const model = provider.model();
    provider.fail(500);
    await expect(ask(model)).rejects.toMatchObject({ code: 'unavailable' });
    expect(model.stats.structured).toEqual({ ok: 0, repaired: 0, rejected: 0 });
    expect(model.stats.failures).toBe(1);
  });

  it('counts ok, repaired and rejected outcomes in the model stats', async () => {
    const model = provider.model();
    provider.tool({ name: 'Bob', age: 40 });
    provider.text('```\n{"name": "Bob", "age": 40,}\n```');
    provider.tool({ age: 40 });
    for (let i = 0; i < 3; i++) await ask(model);
    expect(model.stats.structured).toEqual({ ok: 1, repaired: 1, rejected: 1 });
  });
});

describe('generateObject with a schema that is not an object', () => {
  it('asks for `{ value }` and returns the bare value', async () => {
    const model = new OpenAiChat({ ...common, baseUrl: openai.baseUrl, temperature: 0 });
    openai.script({ toolCalls: [{ name: 'list_facts', arguments: { value: ['a', 'b'] } }] });
    const result = await generateObject(model, {
      messages: [{ role: 'user', content: 'facts?' }],
      schema: z.array(z.string()),
      name: 'list_facts',
      description: 'The facts',
    });
    expect(result).toMatchObject({ ok: true, value: ['a', 'b'], repaired: false });
    expect(openai.requests.at(-1)?.tools?.[0]?.function.parameters).toMatchObject({
      type: 'object',
      properties: { value: { type: 'array' } },
    });
  });

  it('repairs malformed tool arguments from an OpenAI-compatible server the same way', async () => {
    const model = new OpenAiChat({ ...common, baseUrl: openai.baseUrl, temperature: 0 });
    openai.script({ toolCalls: [{ name: 'save_person', arguments: '{"name": "Alice", "age": 34,}' }] });
    expect(await ask(model)).toMatchObject({ ok: true, value: { name: 'Alice', age: 34 }, repaired: true });
  });
});

describe('parseJsonLenient', () => {
  it('repairs only what is unambiguous', () => {
    expect(parseJsonLenient('  {"a": 1}\n')).toEqual({ ok: true, value: { a: 1 }, repaired: false });
    expect(parseJsonLenient('The answer is {"a": "}{"} as asked.')).toEqual({
      ok: true,
      value: { a: '}{' },
      repaired: true,
    });
    expect(parseJsonLenient('{"a": 1} or maybe {"a": 2}')).toMatchObject({ ok: false });
    expect(parseJsonLenient('{"a": 1')).toMatchObject({ ok: false });
    expect(parseJsonLenient("{'a': 1}")).toMatchObject({ ok: false });
    expect(parseJsonLenient('{"a": "x\\",", "b": [1,],}')).toEqual({
      ok: true,
      value: { a: 'x",', b: [1] },
      repaired: true,
    });
  });
});
