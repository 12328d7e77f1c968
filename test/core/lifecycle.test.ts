/**
 * Memory that maintains itself, without an LLM: near-duplicate merge, TTL and the sweeper, access
 * statistics, point-in-time views and recency decay — through MemoryService on a real SQLite store
 * with the real offline embedder.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { type Actor, MemoryService } from '../../src/core/memory-service.js';
import { buildParts, maintenanceOptions, openService, searchOptions } from '../../src/runtime.js';
import { tempDir } from '../helpers/temp-dir.js';

const actor: Actor = { name: 'test', source: 'api' };
let dataDir: string;
let service: MemoryService;

beforeAll(async () => {
  dataDir = await tempDir('engram-lifecycle-');
  service = await openService(testConfig({ dataDir, logLevel: 'silent' }));
});
afterAll(async () => {
  await service?.close();
});

describe('near-duplicates without an LLM', () => {
  it('folds the same fact worded three ways into one memory, uniting tags, with merge history', async () => {
    const first = await service.add('nd1', { content: 'I am allergic to peanuts', tags: ['health'] }, actor);
    const second = await service.add('nd1', { content: "I'm allergic to peanuts!", tags: ['food'] }, actor);
    const third = await service.add('nd1', { content: 'Allergic to peanuts.' }, actor);
    expect(first).toMatchObject({ duplicate: false, merged: false });
    expect(second).toMatchObject({ duplicate: true, merged: true, memory: { id: first.memory.id } });
    expect(third).toMatchObject({ duplicate: true, merged: true, memory: { id: first.memory.id } });
    const { items } = await service.list('nd1');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ content: 'I am allergic to peanuts', tags: ['health', 'food'] });
    expect((items[0]?.updatedAt ?? '') >= first.memory.updatedAt).toBe(true);
    const history = await service.history('nd1', first.memory.id);
    expect(history.map((entry) => entry.event)).toEqual(['add', 'merge', 'merge']);
    expect(history[1]?.reason).toContain("I'm allergic to peanuts!");
  });

  it('keeps look-alike but different facts apart: another place, a changed number, a negation', async () => {
    for (const content of [
      'I live in Paris',
      'I live in Berlin',
      'My gate code is 4512',
      'My gate code is 4513',
      'I like coffee',
      "I don't like coffee",
    ]) {
      await service.add('nd2', { content }, actor);
    }
    expect((await service.list('nd2')).items).toHaveLength(6);
  });

  it('infer: false stores a near-duplicate verbatim; exact duplicates are still caught', async () => {
    const a = await service.add('nd3', { content: 'I am allergic to peanuts' }, actor);
    const b = await service.add('nd3', { content: 'Allergic to peanuts.', infer: false }, actor);
    const c = await service.add('nd3', { content: ' I am allergic  to peanuts', infer: false }, actor);
    expect(b).toMatchObject({ duplicate: false, merged: false });
    expect(c).toMatchObject({ duplicate: true, merged: false, memory: { id: a.memory.id } });
    expect((await service.list('nd3')).items).toHaveLength(2);
  });

  it('folds near-duplicates within one batch, and never across agents', async () => {
    const results = await service.addMany(
      'nd4',
      [
        { content: 'My laptop runs Debian 12' },
        { content: 'Laptop runs Debian 12', tags: ['tech'] },
        { content: 'Laptop runs Debian 12.', agentId: 'other-agent' },
      ],
      actor,
    );
    expect(results.map((r) => r.merged)).toEqual([false, true, false]);
    expect(results[1]?.memory.id).toBe(results[0]?.memory.id);
    const { items } = await service.list('nd4');
    expect(items).toHaveLength(2);
    expect(items.find((m) => m.agentId === null)?.tags).toEqual(['tech']);
  });
});

describe('expiry', () => {
  it('ttlSeconds sets expiresAt; giving both is refused', async () => {
    const { memory } = await service.add('ttl1', { content: 'parking spot 42 today', ttlSeconds: 3600 }, actor);
    const ms = Date.parse(memory.expiresAt as string) - Date.parse(memory.createdAt);
    expect(ms).toBe(3_600_000);
    await expect(
      service.add('ttl1', { content: 'x', ttlSeconds: 5, expiresAt: '2030-01-01T00:00:00Z' }, actor),
    ).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('the sweeper deletes expired memories with a history entry and keeps the rest', async () => {
    const gone = await service.add('ttl2', { content: 'old code', expiresAt: '2001-01-01T00:00:00Z' }, actor);
    const kept = await service.add('ttl2', { content: 'still valid', ttlSeconds: 3600 }, actor);
    expect(await service.sweepExpired()).toBeGreaterThanOrEqual(1);
    const all = await service.list('ttl2', { filter: { includeExpired: true } });
    expect(all.items.map((m) => m.id)).toEqual([kept.memory.id]);
    const history = await service.history('ttl2', gone.memory.id);
    expect(history.at(-1)).toMatchObject({
      event: 'delete',
      actor: 'sweeper',
      reason: 'expired at 2001-01-01T00:00:00.000Z',
    });
  });
});

describe('access statistics', () => {
  it('counts each search hit and read by id, written on flush', async () => {
    const { memory } = await service.add('acc1', { content: 'favourite colour is teal' }, actor);
    await service.search('acc1', { query: 'favourite colour' });
    await service.search('acc1', { query: 'teal' });
    await service.get('acc1', memory.id);
    await service.flushAccess();
    const read = await service.store.get('acc1', memory.id);
    expect(read?.accessCount).toBe(3);
    expect(read?.lastAccessedAt).not.toBeNull();
  });
});

describe('point in time and recency, with a controlled clock', () => {
  let clocked: MemoryService;
  let now = new Date('2026-01-01T00:00:00.000Z');
  const config = () => testConfig({ dataDir, logLevel: 'silent', sqlite: { path: join(dataDir, 'clocked.db') } });

  beforeAll(async () => {
    const { store, embedder } = buildParts(config());
    clocked = new MemoryService({
      store,
      embedder,
      search: { ...searchOptions(config()), recency: { halfLifeDays: 30, weight: 0.5 } },
      maintenance: maintenanceOptions(config()),
      clock: () => now,
    });
    await clocked.init();
  });
  afterAll(async () => {
    await clocked?.close();
  });

  it('asOf returns what was current then; expiry is judged at that instant', async () => {
    now = new Date('2026-01-01T00:00:00.000Z');
    const tea = await clocked.add('pit', { content: 'drinks green tea', expiresAt: '2026-03-01T00:00:00Z' }, actor);
    now = new Date('2026-02-01T00:00:00.000Z');
    await clocked.add('pit', { content: 'owns a bicycle' }, actor);
    now = new Date('2026-04-01T00:00:00.000Z');
    const contents = async (asOf: string) =>
      (await clocked.list('pit', { filter: { asOf } })).items.map((m) => m.content).sort();
    expect(await contents('2025-12-31T00:00:00Z')).toEqual([]);
    expect(await contents('2026-01-15T00:00:00Z')).toEqual(['drinks green tea']);
    expect(await contents('2026-02-15T00:00:00Z')).toEqual(['drinks green tea', 'owns a bicycle']);
    expect(await contents('2026-03-15T00:00:00Z')).toEqual(['owns a bicycle']);
    const hits = await clocked.search('pit', { query: 'green tea', filter: { asOf: '2026-01-15T00:00:00Z' } });
    expect(hits.results.map((r) => r.memory.id)).toEqual([tea.memory.id]);
  });

  it('recency decay ranks the newer of two equal matches first and explains the factor', async () => {
    now = new Date('2026-01-01T00:00:00.000Z');
    const old = await clocked.add('rec', { content: 'meeting with Dana about the budget', infer: false }, actor);
    now = new Date('2026-06-01T00:00:00.000Z');
    const fresh = await clocked.add('rec', { content: 'budget meeting with Dana', infer: false }, actor);
    const { results } = await clocked.search('rec', { query: 'meeting with Dana about the budget' });
    expect(results.map((r) => r.memory.id)).toEqual([fresh.memory.id, old.memory.id]);
    expect(results[1]?.explanation.recency?.factor).toBeCloseTo(0.5 + 0.5 * 0.5 ** (151 / 30), 3);
    expect(results[0]?.explanation.recency?.ageDays).toBeCloseTo(0, 3);
  });
});
