/**
 * LLM extraction and consolidation through MemoryService on a real SQLite store with the real
 * offline embedder, against the scripted OpenAI-compatible server (the real wire format).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { type Actor, MemoryService } from '../../src/core/memory-service.js';
import type { Extractor } from '../../src/extract/index.js';
import { searchOptions } from '../../src/runtime.js';
import type { FakeLlm, ScriptedReply } from '../helpers/fake-llm.js';
import { type LlmService, openLlmService } from '../helpers/llm-service.js';

const actor: Actor = { name: 'test', source: 'api' };
let opened: LlmService;
let llm: FakeLlm;
let service: MemoryService;

const facts = (...list: Record<string, unknown>[]): ScriptedReply => ({
  toolCalls: [{ name: 'record_facts', arguments: { facts: list } }],
});
const decide = (...decisions: Record<string, unknown>[]): ScriptedReply => ({
  toolCalls: [{ name: 'decide', arguments: { decisions } }],
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  opened = await openLlmService();
  ({ llm, service } = opened);
});
afterAll(async () => {
  await opened?.close();
});
beforeEach(() => {
  expect(llm.remaining()).toBe(0);
});

describe('extraction and consolidation with an LLM', () => {
  it('"I live in Paris" then "I moved to Berlin": Berlin is current, Paris superseded and linked, as_of returns Paris', async () => {
    llm.script(facts({ content: 'Lives in Paris', category: 'personal' }));
    const paris = await service.add('u1', { content: 'I live in Paris' }, actor);
    expect(paris).toMatchObject({ duplicate: false, memory: { content: 'Lives in Paris', category: 'personal' } });
    expect(paris.decisions).toMatchObject([{ action: 'add', by: 'rule' }]);
    // Nothing was stored before: no decision call was needed.
    expect(llm.requests).toHaveLength(1);

    await sleep(20);
    const beforeMove = new Date().toISOString();
    await sleep(20);
    llm.script(
      facts({ content: 'Lives in Berlin', eventAt: '2026-11-30' }),
      decide({ fact: 'f1', action: 'update', target: 'm1', reason: 'The user moved from Paris to Berlin.' }),
    );
    const berlin = await service.add('u1', { content: 'I moved to Berlin' }, actor);
    expect(berlin.decisions).toMatchObject([
      { action: 'update', by: 'model', reason: 'The user moved from Paris to Berlin.' },
    ]);
    expect(berlin.memory).toMatchObject({ content: 'Lives in Berlin', eventAt: '2026-11-30T00:00:00.000Z' });
    // The decision prompt showed the stored memory under a short reference, never its id.
    const decisionPrompt = JSON.stringify(llm.requests[2]?.messages);
    expect(decisionPrompt).toContain('m1: Lives in Paris');
    expect(decisionPrompt).not.toContain(paris.memory.id);

    const current = await service.list('u1');
    expect(current.items.map((m) => m.content)).toEqual(['Lives in Berlin']);
    const all = await service.list('u1', { filter: { includeSuperseded: true } });
    const old = all.items.find((m) => m.id === paris.memory.id);
    expect(old).toMatchObject({ supersededBy: berlin.memory.id, validTo: berlin.memory.createdAt });

    const parisHistory = await service.history('u1', paris.memory.id);
    expect(parisHistory.map((e) => e.event)).toEqual(['add', 'supersede']);
    expect(parisHistory[1]).toMatchObject({ after: { supersededBy: berlin.memory.id } });
    expect(parisHistory[1]?.reason).toContain('moved from Paris to Berlin');
    const berlinHistory = await service.history('u1', berlin.memory.id);
    expect(berlinHistory[0]?.reason).toContain(`supersedes ${paris.memory.id}`);

    const then = await service.list('u1', { filter: { asOf: beforeMove } });
    expect(then.items.map((m) => m.content)).toEqual(['Lives in Paris']);
    const search = await service.search('u1', { query: 'where does the user live', filter: { asOf: beforeMove } });
    expect(search.results.map((r) => r.memory.content)).toEqual(['Lives in Paris']);
    const now = await service.search('u1', { query: 'where does the user live' });
    expect(now.results.map((r) => r.memory.content)).toEqual(['Lives in Berlin']);
  });

  it('a fact already known is a noop with the reason in the matched memory history; nothing new is stored', async () => {
    llm.script(facts({ content: 'Has a dog named Rex' }));
    const rex = await service.add('u2', { content: 'my dog is Rex' }, actor);
    llm.script(
      facts({ content: 'Owns a dog called Rex' }),
      decide({ fact: 'f1', action: 'noop', target: 'm1', reason: 'Already known.' }),
    );
    const again = await service.add('u2', { content: 'Rex is my dog, did I say?' }, actor);
    expect(again).toMatchObject({ duplicate: true, memory: { id: rex.memory.id } });
    expect(again.decisions).toMatchObject([{ action: 'noop', reason: 'Already known.' }]);
    expect((await service.list('u2')).items).toHaveLength(1);
    const history = await service.history('u2', rex.memory.id);
    expect(history.map((e) => e.event)).toEqual(['add', 'noop']);
    expect(history[1]?.reason).toContain('Already known.');
  });

  it('extract(): one conversation, several facts; add, update and noop decided together', async () => {
    llm.script(facts({ content: 'Works at Acme' }), facts({ content: 'Likes tea' }));
    await service.add('u3', { content: 'I work at Acme' }, actor);
    llm.script(decide({ fact: 'f1', action: 'add', reason: 'new' }));
    await service.add('u3', { content: 'I like tea' }, actor);
    llm.script(
      facts({ content: 'Works at Globex' }, { content: 'Likes tea' }, { content: 'Has a sister named Ana' }),
      decide(
        { fact: 'f1', action: 'update', target: 'm1', reason: 'Changed jobs.' },
        { fact: 'f3', action: 'add', reason: 'New person.' },
      ),
    );
    const result = await service.extract(
      'u3',
      {
        messages: [
          { role: 'user', content: 'I left Acme, I am at Globex now. Still drinking tea. My sister Ana visits.' },
          { role: 'assistant', content: 'Nice! Say hi to Ana.' },
        ],
        tags: ['chat'],
      },
      actor,
    );
    // m1 is whichever memory the search ranked first for f1; check the outcome, not the ref.
    expect(result.decisions.map((d) => [d.action, d.fact, d.by])).toEqual([
      ['update', 'Works at Globex', 'model'],
      ['noop', 'Likes tea', 'rule'],
      ['add', 'Has a sister named Ana', 'model'],
    ]);
    expect(result.decisions[0]?.superseded?.content).toBe('Works at Acme');
    expect(result.decisions[2]?.memory.tags).toEqual(['chat']);
    const contents = (await service.list('u3')).items.map((m) => m.content).sort();
    expect(contents).toEqual(['Has a sister named Ana', 'Likes tea', 'Works at Globex']);
  });

  it('never supersedes a pinned memory, and never follows a reference to a memory it was not shown', async () => {
    llm.script(facts({ content: 'Blood type is O negative' }));
    const pinned = await service.add('u4', { content: 'my blood type is O-', pinned: true }, actor);
    llm.script(
      facts({ content: 'Blood type is A positive' }, { content: 'Allergic to penicillin' }),
      decide(
        { fact: 'f1', action: 'update', target: 'm1', reason: 'contradiction' },
        { fact: 'f2', action: 'update', target: 'm7', reason: 'hostile' },
        { fact: 'f9', action: 'noop', target: 'm1' },
      ),
    );
    const result = await service.extract('u4', { messages: [{ content: 'blood A+, and penicillin allergy' }] }, actor);
    expect(result.decisions.map((d) => [d.action, d.by])).toEqual([
      ['add', 'rule'],
      ['add', 'rule'],
    ]);
    expect(result.decisions[0]?.reason).toContain('pinned');
    expect(result.decisions[1]?.reason).toContain('without a target');
    const current = await service.list('u4');
    expect(current.items.map((m) => m.content).sort()).toEqual([
      'Allergic to penicillin',
      'Blood type is A positive',
      'Blood type is O negative',
    ]);
    expect(current.items.find((m) => m.id === pinned.memory.id)).toMatchObject({ supersededBy: null, validTo: null });
    expect((service.inferrer as Extractor).stats.invalidDecisions).toBeGreaterThanOrEqual(2);
  });

  it('an unusable reply: an add is stored as given, an extract is refused with llm_output_invalid', async () => {
    llm.script({ content: 'Sure! The facts are: the user likes jazz.' });
    const added = await service.add('u5', { content: 'I like jazz' }, actor);
    expect(added.memory.content).toBe('I like jazz');
    expect(added.decisions).toMatchObject([{ action: 'add', by: 'fallback' }]);
    expect(added.decisions?.[0]?.reason).toContain('stored as given');

    llm.script({ toolCalls: [{ name: 'record_facts', arguments: '{"facts": [{"content": ' }] });
    await expect(service.extract('u5', { messages: [{ content: 'I play the sax' }] }, actor)).rejects.toMatchObject({
      code: 'llm_output_invalid',
    });
    expect((await service.list('u5')).items.map((m) => m.content)).toEqual(['I like jazz']);
  });

  it('an unreachable LLM: the add is stored as given; extract fails with unavailable', async () => {
    llm.script({ status: 500 });
    const added = await service.add('u6', { content: 'I cycle to work' }, actor);
    expect(added).toMatchObject({ duplicate: false, memory: { content: 'I cycle to work' } });
    expect(added.decisions?.[0]).toMatchObject({ by: 'fallback' });
    llm.script({ status: 429 });
    await expect(service.extract('u6', { messages: [{ content: 'hi' }] }, actor)).rejects.toMatchObject({
      code: 'unavailable',
    });
  });

  it('nothing worth remembering: extract stores nothing; infer: false never calls the model', async () => {
    llm.script(facts());
    const result = await service.extract('u7', { messages: [{ content: 'hello there!' }] }, actor);
    expect(result).toMatchObject({ decisions: [], problem: { kind: 'no_facts' } });
    const calls = llm.requests.length;
    const verbatim = await service.add('u7', { content: 'raw note, as is', infer: false }, actor);
    expect(verbatim).toMatchObject({ duplicate: false, memory: { content: 'raw note, as is' } });
    expect(llm.requests.length).toBe(calls);
    expect((await service.list('u7')).items.map((m) => m.content)).toEqual(['raw note, as is']);
  });

  it('bad fields in a fact are dropped, the fact kept; caller defaults apply', async () => {
    llm.script(
      facts(
        { content: 'Runs marathons', eventAt: 'last spring', category: '../etc', tags: ['sport', 'bad\u0000tag'] },
        { content: '   ' },
      ),
    );
    const result = await service.extract(
      'u8',
      { messages: [{ content: 'I run marathons' }], agentId: 'coach', tags: ['coach'] },
      actor,
    );
    expect(result.decisions).toHaveLength(1);
    expect(result.decisions[0]?.memory).toMatchObject({
      content: 'Runs marathons',
      eventAt: null,
      category: 'general',
      tags: ['coach', 'sport'],
      agentId: 'coach',
    });
  });

  it('extract without an LLM is refused with a clear message', async () => {
    const plain = new MemoryService({
      store: service.store,
      embedder: service.embedder,
      search: searchOptions(testConfig()),
    });
    await expect(plain.extract('u9', { messages: [{ content: 'x' }] }, actor)).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('ENGRAM_LLM_PROVIDER'),
    });
  });
});
