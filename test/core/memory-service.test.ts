import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigInput, testConfig } from '../../src/config.js';
import { EngramError } from '../../src/core/errors.js';
import { type Actor, MemoryService } from '../../src/core/memory-service.js';
import { reindex } from '../../src/core/reindex.js';
import { exportUser, importUser } from '../../src/core/transfer.js';
import type { Embedder } from '../../src/embed/embedder.js';
import { buildParts, openService, searchOptions } from '../../src/runtime.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.js';
import { tempDir } from '../helpers/temp-dir.js';

const actor: Actor = { name: 'test', source: 'api' };
let dataDir: string;
let service: MemoryService;
let fake: FakeEmbeddings;

/** A config with the deterministic test embedder: nothing here depends on what the model finds similar. */
const serviceConfig = (values: ConfigInput) =>
  testConfig({
    embedder: 'openai',
    openai: { baseUrl: fake.baseUrl, model: 'test-embedder', dimension: 32 },
    ...values,
  });

beforeAll(async () => {
  fake = await startFakeEmbeddings();
  dataDir = await tempDir('engram-service-');
  service = await openService(serviceConfig({ dataDir, logLevel: 'silent' }));
});
afterAll(async () => {
  await service?.close();
  await fake?.close();
});

describe('MemoryService', () => {
  it('stores duplicates within one batch once, and flags the copies', async () => {
    const results = await service.addMany(
      'u1',
      [{ content: 'likes jazz' }, { content: 'likes  jazz ' }, { content: 'likes rock' }],
      actor,
    );
    expect(results.map((r) => r.duplicate)).toEqual([false, true, false]);
    expect(results[1]?.memory.id).toBe(results[0]?.memory.id);
    expect((await service.list('u1')).items).toHaveLength(2);
  });

  it('keeps the same content apart for different users', async () => {
    const a = await service.add('u2', { content: 'shared sentence' }, actor);
    const b = await service.add('u3', { content: 'shared sentence' }, actor);
    expect(a.duplicate || b.duplicate).toBe(false);
    expect(a.memory.id).not.toBe(b.memory.id);
  });

  it('rejects a whole batch when one item is invalid, naming it', async () => {
    const attempt = service.addMany('u4', [{ content: 'ok' }, { content: 'x'.repeat(40_000) }], actor);
    await expect(attempt).rejects.toThrow(/memories\[1\]: content/);
    expect((await service.list('u4')).items).toEqual([]);
  });

  it('asks the store for no more keyword hits than a keyword search shows, with the same first hits', async () => {
    await service.addMany(
      'u-pages',
      Array.from({ length: 30 }, (_, i) => ({ content: `garden note ${i}${' garden'.repeat(i % 4)}` })),
      actor,
    );
    const store = service.store as { keywordSearch: (...args: unknown[]) => Promise<unknown> };
    const original = store.keywordSearch.bind(store);
    const asked: unknown[] = [];
    store.keywordSearch = (...args) => {
      asked.push(args[3]);
      return original(...args);
    };
    try {
      const five = await service.search('u-pages', { query: 'garden', mode: 'keyword', limit: 5 });
      const twenty = await service.search('u-pages', { query: 'garden', mode: 'keyword', limit: 20 });
      expect(five.results.map((r) => r.memory.id)).toEqual(twenty.results.slice(0, 5).map((r) => r.memory.id));
      expect(twenty.results).toHaveLength(20);
      // Hybrid search still asks for fusion's candidates (50 by default).
      await service.search('u-pages', { query: 'garden', mode: 'hybrid', limit: 5 });
      expect(asked).toEqual([5, 20, 50]);
    } finally {
      delete (store as Partial<typeof store>).keywordSearch;
    }
  });

  it('hides expired memories unless asked, and finds them again with includeExpired', async () => {
    await service.add('u5', { content: 'temporary door code 4242', expiresAt: '2000-01-01T00:00:00Z' }, actor);
    await service.add('u5', { content: 'permanent door colour is green' }, actor);
    const hits = await service.search('u5', { query: 'door code', mode: 'keyword' });
    expect(hits.results.map((r) => r.memory.content)).toEqual(['permanent door colour is green']);
    const all = await service.search('u5', { query: 'door code', mode: 'keyword', filter: { includeExpired: true } });
    expect(all.results[0]?.memory.content).toBe('temporary door code 4242');
  });

  it('refuses an update that would duplicate another memory', async () => {
    const first = await service.add('u6', { content: 'owns a bicycle' }, actor);
    const second = await service.add('u6', { content: 'owns a car' }, actor);
    await expect(service.update('u6', second.memory.id, { content: 'owns a  bicycle' }, actor)).rejects.toMatchObject({
      code: 'conflict',
      details: { existingId: first.memory.id },
    });
  });

  it('checks supplied embeddings against the model dimension', async () => {
    await expect(service.add('u7', { content: 'x', embedding: [1, 2, 3] }, actor)).rejects.toThrow(
      new RegExp(`\\b${service.embedder.dimension}\\b`),
    );
  });

  it('rejects a supplied embedding without a direction (all zeros, or too small for float32)', async () => {
    const zeros = new Array<number>(service.embedder.dimension).fill(0);
    const tiny = new Array<number>(service.embedder.dimension).fill(1e-50);
    for (const embedding of [zeros, tiny]) {
      await expect(service.add('u7', { content: 'zero vector', embedding }, actor)).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringMatching(/zero/),
      });
    }
    const huge = new Array<number>(service.embedder.dimension).fill(1e39);
    await expect(service.add('u7', { content: 'huge vector', embedding: huge }, actor)).rejects.toMatchObject({
      code: 'invalid_request',
    });
    const batch = service.addMany('u7', [{ content: 'fine' }, { content: 'flat', embedding: zeros }], actor);
    await expect(batch).rejects.toThrow(/memories\[1\]: embedding is all zeros/);
    expect((await service.list('u7')).items).toEqual([]);
  });
});

describe('dedupe sees only visible memories', () => {
  it('stores new content again when the only copy has expired', async () => {
    const old = await service.add('d1', { content: 'gate code is 1234', expiresAt: '2000-01-01T00:00:00Z' }, actor);
    const again = await service.add('d1', { content: 'gate code is  1234' }, actor);
    expect(again.duplicate).toBe(false);
    expect(again.memory.id).not.toBe(old.memory.id);
    expect((await service.list('d1')).items.map((m) => m.id)).toEqual([again.memory.id]);
    // Now the visible copy is the one a further add finds.
    const third = await service.add('d1', { content: 'gate code is 1234' }, actor);
    expect(third).toMatchObject({ duplicate: true, memory: { id: again.memory.id } });
  });

  it('within one batch, an already-expired copy does not swallow a live one', async () => {
    const results = await service.addMany(
      'd3',
      [
        { content: 'locker 7', expiresAt: '2000-01-01T00:00:00Z' },
        { content: 'locker 7' },
        { content: 'locker  7' },
        { content: 'locker 7', expiresAt: '2000-01-01T00:00:00Z' },
      ],
      actor,
    );
    expect(results.map((r) => r.duplicate)).toEqual([false, false, true, true]);
    expect(results[2]?.memory.id).toBe(results[1]?.memory.id);
    expect(results[3]?.memory.id).toBe(results[0]?.memory.id);
    expect((await service.list('d3')).items.map((m) => m.id)).toEqual([results[1]?.memory.id]);
  });

  it('lets an update take the content of an expired memory, but not revive a duplicate of a visible one', async () => {
    const expired = await service.add('d2', { content: 'parks on level 3', expiresAt: '2000-01-01T00:00:00Z' }, actor);
    const other = await service.add('d2', { content: 'parks on level 2' }, actor);
    const moved = await service.update('d2', other.memory.id, { content: 'parks on level 3' }, actor);
    expect(moved.content).toBe('parks on level 3');
    await expect(service.update('d2', expired.memory.id, { expiresAt: null }, actor)).rejects.toMatchObject({
      code: 'conflict',
      details: { existingId: other.memory.id },
    });
  });
});

describe('import goes through the service', () => {
  const collect = async <T>(items: AsyncIterable<T>): Promise<T[]> => {
    const out: T[] = [];
    for await (const item of items) out.push(item);
    return out;
  };

  it('an import racing concurrent adds of the same content stores each content once', async () => {
    const contents = Array.from({ length: 8 }, (_, i) => `racing fact number ${i} about the weather`);
    const lines = contents.map((content) => JSON.stringify({ type: 'memory', memory: { content } }));
    const [report, ...adds] = await Promise.all([
      importUser(service, 'race', lines, actor),
      ...contents.map((content) => service.add('race', { content }, actor)),
    ]);
    const stored = (await service.list('race', { limit: 100 })).items.map((m) => m.content).sort();
    expect(stored).toEqual([...contents].sort());
    expect(report.imported + adds.filter((add) => !add.duplicate).length).toBe(contents.length);
    expect(report.imported + report.duplicates).toBe(contents.length);
  });

  it("embeds one user's concurrent adds together, stores each once, and never embeds stored content", async () => {
    const dir = await tempDir('engram-ahead-');
    const config = serviceConfig({ dataDir: dir, logLevel: 'silent' });
    const { store, embedder } = buildParts(config);
    let inFlight = 0;
    let mostInFlight = 0;
    const embedded: string[] = [];
    const watched: Embedder = {
      model: embedder.model,
      get dimension() {
        return embedder.dimension;
      },
      init: () => embedder.init(),
      close: () => embedder.close(),
      async embed(texts) {
        embedded.push(...texts);
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        try {
          return await embedder.embed(texts);
        } finally {
          inFlight--;
        }
      },
    };
    const own = new MemoryService({ store, embedder: watched, search: searchOptions(config) });
    try {
      await own.init();
      const contents = Array.from({ length: 6 }, (_, i) => `parallel note ${i} about the garden shed`);
      const results = await Promise.all(
        [...contents, contents[0] as string].map((content) => own.add('solo', { content }, actor)),
      );
      // Not one after another behind the user's write lock: the model saw them at the same time.
      expect(mostInFlight).toBeGreaterThan(1);
      expect(results.filter((r) => r.duplicate)).toHaveLength(1);
      expect((await own.list('solo')).items).toHaveLength(6);

      embedded.length = 0;
      const again = await own.addMany(
        'solo',
        contents.map((content) => ({ content })),
        actor,
      );
      expect(again.every((r) => r.duplicate)).toBe(true);
      expect(embedded).toEqual([]); // known content is found by hash, not embedded again
    } finally {
      await own.close();
    }
  });

  it('dedupes against visible memories only, and within the file', async () => {
    await service.add('imp1', { content: 'old wifi password', expiresAt: '2000-01-01T00:00:00Z' }, actor);
    await service.add('imp1', { content: 'likes green tea' }, actor);
    const lines = ['old wifi password', 'likes green tea', 'likes  green tea', 'new fact'].map((content) =>
      JSON.stringify({ type: 'memory', memory: { content, tags: ['x', 'x'] } }),
    );
    const report = await importUser(service, 'imp1', lines, actor);
    expect(report).toMatchObject({ imported: 2, duplicates: 2, errors: [] });
    const visible = (await service.list('imp1')).items;
    expect(visible.map((m) => m.content).sort()).toEqual(['likes green tea', 'new fact', 'old wifi password']);
    const imported = visible.filter((m) => m.source === 'import');
    expect(imported).toHaveLength(2);
    for (const memory of imported) expect(memory.tags).toEqual(['x']); // the same builder as add
  });

  it('re-importing an export is idempotent, expired memories included', async () => {
    await service.add('imp3', { content: 'old desk number 4', expiresAt: '2000-01-01T00:00:00Z' }, actor);
    await service.add('imp3', { content: 'desk number 5' }, actor);
    const lines = await collect(exportUser(service, 'imp3'));
    expect(await importUser(service, 'imp4', lines, actor)).toMatchObject({ imported: 2, duplicates: 0 });
    expect(await importUser(service, 'imp4', lines, actor)).toMatchObject({ imported: 0, duplicates: 2 });
    const all = await service.list('imp4', { filter: { includeExpired: true } });
    expect(all.items.map((m) => m.content).sort()).toEqual(['desk number 5', 'old desk number 4']);
  });

  it('refuses an invalid user id', async () => {
    await expect(importUser(service, '../etc', [], actor)).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('re-embeds an imported vector without a direction instead of storing it', async () => {
    const zero = Buffer.from(new Float32Array(service.embedder.dimension).buffer).toString('base64');
    const line = JSON.stringify({
      type: 'memory',
      memory: { content: 'imported with a zero vector' },
      embedding: { model: service.embedder.model, vector: zero },
    });
    expect((await importUser(service, 'imp2', [line], actor)).imported).toBe(1);
    const [record] = await collect(service.store.scan('imp2'));
    const norm = Math.hypot(...(record?.vector ?? []));
    expect(norm).toBeCloseTo(1, 3);
  });

  it('keeps exported history through import, marked as imported, and records the import where the file had none', async () => {
    const agent: Actor = { name: 'alice-agent', source: 'mcp' };
    const { memory } = await service.add('hist-a', { content: 'plays chess on Sundays' }, agent);
    await service.update('hist-a', memory.id, { tags: ['games'] }, agent);
    const lines = await collect(exportUser(service, 'hist-a'));
    lines.push(`${JSON.stringify({ type: 'memory', memory: { id: 'bare', content: 'came without history' } })}\n`);
    // A history line for a memory the file does not contain is not imported.
    lines.push(
      `${JSON.stringify({ type: 'history', entry: { ...JSON.parse(lines[1] as string).entry, memoryId: 'nowhere' } })}\n`,
    );

    const importer: Actor = { name: 'restorer', source: 'cli' };
    const report = await importUser(service, 'hist-b', lines, importer);
    expect(report).toMatchObject({ imported: 2, duplicates: 0, history: 2, errors: [] });

    const [copy] = (await service.list('hist-b', { filter: { tagsAny: ['games'] } })).items;
    if (!copy) throw new Error('the imported memory is missing');
    expect(copy).toMatchObject({ content: 'plays chess on Sundays', source: 'import', createdAt: memory.createdAt });
    const history = await service.history('hist-b', copy.id);
    expect(history.map((entry) => [entry.event, entry.actor, entry.reason])).toEqual([
      ['add', 'alice-agent (imported by restorer)', 'imported'],
      ['update', 'alice-agent (imported by restorer)', 'imported'],
    ]);
    for (const entry of history) {
      expect(entry).toMatchObject({ userId: 'hist-b', memoryId: copy.id });
      expect(entry.after?.id).toBe(copy.id);
      expect(entry.after?.userId).toBe('hist-b');
    }
    expect(history[1]?.after?.tags).toEqual(['games']);

    const [bare] = (await service.list('hist-b')).items.filter((m) => m.content === 'came without history');
    if (!bare) throw new Error('the memory without history is missing');
    const bareHistory = await service.history('hist-b', bare.id);
    expect(bareHistory.map((entry) => [entry.event, entry.actor, entry.reason])).toEqual([
      ['add', 'restorer', 'import'],
    ]);

    // A second round trip keeps marking who imported what.
    const again = await importUser(service, 'hist-c', await collect(exportUser(service, 'hist-b')), {
      name: 'ops',
      source: 'api',
    });
    expect(again).toMatchObject({ imported: 2, history: 3 });
    const [third] = (await service.list('hist-c', { filter: { tagsAny: ['games'] } })).items;
    expect((await service.history('hist-c', third?.id ?? '')).map((entry) => entry.actor)).toEqual([
      'alice-agent (imported by restorer) (imported by ops)',
      'alice-agent (imported by restorer) (imported by ops)',
    ]);
  });
});

describe('no-op updates', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('an update to the current values writes nothing, appends no history and keeps updatedAt', async () => {
    const { memory } = await service.add(
      'noop',
      {
        content: 'drinks oolong tea',
        category: 'food',
        tags: ['tea'],
        metadata: { a: 1, b: { c: 2 } },
        eventAt: '2026-01-02T03:04:05Z',
      },
      actor,
    );
    await sleep(5);
    const same = await service.update(
      'noop',
      memory.id,
      {
        content: 'drinks oolong tea',
        category: 'food',
        tags: ['tea', ' tea'],
        metadata: { b: { c: 2 }, a: 1 },
        eventAt: '2026-01-02T03:04:05.000+00:00',
        expiresAt: null,
        pinned: false,
      },
      actor,
    );
    expect(same).toEqual(memory);
    expect(await service.get('noop', memory.id)).toEqual(memory);
    expect((await service.history('noop', memory.id)).map((entry) => entry.event)).toEqual(['add']);

    const unchanged = await service.updateWithChanges('noop', memory.id, { pinned: false }, actor);
    expect(unchanged).toEqual({ memory, changed: [] });

    await sleep(5);
    const result = await service.updateWithChanges(
      'noop',
      memory.id,
      { pinned: true, tags: ['tea'], metadata: { a: 1, b: { c: 3 } } },
      actor,
    );
    expect(result.changed).toEqual(['metadata', 'pinned']);
    expect(result.memory.updatedAt > memory.updatedAt).toBe(true);
    expect((await service.history('noop', memory.id)).map((entry) => entry.event)).toEqual(['add', 'update']);
  });
});

describe('reindex', () => {
  it('an interrupted reindex leaves a marker that keeps the service closed until reindex is run again', async () => {
    const dir = await tempDir('engram-reindex-');
    const config = serviceConfig({ dataDir: dir, logLevel: 'silent' });
    const first = await openService(config);
    await first.add('r', { content: 'Carol keeps bees on the roof' }, actor);
    await first.close();

    // A reindex onto another model that dies after it started (e.g. the endpoint went away).
    const parts = buildParts(config);
    await parts.store.init();
    await parts.embedder.init();
    const dying: Embedder = {
      model: 'other-model',
      dimension: parts.embedder.dimension,
      init: async () => undefined,
      close: async () => undefined,
      embed: async () => {
        throw new Error('connection reset');
      },
    };
    await expect(reindex(parts.store, dying)).rejects.toThrow('connection reset');
    await parts.embedder.close();
    await parts.store.close();

    const error = await openService(config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngramError);
    expect((error as EngramError).code).toBe('embedding_mismatch');
    expect((error as EngramError).message).toMatch(/reindex onto other-model .*did not finish/);
    expect((error as EngramError).message).toMatch(/engram reindex/);

    const retry = buildParts(config);
    await retry.store.init();
    await retry.embedder.init();
    try {
      expect(await reindex(retry.store, retry.embedder)).toBe(1);
    } finally {
      await retry.embedder.close();
      await retry.store.close();
    }
    const reopened = await openService(config);
    try {
      const hits = await reopened.search('r', { query: 'bees', mode: 'vector' });
      expect(hits.results[0]?.memory.content).toBe('Carol keeps bees on the roof');
    } finally {
      await reopened.close();
    }
  });
});

describe('embedding model guard', () => {
  it('refuses to open a store whose vectors came from another model', async () => {
    const dir = await tempDir('engram-mismatch-');
    const store = new SqliteStore({ path: join(dir, 'engram.db') });
    await store.init();
    await store.setEmbeddingInfo({ model: 'openai:text-embedding-3-small', dimension: 1536 });
    await store.close();
    const error = await openService(serviceConfig({ dataDir: dir })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngramError);
    expect((error as EngramError).code).toBe('embedding_mismatch');
    expect((error as EngramError).message).toMatch(/engram reindex/);
  });
});
